"""Small line charts as inline SVG text, for the report pages that have one chart per variant.

matplotlib costs ~0.1-0.15 s per figure here; a report of 1,000 runs has hundreds of variant pages and
must render in seconds, so these charts are written directly: lines, an optional band per line,
linear or log y axis, ticks and a legend. Every text is escaped. Deterministic: the same series give
the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
LEGEND_MAX = 14


@dataclass
class Series:
    name: str
    x: list[float]
    y: list[float]
    band: tuple[list[float], list[float]] | None = None  # lower and upper edge at each x
    color: str | None = None
    thin: bool = False  # a per-seed line under its mean: drawn faint, left out of the legend


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 x 10^k steps) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.4g}"


def line_chart(series: list[Series], x_label: str, y_label: str, log_y: bool = False, width: int = 480,
               height: int = 250, title: str = "") -> str:
    """An <svg> element with one polyline per series (and its band as a filled polygon)."""
    visible = [s for s in series if s.x]
    xs = [x for s in visible for x in s.x]
    ys = [y for s in visible for y in (*s.y, *(s.band[0] + s.band[1] if s.band else ()))
          if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
    legend = [s for s in visible if not s.thin]
    legend_width = 150 if legend else 0
    left, right, top, bottom = 64, 10 + legend_width, 22 if title else 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or y_label)}">',
             '<style>.chart text{font:10px sans-serif;fill:#333}.chart .axis{stroke:#888}'
             '.chart .grid{stroke:#e6e6e6}</style>']
    if title:
        parts.append(f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>')
    if not xs or not ys:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2}">no data</text></svg>')
        return "".join(parts)
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if log_y:
        y0, y1 = math.log10(min(ys)), math.log10(max(ys))
    else:
        y0, y1 = min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = 0.04 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        v = math.log10(y) if log_y else y
        return top + (1 - (v - y0) / (y1 - y0)) * plot_h

    def usable(y) -> bool:
        return y is not None and math.isfinite(y) and (y > 0 or not log_y)

    for tick in nice_ticks(x0, x1):
        parts.append(f'<line class="grid" x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" y2="{top + plot_h}"/>'
                     f'<text x="{px(tick):.1f}" y="{top + plot_h + 13}" text-anchor="middle">{_label(tick)}</text>')
    if log_y:
        y_ticks = [10 ** e for e in range(math.floor(y0), math.ceil(y1) + 1)]
        if len([t for t in y_ticks if y0 <= math.log10(t) <= y1]) < 2:
            y_ticks = [10 ** v for v in nice_ticks(y0, y1)]
            y_ticks = [float(f"{t:.2g}") for t in y_ticks]
        y_ticks = [t for t in y_ticks if y0 <= math.log10(t) <= y1]
    else:
        y_ticks = nice_ticks(y0, y1)
    for tick in y_ticks:
        parts.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}"/>'
                     f'<text x="{left - 4}" y="{py(tick) + 3:.1f}" text-anchor="end">{_label(tick)}</text>')
    parts.append(f'<rect class="axis" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none"/>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(11 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 f'{escape(y_label)}{" (log)" if log_y else ""}</text>')
    colors = {}
    for i, s in enumerate(legend):
        colors[s.name] = s.color or PALETTE[i % len(PALETTE)]
    for s in visible:
        color = s.color or colors.get(s.name, "#999")
        if s.band:
            low, high = s.band
            edge = [(px(x), py(h)) for x, h in zip(s.x, high, strict=True) if usable(h)]
            edge += [(px(x), py(lo)) for x, lo in reversed(list(zip(s.x, low, strict=True))) if usable(lo)]
            if edge:
                points = " ".join(f"{a:.1f},{b:.1f}" for a, b in edge)
                parts.append(f'<polygon points="{points}" fill="{color}" fill-opacity="0.18" stroke="none"/>')
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(s.x, s.y, strict=True) if usable(y))
        style = 'stroke-width="0.8" stroke-opacity="0.45"' if s.thin else 'stroke-width="1.6"'
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" {style}>'
                     f'<title>{escape(s.name)}</title></polyline>')
    for i, s in enumerate(legend[:LEGEND_MAX]):
        y = top + 6 + 13 * i
        parts.append(f'<line x1="{width - legend_width + 6}" x2="{width - legend_width + 22}" y1="{y}" y2="{y}" '
                     f'stroke="{colors[s.name]}" stroke-width="2"/>'
                     f'<text x="{width - legend_width + 26}" y="{y + 3}">{escape(_short(s.name))}</text>')
    if len(legend) > LEGEND_MAX:
        parts.append(f'<text x="{width - legend_width + 6}" y="{top + 6 + 13 * LEGEND_MAX + 3}">'
                     f'… {len(legend) - LEGEND_MAX} more (hover a line)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
