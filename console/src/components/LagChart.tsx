/**
 * Lag over time as a small SVG line chart: no chart library (a few hundred bytes instead of tens
 * of kilobytes). The samples come from the page's own polling (the API has no lag history).
 */
export interface LagSample {
  readonly at: number;
  readonly lag: number;
}

const WIDTH = 600;
const HEIGHT = 160;
const PAD = 32;

export function LagChart(props: { samples: readonly LagSample[]; label: string }) {
  const { samples } = props;
  if (samples.length === 0) return <p>No lag samples yet.</p>;
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const maxLag = Math.max(1, ...samples.map((s) => s.lag));
  const span = Math.max(1, last.at - first.at);
  const x = (at: number) => PAD + ((at - first.at) / span) * (WIDTH - 2 * PAD);
  const y = (lag: number) => HEIGHT - PAD + -((lag / maxLag) * (HEIGHT - 2 * PAD));
  const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s.lag).toFixed(1)}`).join(' ');
  const summary = `${props.label}: ${samples.length} samples over ${Math.round(span / 1000)} s, from ${first.lag} to ${last.lag} (max ${maxLag})`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} class="axis" />
        <line x1={PAD} y1={PAD} x2={PAD} y2={HEIGHT - PAD} class="axis" />
        <text x={PAD - 4} y={PAD + 4} text-anchor="end" class="tick">
          {maxLag}
        </text>
        <text x={PAD - 4} y={HEIGHT - PAD} text-anchor="end" class="tick">
          0
        </text>
        <polyline points={points} class="line" fill="none" />
        {samples.length === 1 ? <circle cx={x(first.at)} cy={y(first.lag)} r="3" class="dot" /> : null}
      </svg>
      <figcaption>{summary}</figcaption>
    </figure>
  );
}

/** Lag samples per group, kept while the app is open (navigating away and back keeps the line). */
const history = new Map<string, LagSample[]>();
const MAX_SAMPLES = 300;

export function recordLag(group: string, lag: number, at = Date.now()): readonly LagSample[] {
  const samples = history.get(group) ?? [];
  samples.push({ at, lag });
  if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
  history.set(group, samples);
  return samples;
}

export function lagHistory(group: string): readonly LagSample[] {
  return history.get(group) ?? [];
}
