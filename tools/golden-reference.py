#!/usr/bin/env python3
"""Golden numbers for test/unit/golden.test.ts, computed by reference formulations independent of src/:

- alignment: Umeyama's similarity estimate through an explicit SVD (src/face/geometry.ts uses the 2-D closed form),
  and the aligned face as a per-pixel inverse-mapped bilinear warp, black outside the image;
- detector decoding: YuNet as OpenCV's face_detect.cpp and SCRFD as insightface's scrfd.py decode them (grids of
  anchor centres, distance2bbox / distance2kps, vectorised), UltraFace as its demo scales boxes;
- anti-spoof crops: Silent-Face's CropImage._get_new_box (shrink-to-fit, without its integer rounding), centred
  crops with numpy.pad's 'reflect' (OpenCV's BORDER_REFLECT_101) and constant borders, resized per pixel with
  pixel centres aligned (OpenCV's INTER_LINEAR convention).

Usage: python3 tools/golden-reference.py > test/fixtures/golden.json   (numpy only; deterministic)
"""
import json
import sys

import numpy as np

rng = np.random.default_rng(15)

ARCFACE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])


def pattern(width, height):
    """The synthetic raster both sides build: integer formulas, RGB, H×W×3."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(3 * x + 5 * y) % 256, (x * x + 2 * y) % 256, (11 * x + 7 * y * y) % 256], axis=-1).astype(np.float64)


def umeyama(src, dst):
    """Least-squares similarity src → dst (Umeyama 1991, eq. 40-42), reflection excluded."""
    n = len(src)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / n
    u, sigma, vt = np.linalg.svd(cov)
    signs = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ signs @ vt
    scale = np.trace(np.diag(sigma) @ signs) / (s**2).sum(axis=1).mean()
    translation = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, translation[:, None]])


def bilinear(image, x, y, border):
    """One bilinear sample; taps outside read per `border`: ('constant', v), 'replicate' or 'reflect' (101)."""
    height, width = image.shape[:2]
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    wx, wy = x - x0, y - y0
    total = np.zeros(3)
    for dy, dx, weight in ((0, 0, (1 - wx) * (1 - wy)), (0, 1, wx * (1 - wy)), (1, 0, (1 - wx) * wy), (1, 1, wx * wy)):
        sx, sy = x0 + dx, y0 + dy
        inside = 0 <= sx < width and 0 <= sy < height
        if not inside and isinstance(border, tuple):
            total += weight * border[1]
            continue
        if not inside and border == 'replicate':
            sx, sy = min(max(sx, 0), width - 1), min(max(sy, 0), height - 1)
        elif not inside:
            # numpy.pad's 'reflect' is BORDER_REFLECT_101: pad far enough and index into the padded image.
            pad = max(width, height) * 4
            padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode='reflect')
            total += weight * padded[sy + pad, sx + pad]
            continue
        total += weight * image[sy, sx]
    return total


def to_tensor(pixels, order, mean, std):
    """H×W×3 RGB samples → CHW in the model's channel order, (v − mean) / std."""
    channels = pixels[..., ::-1] if order == 'BGR' else pixels
    return ((channels - mean) / std).transpose(2, 0, 1)


def alignment_cases():
    raster = pattern(160, 140)
    cases = []
    rotation = np.deg2rad(20)
    turn = np.array([[np.cos(rotation), -np.sin(rotation)], [np.sin(rotation), np.cos(rotation)]])
    exact = (ARCFACE - 56) @ turn.T * 0.6 + [80, 75]
    noisy = exact + rng.normal(0, 1.5, exact.shape)
    mirrored = exact * [-1, 1] + [160, 0]
    for name, points in (('exact similarity, rotated 20°', exact), ('noisy landmarks', noisy), ('mirrored layout (no reflection allowed)', mirrored)):
        points = points.round(6)
        matrix = umeyama(points, ARCFACE)
        inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
        step, count = 10, 12
        samples = np.zeros((count, count, 3))
        for v in range(count):
            for u in range(count):
                x, y = inverse @ [u * step, v * step, 1]
                samples[v, u] = bilinear(raster, x, y, ('constant', 0))
        tensor = to_tensor(samples, 'BGR', 127.5, 128)
        cases.append({'name': name, 'points': points.tolist(), 'imageToAligned': matrix.reshape(-1).tolist(), 'step': step, 'count': count, 'samples': tensor.reshape(-1).round(4).tolist()})
    return {'raster': [160, 140], 'template': ARCFACE.tolist(), 'input': {'channelOrder': 'BGR', 'mean': 127.5, 'std': 128}, 'cases': cases}


GRID = 1024


def exact32(values):
    """Values on a 1/GRID grid: the same in float32 (what a model outputs) and float64 (this reference)."""
    return np.round(values * GRID) / GRID


def stored(values):
    """Model outputs as the fixture stores them: integers, in units of 1/GRID."""
    return np.round(np.asarray(values) * GRID).astype(int).reshape(-1).tolist()


def rounded(found):
    return [{key: np.round(value, 6).tolist() for key, value in item.items()} for item in found]


def yunet_case():
    width, height, strides, threshold = 64, 48, [8, 16, 32], 0.6
    outputs, found = {}, []
    for stride in strides:
        cols, rows = width // stride, height // stride
        n = rows * cols
        cls, obj = exact32(rng.uniform(-0.1, 1.1, n)), exact32(rng.uniform(-0.1, 1.1, n))
        bbox = exact32(np.column_stack([rng.uniform(0, 1, (n, 2)), rng.uniform(-1, 1.5, (n, 2))]))
        kps = exact32(rng.uniform(-1, 2, (n, 10)))
        outputs.update({f'cls_{stride}': stored(cls), f'obj_{stride}': stored(obj), f'bbox_{stride}': stored(bbox), f'kps_{stride}': stored(kps)})
        row, col = np.divmod(np.arange(n), cols)
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
        w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
        points = (kps.reshape(n, 5, 2) + np.stack([col, row], axis=-1)[:, None, :]) * stride
        for i in np.nonzero(score >= threshold)[0]:
            found.append({'score': score[i], 'box': [cx[i] - w[i] / 2, cy[i] - h[i] / 2, cx[i] + w[i] / 2, cy[i] + h[i] / 2], 'keypoints': points[i].tolist()})
    return {'input': [height, width], 'strides': strides, 'threshold': threshold, 'outputs': outputs, 'found': rounded(found)}


def scrfd_case():
    width, height, strides, anchors, threshold = 64, 48, [8, 16, 32], 2, 0.85
    names = [f'score_{s}' for s in strides] + [f'bbox_{s}' for s in strides] + [f'kps_{s}' for s in strides]
    outputs, found = {}, []
    for stride in strides:
        cols, rows = width // stride, height // stride
        centres = (np.stack(np.mgrid[:rows, :cols][::-1], axis=-1).astype(np.float64) * stride).reshape(-1, 2)
        centres = np.stack([centres] * anchors, axis=1).reshape(-1, 2)
        n = len(centres)
        scores = exact32(rng.uniform(0, 1, n))
        distances = exact32(rng.uniform(0, 4, (n, 4)))
        offsets = exact32(rng.uniform(-2, 2, (n, 10)))
        outputs.update({f'score_{stride}': stored(scores), f'bbox_{stride}': stored(distances), f'kps_{stride}': stored(offsets)})
        boxes = np.column_stack([centres - distances[:, :2] * stride, centres + distances[:, 2:] * stride])
        points = centres[:, None, :] + offsets.reshape(n, 5, 2) * stride
        for i in np.nonzero(scores >= threshold)[0]:
            found.append({'score': scores[i], 'box': boxes[i].tolist(), 'keypoints': points[i].tolist()})
    return {'input': [height, width], 'strides': strides, 'anchorsPerLocation': anchors, 'outputNames': names, 'threshold': threshold, 'outputs': outputs, 'found': rounded(found)}


def ultraface_case():
    width, height, n, threshold = 320, 240, 40, 0.7
    background = exact32(rng.uniform(0, 1, n))
    scores = np.column_stack([background, 1 - background])
    corners = exact32(np.sort(rng.uniform(0, 1, (n, 2, 2)), axis=1).transpose(0, 2, 1).reshape(n, 4)[:, [0, 2, 1, 3]])
    keep = scores[:, 1] >= threshold
    boxes = corners * [width, height, width, height]
    found = [{'score': s, 'box': b.tolist()} for s, b in zip(scores[keep, 1], boxes[keep])]
    return {'input': [height, width], 'threshold': threshold, 'outputs': {'scores': stored(scores), 'boxes': stored(corners)}, 'found': rounded(found)}


def silent_face_box(box, scale, src_w, src_h):
    """CropImage._get_new_box of Silent-Face-Anti-Spoofing, on float coordinates."""
    x, y = box[0], box[1]
    box_w, box_h = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    scale = min((src_h - 1) / box_h, min((src_w - 1) / box_w, scale))
    new_width, new_height = box_w * scale, box_h * scale
    center_x, center_y = box_w / 2 + x, box_h / 2 + y
    left_top_x, left_top_y = center_x - new_width / 2, center_y - new_height / 2
    right_bottom_x, right_bottom_y = center_x + new_width / 2, center_y + new_height / 2
    if left_top_x < 0:
        right_bottom_x -= left_top_x
        left_top_x = 0
    if left_top_y < 0:
        right_bottom_y -= left_top_y
        left_top_y = 0
    if right_bottom_x > src_w - 1:
        left_top_x -= right_bottom_x - src_w + 1
        right_bottom_x = src_w - 1
    if right_bottom_y > src_h - 1:
        left_top_y -= right_bottom_y - src_h + 1
        right_bottom_y = src_h - 1
    return [left_top_x, left_top_y, right_bottom_x - left_top_x, right_bottom_y - left_top_y]


def crop_cases():
    width, height, size = 120, 90, 12
    raster = pattern(width, height)
    detection = [70.0, 22.0, 104.0, 70.0]
    side = detection[3] - detection[1]
    cx, cy = (detection[0] + detection[2]) / 2, (detection[1] + detection[3]) / 2
    square = [max(0, cx - side / 2), max(0, cy - side / 2), min(width - 1, cx + side / 2), min(height - 1, cy + side / 2)]
    longer = max(detection[2] - detection[0], detection[3] - detection[1]) / 2

    def centred(box, scale):
        w, h = (box[2] - box[0]) * scale, (box[3] - box[1]) * scale
        return [(box[0] + box[2]) / 2 - w / 2, (box[1] + box[3]) / 2 - h / 2, w, h]

    cases = [
        ('square ×2.7, shrink-to-fit', {'faceBox': 'square', 'cropMode': 'shrink-to-fit', 'cropScale': 2.7, 'cropFill': 0}, silent_face_box(square, 2.7, width, height), 'replicate'),
        ('square on the longer side ×2, reflected', {'faceBox': 'square-on-longer-side', 'cropMode': 'reflect', 'cropScale': 2.0, 'cropFill': 0}, centred([cx - longer, cy - longer, cx + longer, cy + longer], 2.0), 'reflect'),
        ('detected box ×1.5, constant 50', {'faceBox': 'detected', 'cropMode': 'constant', 'cropScale': 1.5, 'cropFill': 50}, centred(detection, 1.5), ('constant', 50)),
    ]
    out = []
    for name, params, crop, border in cases:
        samples = np.zeros((size, size, 3))
        for v in range(size):
            for u in range(size):
                x = crop[0] + (u + 0.5) * crop[2] / size - 0.5
                y = crop[1] + (v + 0.5) * crop[3] / size - 0.5
                samples[v, u] = bilinear(raster, x, y, border)
        out.append({'name': name, 'params': params, 'crop': crop, 'samples': to_tensor(samples, 'RGB', 0, 1).reshape(-1).round(4).tolist()})
    return {'raster': [width, height], 'detection': detection, 'size': size, 'cases': out}


golden = {
    'about': 'Written by tools/golden-reference.py (numpy reference formulations); checked by test/unit/golden.test.ts. Model outputs are integers in units of 1/grid.',
    'grid': GRID,
    'alignment': alignment_cases(),
    'yunet': yunet_case(),
    'scrfd': scrfd_case(),
    'ultraface': ultraface_case(),
    'antiSpoofCrops': crop_cases(),
}
json.dump(golden, sys.stdout, default=float, separators=(',', ':'))
sys.stdout.write('\n')
