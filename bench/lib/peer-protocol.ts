import type { ExtractImageName } from './images.js';

/** The images ours and the peer are compared on: one of each kind users send. */
export const peerImages: readonly ExtractImageName[] = ['lfw250', 'selfie720', 'portrait', 'phone12', 'passport'];

/** Asks a peer process to extract from `image` again and again for `seconds`. */
export interface PeerRunRequest {
  kind: 'run';
  image: ExtractImageName;
  seconds: number;
}

export type PeerMessage =
  | { kind: 'ready'; backend: string; versions: Record<string, string> }
  | {
      kind: 'done';
      /** Per image: JPEG decode, detection and description, ms. */
      latenciesMs: number[];
      /** Images where the peer did not return exactly one face with an embedding. */
      failures: number;
      seconds: number;
    };
