"""Formatting shared by the report's pages: numbers that may be missing, and matplotlib figures as
inline SVG (no timestamp, so the same results give the same page)."""

from __future__ import annotations

import io
import math


def fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * scale:.{digits}f}"


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: it costs start-up time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_svg(fig) -> str:
    """The figure as an <svg> element to inline in a page; the figure is closed."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    pyplot().close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]
