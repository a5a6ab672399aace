import { ModelRuntimeError } from '../errors.js';
import type { ModelRegistry } from './registry.js';

export interface ModelHealth {
  /** The registry to run models through: the same sessions, with every run's outcome recorded. */
  registry: ModelRegistry;
  /** The first model failing its last `failuresToUnhealthy` runs in a row, if any. */
  failing(): string | undefined;
}

/**
 * Tracks runtime failures per model. One failed run is reported to its request (the model-runtime error code); a
 * model that keeps failing makes health report 3, so that orchestrators take the instance out of service.
 */
export function trackModelHealth(inner: ModelRegistry, failuresToUnhealthy: number, onFailure: (modelId: string) => void): ModelHealth {
  const consecutiveFailures = new Map<string, number>();
  return {
    registry: {
      ...inner,
      session(id) {
        const session = inner.session(id);
        return {
          ...session,
          async run(feeds) {
            try {
              const outputs = await session.run(feeds);
              consecutiveFailures.set(id, 0);
              return outputs;
            } catch (error) {
              if (error instanceof ModelRuntimeError) {
                consecutiveFailures.set(id, (consecutiveFailures.get(id) ?? 0) + 1);
                onFailure(id);
              }
              throw error;
            }
          },
        };
      },
    },
    failing: () => [...consecutiveFailures].find(([, failures]) => failures >= failuresToUnhealthy)?.[0],
  };
}
