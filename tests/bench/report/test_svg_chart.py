"""The report's inline SVG line charts: ticks, the data-to-pixel mapping and escaping."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.report.svg_chart import Series, line_chart, nice_ticks


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.floats(-1e6, 1e6), st.floats(1e-4, 1e4))
def test_nice_ticks_are_evenly_spaced_round_values_inside_the_range(low, relative_span):
    span = relative_span * max(1.0, abs(low))  # a chart's range, not float noise around a large value
    high = low + span
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 9
    assert all(low - 1e-9 * span <= t <= high + 1e-9 * span for t in ticks)
    steps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert max(steps) - min(steps) <= 1e-6 * steps[0]
    assert ticks == sorted(ticks)
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
    assert any(mantissa == pytest.approx(m) for m in (1, 2, 2.5, 5, 10))


def _points(svg: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in found.split()]
            for found in re.findall(r'<polyline points="([^"]*)"', svg)]


def test_points_map_linearly_and_log_axes_map_decades_to_equal_heights():
    svg = line_chart([Series("a", [0, 5, 10], [1, 10, 100])], "x", "y", log_y=True, width=400, height=200)
    (line,) = _points(svg)
    xs, ys = [p[0] for p in line], [p[1] for p in line]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.11)
    assert ys[0] - ys[1] == pytest.approx(ys[1] - ys[2], abs=0.11)  # one decade each
    assert ys[0] > ys[2]  # larger values are drawn higher
    linear = _points(line_chart([Series("a", [0, 5, 10], [1, 10, 100])], "x", "y"))[0]
    assert (linear[0][1] - linear[1][1]) / (linear[1][1] - linear[2][1]) == pytest.approx(9 / 90, abs=0.01)


def test_thin_lines_stay_out_of_the_legend_and_text_is_escaped():
    evil = "<script>alert(1)</script>"
    svg = line_chart([Series(evil, [0, 1], [1, 2]), Series("seed 0", [0, 1], [1, 3], thin=True)],
                     "x & y", evil, title=evil)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "x &amp; y" in svg
    assert svg.count('stroke-width="2"') == 1  # one legend swatch: the thin seed line has none


def test_nonpositive_values_are_left_out_of_a_log_chart_and_empty_charts_say_so():
    (line,) = _points(line_chart([Series("a", [0, 1, 2], [0.0, 10.0, 100.0])], "x", "y", log_y=True))
    assert len(line) == 2
    assert "no data" in line_chart([Series("a", [], [])], "x", "y")
