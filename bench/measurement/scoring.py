"""Every metric of one backbone from one feature pass: the shared core of `evaluate` and `gbench score`.

Input: the generated and reference sets as dicts of arrays from a single pass of a backbone
(`features`, and `probs` where the backbone classifies). Output: flat metric names (suffixed with the
backbone unless it is Inception, so one metrics.json holds all backbones side by side; the catalog,
bench/measurement/catalog.py, says how to read each) and the spec
that says exactly how each number was measured. A metric that cannot be computed is None, with its
reason in the spec; it is never filled with a made-up value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.measurement.metrics.fid import frechet_distance_features
from bench.measurement.metrics.inception_score import IS_SPLITS, class_histogram_metrics, inception_score
from bench.measurement.metrics.info import column
from bench.measurement.metrics.kid import kernel_inception_distance
from bench.measurement.metrics.prdc import K_DC, K_PR, precision_recall_density_coverage

ALL = ("fid", "kid", "pr", "dc", "is", "copying", "leak")  # copying, leak: domain backbone, dataset references
FID_IMPL = ("exact nuclear-norm/eigen form of the Frechet distance; equals cleanfid.fid.frechet_distance "
            "to 1e-4 relative (tests/bench/measurement/metrics/test_fid.py)")
KID_IMPL = ("the subsets of cleanfid.fid.kernel_distance, whole-set kernels where cheaper; equals it to 1e-9 "
            "relative (tests/bench/measurement/metrics/test_kid.py)")
PRDC_SPEC = {"pr": "improved precision/recall (Kynkaanniemi et al. 2019), k=3, squared Euclidean, <=, "
                   "k-NN radius counts the point itself (NVlabs convention)",
             "dc": "density/coverage (Naeem et al. 2020), k=5, as the official prdc package",
             "impl": "bench.measurement.metrics.prdc (batched distances, bounded memory; equals prdc, tests)"}


@dataclass(frozen=True)
class MetricSettings:
    which: tuple[str, ...] = ALL
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int = 0
    k_pr: int = K_PR
    k_dc: int = K_DC


def score_features(backbone: str, gen: dict[str, np.ndarray], ref: dict[str, np.ndarray],
                   settings: MetricSettings, head: np.ndarray | None = None,
                   head_missing: str | None = None, reference_hist: np.ndarray | None = None,
                   ) -> tuple[dict[str, float | None], dict]:
    """Metrics of one backbone. `head`: the Inception classifier weights (IS); `reference_hist`: the
    real data's predicted class histogram (modes covered / reverse KL, domain backbone)."""
    unknown = set(settings.which) - set(ALL)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {', '.join(ALL)}")
    f_gen, f_ref = gen["features"], ref["features"]
    metrics: dict[str, float | None] = {}
    spec: dict = {"n_gen": int(len(f_gen)), "n_ref": int(len(f_ref))}
    name = lambda m: column(m, backbone)  # noqa: E731
    if "fid" in settings.which:
        metrics[name("fid")] = frechet_distance_features(f_gen, f_ref)
        spec["fid"] = FID_IMPL
    if "kid" in settings.which:
        metrics[name("kid")] = kernel_inception_distance(
            f_gen, f_ref, seed=settings.kid_seed, num_subsets=settings.kid_subsets,
            max_subset_size=settings.kid_subset_size)
        spec["kid"] = {"impl": KID_IMPL, "kernel": "(x.y/d + 1)^3",
                       "subsets": settings.kid_subsets, "max_subset_size": settings.kid_subset_size,
                       "seed": settings.kid_seed}
    if {"pr", "dc"} & set(settings.which):
        prdc = precision_recall_density_coverage(f_ref, f_gen, k_pr=settings.k_pr, k_dc=settings.k_dc)
        for group, keys in (("pr", ("precision", "recall")), ("dc", ("density", "coverage"))):
            if group in settings.which:
                metrics.update({name(k): prdc[k] for k in keys})
                spec[group] = PRDC_SPEC[group]
        spec["prdc_impl"] = PRDC_SPEC["impl"]
    if "is" in settings.which:
        probs = gen.get("probs")
        if probs is None and head is not None:
            from bench.measurement.inception_head import class_probabilities

            probs = class_probabilities(f_gen, head)
        if probs is None:
            metrics[name("is")], metrics[name("is_std")] = None, None
            spec["is"] = {"available": False, "reason": head_missing or "this backbone has no classifier"}
        else:
            mean, std = inception_score(probs, splits=IS_SPLITS)
            metrics[name("is")], metrics[name("is_std")] = mean, std
            source = ("softmax(pool3 @ W^T), W = TF-Inception fc weights without bias (as the original IS)"
                      if backbone == "inception" else f"softmax of the {backbone} classifier")
            spec["is"] = {"available": True, "splits": IS_SPLITS, "probabilities": source}
    if "copying" in settings.which and backbone == "domain" and "train_features" in ref:  # every train image's
        from bench.measurement.metrics.memorization import data_copying

        metrics["data_copying_domain"], spec["data_copying"] = data_copying(ref["train_features"], f_ref, f_gen)
    if "leak" in settings.which and backbone == "domain" and "leak_ada_w" in ref:  # its augmentation detectors
        from bench.measurement.metrics.leak import leaks

        leaked, spec["leak"] = leaks(ref, f_gen)
        metrics.update(leaked)
    if gen.get("probs") is not None and reference_hist is not None:
        predicted = gen["probs"].argmax(axis=1)
        modes = class_histogram_metrics(predicted, reference_hist)
        metrics.update({"modes_covered": modes["classes_covered"], "reverse_kl": modes["reverse_kl"],
                        "n_modes": modes["n_classes"]})
        spec["modes"] = {"classifier": backbone, "n_modes": modes["n_classes"],
                         "covered": "classes predicted for >= 1 generated sample",
                         "reverse_kl": "KL(predicted class histogram of generated || of the real train split)"}
    return metrics, spec
