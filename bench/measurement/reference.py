"""The reference stage: one backbone's arrays for the reference split, computed once per dataset and backbone.

The reference split is the dataset's eval split (a declared dataset's one split) unless the profile names
another (`reference.split`, or a named protocol: `fid50k_full` scores against the whole train split). The
subset is the first `n_ref` images of a fixed permutation of that split (all of it when the protocol says
so), so a larger N extends a smaller one. Nothing here depends on any run. The `domain` reference also holds the
classifier's predicted class histogram of the whole train split: the distribution a generator is
asked to match, against which its reverse KL is measured; every train image's features (the data-copying
test's neighbours); and the augmentation-leak detectors (bench/measurement/metrics/leak.py). A backbone the
active profile does not evaluate on this dataset is recorded as skipped (no features), so the pipeline stays
static.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from bench.data.datasets import load_prepared, spec
from bench.protocol.errors import ConfigError
from bench.protocol.io import atomic_write, read_json, write_json
from bench.protocol.params import load_params, reference_backbones, stage_settings
from bench.protocol.seeding import generator, resolve_device


def reference_dir(root: Path, dataset: str, backbone: str) -> Path:
    return root / "results" / "reference" / dataset / backbone


def reference_indices(n_total: int, n_ref: int, split: str = "eval") -> np.ndarray:
    if n_ref > n_total:
        raise ConfigError(f"reference.n_ref = {n_ref} is more than the {n_total} images of the {split} split; "
                                 f"lower it in params.yaml to at most {n_total}")
    return torch.randperm(n_total, generator=generator(0, "reference-subset"))[:n_ref].numpy()


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        tmp.write_bytes(buffer.getvalue())

    atomic_write(path, write)


def class_histogram(probs: np.ndarray) -> np.ndarray:
    counts = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
    return counts / counts.sum()


def build_reference(dataset: str, root: Path, backbone: str = "inception", device: str | None = None) -> Path:
    """The eval-split arrays of `dataset` on `backbone`, on `device` (default: params.yaml `device`, as the
    evaluate stage that compares against them)."""
    from bench.measurement.backbones import BackboneSet

    ds = spec(dataset)
    if ds.kind != "images":
        raise ValueError(f"{dataset} is a 2-D set: its metrics use the known modes, not a reference")
    if ds.reference_dataset != dataset:
        raise ConfigError(f"{dataset} is scored against {ds.reference_dataset}'s reference (a training subset of it); "
                          f"build that one: `gbench reference {ds.reference_dataset} --backbone {backbone}`")
    params = load_params(root)
    out = reference_dir(root, dataset, backbone)
    if backbone not in reference_backbones(params, dataset):
        (out / "features.npz").unlink(missing_ok=True)
        write_json(out / "spec.json", {"backbone": backbone, "dataset": dataset, "skipped":
                                       f"profile {params['profile']!r} does not evaluate {dataset} on {backbone}"})
        return out
    settings = stage_settings(params, dataset, "reference")
    data = load_prepared(dataset, root)
    split = settings.get("split") or ds.reference_split
    if f"{split}_x" not in data:
        raise ConfigError(f"params.yaml: profiles.{params['profile']}.{dataset}: {dataset} has no {split} split to "
                          f"score against; use its {ds.reference_split} split")
    images = data[f"{split}_x"]
    n_ref = settings.get("n_ref") or len(images)  # None: the whole split (a `_full` / `_test` protocol)
    indices = reference_indices(len(images), n_ref, split)
    device = str(resolve_device(device or params.get("device", "auto")))
    net = BackboneSet(backbone, root, dataset, device=device, batch=settings.get("batch", 16))
    arrays = net(images[indices], progress=True)
    extra = {}
    if "probs" in arrays:
        train = net(data["train_x"])
        arrays["train_class_hist"] = class_histogram(train["probs"])
        extra["train_class_hist"] = f"predicted classes of all {len(data['train_x'])} train images"
        if split != "train":  # the data-copying test needs a reference held out from training
            arrays["train_features"] = train["features"].astype(np.float16)  # its training set
            extra["train_features"] = (f"features of all {len(data['train_x'])} train images, float16 (the "
                                       "data-copying test's nearest neighbours)")
        else:
            extra["train_features"] = "not kept: the reference is the train split, no held-out set to test against"
        if "eval_x" in data:  # the augmentation-leak detectors (bench/measurement/metrics/leak.py)
            from bench.measurement.metrics.leak import fit_detectors

            arrays.update(fit_detectors(lambda x: net(x)["features"], data["train_x"], data["eval_x"]))
            extra["leak"] = "detectors of augmented images fitted on train, rated on eval (leak_<kind>_* arrays)"
    save_npz(out / "features.npz", **arrays, indices=indices)
    write_json(out / "spec.json", {
        **net.spec(), **extra, "dataset": dataset, "split": split, "n_ref": int(len(indices)),
        "split_size": int(len(images)),
        "subset": "first n_ref of a fixed permutation (seed stream 'reference-subset')",
    })
    return out


def load_reference(root: Path, dataset: str, backbone: str = "inception") -> tuple[dict[str, np.ndarray], dict]:
    folder = reference_dir(root, dataset, backbone)
    path, spec_path = folder / "features.npz", folder / "spec.json"
    fix = f"run `gbench reference {dataset} --backbone {backbone}` (or `dvc repro`)"
    if not spec_path.is_file():
        raise FileNotFoundError(f"{spec_path} is missing; {fix}")
    ref_spec = read_json(spec_path)
    if "skipped" in ref_spec or not path.is_file():
        raise FileNotFoundError(f"no {backbone} reference for {dataset} ({ref_spec.get('skipped', 'missing')}); "
                                f"add {backbone} to evaluate.backbones of the profile, then {fix}")
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}, ref_spec
