"""Hyperparameter samples of a loss sweep ("Are GANs Created Equal?", Lucic, Kurach et al. 2018).

The samples are drawn once by a seeded sampler and written beside the study file, into
pipelines/<file>.samples.json (`<study>.drawn.<loss>.hNN`), so the pipeline is static, every run's recipe
can be read in the repository, and each run's DVC stage depends on its own sample only. Sample h00 of each
loss is its paper's defaults (bench/training/losses.py); the others come from the paper's "wide" ranges:
learning rate 10^U[-5,-2] (G and D alike), beta1 U[0,1], n_critic in {1, 5}, gradient-penalty weight
10^U[-1,2] (WGAN-GP, DRAGAN; R1 = R2 gamma for RpGAN), WGAN clipping bound 10^U[-3,0]. A profile uses
the first `samples` of them, so a larger profile extends a smaller one.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.protocol.errors import ConfigError
from bench.protocol.io import write_json
from bench.protocol.names import sample_name
from bench.protocol.schema import did_you_mean
from bench.protocol.studies import samples_file, study_files
from bench.training.losses import get_loss

WIDE = {"log10_lr": (-5.0, -2.0), "beta1": (0.0, 1.0), "n_critic": (1, 5), "log10_penalty": (-1.0, 2.0),
        "log10_clip": (-3.0, 0.0)}


BETA1_MAX = 0.9999  # a draw that rounds to 1 would stop Adam's first moment: the largest 4-digit value below it


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def defaults_sample(loss_name: str) -> dict[str, Any]:
    loss = get_loss(loss_name)
    d = loss.defaults
    sample = {"lr": d["lr_g"], "beta1": d["betas"][0], "n_critic": d["n_critic"]}
    if loss.penalty:
        sample["penalty"] = d["penalty_weight"]
    if loss.clip:
        sample["clip"] = d["clip"]
    if loss_name == "rpgan":
        sample["penalty"] = d["r1"]
    return sample


def draw(loss_name: str, k: int, seed: int) -> list[dict[str, Any]]:
    """k samples for one loss: the defaults, then k - 1 draws from the wide ranges (seeded per loss)."""
    loss = get_loss(loss_name)
    rng = np.random.default_rng([seed, zlib.crc32(loss_name.encode())])
    samples = [defaults_sample(loss_name)]
    for _ in range(k - 1):
        sample = {"lr": _round(10 ** rng.uniform(*WIDE["log10_lr"])),
                  "beta1": min(_round(rng.uniform(*WIDE["beta1"])), BETA1_MAX),
                  "n_critic": int(rng.choice(WIDE["n_critic"]))}
        if loss.penalty or loss_name == "rpgan":
            sample["penalty"] = _round(10 ** rng.uniform(*WIDE["log10_penalty"]))
        if loss.clip:
            sample["clip"] = _round(10 ** rng.uniform(*WIDE["log10_clip"]))
        samples.append(sample)
    return samples


def recipe_changes(loss_name: str, sample: dict[str, Any], beta2: float) -> dict[str, Any]:
    """The recipe fields one drawn sample sets (on top of `<base>+<loss>`)."""
    changes: dict[str, Any] = {"lr_g": sample["lr"], "lr_d": sample["lr"], "betas": (sample["beta1"], beta2),
                               "n_critic": sample["n_critic"]}
    if "penalty" in sample:
        if loss_name == "rpgan":
            changes["r1"] = changes["r2"] = sample["penalty"]
        else:
            changes["penalty_weight"] = sample["penalty"]
    if "clip" in sample:
        changes["clip"] = sample["clip"]
    return changes


def write_samples(root: Path, study: str, k: int) -> Path:
    """Draw k samples per loss of a sweep study into its samples file (other studies' samples there are kept)."""
    files = study_files(root)
    if study not in files:
        raise ConfigError(f"no study {study!r} in pipelines/*.yaml{did_you_mean(study, files)}")
    path, body = files[study]
    sweep = body.get("sweep") or {}
    losses = sweep.get("losses") or []
    if not losses:
        raise ConfigError(f"{path}: study {study!r} has no `sweep: losses:` to sample")
    seed = int(sweep.get("sampler_seed", 0))
    out, doc = samples_file(path), {}
    if out.is_file():
        try:
            doc = json.loads(out.read_text())
        except json.JSONDecodeError:  # a damaged samples file: redrawing is its fix (the other studies' too)
            doc = {}
    doc[study] = {"space": sweep.get("space", "wide"), "sampler_seed": seed,
                  "drawn": {loss: {sample_name(i): sample for i, sample in enumerate(draw(loss, k, seed))}
                            for loss in losses}}
    return write_json(out, doc)
