"""The evaluate stage: N samples from a finished run -> one feature pass -> every metric -> metrics.json.

Images are quantised to uint8 as NVlabs does (x * 127.5 + 128, clamped, truncated) before the
Inception pass; the features are saved beside the metrics so a new metric never needs another pass.
2-D sets are scored on the points themselves against the dataset's known modes.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import torch

from bench.config import RunId, load_params, stage_settings
from bench.datasets import load_prepared
from bench.io import atomic_write, write_json
from bench.metrics.fid import frechet_distance_features
from bench.metrics.kid import kernel_inception_distance
from bench.metrics.modes import mode_metrics
from bench.reference import load_reference, save_npz
from bench.seeding import generator, resolve_device, stream_seed
from bench.train import load_generator

FID_IMPL = ("exact nuclear-norm/eigen form of the Frechet distance; equals cleanfid.fid.frechet_distance "
            "to 1e-4 relative (tests/bench/metrics/test_fid.py)")


def library_versions() -> dict[str, str]:
    names = ["torch", "torchvision", "clean-fid", "numpy", "scipy", "pillow"]
    return {name: importlib.metadata.version(name) for name in names}


@torch.no_grad()
def generate(g: torch.nn.Module, latents: torch.Tensor, device: torch.device, batch: int = 256) -> torch.Tensor:
    g = g.to(device).eval()
    return torch.cat([g(z.to(device)).cpu() for z in latents.split(batch)])


def quantize(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float images -> uint8, as NVlabs' metric code does."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


def save_grid(path: Path, images: np.ndarray, nrow: int = 8) -> None:
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(torch.from_numpy(images[: nrow * nrow]), nrow=nrow, padding=1, pad_value=255)
    array = grid.permute(1, 2, 0).numpy()
    atomic_write(path, lambda p: Image.fromarray(array.squeeze(-1) if array.shape[2] == 1 else array)
                 .save(p, format="PNG"))


def save_scatter(path: Path, points: np.ndarray, modes: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 3), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, color="#1f4e79", label="samples")
    ax.scatter(modes[:, 0], modes[:, 1], s=12, marker="x", color="#c00000", label="modes")
    span = np.abs(modes).max() * 1.5
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)


def evaluate(run: RunId, root: Path, device_name: str | None = None) -> Path:
    params = load_params(root)
    settings = stage_settings(params, run.dataset, "evaluate")
    device = resolve_device(device_name or params.get("device", "auto"))
    g, config = load_generator(run.folder(root) / "train")
    out = run.folder(root) / "eval"
    n = settings["n_gen"]
    latent_seed = stream_seed(run.seed, "eval-latents")
    latents = torch.randn(n, config["variant"]["z_dim"], generator=generator(run.seed, "eval-latents"))
    samples = generate(g, latents, device)
    spec = {"n_gen": n, "latent_seed": latent_seed, "config_hash": config["config_hash"],
            "profile": params["profile"], "libraries": library_versions(), "device": device.type}

    if config["data_kind"] == "images":
        from bench.inception import InceptionFeatures

        images = quantize(samples)
        save_grid(out / "samples.png", images)
        backbone = InceptionFeatures(device=device, batch=settings.get("batch", 16))
        features = backbone(images, progress=True)
        save_npz(out / "features_inception.npz", features=features)
        ref_features, ref_spec = load_reference(root, run.dataset)
        if ref_spec["weights_sha256"] != backbone.weights_sha256:
            raise RuntimeError("reference features were computed with other weights; re-run the reference stage")
        kid_seed = stream_seed(run.seed, "kid-subsets") % 2**32  # numpy legacy seeds are 32-bit
        subsets = settings.get("kid_subsets", 100)
        subset_size = settings.get("kid_subset_size", 1000)
        metrics = {
            "fid": frechet_distance_features(features, ref_features),
            "kid": kernel_inception_distance(features, ref_features, seed=kid_seed,
                                             num_subsets=subsets, max_subset_size=subset_size),
        }
        spec.update({
            **backbone.spec(),
            "reference": {"dataset": run.dataset, "split": ref_spec["split"], "n_ref": ref_spec["n_ref"]},
            "fid_impl": FID_IMPL,
            "kid": {"impl": "cleanfid.fid.kernel_distance", "kernel": "(x.y/d + 1)^3",
                    "subsets": subsets, "max_subset_size": subset_size, "seed": kid_seed},
        })
    else:
        data = load_prepared(run.dataset, root)
        points = samples.numpy()
        save_scatter(out / "samples.png", points[:2500], data["modes"])
        metrics = mode_metrics(points, data["modes"], float(data["sigma"]))
        spec.update({"backbone": "points", "high_quality_threshold": "3 sigma (strict <)",
                     "reverse_kl": "KL(mode histogram of high-quality samples || uniform)"})

    write_json(out / "metrics.json", {"run": str(run), "dataset": run.dataset, "variant": run.variant,
                                      "study": run.study, "seed": run.seed, "metrics": metrics,
                                      "spec": spec})
    return out
