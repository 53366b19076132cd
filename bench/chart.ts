// Two small SVG charts, written by hand: a dependency for two pictures would
// weigh more than this file.

const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"];
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

const xmlText = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/** Horizontal bars, one per row, coloured by group. */
export function barChart(
  title: string,
  rows: Array<{ label: string; value: number; note: string; group: string }>,
): string {
  const labelWidth = 430;
  const barWidth = 420;
  const rowHeight = 20;
  const top = 40;
  const width = labelWidth + barWidth + 170;
  const height = top + rows.length * rowHeight + 20;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const groups = [...new Set(rows.map((row) => row.group))];
  const color = (group: string) => COLORS[groups.indexOf(group) % COLORS.length];
  const bars = rows.map((row, i) => {
    const y = top + i * rowHeight;
    const w = Math.max(1, (row.value / max) * barWidth);
    return [
      `<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${xmlText(row.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" fill="${color(row.group)}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 14}">${xmlText(row.note)}</text>`,
    ].join("");
  });
  return svg(width, height, title, bars);
}

/** One line per series over categorical x values (e.g. data sizes); NaN points are skipped. */
export function lineChart(
  title: string,
  xs: string[],
  series: Array<{ name: string; values: number[] }>,
): string {
  const left = 60;
  const plotWidth = 520;
  const plotHeight = 300;
  const top = 40;
  const legendWidth = 260;
  const width = left + plotWidth + legendWidth;
  const height = top + plotHeight + 50;
  const max = Math.max(1, ...series.flatMap((s) => s.values.filter((v) => Number.isFinite(v))));
  const x = (i: number) => left + (xs.length === 1 ? plotWidth / 2 : (i / (xs.length - 1)) * plotWidth);
  const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
  const parts = [
    `<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#888"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#888"/>`,
  ];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (max * tick) / 4;
    parts.push(`<text x="${left - 6}" y="${y(value) + 4}" text-anchor="end">${value.toFixed(1)}</text>`);
  }
  xs.forEach((label, i) => {
    parts.push(
      `<text x="${x(i)}" y="${top + plotHeight + 18}" text-anchor="middle">${xmlText(label)}</text>`,
    );
  });
  series.forEach((s, index) => {
    const color = COLORS[Math.floor(index / 2) % COLORS.length];
    const dashed = index % 2 === 1 ? ' stroke-dasharray="5 3"' : "";
    const points = s.values
      .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : ""))
      .filter(Boolean);
    parts.push(
      `<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"${dashed}/>`,
    );
    const ly = top + index * 18;
    parts.push(
      `<line x1="${left + plotWidth + 20}" y1="${ly}" x2="${left + plotWidth + 44}" y2="${ly}" stroke="${color}" stroke-width="2"${dashed}/>`,
      `<text x="${left + plotWidth + 50}" y="${ly + 4}">${xmlText(s.name)}</text>`,
    );
  });
  return svg(width, height, title, parts);
}

/** The picture with its title, shown on top and as the SVG's <title> (its accessible name). */
function svg(width: number, height: number, title: string, parts: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<title>${xmlText(title)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="10" y="22" font-weight="bold">${xmlText(title)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
