"""A run's train curve as dvclive files, so DVC's own tools read it: `dvc plots show` and `dvc exp show` (through
the top-level `plots:`/`metrics:` entries that `gbench pipelines` writes), and DVC's editor integrations.

The loop's record is still curve.json (every point's losses and health signals, in the checkpoint's progress);
this writes the same points as dvclive's `metrics.json` (the last point) and one `plots/metrics/<name>.tsv` per
signal, with the G step as dvclive's step and `kimg` as a signal of its own. It writes at each curve point, not
at each step: a step pays nothing. dvclive is imported on the first point; a resumed run rewrites the files from
its curve so far, so a run killed between a point and its checkpoint never logs a point twice. No timestamps are
written: the same run gives the same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

FOLDER = "dvclive"


def numeric_signals(point: dict[str, Any]) -> dict[str, float]:
    """The point's finite numbers (a diverged point's reason and the step counter are not signals)."""
    return {k: float(v) for k, v in point.items()
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


class LiveCurve:
    """dvclive's view of one run's curve, in `folder` (the run's resume folder; published with its files)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.live = folder / FOLDER, None

    def write(self, points: list[dict[str, Any]]) -> None:
        """Start the files afresh from every point so far (the first point of this process)."""
        from dvclive import Live

        self.live = Live(str(self.folder), resume=False, report=None, save_dvc_exp=False, dvcyaml=None)
        for point in points:
            self.log(point)

    def log(self, point: dict[str, Any]) -> None:
        """Append one curve point."""
        if self.live is None:
            raise RuntimeError("LiveCurve.write must start the files before points are logged")
        self.live.step = int(point.get("step", 0))
        for name, value in sorted(numeric_signals(point).items()):
            self.live.log_metric(name, value)
        self.live.make_summary()

    def files(self) -> list[Path]:
        """Every file written, relative to the run's folder (what the train stage publishes)."""
        return sorted(p.relative_to(self.folder.parent) for p in self.folder.rglob("*") if p.is_file())
