import type { FloorReport } from '../floor.js';
import { glueByStage } from './compute-floor.js';
import { fixed } from './table.js';

/** The rows of the floor benchmark's tables, shared by its console output and the README section. */

export const modelRows = (report: FloorReport): string[][] =>
  report.models.map((m) => [m.modelId, fixed(m.serviceThreads.wallMs, 2), fixed(m.serviceThreads.cpuMs, 2), fixed(m.oneThread.wallMs, 2), fixed(m.oneThread.cpuMs, 2)]);

/** One row per request type; `notMeasured` stands where bench:load has not measured the request yet. */
export const floorRows = (report: FloorReport, notMeasured: string): string[][] =>
  report.floors.map((f, i) => [
    f.name,
    f.parts.map((p) => `${p.what} ${fixed(p.wallMs)}`).join(' + '),
    fixed(f.latencyFloorMs),
    fixed(report.profiles[i]!.inProcessMs),
    f.httpP50AtConcurrency1Ms === undefined ? '–' : fixed(f.httpP50AtConcurrency1Ms),
    fixed(f.cpuFloorMs),
    f.measuredServerCpuMs === undefined ? '–' : fixed(f.measuredServerCpuMs),
    fixed(f.floorRequestsPerSecond),
    f.measuredBestRequestsPerSecond === undefined ? notMeasured : `${fixed(f.measuredBestRequestsPerSecond)} (c=${f.measuredAtConcurrency})`,
    f.shareOfFloor === undefined ? '–' : `${fixed(100 * f.shareOfFloor, 0)} %`,
  ]);

export const glueRows = (report: FloorReport): string[][] =>
  report.profiles.flatMap((p) =>
    glueByStage(p).map((g) => [p.name, g.stage, fixed(p.stages[g.stage]?.runsPerRequest ?? 0, 2), fixed(g.stageMs, 2), fixed(g.modelMs, 2), fixed(g.glueMs, 2)]),
  );

export const pureRows = (report: FloorReport): string[][] => report.pure.map((c) => [c.what, fixed(c.wallMs, 2), fixed(c.cpuMs, 2)]);
