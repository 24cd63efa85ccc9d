"""The reference stage: backbone features of the eval split, computed once per dataset.

The subset is the first `n_ref` images of a fixed permutation of the eval split, so a larger N
extends a smaller one. Nothing here depends on any run.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from bench.config import load_params, stage_settings
from bench.datasets import load_prepared, spec
from bench.io import atomic_write, read_json, write_json
from bench.seeding import generator

SPLIT = "eval"


def reference_dir(root: Path, dataset: str) -> Path:
    return root / "results" / "reference" / dataset


def reference_indices(n_total: int, n_ref: int) -> np.ndarray:
    if n_ref > n_total:
        raise ValueError(f"n_ref={n_ref} exceeds the {n_total} images of the {SPLIT} split")
    return torch.randperm(n_total, generator=generator(0, "reference-subset"))[:n_ref].numpy()


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        tmp.write_bytes(buffer.getvalue())

    atomic_write(path, write)


def build_reference(dataset: str, root: Path) -> Path:
    from bench.inception import InceptionFeatures

    ds = spec(dataset)
    if ds.kind != "images":
        raise ValueError(f"{dataset} is a 2-D set: its metrics use the known modes, not a reference")
    settings = stage_settings(load_params(root), dataset, "reference")
    data = load_prepared(dataset, root)
    images = data[f"{SPLIT}_x"]
    indices = reference_indices(len(images), settings["n_ref"])
    backbone = InceptionFeatures(batch=settings.get("batch", 16))
    features = backbone(images[indices], progress=True)
    out = reference_dir(root, dataset)
    save_npz(out / "inception.npz", features=features, indices=indices)
    write_json(out / "inception.json", {
        **backbone.spec(), "dataset": dataset, "split": SPLIT, "n_ref": int(len(indices)),
        "subset": "first n_ref of a fixed permutation (seed stream 'reference-subset')",
    })
    return out


def load_reference(root: Path, dataset: str, backbone: str = "inception") -> tuple[np.ndarray, dict]:
    folder = reference_dir(root, dataset)
    path = folder / f"{backbone}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `gbench reference {dataset}` (or `dvc repro`)")
    with np.load(path, allow_pickle=False) as npz:
        features = npz["features"]
    return features, read_json(folder / f"{backbone}.json")
