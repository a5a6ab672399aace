import type { ModelRegistry } from '../../src/models/registry.js';
import type { FloatTensor } from '../../src/models/session.js';

export interface ModelRun {
  modelId: string;
  ms: number;
}

/**
 * The registry with every model run timed (as the pipeline sees it: tensor wrapping included) and its inputs kept,
 * so that each model can later be timed alone on a real input.
 */
export function instrumentRegistry(registry: ModelRegistry) {
  let runs: ModelRun[] = [];
  const lastFeeds = new Map<string, Record<string, FloatTensor>>();
  const instrumented: ModelRegistry = {
    ...registry,
    session(id) {
      const session = registry.session(id);
      return {
        ...session,
        async run(feeds) {
          const started = performance.now();
          try {
            return await session.run(feeds);
          } finally {
            runs.push({ modelId: id, ms: performance.now() - started });
            lastFeeds.set(id, feeds);
          }
        },
      };
    },
  };
  return {
    registry: instrumented,
    /** The runs since the last call. */
    takeRuns(): ModelRun[] {
      const taken = runs;
      runs = [];
      return taken;
    },
    lastFeeds,
  };
}
