"""ADA's overfitting heuristic and the update of its augmentation probability p (Karras et al. 2020,
arXiv:2006.06676, Sec. 3; NVlabs/stylegan2-ada-pytorch `training/training_loop.py`).

r_t = E[sign(D(augmented reals))] is gathered from every D step's real scores; every `ada_interval` D steps
p moves by sign(r_t - target) * (images in those steps) / (ada_kimg * 1000), so p can cross 0 -> 1 in
`ada_kimg` thousand images. Three choices of ours, each documented where a run's page shows p:

- **Speed scaled to the budget.** The paper's 500 kimg is 2% of its default 25,000 kimg run; a run here moves p
  at the same share of its own budget, ada_kimg x budget / 25,000 kimg, but never faster than ten updates
  for 0 -> 1 (at quick budgets the reference's share would be under one update, so p would jump 0 -> 1).
- **p clamped to [0, 1].** The reference clamps at 0 only. Every op's probability is p x multiplier capped at
  1 in effect, so a p above 1 changes nothing the pipeline does and only delays its coming down
  (NVlabs/stylegan2-ada-pytorch#175 reports p > 1 with leaking augmentations); clamping at 1 keeps p's
  response to r_t immediate.
- **Exact counting.** r_t is the mean of the D steps' batch means (equal batches: the mean over all images),
  and the images counted are the D steps' real images, n_critic included.
"""

from __future__ import annotations

from typing import Any

from models.registry import Recipe

REFERENCE_RUN_KIMG = 25_000.0  # stylegan2-ada-pytorch's default --kimg, which its ada_kimg = 500 is a share of
MIN_UPDATES_FOR_FULL_SWING = 10


def effective_ada_kimg(ada_kimg: float, budget_images: int, batch: int, interval: int) -> float:
    """The kimg in which p may move 0 -> 1 in a run of `budget_images`: the paper's share of the reference run,
    at least MIN_UPDATES_FOR_FULL_SWING updates."""
    scaled = ada_kimg * (budget_images / 1000) / REFERENCE_RUN_KIMG
    floor = MIN_UPDATES_FOR_FULL_SWING * batch * interval / 1000
    return max(scaled, floor)


def p_adjustment(sign_mean: float, target: float, images: int, ada_kimg: float) -> float:
    """The change of p after `images` images whose D outputs on augmented reals had mean sign `sign_mean`."""
    direction = (sign_mean > target) - (sign_mean < target)
    return direction * images / (ada_kimg * 1000)


class AdaController:
    """Gathers r_t over D steps and moves p (the pipeline's `p` buffer) every `interval` D steps; a constant p
    (`+ada-fixed-p`, ada_target 0) is never moved. Its state survives a resume (state_dict)."""

    def __init__(self, recipe: Recipe, pipeline: Any, budget_images: int) -> None:
        self.recipe, self.pipeline = recipe, pipeline
        self.adaptive = recipe.ada_target > 0
        self.set_budget(budget_images)
        self.sign_sum, self.steps, self.last_rt = 0.0, 0, None

    def set_budget(self, budget_images: int) -> None:
        """Scale p's speed to the run's image horizon (for a FLOP or time budget, the one the loop derives)."""
        r = self.recipe
        self.speed_kimg = effective_ada_kimg(r.ada_kimg, budget_images, r.batch, r.ada_interval) if self.adaptive \
            else 0.0

    @property
    def p(self) -> float:
        return float(self.pipeline.p)

    def after_d_step(self, real_sign_mean: float | None) -> dict[str, float]:
        """Count one D step (with its real scores' mean sign when adaptive); the curve's `ada_p` and, once p has been
        updated, the `ada_rt` it was updated from."""
        if self.adaptive and real_sign_mean is not None:
            self.sign_sum += real_sign_mean
            self.steps += 1
            if self.steps == self.recipe.ada_interval:
                self.last_rt = self.sign_sum / self.steps
                images = self.steps * self.recipe.batch
                p = self.p + p_adjustment(self.last_rt, self.recipe.ada_target, images, self.speed_kimg)
                self.pipeline.p.fill_(min(max(p, 0.0), 1.0))
                self.sign_sum, self.steps = 0.0, 0
        logs = {"ada_p": self.p}
        if self.last_rt is not None:
            logs["ada_rt"] = self.last_rt
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"sign_sum": self.sign_sum, "steps": self.steps, "last_rt": self.last_rt}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sign_sum, self.steps = float(state["sign_sum"]), int(state["steps"])
        self.last_rt = None if state["last_rt"] is None else float(state["last_rt"])
