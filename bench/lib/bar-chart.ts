/** SVG bar and line charts for the benchmark reports, rasterised with tools/eval/plot.ts writeSvgAsPng. */

export interface BarSeries {
  name: string;
  colour: string;
}

export interface BarGroup {
  label: string;
  /** One value per series, in the series' order; undefined leaves a gap. */
  values: (number | undefined)[];
  /** A required value for this group, drawn as a dashed line across it. */
  target?: { value: number; label: string };
}

export interface StackedBar {
  label: string;
  /** One segment per series, in the series' order. */
  segments: number[];
  /** Drawn at the bar's end. */
  note?: string;
}

export interface Panel {
  title: string;
  axisLabel: string;
  width: number;
  height: number;
}

const escapeXml = (text: string): string => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** A round axis maximum at or above `value`, on a step that divides into five ticks. */
function niceMax(value: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1e-9)));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * power).find((m) => m >= value)!;
}

/** How many intervals split [0, max] into round steps (1, 2, 2.5 or 5 times a power of ten). */
function intervals(max: number): number {
  const round = (step: number): boolean => {
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    return [1, 2, 2.5, 5].some((m) => Math.abs(mantissa - m) < 1e-9);
  };
  return [5, 4, 6, 3, 8, 2].find((n) => round(max / n)) ?? 5;
}

/** The series' swatches in one row, centred on `centre`. */
function legendRow(series: readonly BarSeries[], centre: number, y: number): string[] {
  const widths = series.map((s) => 30 + 8.2 * s.name.length);
  let x = centre - widths.reduce((a, b) => a + b, 0) / 2;
  return series.flatMap((s, i) => {
    const item = [`<rect x="${x.toFixed(1)}" y="${y - 12}" width="14" height="14" fill="${s.colour}"/>`, `<text x="${(x + 20).toFixed(1)}" y="${y}">${escapeXml(s.name)}</text>`];
    x += widths[i]!;
    return item;
  });
}

interface PlotArea {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Horizontal grid lines with their values on the left, from 0 to yMax in round steps. */
function horizontalGrid(plot: PlotArea, yMax: number, y: (value: number) => number): string[] {
  const lines: string[] = [];
  const yIntervals = intervals(yMax);
  for (let i = 0; i <= yIntervals; i++) {
    const value = (yMax * i) / yIntervals;
    lines.push(`<line x1="${plot.left}" y1="${y(value)}" x2="${plot.right}" y2="${y(value)}" stroke="${i === 0 ? '#333333' : '#e0e0e0'}"/>`);
    lines.push(`<text x="${plot.left - 8}" y="${y(value) + 5}" text-anchor="end">${Number(value.toPrecision(3))}</text>`);
  }
  return lines;
}

/** Vertical grouped bars, a value label on each bar, at (left, top) of a larger SVG. */
export function groupedBarsSvg(panel: Panel, series: readonly BarSeries[], groups: readonly BarGroup[], left: number, top: number): string {
  const plot = { left: left + 80, right: left + panel.width - 30, top: top + 80, bottom: top + panel.height - 95 };
  const highest = Math.max(...groups.flatMap((g) => [...g.values.filter((v): v is number => v !== undefined), g.target?.value ?? 0]));
  const yMax = niceMax(highest * 1.08);
  const y = (value: number): number => plot.bottom - (value / yMax) * (plot.bottom - plot.top);
  const groupWidth = (plot.right - plot.left) / groups.length;
  const barWidth = (groupWidth * 0.8) / series.length;
  const parts: string[] = [`<text x="${left + panel.width / 2}" y="${top + 28}" text-anchor="middle" font-size="19">${escapeXml(panel.title)}</text>`];
  parts.push(...horizontalGrid(plot, yMax, y));
  groups.forEach((group, g) => {
    const x0 = plot.left + g * groupWidth + groupWidth * 0.1;
    group.values.forEach((value, s) => {
      if (value === undefined) return;
      const x = x0 + s * barWidth;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(plot.bottom - y(value)).toFixed(1)}" fill="${series[s]!.colour}"/>`);
      const text = value >= 100 ? value.toFixed(0) : value.toFixed(1);
      parts.push(`<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(y(value) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${text}</text>`);
    });
    if (group.target) {
      const at = y(group.target.value);
      parts.push(`<line x1="${x0 - 4}" y1="${at}" x2="${x0 + groupWidth * 0.8 + 4}" y2="${at}" stroke="#c00000" stroke-width="2" stroke-dasharray="6,4"/>`);
      parts.push(`<text x="${x0 + groupWidth * 0.4}" y="${at - 6}" text-anchor="middle" font-size="11" fill="#c00000">${escapeXml(group.target.label)}</text>`);
    }
    const lines = group.label.split('\n');
    lines.forEach((line, l) => {
      parts.push(`<text x="${x0 + groupWidth * 0.4}" y="${plot.bottom + 20 + 16 * l}" text-anchor="middle" font-size="13">${escapeXml(line)}</text>`);
    });
  });
  parts.push(`<text transform="translate(${left + 22} ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.axisLabel)}</text>`);
  parts.push(...legendRow(series, left + panel.width / 2, top + 56));
  return parts.join('\n');
}

/** Horizontal stacked bars (one per row), at (left, top) of a larger SVG. */
export function stackedBarsSvg(panel: Panel, series: readonly BarSeries[], bars: readonly StackedBar[], left: number, top: number): string {
  const plot = { left: left + 210, right: left + panel.width - 130, top: top + 75, bottom: top + panel.height - 50 };
  const xMax = niceMax(Math.max(...bars.map((b) => b.segments.reduce((a, v) => a + v, 0))) * 1.05);
  const x = (value: number): number => plot.left + (value / xMax) * (plot.right - plot.left);
  const rowHeight = (plot.bottom - plot.top) / bars.length;
  const parts: string[] = [`<text x="${left + panel.width / 2}" y="${top + 28}" text-anchor="middle" font-size="19">${escapeXml(panel.title)}</text>`];
  const xIntervals = intervals(xMax);
  for (let i = 0; i <= xIntervals; i++) {
    const value = (xMax * i) / xIntervals;
    parts.push(`<line x1="${x(value)}" y1="${plot.top}" x2="${x(value)}" y2="${plot.bottom}" stroke="${i === 0 ? '#333333' : '#e0e0e0'}"/>`);
    parts.push(`<text x="${x(value)}" y="${plot.bottom + 20}" text-anchor="middle">${Number(value.toPrecision(3))}</text>`);
  }
  bars.forEach((bar, b) => {
    const yTop = plot.top + b * rowHeight + rowHeight * 0.15;
    const height = rowHeight * 0.7;
    let start = 0;
    bar.segments.forEach((segment, s) => {
      if (segment <= 0) return;
      parts.push(`<rect x="${x(start).toFixed(1)}" y="${yTop.toFixed(1)}" width="${(x(start + segment) - x(start)).toFixed(1)}" height="${height.toFixed(1)}" fill="${series[s]!.colour}" stroke="white"/>`);
      if (x(start + segment) - x(start) > 34) {
        parts.push(`<text x="${((x(start) + x(start + segment)) / 2).toFixed(1)}" y="${(yTop + height / 2 + 5).toFixed(1)}" text-anchor="middle" font-size="12" fill="white">${segment.toFixed(1)}</text>`);
      }
      start += segment;
    });
    parts.push(`<text x="${plot.left - 10}" y="${(yTop + height / 2 + 5).toFixed(1)}" text-anchor="end" font-size="14">${escapeXml(bar.label)}</text>`);
    if (bar.note) parts.push(`<text x="${x(start) + 8}" y="${(yTop + height / 2 + 5).toFixed(1)}" font-size="12">${escapeXml(bar.note)}</text>`);
  });
  parts.push(`<text x="${(plot.left + plot.right) / 2}" y="${plot.bottom + 42}" text-anchor="middle">${escapeXml(panel.axisLabel)}</text>`);
  parts.push(...legendRow(series, left + panel.width / 2, top + 56));
  return parts.join('\n');
}

export interface LineSeries extends BarSeries {
  points: readonly { x: number; y: number }[];
}

/** Lines over a shared x axis starting at 0, y axis from 0, at (left, top) of a larger SVG. */
export function linesSvg(panel: Panel & { xLabel: string }, series: readonly LineSeries[], left: number, top: number): string {
  const plot = { left: left + 80, right: left + panel.width - 30, top: top + 80, bottom: top + panel.height - 55 };
  const all = series.flatMap((s) => s.points);
  const xMax = niceMax(Math.max(...all.map((p) => p.x)));
  const yMax = niceMax(Math.max(...all.map((p) => p.y)) * 1.08);
  const x = (value: number): number => plot.left + (value / xMax) * (plot.right - plot.left);
  const y = (value: number): number => plot.bottom - (value / yMax) * (plot.bottom - plot.top);
  const parts: string[] = [`<text x="${left + panel.width / 2}" y="${top + 28}" text-anchor="middle" font-size="19">${escapeXml(panel.title)}</text>`];
  parts.push(...horizontalGrid(plot, yMax, y));
  const xIntervals = intervals(xMax);
  for (let i = 0; i <= xIntervals; i++) {
    const value = (xMax * i) / xIntervals;
    parts.push(`<text x="${x(value)}" y="${plot.bottom + 20}" text-anchor="middle">${Number(value.toPrecision(3))}</text>`);
  }
  for (const line of series) {
    const path = line.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${line.colour}" stroke-width="2"/>`);
  }
  parts.push(`<text x="${(plot.left + plot.right) / 2}" y="${plot.bottom + 42}" text-anchor="middle">${escapeXml(panel.xLabel)}</text>`);
  parts.push(`<text transform="translate(${left + 22} ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.axisLabel)}</text>`);
  parts.push(...legendRow(series, left + panel.width / 2, top + 56));
  return parts.join('\n');
}

/** Panels stacked top to bottom in one white SVG document. */
export function svgDocument(width: number, height: number, body: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="14" fill="#222222">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
  ].join('\n');
}
