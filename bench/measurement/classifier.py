"""The `domain` backbone: the penultimate layer and class probabilities of the dataset's own classifier.

Cheap where Inception is not: for training curves and CPU-scale studies. The classifier stage trains a
small CNN on a labeled dataset's train split with fixed seed streams (same settings and machine type =>
same model.pt, byte for byte), tests it on the eval split and writes results/classifier/<dataset>/
model.pt (state_dict + architecture, loadable with weights_only=True) and classifier.json (accuracy,
settings, sha256 of model.pt, predicted class histograms of both splits).
The backbone maps uint8 images to the 128-d penultimate ReLU layer (FID/KID-style features) and the
softmax class probabilities (classifier-IS, classes covered, reverse KL) in one forward pass. Input:
x / 127.5 - 1, the generators' [-1, 1] range. The network takes images of the dataset's own side
(`input_size`): one conv block per halving down to 4x4 (16, 32, then 64 channels), so a 64x64 dataset's
classifier sees 64x64 pixels; images of another size are first resized to it with PIL bicubic on float32
channels, clipped to [0, 255], not re-quantised. `per_channel` scores 3-channel
images (Stacked Fashion-MNIST) with a 1-channel classifier channel by channel: the features are the
three channels' features concatenated, the probabilities over K**3 modes their outer product, mode
c0 * K * K + c1 * K + c2.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from bench.data.datasets import load_prepared, spec
from bench.protocol.errors import BackboneError
from bench.protocol.io import read_json, sha256_file, write_bytes, write_json
from bench.protocol.params import load_params, stage_settings
from bench.protocol.seeding import generator, make_deterministic, resolve_device, stream_seed

SEED = 0
SIZE = 32  # the input side of classifiers saved before `input_size` was recorded
WIDTHS = (16, 32, 64)  # at 32x32; larger inputs repeat the last width once per extra halving
FEATURE_DIM = 128
WEIGHT_DECAY = 5e-4
STACKED_CHANNELS = 3
NORMALIZATION = "x / 127.5 - 1"
MODEL_FILE, INFO_FILE = "model.pt", "classifier.json"
SUBSET = "first n_train of a fixed permutation (seed stream 'classifier-subset')"


class ClassifierError(BackboneError):
    """The domain classifier's files are missing or do not match; the message names the fix."""


def resize_rule(size: int) -> str:
    return (f"PIL bicubic to {size}x{size} on float32 channels, clipped to [0, 255], not quantized "
            f"(only when H, W != {size})")


def widths_for(size: int) -> list[int]:
    """One conv block per halving of `size` down to at most 4 (at least one): WIDTHS, the last repeated."""
    blocks = max(1, math.ceil(math.log2(size / 4)))
    return [WIDTHS[min(i, len(WIDTHS) - 1)] for i in range(blocks)]


class SmallCNN(nn.Module):
    """Conv-BN-ReLU-maxpool blocks (`input_size` px -> input_size / 2**len(widths)), a `feature_dim` ReLU layer,
    a linear head."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, widths: Sequence[int] = WIDTHS,
                 feature_dim: int = FEATURE_DIM, dropout: float = 0.3, input_size: int = SIZE) -> None:
        super().__init__()
        self.arch = {"in_channels": in_channels, "n_classes": n_classes, "widths": list(widths),
                     "feature_dim": feature_dim, "dropout": dropout, "input_size": input_size}
        layers, previous = [], in_channels
        for width in widths:
            layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.MaxPool2d(2)]
            previous = width
        side = input_size >> len(widths)
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(previous * side * side, feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, n_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


def classifier_dir(root: Path, dataset: str) -> Path:
    return root / "results" / "classifier" / dataset


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 or float [0, 255] -> float32 [-1, 1], channels-last (the faster layout for this net on CPU)."""
    return (images.float() / 127.5 - 1.0).contiguous(memory_format=torch.channels_last)


@contextmanager
def no_memory_fill() -> Iterator[None]:
    """Deterministic mode fills each new tensor with NaN; every op here writes its whole output, so the
    fill (a quarter of a training step on CPU) changes nothing but the time."""
    before = torch.utils.deterministic.fill_uninitialized_memory
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = before


def warmup_cosine(step: int, steps: int) -> float:
    """Learning-rate factor: linear warm-up over the first quarter of the steps, then a cosine decay to 0."""
    warm = max(1, steps // 4)
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, steps - warm))))


def train_classifier(x: np.ndarray, y: np.ndarray, epochs: int, batch: int, lr: float, n_classes: int = 10,
                     seed: int = SEED, device: str | torch.device = "cpu") -> SmallCNN:
    """uint8 (N, C, S, S) images and labels -> a trained SmallCNN for S x S inputs, in eval mode.
    AdamW, learning rate warm-up to `lr` then cosine decay, random horizontal flips; weights, data order and
    flips come from the seed streams 'classifier-weights' and 'classifier-data'."""
    device = torch.device(device)
    images, labels = torch.from_numpy(x), torch.from_numpy(y).long()
    data_rng = generator(seed, "classifier-data")
    steps = max(1, epochs * math.ceil(len(images) / batch))
    with torch.random.fork_rng(devices=[]), no_memory_fill():
        torch.manual_seed(stream_seed(seed, "classifier-weights"))
        model = SmallCNN(x.shape[1], n_classes, widths_for(x.shape[2]), input_size=x.shape[2])
        model = model.to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, steps))
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(images), generator=data_rng)
            flips = torch.rand(len(images), generator=data_rng) < 0.5
            for start in range(0, len(images), batch):
                index = order[start:start + batch]
                xb = torch.where(flips[index, None, None, None], images[index].flip(3), images[index])
                _, logits = model(normalize(xb.to(device)))
                loss = F.cross_entropy(logits, labels[index].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
    return model.eval()


@torch.inference_mode()
def predict(model: SmallCNN, images: np.ndarray, batch: int = 256,
            device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(N, C, S, S) uint8 or float [0, 255] at the model's input size S -> features (N, d) float32,
    probabilities (N, K) float64."""
    model.eval()
    features, probs = [], []
    with no_memory_fill():
        for start in range(0, len(images), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + batch])).to(device)
            f, logits = model(normalize(chunk))
            features.append(f.float().cpu().numpy())
            probs.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    if not features:
        return np.zeros((0, model.arch["feature_dim"]), np.float32), np.zeros((0, model.arch["n_classes"]))
    return np.concatenate(features), np.concatenate(probs)


def resize_to_input(images: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(N, C, H, W) uint8 -> itself at size x size, else (N, C, size, size) float32 in [0, 255]
    (`resize_rule`)."""
    if images.shape[2:] == (size, size):
        return images
    out = np.empty((*images.shape[:2], size, size), dtype=np.float32)
    for n, c in np.ndindex(*images.shape[:2]):
        plane = Image.fromarray(images[n, c].astype(np.float32), mode="F")
        out[n, c] = np.asarray(plane.resize((size, size), resample=Image.BICUBIC))
    return out.clip(0, 255)


def train_subset(n_total: int, n_train: int | None) -> np.ndarray:
    """The first n_train of a fixed permutation of the train split (all of it, in order, when None)."""
    if n_train is None:
        return np.arange(n_total)
    if not 0 < n_train <= n_total:
        raise ValueError(f"classifier n_train={n_train} must be in 1..{n_total} (the train split's size)")
    return torch.randperm(n_total, generator=generator(SEED, "classifier-subset"))[:n_train].numpy()


def class_histogram(labels: np.ndarray, n_classes: int) -> list[float]:
    return (np.bincount(labels, minlength=n_classes) / max(len(labels), 1)).tolist()


def per_class_accuracy(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> list[float]:
    return [float((predicted[labels == c] == c).mean()) if (labels == c).any() else float("nan")
            for c in range(n_classes)]


def save_model(path: Path, model: SmallCNN) -> str:
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": "gbench-domain-classifier/1", "arch": model.arch, "state_dict": state}, buffer)
    write_bytes(path, buffer.getvalue())
    return sha256_file(path)


def build_classifier(dataset: str, root: Path, device: str = "cpu") -> Path:
    """The classifier stage: train on the train split, test on the eval split, write model.pt and classifier.json."""
    started = time.perf_counter()
    ds = spec(dataset)
    settings = stage_settings(load_params(root), dataset, "classifier")
    data = load_prepared(dataset, root)
    if ds.kind != "images" or "train_y" not in data:
        raise ValueError(f"{dataset} has no class labels: it has no domain classifier (use the inception backbone)")
    make_deterministic()
    torch_device = resolve_device(device)
    n_classes = int(max(data["train_y"].max(), data["eval_y"].max())) + 1
    subset = train_subset(len(data["train_x"]), settings.get("n_train"))
    model = train_classifier(data["train_x"][subset], data["train_y"][subset], settings["epochs"], settings["batch"],
                             settings["lr"], n_classes=n_classes, device=torch_device)
    train_wall = time.perf_counter() - started
    out = classifier_dir(root, dataset)
    sha = save_model(out / MODEL_FILE, model)
    _, eval_probs = predict(model, data["eval_x"], device=torch_device)
    _, train_probs = predict(model, data["train_x"], device=torch_device)
    eval_pred, train_pred = eval_probs.argmax(axis=1), train_probs.argmax(axis=1)
    write_json(out / INFO_FILE, {
        "dataset": dataset,
        "test_accuracy": float((eval_pred == data["eval_y"]).mean()),
        "per_class_accuracy": per_class_accuracy(eval_pred, data["eval_y"], n_classes),
        "train_accuracy": float((train_pred == data["train_y"]).mean()),
        "predicted_class_hist": {"train": class_histogram(train_pred, n_classes),
                                 "eval": class_histogram(eval_pred, n_classes)},
        "mean_probs": {"train": train_probs.mean(axis=0).tolist(), "eval": eval_probs.mean(axis=0).tolist()},
        "label_hist": {"train": class_histogram(data["train_y"], n_classes),
                       "eval": class_histogram(data["eval_y"], n_classes)},
        "epochs": settings["epochs"], "batch": settings["batch"], "lr": settings["lr"],
        "n_train": int(len(subset)), "subset": SUBSET if "n_train" in settings else "all of the train split",
        "seed": SEED, "optimizer": f"AdamW (weight decay {WEIGHT_DECAY}), lr warm-up 1/4 then cosine",
        "augmentation": "random horizontal flips",
        "architecture": model.arch, "feature_dim": model.arch["feature_dim"], "n_classes": n_classes,
        "input_size": model.arch["input_size"], "normalization": NORMALIZATION,
        "weights": MODEL_FILE, "weights_sha256": sha,
        "device": str(torch_device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "train_wall_s": train_wall, "wall_s": time.perf_counter() - started,
    })
    return out


def load_classifier(root: Path, dataset: str, device: str | torch.device = "cpu") -> tuple[SmallCNN, dict]:
    """model.pt after checking its sha256 against classifier.json; weights-only loading (no pickled code)."""
    folder = classifier_dir(root, dataset)
    model_path, info_path = folder / MODEL_FILE, folder / INFO_FILE
    fix = f"re-run `gbench classifier {dataset}` (or `dvc repro`)"
    if not model_path.is_file() or not info_path.is_file():
        raise ClassifierError(f"the {dataset} domain classifier is missing ({model_path} or {info_path}); {fix}")
    info = read_json(info_path)
    digest = sha256_file(model_path)
    if digest != info.get("weights_sha256"):
        raise ClassifierError(f"{model_path} has sha256 {digest}, but {info_path} records "
                              f"{info.get('weights_sha256')}: the two files do not belong together; {fix}")
    saved = torch.load(model_path, map_location="cpu", weights_only=True)
    model = SmallCNN(**saved["arch"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device, memory_format=torch.channels_last).eval(), info


class DomainBackbone:
    """Callable: uint8 images (N, C, H, W) -> (features (N, d) float32, class probabilities (N, K) float64)."""

    name = "domain"

    def __init__(self, model: SmallCNN, info: dict, device: str | torch.device = "cpu", batch: int = 256,
                 per_channel: bool = False) -> None:
        if per_channel and model.arch["in_channels"] != 1:
            raise ValueError("per_channel scoring needs a 1-channel classifier")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.info, self.batch, self.per_channel = info, batch, per_channel
        self.in_channels = STACKED_CHANNELS if per_channel else model.arch["in_channels"]
        copies = STACKED_CHANNELS if per_channel else 1
        self.feature_dim = model.arch["feature_dim"] * copies
        self.n_classes = model.arch["n_classes"] ** copies
        self.input_size = model.arch.get("input_size", SIZE)

    @classmethod
    def load(cls, root: Path, dataset: str, device: str | torch.device = "cpu", batch: int = 256,
             per_channel: bool = False) -> DomainBackbone:
        """The classifier of `dataset` (for Stacked Fashion-MNIST: fmnist32 with per_channel=True)."""
        model, info = load_classifier(root, dataset, device)
        return cls(model, info, device=device, batch=batch, per_channel=per_channel)

    def spec(self) -> dict:
        return {"backbone": self.name, "dataset": self.info["dataset"], "per_channel": self.per_channel,
                "weights": f"results/classifier/{self.info['dataset']}/{MODEL_FILE}",
                "weights_sha256": self.info["weights_sha256"], "feature_dim": self.feature_dim,
                "n_classes": self.n_classes, "test_accuracy": self.info["test_accuracy"], "input_size": self.input_size,
                "input_channels": self.in_channels, "resize": resize_rule(self.input_size),
                "normalization": NORMALIZATION}

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"expected (N, {self.in_channels}, H, W) uint8 images, got {images.dtype} {images.shape}")
        features, probs = [], []
        for start in range(0, len(images), self.batch):
            chunk = resize_to_input(images[start:start + self.batch], self.input_size)
            if self.per_channel:
                side = self.input_size
                f, p = predict(self.model, chunk.reshape(-1, 1, side, side), len(chunk) * STACKED_CHANNELS,
                               self.device)
                f, p = f.reshape(len(chunk), -1), mode_probabilities(p.reshape(len(chunk), STACKED_CHANNELS, -1))
            else:
                f, p = predict(self.model, chunk, len(chunk), self.device)
            features.append(f)
            probs.append(p)
        if not features:
            return np.zeros((0, self.feature_dim), np.float32), np.zeros((0, self.n_classes))
        return np.concatenate(features), np.concatenate(probs)


def mode_probabilities(channel_probs: np.ndarray) -> np.ndarray:
    """(N, 3, K) per-channel probabilities -> (N, K**3), mode c0 * K * K + c1 * K + c2 (channels independent)."""
    p0, p1, p2 = channel_probs[:, 0], channel_probs[:, 1], channel_probs[:, 2]
    return (p0[:, :, None, None] * p1[:, None, :, None] * p2[:, None, None, :]).reshape(len(channel_probs), -1)
