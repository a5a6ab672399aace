// Captures the camera for about two seconds, builds the object the capture plugin hands to on_capture_complete
// (frame_list, best_frame, best_frame_png, boxes, landmarks, from_virtual_camera, additional_info), sends it to the
// host backend (step 2 of the documented flow) and shows the verdict the backend got from the face API.

const FRAME_COUNT = 12;
const FRAME_INTERVAL_MS = 160;
const JPEG_QUALITY = 0.92;
// Camera names of common virtual-camera software: a page can only judge by the name the browser reports.
const VIRTUAL_CAMERA = /virtual|obs|manycam|xsplit|snap camera|droidcam|epoccam|v4l2loopback|dummy/i;

const video = document.querySelector('#camera');
const shot = document.querySelector('#shot');
const button = document.querySelector('#start');
const status = document.querySelector('#status');
const verdict = document.querySelector('#verdict');
const details = document.querySelector('#details');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** JPEG data URLs of `count` frames of the playing video, and the middle one (the best frame) also as PNG. */
async function captureFrames(count, intervalMs) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  const frames = [];
  let bestPng = null;
  for (let i = 0; i < count; i += 1) {
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    frames.push(canvas.toDataURL('image/jpeg', JPEG_QUALITY));
    if (i === Math.floor(count / 2)) bestPng = canvas.toDataURL('image/png');
    await sleep(intervalMs);
  }
  return { frames, best: frames[Math.floor(count / 2)], bestPng };
}

/**
 * The capture plugin's result object. This page has no face detector, so boxes and landmarks are null (the face API
 * finds the face itself); frames from a virtual camera go under from_virtual_camera, as the plugin puts them.
 */
function captureResult({ frames, best, bestPng }, track) {
  const settings = track.getSettings();
  const additionalInfo = JSON.stringify({
    userAgent: navigator.userAgent,
    camera: track.label,
    width: settings.width,
    height: settings.height,
    frameRate: settings.frameRate,
  });
  const captured = {
    best_frame: best,
    best_frame_png: bestPng,
    best_frame_bounding_box: null,
    best_frame_landmarks: null,
    frame_list: frames,
    frame_bounding_box_list: null,
    frame_landmarks: null,
  };
  const empty = Object.fromEntries(Object.keys(captured).map((key) => [key, null]));
  if (VIRTUAL_CAMERA.test(track.label)) {
    return { action: 'video_selfie_blank', ...empty, from_virtual_camera: { additional_info: additionalInfo, ...captured } };
  }
  return { action: 'video_selfie_blank', ...captured, from_virtual_camera: null, additional_info: additionalInfo };
}

function show(result) {
  const labels = { live: 'Live person', declined: 'Declined', failed: 'Could not check' };
  verdict.textContent = labels[result.verdict] ?? result.verdict;
  verdict.dataset.verdict = result.verdict;
  const score = result.confidenceSpoofing === null ? '' : `attack probability ${result.confidenceSpoofing.toFixed(3)} · `;
  details.textContent = `${score}${result.frames} frames · ${result.reason}`;
}

async function checkLiveness() {
  button.disabled = true;
  delete verdict.dataset.verdict;
  details.textContent = '';
  let stream;
  try {
    shot.hidden = true;
    video.hidden = false;
    status.textContent = 'Starting the camera…';
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: 'user' }, audio: false });
    video.srcObject = stream;
    await video.play();
    status.textContent = 'Look into the camera…';
    const frames = await captureFrames(FRAME_COUNT, FRAME_INTERVAL_MS);
    const capture = captureResult(frames, stream.getVideoTracks()[0]);
    // The camera is released as soon as the frames are taken; the best frame stays in view.
    shot.src = frames.best;
    shot.hidden = false;
    video.hidden = true;
    status.textContent = 'Checking…';
    const response = await fetch('/api/liveness', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(capture),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error);
    show(body);
    status.textContent = '';
  } catch (error) {
    status.textContent = `Something went wrong: ${error.message}`;
  } finally {
    stream?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    button.disabled = false;
  }
}

button.addEventListener('click', checkLiveness);
