"""The metric catalog covers every number the evaluate stage writes, and says how to read each."""

import numpy as np

from bench.measurement import catalog
from bench.measurement.metrics.modes import mode_metrics
from bench.measurement.scoring import MetricSettings, score_features


def _domain_inputs():
    rng = np.random.default_rng(0)
    gen = {"features": rng.normal(size=(40, 8)), "probs": rng.dirichlet(np.ones(10), size=40)}
    ref = {"features": rng.normal(size=(50, 8)), "train_features": rng.normal(size=(200, 8))}  # as the domain's
    for kind in ("ada", "diffaug"):  # the domain reference's augmentation detectors (metrics/leak.py)
        ref.update({f"leak_{kind}_{f}": v for f, v in (("mean", np.zeros(8)), ("scale", np.ones(8)),
                                                       ("w", rng.normal(size=8)), ("b", np.array(0.0)),
                                                       ("false_positive", np.array(0.1)), ("true_positive",
                                                                                          np.array(0.9)),
                                                       ("accuracy", np.array(0.9)))})
    return rng, gen, ref


def test_every_metric_the_scorer_writes_has_one_catalog_entry():
    rng, gen, ref = _domain_inputs()
    written = set()
    for backbone in catalog.IMAGE_BACKBONES:
        values, _ = score_features(backbone, gen, ref, MetricSettings(kid_subsets=5, kid_subset_size=20),
                                   reference_hist=np.full(10, 0.1))
        written |= set(values)
    written |= set(mode_metrics(rng.normal(size=(30, 2)), np.zeros((2, 2)), 1.0))
    written |= {"intra_fid_domain", "class_accuracy_domain", "eq_t", "eq_t_frac"}  # evaluate's metric groups
    written |= {"l1_truth", "psnr_truth", "ssim_truth", "content_accuracy_domain", "target_success_domain",
                "cycle_l1", "diversity_l1"}  # its translation group (tests/bench/training/test_translation.py)
    written |= {"rfid", "rfid_domain", "psnr_rec", "ssim_rec", "codebook_usage", "codebook_perplexity",
                "sample_ms_per_image"}  # its tokenizer group (tests/bench/training/test_tokenizer.py)
    assert written == set(catalog.CATALOG)


def test_curve_and_truncation_points_skip_the_copying_test_and_the_leak_detectors(monkeypatch):
    """Only what `which` asks for is computed: the evaluate stage's curve (FID) and truncation (FID, IS) points
    used to run the data-copying test and the leak detectors at every point and drop their values."""
    from bench.measurement.metrics import leak, memorization

    _, gen, ref = _domain_inputs()
    for module, name in ((memorization, "data_copying"), (leak, "leaks")):
        monkeypatch.setattr(module, name, lambda *a, name=name: (_ for _ in ()).throw(AssertionError(name)))
    values, _ = score_features("domain", gen, ref, MetricSettings(which=("fid", "is")), reference_hist=np.full(10, 0.1))
    assert set(values) == {"fid_domain", "is_domain", "is_std_domain", "modes_covered", "reverse_kl", "n_modes"}


def test_directions_scales_and_labels():
    lower = {"fid", "kid", "fid_domain", "reverse_kl", "intra_fid_domain"}
    higher = {"precision", "recall", "density", "coverage", "is", "modes_covered", "high_quality", "eq_t"}
    assert all(catalog.metric(m).lower_is_better is True for m in lower)
    assert all(catalog.metric(m).lower_is_better is False for m in higher)
    assert catalog.metric("kid").scale == 1e3 and catalog.metric("kid").heading == "KID (Inception) ×10³"
    assert catalog.metric("high_quality").scale == 100 and catalog.metric("high_quality").heading == "high quality %"
    assert catalog.metric("fid_domain").heading == "FID (domain)" and catalog.metric("fid").log_axis
    assert "is_std" not in catalog.summarized() and "n_modes" not in catalog.summarized()
    assert catalog.summarized()[:2] == ["fid", "kid"]  # the tables' column order
