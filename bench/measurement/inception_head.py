"""The 1008-way classifier head of TF-Inception, for the Inception Score.

The NVlabs TorchScript network we run (see bench/measurement/inception.py) stops at the 2048-d pool3 features; the
classifier head is not in that file. The original IS code (Salimans et al. 2016, OpenAI improved-gan)
scores softmax(pool3 @ W) with the head's weight matrix W and no bias; torch-fidelity keeps that as
its `logits_unbiased` feature. So IS needs only W on top of the features we already compute: no
second network pass.

W comes from torch-fidelity's port of the same TF graph (state dict key `fc.weight`, shape
1008 x 2048), which pytorch-fid distributes as the same file. It is never downloaded at run time:
`gbench fetch-inception-head` fetches it once (needs internet) into torch's hub cache, where
torch-fidelity and pytorch-fid also leave it. Without the file IS is reported as not available, with
the reason; never as a made-up number.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from bench.protocol.errors import HeadError

HASH_PREFIX = "6726825d"  # torch.hub convention: the first hex digits of the file's sha256, in its name
FILE_NAMES = (f"weights-inception-2015-12-05-{HASH_PREFIX}.pth", f"pt_inception-2015-12-05-{HASH_PREFIX}.pth")
URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{FILE_NAMES[0]}"
N_CLASSES, FEATURE_DIM = 1008, 2048
ENV = "GBENCH_INCEPTION_HEAD"


def hub_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def candidate_paths() -> list[Path]:
    if os.environ.get(ENV):
        return [Path(os.environ[ENV])]
    return [hub_dir() / name for name in FILE_NAMES]


def find_head() -> Path | None:
    return next((p for p in candidate_paths() if p.is_file()), None)


def unavailable_reason() -> str:
    looked = ", ".join(str(p) for p in candidate_paths())
    return (f"the TF-Inception classifier head (1008-way, torch-fidelity's {FILE_NAMES[0]}) is not on this "
            f"machine (looked in {looked}); on a machine with internet run `gbench fetch-inception-head`, "
            f"or set {ENV} to the file")


def available_head() -> tuple[np.ndarray | None, str | None]:
    """The IS head's weights, or None and the reason it is not available."""
    path = find_head()
    return (load_head(path), None) if path is not None else (None, unavailable_reason())


def load_head(path: Path, hash_prefix: str = HASH_PREFIX) -> np.ndarray:
    """The head's (1008, 2048) weight matrix, after checking the file's sha256 prefix."""
    import torch

    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if not digest.startswith(hash_prefix):
        raise HeadError(f"{path} has sha256 {digest[:16]}..., expected one starting with {hash_prefix}; "
                        "delete it and run `gbench fetch-inception-head`")
    state = torch.load(path, map_location="cpu", weights_only=True)
    weight = state.get("fc.weight") if isinstance(state, dict) else None
    if weight is None or tuple(weight.shape) != (N_CLASSES, FEATURE_DIM):
        raise HeadError(f"{path} holds no fc.weight of shape {(N_CLASSES, FEATURE_DIM)}; it is not the "
                        "TF-Inception port; delete it and run `gbench fetch-inception-head`")
    return weight.double().numpy()


def class_probabilities(features: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """softmax(pool3 @ W^T) over the 1008 outputs, in float64 (the unbiased logits of the original IS)."""
    logits = np.asarray(features, dtype=np.float64) @ weight.T
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


def fetch_head(url: str = URL, dest: Path | None = None, hash_prefix: str = HASH_PREFIX) -> Path:
    """Download the head once (needs internet); torch.hub checks the sha256 prefix before keeping it."""
    import torch

    target = Path(dest) if dest is not None else hub_dir() / FILE_NAMES[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(target), hash_prefix=hash_prefix, progress=False)
    load_head(target, hash_prefix)
    return target
