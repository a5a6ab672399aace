import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';

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

export async function writeSvgAsPng(svg: string, file: string): Promise<void> {
  await writeFile(file, await sharp(Buffer.from(svg)).png().toBuffer());
}
