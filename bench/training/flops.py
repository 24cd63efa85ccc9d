"""Training FLOPs counted with torch.utils.flop_counter: forward + backward of one step, penalties and
double backward included (the budget and the equal-compute curves use them)."""

from __future__ import annotations

from collections.abc import Callable


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks reject the double backward of
    gradient penalties; totals are all we report."""

    parents = ("Global",)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def count_flops(fn: Callable[[], None]) -> int:
    """FLOPs of everything `fn` runs (its forward and backward passes)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    return counter.get_total_flops()
