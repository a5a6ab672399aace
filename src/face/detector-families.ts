import type { DetectorEntry } from '../models/manifest.js';
import type { DetectorFamily } from './detector.js';
import { scrfdFamily } from './detector-scrfd.js';
import { ultrafaceFamily } from './detector-ultraface.js';
import { yunetFamily } from './detector-yunet.js';

export function detectorFamily(model: DetectorEntry): DetectorFamily {
  switch (model.family) {
    case 'detector.ultraface':
      return ultrafaceFamily(model);
    case 'detector.yunet':
      return yunetFamily(model);
    case 'detector.scrfd':
      return scrfdFamily(model);
  }
}
