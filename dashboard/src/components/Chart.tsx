// A time-series chart on uPlot (small, fast, canvas). The series are also given as a text summary for
// screen readers, since a canvas says nothing by itself.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  /** Draw as bars rather than a line. */
  bars?: boolean;
  fill?: string;
}

export function TimeChart({
  times,
  series,
  height = 220,
  yLabel,
  yFormat,
  summary,
}: {
  /** Epoch ms of each point. */
  times: number[];
  series: Series[];
  height?: number;
  yLabel?: string;
  yFormat?: (v: number) => string;
  summary: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}:${s.bars ? "b" : "l"}`).join("|");

  // Build the chart when its shape changes; later data only updates it.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: "#545b66", grid: { stroke: "#eef0f3" } },
        {
          stroke: "#545b66",
          grid: { stroke: "#eef0f3" },
          label: yLabel,
          values: yFormat ? (_u, vals) => vals.map((v) => yFormat(v)) : undefined,
          size: 56,
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.bars ? 1 : 2,
          fill: s.fill,
          paths: s.bars ? bars : undefined,
          points: { show: !s.bars, size: 5 },
          value: yFormat ? (_u: uPlot, v: number | null) => (v === null ? "—" : yFormat(v)) : undefined,
        })),
      ],
    };
    const u = new uPlot(opts, [times.map((t) => t / 1000), ...series.map((s) => s.values)], el);
    plot.current = u;
    const observer = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height, yLabel]);

  useEffect(() => {
    plot.current?.setData([times.map((t) => t / 1000), ...series.map((s) => s.values)]);
  }, [times, series]);

  return (
    <figure style={{ margin: 0 }}>
      <div ref={box} className="chart" aria-hidden="true" />
      <figcaption className="muted" style={{ fontSize: 12 }}>
        {summary}
      </figcaption>
    </figure>
  );
}
