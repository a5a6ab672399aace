/**
 * Host backend of the web capture example. It serves the page (public/), receives from it the object the capture
 * plugin hands to on_capture_complete (step 2 of the plugin's documented flow), archives the frames as a ZIP and sends
 * them with the client's additional_info to the face API's liveness method (step 3), and answers the page with the
 * verdict (step 4). Nothing is stored or logged.
 *
 *   FACE_API_URL=http://127.0.0.1:8080 PORT=3000 npx tsx examples/web-capture/server.ts
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';

/** The capture object's limits: about two seconds of 720p JPEG frames fit well within them. */
const MAX_BODY_BYTES = 24 * 1024 * 1024;
const MAX_FRAMES = 32;

/** The frames of a capture result, where the plugin puts them. Boxes and landmarks are not needed by the API. */
interface CaptureFrames {
  best_frame: string | null;
  best_frame_png?: string | null;
  frame_list: string[] | null;
}

/** The object on_capture_complete receives (web-sdk-capture-callback): frames at the top, or under from_virtual_camera. */
interface CaptureResult extends CaptureFrames {
  action: string;
  additional_info?: string;
  from_virtual_camera: (CaptureFrames & { additional_info?: string }) | null;
}

export interface Verdict {
  verdict: 'live' | 'declined' | 'failed';
  /** The API's attack probability (confidence_spoofing): at or above the threshold, the capture is declined. */
  confidenceSpoofing: number | null;
  frames: number;
  reason: string;
}

class BadCapture extends Error {}

/** The bytes of a JPEG or PNG data URL, the format the plugin gives frames in. */
function imageBytes(dataUrl: unknown): { data: Buffer; extension: string } {
  const match = typeof dataUrl === 'string' ? /^data:image\/(jpeg|png);base64,([A-Za-z0-9+/]+={0,2})$/.exec(dataUrl) : null;
  if (!match) throw new BadCapture('a frame is not a JPEG or PNG data URL');
  return { data: Buffer.from(match[2]!, 'base64'), extension: match[1] === 'jpeg' ? 'jpg' : 'png' };
}

/** A ZIP archive of stored (uncompressed) entries: JPEG and PNG frames are compressed already. */
function zipStored(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const fileName = Buffer.from(name, 'utf8');
    const checksum = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // local file header
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x800, 6); // names in UTF-8
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); // central directory header
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt32LE(checksum, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); // end of central directory
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The liveness method's answer, as far as the verdict needs it. */
interface Folder {
  analyses: { resolution_status: string; error_message?: string; results_media: { results_data?: { confidence_spoofing: number } }[] }[];
}

/** Steps 3 and 4: the frames as a ZIP in a liveness folder request, and the API's analysis as a verdict. */
export async function checkLiveness(capture: CaptureResult, faceApiUrl: string): Promise<Verdict> {
  if (capture.from_virtual_camera) {
    // The plugin saw a virtual camera (software that feeds any video it likes): never accepted as a live person.
    return { verdict: 'declined', confidenceSpoofing: null, frames: 0, reason: 'the capture came from a virtual camera' };
  }
  const frames: unknown = capture.frame_list ?? (capture.best_frame ? [capture.best_frame] : []);
  if (!Array.isArray(frames) || frames.length === 0 || frames.length > MAX_FRAMES) throw new BadCapture(`a list of 1 to ${MAX_FRAMES} frames is needed`);
  const archive = zipStored(frames.map((frame, i) => {
    const { data, extension } = imageBytes(frame);
    return { name: `frame_${String(i).padStart(3, '0')}.${extension}`, data };
  }));

  const form = new FormData();
  form.append('video', new Blob([archive], { type: 'application/zip' }), 'frames.zip');
  form.append('payload', JSON.stringify({ 'media:meta_data': { video: { additional_info: capture.additional_info ?? '' } } }));
  const response = await fetch(`${faceApiUrl}/v1/face/liveness/detect`, { method: 'POST', body: form });
  if (!response.ok) {
    const error = (await response.json()) as { code: string; message: string };
    return { verdict: 'failed', confidenceSpoofing: null, frames: frames.length, reason: `${error.code}: ${error.message}` };
  }
  const analysis = ((await response.json()) as Folder).analyses[0]!;
  const confidenceSpoofing = analysis.results_media[0]?.results_data?.confidence_spoofing ?? null;
  switch (analysis.resolution_status) {
    case 'SUCCESS':
      return { verdict: 'live', confidenceSpoofing, frames: frames.length, reason: 'the frames show a live person' };
    case 'DECLINED':
      return { verdict: 'declined', confidenceSpoofing, frames: frames.length, reason: 'the frames look like a presentation attack' };
    default:
      return { verdict: 'failed', confidenceSpoofing, frames: frames.length, reason: analysis.error_message ?? 'the frames could not be analysed' };
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadCapture(`the capture is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function send(response: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}

const PAGES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/capture.js': { file: 'capture.js', contentType: 'text/javascript; charset=utf-8' },
};

export function createCaptureBackend(options: { faceApiUrl: string }): Server {
  return createServer((request, response) => {
    const handle = async (): Promise<void> => {
      const url = new URL(request.url ?? '/', 'http://host');
      const page = PAGES[url.pathname];
      if (request.method === 'GET' && page) {
        send(response, 200, page.contentType, await readFile(new URL(`public/${page.file}`, import.meta.url)));
      } else if (request.method === 'POST' && url.pathname === '/api/liveness') {
        const capture = await readJson(request);
        if (typeof capture !== 'object' || capture === null) throw new BadCapture('the body is not a capture result object');
        send(response, 200, 'application/json', JSON.stringify(await checkLiveness(capture as CaptureResult, options.faceApiUrl)));
      } else {
        send(response, 404, 'text/plain', 'not found');
      }
    };
    handle().catch((error: unknown) => {
      const status = error instanceof BadCapture || error instanceof SyntaxError ? 400 : 502;
      send(response, status, 'application/json', JSON.stringify({ error: status === 400 ? (error as Error).message : 'the face API could not be reached' }));
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const faceApiUrl = process.env.FACE_API_URL ?? 'http://127.0.0.1:8080';
  const port = Number(process.env.PORT ?? 3000);
  createCaptureBackend({ faceApiUrl }).listen(port, '127.0.0.1', () => {
    process.stdout.write(`web capture example on http://127.0.0.1:${port}/, face API at ${faceApiUrl}\n`);
  });
}
