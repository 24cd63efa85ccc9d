"""Training health: the failure modes of the source documents' table, each a stated rule over what the train and
evaluate stages already have (the train curve's signals, the samples, their domain features), giving one verdict
per run that the leaderboard shows as badges.

Rules (each check says `flag` True / False, or None with the reason when the run has nothing to judge it by):
- diverged: a loss or a weight stopped being finite (the train loop stopped the run there), or the samples did.
- d_wins: D is right on nearly every real and every fake, `D_ACCURACY` or more on both in each of the last
  third of the curve's points (at least two), while G's loss rose over them. Needs a loss with a decision
  boundary: a Wasserstein or relativistic critic's outputs say nothing on their own (the rule is then n/a).
- mode_collapse: the samples' mean pairwise distance below `DIVERSITY` x the real data's (the source documents'
  "pairwise distance far below the data's"), in pixels (the points themselves on 2-D sets); on 2-D sets also when
  the modes covered at the end fell below `COVERAGE_FALL` x the most the curve ever covered. Pixels, not the
  domain classifier's features: those compress the blurry samples of CPU budgets, so diverse runs and collapsed
  ones sit close there (the quick profile's DCGAN leaderboard seed 0, diverse by eye: 0.11 of the data's in
  features, 0.44 in pixels; the collapsed runs: <= 0.07 and <= 0.15).
- checkerboard: the samples' spectral peak on the Nyquist lines (frequency 1/2 along either axis, where the uneven
  overlap of stride-2 transposed convolutions puts its energy), against the lines beside them, above `NYQUIST` x
  the real images' peak. A peak, not a share of the power: noise has plenty of high-frequency power but no peak
  (uniform noise ~1.1x the data's), and "G produces noise" is not this failure.
- copying: the data-copying test's C_T below its threshold (bench/measurement/metrics/memorization.py).
- codebook_collapse (tokenizer runs): fewer than `CODEBOOK_FLOOR` of the codebook's codes in use over the whole
  test split: the encoder has fallen onto a few codes and the rest are dead (bench/measurement/metrics/codebook.py).
  A tiny run of 30 steps already uses over a third of a 64-code book (tests/bench/training/test_tokenizer.py).
The thresholds were set on the 164 fmnist32 runs of the quick profile (looking at their sample grids) and on the
runs built to fail each way (tests/bench/measurement/test_health.py); every check records its value beside its
threshold. Nyquist peak: StyleGAN2-type Gs (FIR upsampling) 1.0-1.1x the data's, ProGAN 0.8x; transposed-
convolution Gs from 2 to 28x, a grid visible by eye from ~3x (cGAN and DCGAN at 3.2x; AC-GAN's 13.6x grid is plain).
"""

from __future__ import annotations

from typing import Any

import numpy as np

D_ACCURACY = 0.95
DIVERSITY = 0.25
COVERAGE_FALL = 0.5
NYQUIST = 3.0
CODEBOOK_FLOOR = 0.05
PAIRS_N = 1000  # samples (and real images) whose pairwise distances are compared: the first of each set

CHECKS = ("diverged", "d_wins", "mode_collapse", "checkerboard", "copying", "codebook_collapse")
BADGES = {"diverged": "diverged", "d_wins": "D wins", "mode_collapse": "mode collapse",
          "checkerboard": "checkerboard", "copying": "copies training data", "codebook_collapse": "codebook collapse"}
RULES = {
    "diverged": "a loss, a weight or a sample stopped being finite",
    "d_wins": f"D's accuracy >= {D_ACCURACY:g} on reals and on fakes at each of the last third of the curve's "
              "points (>= 2), with G's loss rising over them",
    "mode_collapse": f"mean pairwise pixel distance of the samples < {DIVERSITY:g} x the real images' (2-D sets: "
                     f"of the points; or modes covered at the end < {COVERAGE_FALL:g} x the most along the curve)",
    "checkerboard": f"spectral peak on the Nyquist lines (against the lines beside them) > {NYQUIST:g} x the real "
                    "images'",
    "copying": "the data-copying test's C_T < -3 (Meehan et al. 2020)",
    "codebook_collapse": f"codebook usage over the whole test split < {CODEBOOK_FLOOR:g} of its codes",
}


def check(flag: bool | None, value: Any = None, threshold: Any = None, reason: str | None = None) -> dict:
    out: dict[str, Any] = {"flag": flag, "value": value, "threshold": threshold}
    if reason is not None:
        out["reason"] = reason
    return out


def diverged_check(diverged: dict | None) -> dict:
    if diverged is None:
        return check(False)
    return check(True, {"kimg": diverged.get("kimg"), "reason": diverged.get("reason")})


def d_wins_check(points: list[dict]) -> dict:
    """D wins over the last third of the train curve's points (the kimg-0 point has no signals)."""
    scored = [p for p in points if "d_acc_real" in p and "d_acc_fake" in p and "loss_g" in p]
    if not any("loss_d" in p for p in points):
        return check(None, reason="the curve has no D signals (no step was logged)")
    if not scored:
        return check(None, reason="the loss has no decision boundary (a critic): D's accuracy is not defined")
    tail = scored[len(scored) - max(2, len(scored) // 3):]
    if len(tail) < 2:
        return check(None, reason="fewer than 2 curve points with signals")
    accuracy = min(min(p["d_acc_real"], p["d_acc_fake"]) for p in tail)
    rise = tail[-1]["loss_g"] - tail[0]["loss_g"]
    return check(bool(accuracy >= D_ACCURACY and rise > 0),
                 {"min_accuracy": accuracy, "loss_g_rise": rise, "points": len(tail)},
                 {"min_accuracy": D_ACCURACY, "loss_g_rise": 0.0})


def mean_pairwise_distance(features: np.ndarray, n: int = PAIRS_N) -> float:
    """Mean Euclidean distance over the distinct pairs of the first `n` rows (float64)."""
    x = np.asarray(features[:n], dtype=np.float64)
    squared = np.einsum("ij,ij->i", x, x)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * x @ x.T, 0.0)
    upper = np.triu_indices(len(x), k=1)
    return float(np.sqrt(d2[upper]).mean())


def mode_collapse_check(generated: np.ndarray, real: np.ndarray, coverage: list[float] | None = None) -> dict:
    """Pairwise diversity of the samples against the real data's (rows: flattened images, or 2-D points);
    `coverage`: modes covered along the curve, the last at the end (2-D sets)."""
    spread = mean_pairwise_distance(real)
    if spread == 0:
        return check(None, reason="the real data's points are all the same: no spread to compare with")
    ratio = mean_pairwise_distance(generated) / spread
    value: dict[str, Any] = {"diversity_ratio": ratio}
    flag = ratio < DIVERSITY
    if coverage:
        value.update(modes_covered=coverage[-1], most_covered=max(coverage))
        flag = flag or coverage[-1] < COVERAGE_FALL * max(coverage)
    return check(bool(flag), value, {"diversity_ratio": DIVERSITY, "coverage_fall": COVERAGE_FALL})


def nyquist_peak(images: np.ndarray) -> float | None:
    """How much the images' spectral power peaks on the Nyquist lines of the 2-D DFT (frequency 1/2 cycle per pixel
    along y or x): the mean power per frequency on those lines over that on the lines next to them. Uniform noise
    gives ~1, a checkerboard far more; None without power beside the lines. The images' channel mean, each image's
    own mean removed; N x C x H x W."""
    x = np.asarray(images, dtype=np.float64).mean(axis=1)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0)
    h, w = power.shape
    on_lines = (power[h // 2, :].sum() + power[:, w // 2].sum() - power[h // 2, w // 2]) / (h + w - 1)
    beside = (power[[h // 2 - 1, h // 2 + 1], :].sum() + power[:, [w // 2 - 1, w // 2 + 1]].sum()) / (2 * (h + w))
    return float(on_lines / beside) if beside > 0 else None


def checkerboard_check(generated: np.ndarray, real: np.ndarray) -> dict:
    if generated.shape[-1] % 2 or generated.shape[-2] % 2 or min(generated.shape[-2:]) < 4:
        return check(None, reason="odd or tiny image size: no Nyquist line with neighbours")
    ours, theirs = nyquist_peak(generated), nyquist_peak(real)
    if not theirs:
        return check(None, reason="the real images have no power on or beside the Nyquist lines: no peak to compare")
    if ours is None:
        return check(None, reason="the samples have no power beside the Nyquist lines (e.g. constant images)")
    ratio = ours / theirs
    return check(bool(ratio > NYQUIST), {"nyquist_ratio": ratio, "nyquist_peak": ours, "data_peak": theirs},
                 NYQUIST)


def copying_check(metrics: dict) -> dict:
    from bench.measurement.metrics.memorization import THRESHOLD

    value = metrics.get("data_copying_domain")
    if value is None:
        return check(None, reason="no data-copying value (no domain backbone or too few samples per cell)")
    return check(bool(value < THRESHOLD), value, THRESHOLD)


def codebook_collapse_check(metrics: dict) -> dict:
    usage = metrics.get("codebook_usage")
    if usage is None:
        return check(None, reason="no codebook usage (the run has no tokenizer)")
    return check(bool(usage < CODEBOOK_FLOOR), usage, CODEBOOK_FLOOR)


def verdict(checks: dict[str, dict]) -> dict:
    """The checks with the run's badges (the flagged checks, in CHECKS order) and `healthy` (none flagged)."""
    flagged = [name for name in CHECKS if checks.get(name, {}).get("flag")]
    return {"healthy": not flagged, "badges": [BADGES[name] for name in flagged], "flagged": flagged,
            "checks": checks, "rules": {name: RULES[name] for name in checks}}


def assess(train_points: list[dict], diverged: dict | None, metrics: dict, kind: str,
           generated: np.ndarray | None = None, real: np.ndarray | None = None,
           coverage: list[float] | None = None) -> dict:
    """Every check of one run and its verdict. `kind`: "images" (uint8 N x C x H x W samples and real images) or
    "points" (N x 2); a diverged run has no samples to judge, only its divergence."""
    checks = {"diverged": diverged_check(diverged), "d_wins": d_wins_check(train_points)}
    if diverged is None and generated is not None and real is not None:
        scale = 255.0 if kind == "images" else 1.0
        rows = [np.asarray(a, dtype=np.float64).reshape(len(a), -1) / scale for a in (generated, real)]
        checks["mode_collapse"] = mode_collapse_check(*rows, coverage=coverage)
        if kind == "images":
            checks["checkerboard"] = checkerboard_check(generated, real)
        checks["copying"] = copying_check(metrics)
        if "codebook_usage" in metrics:
            checks["codebook_collapse"] = codebook_collapse_check(metrics)
    return verdict(checks)
