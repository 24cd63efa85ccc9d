"""`gbench score`: every metric of a folder of images against a folder or a prepared dataset.

Like clean-fid's folder mode and StudioGAN's evaluate.py, for images made anywhere: PNG or JPEG files
of any size (sorted by name; `n` takes the first n). The Inception backbone resizes each image with
clean-fid's "clean" resize; the domain backbone resizes to its 32x32 input (PIL bicubic) and scores
with the named dataset's classifier. A dataset reference reuses the pipeline's cached reference arrays
when they exist, else scores the same fixed eval subset the reference stage would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.pixels import UNSUPPORTED, eight_bit
from bench.measurement.scoring import ALL, MetricSettings, score_features
from bench.protocol.errors import ScoreError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def image_files(folder: Path, n: int | None = None) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ScoreError(f"{folder} is not a folder; pass a folder of PNG/JPEG images")
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    others = [p for p in files if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise ScoreError(f"{others[0]} is not a PNG or JPEG image ({len(others)} such file(s) in {folder}); "
                         "move non-image files out of the folder")
    images = [p for p in files if p.is_file()]
    if not images:
        raise ScoreError(f"{folder} holds no PNG/JPEG images")
    if n is not None:
        if len(images) < n:
            raise ScoreError(f"{folder} holds {len(images)} images, fewer than --n {n}")
        images = images[:n]
    return images


def read_images(files: list[Path], mode: str) -> list[np.ndarray]:
    """Files -> (H, W, C) uint8 arrays in PIL mode 'RGB' (3 channels) or 'L' (1 channel), exactly as
    bench/data/pixels.py converts them; modes with no exact 8-bit form are refused."""
    from PIL import Image, UnidentifiedImageError

    out = []
    for path in files:
        try:
            with Image.open(path) as image:
                array = eight_bit(image, mode)
                if array is None:
                    raise ScoreError(f"{path} is a {image.mode!r} image, which {UNSUPPORTED}")
        except (UnidentifiedImageError, OSError) as exc:
            raise ScoreError(f"{path} cannot be read as an image ({exc}); replace or remove it") from exc
        out.append(array[:, :, None] if array.ndim == 2 else array)
    return out


def to_batch(images: list[np.ndarray], size: int) -> np.ndarray:
    """(H, W, C) images of any sizes -> (N, C, size, size) uint8, PIL bicubic where a size differs."""
    from PIL import Image

    out = []
    for image in images:
        if image.shape[:2] != (size, size):
            planes = [np.asarray(Image.fromarray(image[:, :, c]).resize((size, size), Image.BICUBIC))
                      for c in range(image.shape[2])]
            image = np.stack(planes, axis=2)
        out.append(image.transpose(2, 0, 1))
    return np.stack(out)


def _domain_layout(root: Path, dataset: str) -> tuple[str, int]:
    from bench.data.datasets import spec

    channels = spec(dataset).shape[0]
    return ("RGB" if channels == 3 else "L"), spec(dataset).shape[1]


def _extract(net, backbone: str, files: list[Path], root: Path, dataset: str | None) -> dict[str, np.ndarray]:
    if backbone == "inception":
        return net(read_images(files, "RGB"), progress=True)
    mode, size = _domain_layout(root, dataset)
    return net(to_batch(read_images(files, mode), size))


def _dataset_reference(net, backbone: str, root: Path, dataset: str, n_ref: int | None) -> tuple[dict, dict]:
    from bench.data.datasets import load_prepared, spec
    from bench.measurement.reference import class_histogram, load_reference, reference_indices

    dataset = spec(dataset).reference_dataset  # a subset of another dataset is scored against its parent's
    try:
        arrays, ref_spec = load_reference(root, dataset, backbone)
        if ref_spec.get("weights_sha256") == net.spec().get("weights_sha256") and (
                n_ref is None or n_ref == ref_spec["n_ref"]):
            return arrays, {"dataset": dataset, "split": ref_spec["split"], "n_ref": ref_spec["n_ref"],
                            "source": "cached reference stage output"}
    except FileNotFoundError:
        pass
    data, split = load_prepared(dataset, root), spec(dataset).reference_split
    images = data[f"{split}_x"]
    indices = reference_indices(len(images), n_ref or min(len(images), 10_000), split)
    arrays = net(images[indices], progress=True)
    if "probs" in arrays:
        arrays["train_class_hist"] = class_histogram(net(data["train_x"])["probs"])
    return arrays, {"dataset": dataset, "split": split, "n_ref": int(len(indices)),
                    "source": f"computed now (fixed {split} subset, as the reference stage)"}


def score(images: Path, reference: str, *, root: Path, metrics: tuple[str, ...] = ALL, backbone: str = "inception",
          n: int | None = None, n_ref: int | None = None, dataset: str | None = None, device: str = "cpu",
          batch: int = 16, kid_seed: int = 0) -> dict:
    """Score the images in folder `images` against `reference` (a folder, or a dataset name)."""
    from bench.data.datasets import DATASETS
    from bench.measurement.backbones import BackboneSet

    unknown = set(metrics) - set(ALL)
    if unknown:
        raise ScoreError(f"unknown metrics {sorted(unknown)}; choose from {','.join(ALL)}")
    ref_is_dataset = reference in DATASETS
    if not ref_is_dataset and not Path(reference).is_dir():
        raise ScoreError(f"--reference {reference!r} is neither a folder nor a dataset "
                         f"({', '.join(sorted(DATASETS))})")
    dataset = dataset or (reference if ref_is_dataset else None)
    if backbone == "domain" and dataset is None:
        raise ScoreError("the domain backbone is a dataset's classifier: pass --dataset NAME (e.g. fmnist32)")
    gen_files = image_files(images, n)
    ref_files = None if ref_is_dataset else image_files(Path(reference), n_ref)
    net = BackboneSet(backbone, root, dataset, device=device, batch=batch)
    gen = _extract(net, backbone, gen_files, root, dataset)
    if ref_is_dataset:
        ref, ref_info = _dataset_reference(net, backbone, root, reference, n_ref)
    else:
        ref = _extract(net, backbone, ref_files, root, dataset)
        if "probs" in ref:
            from bench.measurement.reference import class_histogram

            ref["train_class_hist"] = class_histogram(ref["probs"])
        ref_info = {"folder": str(reference), "n_ref": len(ref_files)}
    head, head_missing = None, None
    if backbone == "inception" and "is" in metrics:
        from bench.measurement.inception_head import available_head

        head, head_missing = available_head()
    values, how = score_features(backbone, gen, ref, MetricSettings(which=tuple(metrics), kid_seed=kid_seed),
                                 head=head, head_missing=head_missing, reference_hist=ref.get("train_class_hist"))
    if "modes_covered" in values:
        how["modes"]["reverse_kl"] = ("KL(predicted class histogram of the images || of the reference "
                                      + ("train split)" if ref_is_dataset else "folder)"))
    return {"images": {"folder": str(images), "n": len(gen_files)}, "reference": ref_info,
            "metrics": values, "spec": {**net.spec(), **how}}


def format_table(result: dict) -> str:
    rows = [("metric", "value")]
    for name, value in result["metrics"].items():
        rows.append((name, "n/a" if value is None else f"{value:.6g}"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{a:<{width}}  {b}" for a, b in rows]
    lines.insert(1, "-" * (width + 2 + max(len(r[1]) for r in rows)))
    notes = [f"{k}: n/a because {v['reason']}" for k, v in result["spec"].items()
             if isinstance(v, dict) and v.get("available") is False]
    head = (f"{result['images']['n']} images ({result['images']['folder']}) vs reference "
            f"{result['reference'].get('folder') or result['reference'].get('dataset')} "
            f"(n={result['reference']['n_ref']}), backbone {result['spec'].get('backbone')}")
    return "\n".join([head, *lines, *notes])
