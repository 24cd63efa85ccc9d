"""Augmentation leak: how many generated samples look like augmented images rather than like the data.

DiffAugment and ADA show D only augmented images; if the augmentation is not invertible in distribution, or p
grows too large, G may learn to produce the augmentations themselves (rotated, recoloured, cut-out images:
Karras et al. 2020 Sec. 2.2, Zhao et al. 2020 Sec. 3). The papers show examples; this measures it.

A detector per augmentation (`ada`: the bgc pipeline at p = 1; `diffaug`: DiffAugment's
color,translation,cutout) is fitted once per dataset, in the domain reference stage: logistic regression on the
domain classifier's features of `N_FIT` train images, each both clean and augmented (the same images, so it
learns the augmentation, not the content), quantised to uint8 as generated samples are. Its accuracy and its
false-positive rate on clean and augmented eval images are stored with it, so every page can say how well it
sees the augmentation. A run's leak is the share of its samples the detector flags minus that false-positive
rate: ~0 for samples that look like clean data, up to 1 - FPR when every sample looks augmented.

How to read it: samples that are simply bad also look unlike clean data, and some are flagged. The leak of a
run is therefore read against the same number for the same variant trained without augmentation (the
limited-data study shows both side by side); only the difference is the augmentation's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.measurement.metrics.info import MetricInfo

KINDS = {"ada": "ADA bgc at p = 1", "diffaug": "DiffAugment color,translation,cutout"}
N_FIT = 1000  # train images the detector sees, each clean and augmented
N_CHECK = 500  # eval images its accuracy and false-positive rate are measured on, each clean and augmented
SEED = 0  # the augmentations' draws and the choice of images
L2 = 1e-3  # ridge penalty of the logistic regression (on standardised features)

METRICS = tuple(
    MetricInfo(f"leak_{kind}_domain", f"leak ({kind})", lower_is_better=None, backbone="domain", scale=100.0,
               unit="%",
               description=f"share of samples a detector of {label} (logistic regression on domain features) flags "
                           "as augmented, minus its false-positive rate on clean eval images; read against the "
                           "same variant without augmentation")
    for kind, label in KINDS.items())


def augment_images(images: np.ndarray, kind: str, seed: int = SEED) -> np.ndarray:
    """uint8 images (N, C, H, W) through one augmentation at full strength, quantised back to uint8 as
    generated samples are (x * 127.5 + 128, clamped, truncated); the global torch RNG is left as it was."""
    import torch

    from bench.training.augment import diff_augment

    x = torch.from_numpy(images).float() / 127.5 - 1.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "ada":
            from bench.training.ada import AdaptiveAugment

            out = AdaptiveAugment(p=1.0)(x)
        elif kind == "diffaug":
            out = diff_augment(x, "color,translation,cutout")
        else:
            raise ValueError(f"unknown augmentation {kind!r}; known: {', '.join(KINDS)}")
    return (out * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (LBFGS, deterministic)."""
    import torch

    features, labels = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-9)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(features @ w + b, labels) + L2 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def _flagged(features: np.ndarray, detector: dict[str, np.ndarray]) -> np.ndarray:
    z = (features.astype(np.float64) - detector["mean"]) / detector["scale"]
    return z @ detector["w"] + detector["b"] > 0.0


def fit_detectors(features_of: Callable[[np.ndarray], np.ndarray], train_images: np.ndarray,
                  eval_images: np.ndarray) -> dict[str, np.ndarray]:
    """The detectors of every augmentation as arrays for the domain reference (`leak_<kind>_<field>`)."""
    rng = np.random.default_rng(SEED)
    fit = train_images[rng.permutation(len(train_images))[:N_FIT]]
    check = eval_images[rng.permutation(len(eval_images))[:N_CHECK]]
    clean_fit, clean_check = features_of(fit), features_of(check)
    arrays: dict[str, np.ndarray] = {}
    for kind in KINDS:
        aug_fit = features_of(augment_images(fit, kind, SEED))
        aug_check = features_of(augment_images(check, kind, SEED + 1))
        x = np.concatenate([clean_fit, aug_fit]).astype(np.float64)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        w, b = _fit_logistic((x - mean) / scale, np.r_[np.zeros(len(fit)), np.ones(len(fit))])
        detector = {"mean": mean, "scale": scale, "w": w, "b": np.array(b)}
        false_positive = _flagged(clean_check, detector).mean()
        true_positive = _flagged(aug_check, detector).mean()
        detector.update(false_positive=np.array(false_positive), true_positive=np.array(true_positive),
                        accuracy=np.array((1 - false_positive + true_positive) / 2))
        arrays.update({f"leak_{kind}_{field}": value for field, value in detector.items()})
    return arrays


def leaks(reference: dict[str, np.ndarray], generated: np.ndarray) -> tuple[dict[str, float], dict]:
    """Each augmentation's leak for generated features, and the detectors' quality for the spec."""
    metrics: dict[str, float] = {}
    spec: dict = {"flagged": {}}  # the share flagged is the run's outcome; the rest, how it was measured
    for kind, label in KINDS.items():
        fields = ("mean", "scale", "w", "b", "false_positive", "true_positive", "accuracy")
        detector = {f: reference[f"leak_{kind}_{f}"] for f in fields}
        flagged = float(_flagged(generated, detector).mean())
        metrics[f"leak_{kind}_domain"] = flagged - float(detector["false_positive"])
        spec["flagged"][kind] = flagged
        spec[kind] = {"augmentation": label,
                      "detector_accuracy": float(detector["accuracy"]),
                      "false_positive_rate": float(detector["false_positive"]),
                      "true_positive_rate": float(detector["true_positive"]),
                      "fit": f"logistic regression (L2 {L2}) on {N_FIT} train images, clean and augmented; rates "
                             f"on {N_CHECK} eval images"}
    return metrics, spec
