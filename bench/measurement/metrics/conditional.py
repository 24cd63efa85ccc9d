"""Metrics of a class-conditional generator from one pass of the domain classifier over samples
requested class by class.

Intra-class FID (Miyato & Koyama 2018; Brock et al. 2019 report it too): for each class c, the FID
between the generated samples asked for class c and the reference images of class c, averaged over
classes; it catches a G that matches the marginal but mixes up the classes. Classifier accuracy (the
"classification accuracy score" direction of AC-GAN's evaluation): the share of samples the domain
classifier assigns to the class they were asked for.
"""

from __future__ import annotations

import numpy as np

from bench.measurement.metrics.fid import frechet_distance_features
from bench.measurement.metrics.info import MetricInfo

METRICS = (MetricInfo("intra_fid_domain", "intra-class FID", lower_is_better=True, backbone="domain",
                      compared_on=("domain",), log_axis=True,
                      description="mean over classes of FID(samples asked for class c, real images of class c)"),
           MetricInfo("class_accuracy_domain", "requested-class accuracy", lower_is_better=False, backbone="domain",
                      description="share of samples the domain classifier assigns to the class they were asked for"))


def intra_class_fid(gen_features: np.ndarray, gen_labels: np.ndarray, ref_features: np.ndarray,
                    ref_labels: np.ndarray, n_classes: int) -> tuple[float, list[float]]:
    """(mean over classes, per-class FIDs)."""
    per_class = []
    for c in range(n_classes):
        gen, ref = gen_features[gen_labels == c], ref_features[ref_labels == c]
        if len(gen) < 2 or len(ref) < 2:
            raise ValueError(f"class {c} has {len(gen)} generated and {len(ref)} reference samples; "
                             "intra-class FID needs at least 2 of each")
        per_class.append(frechet_distance_features(gen, ref))
    return float(np.mean(per_class)), per_class


def requested_class_accuracy(probs: np.ndarray, requested: np.ndarray) -> float:
    """Share of samples whose predicted class (argmax) is the class they were generated for."""
    if len(probs) != len(requested) or len(probs) == 0:
        raise ValueError(f"need one label per sample, got {len(probs)} samples and {len(requested)} labels")
    return float((np.asarray(probs).argmax(axis=1) == np.asarray(requested)).mean())
