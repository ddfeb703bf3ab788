// A small SVG line chart (no library): one or two series over time, the
// latest value written beside the title, no inline styles (CSS classes draw it).

export interface Series {
  label: string;
  values: number[];
  /** The CSS class of the line (series-a, series-b). */
  tone: 'a' | 'b';
}

const W = 300;
const H = 100;

export function LineChart({ title, series, format }: { title: string; series: Series[]; format: (n: number) => string }) {
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  const points = (values: number[]) =>
    values.map((v, i) => `${((i / Math.max(1, values.length - 1)) * W).toFixed(1)},${(H - (v / max) * (H - 4) - 2).toFixed(1)}`).join(' ');
  const latest = series.map((s) => `${s.label} ${format(s.values.at(-1) ?? 0)}`).join(' · ');
  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong> <span class="hint">{latest}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${title}: ${latest}; peak ${format(max)}`}>
        <line x1="0" y1={H - 1} x2={W} y2={H - 1} class="axis" />
        {series.map((s) => (s.values.length > 1 ? <polyline key={s.label} points={points(s.values)} class={`line series-${s.tone}`} /> : null))}
      </svg>
      <div class="legend hint">peak {format(max)}</div>
    </figure>
  );
}
