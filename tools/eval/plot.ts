import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { normalQuantile, type PadErrorRates } from './metrics.js';

export interface CurvePoint {
  falseAccept: number;
  trueAccept: number;
}

export interface RocSeries {
  name: string;
  colour: string;
  dashed: boolean;
  points: CurvePoint[];
}

const WIDTH = 960;
const HEIGHT = 640;
const PLOT = { left: 90, right: WIDTH - 30, top: 60, bottom: HEIGHT - 80 };
const DECADES = { from: -5, to: 0 };
const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶' };

const escapeXml = (text: string): string => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const powerOfTen = (exponent: number): string => (exponent === 0 ? '1' : `10${[...String(exponent)].map((c) => SUPERSCRIPT[c]).join('')}`);

/** The lowest true-accept rate shown: below every plotted point, on a round step, leaving at least 0.1 of range. */
function trueAcceptFloor(series: readonly RocSeries[]): number {
  const shown = series.flatMap((s) => s.points.filter((p) => p.falseAccept >= 10 ** DECADES.from).map((p) => p.trueAccept));
  const lowest = Math.min(0.9, ...shown);
  return Math.max(0, Math.floor((lowest - 0.01) * 20) / 20);
}

/** A ROC chart as SVG: true-accept rate against false-accept rate on a log axis from 1e-5 to 1. */
export function rocChartSvg(series: readonly RocSeries[], title: string): string {
  const yFloor = trueAcceptFloor(series);
  const x = (falseAccept: number): number =>
    PLOT.left + ((Math.log10(falseAccept) - DECADES.from) / (DECADES.to - DECADES.from)) * (PLOT.right - PLOT.left);
  const y = (trueAccept: number): number => PLOT.bottom - ((trueAccept - yFloor) / (1 - yFloor)) * (PLOT.bottom - PLOT.top);
  const parts: string[] = [];

  for (let decade = DECADES.from; decade <= DECADES.to; decade++) {
    const at = x(10 ** decade);
    parts.push(`<line x1="${at}" y1="${PLOT.top}" x2="${at}" y2="${PLOT.bottom}" stroke="#cccccc"/>`);
    parts.push(`<text x="${at}" y="${PLOT.bottom + 24}" text-anchor="middle">${powerOfTen(decade)}</text>`);
    for (let m = 2; decade < DECADES.to && m <= 9; m++) {
      const minor = x(m * 10 ** decade);
      parts.push(`<line x1="${minor}" y1="${PLOT.top}" x2="${minor}" y2="${PLOT.bottom}" stroke="#eeeeee"/>`);
    }
  }
  const step = 1 - yFloor > 0.3 ? 0.1 : 1 - yFloor > 0.15 ? 0.05 : 0.02;
  for (let tick = 1; tick >= yFloor - 1e-9; tick -= step) {
    const at = y(tick);
    parts.push(`<line x1="${PLOT.left}" y1="${at}" x2="${PLOT.right}" y2="${at}" stroke="#dddddd"/>`);
    parts.push(`<text x="${PLOT.left - 10}" y="${at + 5}" text-anchor="end">${tick.toFixed(2)}</text>`);
  }
  parts.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333333"/>`);

  for (const s of series) {
    const visible = s.points.filter((p) => p.falseAccept >= 10 ** DECADES.from && p.falseAccept <= 1);
    const path = visible.map((p) => `${x(p.falseAccept).toFixed(1)},${y(Math.max(p.trueAccept, yFloor)).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="9,5"' : '';
    parts.push(`<polyline points="${path}" fill="none" stroke="${s.colour}" stroke-width="2.5"${dash}/>`);
  }

  const legendWidth = 12 + 40 + 10 + 9 * Math.max(...series.map((s) => s.name.length));
  const legendTop = PLOT.bottom - 16 - 26 * series.length;
  const legendLeft = PLOT.right - 16 - legendWidth;
  parts.push(`<rect x="${legendLeft}" y="${legendTop}" width="${legendWidth}" height="${26 * series.length + 8}" fill="white" stroke="#999999"/>`);
  series.forEach((s, i) => {
    const row = legendTop + 20 + 26 * i;
    const dash = s.dashed ? ' stroke-dasharray="9,5"' : '';
    parts.push(`<line x1="${legendLeft + 12}" y1="${row - 5}" x2="${legendLeft + 52}" y2="${row - 5}" stroke="${s.colour}" stroke-width="2.5"${dash}/>`);
    parts.push(`<text x="${legendLeft + 62}" y="${row}">${escapeXml(s.name)}</text>`);
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans, sans-serif" font-size="15" fill="#222222">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="34" text-anchor="middle" font-size="19">${escapeXml(title)}</text>`,
    ...parts,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 24}" text-anchor="middle">false-accept rate (FAR), log scale</text>`,
    `<text transform="translate(24 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">true-accept rate (TAR)</text>`,
    '</svg>',
  ].join('\n');
}

export interface DetSeries {
  name: string;
  colour: string;
  points: PadErrorRates[];
  /** The operating point at the service's threshold, drawn as a dot on the curve. */
  atThreshold: PadErrorRates;
}

export interface DetMarks {
  /** Legend text of the dots: which threshold they show. */
  thresholdLabel: string;
  /** A required operating point, drawn as a cross: a curve must pass below and left of it. */
  target: PadErrorRates & { label: string };
}

const DET = { width: 860, height: 800, left: 100, right: 830, top: 60, bottom: 720 };
/** Rates the probit axes may be ticked at; the lowest shown is the first at or below every non-zero rate drawn. */
const DET_TICKS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95];
const DET_TOP = 0.95;

const percentTick = (rate: number): string => `${Number((rate * 100).toPrecision(2))} %`;

/**
 * A DET chart as SVG: BPCER against APCER, both on probit (normal-deviate) axes, where a score pair of normal
 * distributions draws a straight line. Rates of 0 cannot be placed on such an axis: they are drawn on its lower edge.
 */
export function detChartSvg(series: readonly DetSeries[], title: string, marks: DetMarks): string {
  const rates = [...series.flatMap((s) => s.points.flatMap((p) => [p.apcer, p.bpcer])), marks.target.apcer, marks.target.bpcer];
  const smallest = Math.min(...rates.filter((r) => r > 0));
  const floor = [...DET_TICKS].reverse().find((t) => t <= smallest) ?? DET_TICKS[0]!;
  const ticks = DET_TICKS.filter((t) => t >= floor);
  const axis = (rate: number): number => {
    const clipped = Math.min(Math.max(rate, floor), DET_TOP);
    return (normalQuantile(clipped) - normalQuantile(floor)) / (normalQuantile(DET_TOP) - normalQuantile(floor));
  };
  const x = (apcer: number): number => DET.left + axis(apcer) * (DET.right - DET.left);
  const y = (bpcer: number): number => DET.bottom - axis(bpcer) * (DET.bottom - DET.top);
  const parts: string[] = [];

  for (const tick of ticks) {
    parts.push(`<line x1="${x(tick)}" y1="${DET.top}" x2="${x(tick)}" y2="${DET.bottom}" stroke="#dddddd"/>`);
    parts.push(`<text x="${x(tick)}" y="${DET.bottom + 24}" text-anchor="middle">${percentTick(tick)}</text>`);
    parts.push(`<line x1="${DET.left}" y1="${y(tick)}" x2="${DET.right}" y2="${y(tick)}" stroke="#dddddd"/>`);
    parts.push(`<text x="${DET.left - 10}" y="${y(tick) + 5}" text-anchor="end">${percentTick(tick)}</text>`);
  }
  parts.push(`<rect x="${DET.left}" y="${DET.top}" width="${DET.right - DET.left}" height="${DET.bottom - DET.top}" fill="none" stroke="#333333"/>`);
  // Chance, a score that ignores the face: APCER + BPCER = 1, a straight line on probit axes.
  const [from, to] = [Math.max(floor, 1 - DET_TOP), Math.min(DET_TOP, 1 - floor)];
  parts.push(`<line x1="${x(from)}" y1="${y(1 - from)}" x2="${x(to)}" y2="${y(1 - to)}" stroke="#999999" stroke-dasharray="3,4"/>`);
  parts.push(`<text x="${x(0.5) + 8}" y="${y(0.5) - 8}" fill="#777777">chance</text>`);

  for (const s of series) {
    const path = s.points.map((p) => `${x(p.apcer).toFixed(1)},${y(p.bpcer).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${s.colour}" stroke-width="2.5"/>`);
    parts.push(`<circle cx="${x(s.atThreshold.apcer).toFixed(1)}" cy="${y(s.atThreshold.bpcer).toFixed(1)}" r="6" fill="${s.colour}" stroke="white"/>`);
  }
  const cross = (cx: number, cy: number): string =>
    `<path d="M${cx - 8},${cy - 8} L${cx + 8},${cy + 8} M${cx - 8},${cy + 8} L${cx + 8},${cy - 8}" stroke="#000000" stroke-width="3"/>`;
  parts.push(cross(x(marks.target.apcer), y(marks.target.bpcer)));

  const legend = [...series.map((s) => s.name), marks.thresholdLabel, marks.target.label];
  const legendWidth = 12 + 40 + 10 + 8.5 * Math.max(...legend.map((text) => text.length));
  const legendLeft = DET.right - 16 - legendWidth;
  const legendTop = DET.top + 16;
  parts.push(`<rect x="${legendLeft}" y="${legendTop}" width="${legendWidth}" height="${26 * legend.length + 8}" fill="white" stroke="#999999"/>`);
  const row = (i: number): number => legendTop + 20 + 26 * i;
  series.forEach((s, i) => {
    parts.push(`<line x1="${legendLeft + 12}" y1="${row(i) - 5}" x2="${legendLeft + 52}" y2="${row(i) - 5}" stroke="${s.colour}" stroke-width="2.5"/>`);
    parts.push(`<text x="${legendLeft + 62}" y="${row(i)}">${escapeXml(s.name)}</text>`);
  });
  parts.push(`<circle cx="${legendLeft + 32}" cy="${row(series.length) - 5}" r="6" fill="#555555"/>`);
  parts.push(`<text x="${legendLeft + 62}" y="${row(series.length)}">${escapeXml(marks.thresholdLabel)}</text>`);
  parts.push(cross(legendLeft + 32, row(series.length + 1) - 5));
  parts.push(`<text x="${legendLeft + 62}" y="${row(series.length + 1)}">${escapeXml(marks.target.label)}</text>`);

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${DET.width}" height="${DET.height}" font-family="DejaVu Sans, sans-serif" font-size="15" fill="#222222">`,
    `<rect width="${DET.width}" height="${DET.height}" fill="white"/>`,
    `<text x="${DET.width / 2}" y="34" text-anchor="middle" font-size="19">${escapeXml(title)}</text>`,
    ...parts,
    `<text x="${(DET.left + DET.right) / 2}" y="${DET.height - 30}" text-anchor="middle">APCER: attacks classified bona fide (probit scale)</text>`,
    `<text transform="translate(26 ${(DET.top + DET.bottom) / 2}) rotate(-90)" text-anchor="middle">BPCER: bona fide classified attacks (probit scale)</text>`,
    '</svg>',
  ].join('\n');
}

export async function writeSvgAsPng(svg: string, file: string): Promise<void> {
  await writeFile(file, await sharp(Buffer.from(svg)).png().toBuffer());
}
