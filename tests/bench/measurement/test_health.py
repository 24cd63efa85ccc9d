"""Health verdicts: each rule against an independent computation, and on runs built to fail that way (tiny
configs trained and evaluated by the real stages) beside a healthy run that must not trigger it."""

import numpy as np
import pytest
import torch

from bench.measurement import health
from bench.protocol.io import read_json
from bench.protocol.runs import RunId
from tests.conftest import UNSTABLE_PLUGIN, write_params


def test_mean_pairwise_distance_equals_scipy_pdist():
    from scipy.spatial.distance import pdist

    x = np.random.default_rng(0).normal(2.0, 3.0, (300, 7))
    assert health.mean_pairwise_distance(x) == pytest.approx(pdist(x).mean(), rel=1e-10)
    assert health.mean_pairwise_distance(x, n=50) == pytest.approx(pdist(x[:50]).mean(), rel=1e-10)


def _dft_power(x: np.ndarray, ky: int, kx: int) -> float:
    """|sum_{y,x} x[y, x] exp(-2 pi i (ky y / H + kx x / W))|^2, written out (no FFT)."""
    h, w = x.shape
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return float(abs((x * np.exp(-2j * np.pi * (ky * ys / h + kx * xs / w))).sum()) ** 2)


def test_nyquist_peak_is_the_line_power_ratio_of_the_written_out_dft():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(3, 1, 8, 8))
    centred = images[:, 0] - images[:, 0].mean(axis=(1, 2), keepdims=True)
    power = np.array([[np.mean([_dft_power(c, ky, kx) for c in centred]) for kx in range(8)] for ky in range(8)])
    lines = (power[4, :].sum() + power[:, 4].sum() - power[4, 4]) / 15
    beside = (power[[3, 5], :].sum() + power[:, [3, 5]].sum()) / 32
    assert health.nyquist_peak(images) == pytest.approx(lines / beside, rel=1e-9)


def test_a_checkerboard_is_flagged_and_noise_or_the_data_itself_is_not():
    rng = np.random.default_rng(2)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(64, 1, 32, 32)), axis=2), axis=3)  # a red spectrum, like photos
    real = (smooth - smooth.min()) / np.ptp(smooth) * 255
    board = np.indices((32, 32)).sum(axis=0) % 2 * 40.0
    assert health.checkerboard_check(real + board, real)["flag"]
    assert not health.checkerboard_check(real, real)["flag"]
    assert health.checkerboard_check(real, real)["value"]["nyquist_ratio"] == pytest.approx(1.0)
    noise = rng.integers(0, 256, (64, 1, 32, 32)).astype(float)
    assert not health.checkerboard_check(noise, real)["flag"]  # noise has high-frequency power but no peak


def test_checks_without_a_reference_to_compare_with_are_not_applicable():
    flat = np.full((8, 1, 8, 8), 100.0)  # no spectral power, no spread
    noise = np.random.default_rng(3).normal(size=(8, 1, 8, 8))
    assert health.checkerboard_check(noise, flat)["flag"] is None
    assert health.checkerboard_check(flat, noise)["flag"] is None
    assert health.mode_collapse_check(noise.reshape(8, -1), flat.reshape(8, -1))["flag"] is None


def _curve(acc_real, acc_fake, loss_g):
    return [{"kimg": 0.0, "step": 0}] + [
        {"kimg": i + 1.0, "step": i + 1, "loss_d": 0.1, "d_acc_real": r, "d_acc_fake": f, "loss_g": g}
        for i, (r, f, g) in enumerate(zip(acc_real, acc_fake, loss_g, strict=True))]


def test_d_wins_needs_both_accuracies_pinned_over_the_last_third_and_g_loss_rising():
    pinned = [0.7, 0.8, 0.9, 0.99, 0.97, 1.0]
    assert health.d_wins_check(_curve(pinned, pinned, [1, 1, 2, 3, 4, 5]))["flag"]
    assert not health.d_wins_check(_curve(pinned, pinned, [5, 4, 3, 3, 2, 1]))["flag"]  # G keeps up
    assert not health.d_wins_check(_curve(pinned, [0.5] * 6, [1, 1, 2, 3, 4, 5]))["flag"]  # fooled on fakes
    critic = [{"kimg": 1.0, "step": 1, "loss_d": -0.3, "d_gap": 0.3, "loss_g": 0.1}] * 4
    assert health.d_wins_check(critic)["flag"] is None and "boundary" in health.d_wins_check(critic)["reason"]


def test_the_verdict_lists_the_flagged_checks_as_badges():
    checks = {"diverged": health.check(False), "mode_collapse": health.check(True, 0.1, 0.25),
              "checkerboard": health.check(None, reason="n/a"), "copying": health.check(True, -9.0, -3.0)}
    verdict = health.verdict(checks)
    assert not verdict["healthy"] and verdict["badges"] == ["mode collapse", "copies training data"]
    assert health.verdict({"diverged": health.check(False)})["healthy"]


FAILING = '''from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn

from models.dcgan import DCGANDiscriminator
from models.mlp_gan import MLPDiscriminator, MLPGenerator
from models.registry import Recipe, Variant, registered_variants, register

MLP = registered_variants()["mlp-gan"]


class ConstantGenerator(nn.Module):
    """Ignores its latent: one learned point (mode collapse by construction)."""

    def __init__(self, data_shape, z_dim, width=1.0):
        super().__init__()
        self.z_dim, self.point = z_dim, nn.Parameter(torch.zeros(data_shape))

    def forward(self, z):
        return self.point.expand(z.shape[0], *self.point.shape) + 0.0 * z[:, :1]


class TransposedGenerator(nn.Module):
    """z -> 8x8 -> two stride-2 transposed convolutions with 3x3 kernels (uneven overlap) -> 32x32."""

    def __init__(self, data_shape, z_dim, width=1.0, upsample="transposed"):
        super().__init__()
        self.z_dim = z_dim
        self.fc = nn.Linear(z_dim, 16 * 8 * 8)
        if upsample == "transposed":
            up = lambda c_in, c_out: nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1)
        else:  # resize-convolution (Odena et al. 2016): nearest upsampling, then a 3x3 convolution
            up = lambda c_in, c_out: nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.net = nn.Sequential(nn.ReLU(), up(16, 16), nn.ReLU(), up(16, data_shape[0]), nn.Tanh())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 16, 8, 8))


class ResizeGenerator(TransposedGenerator):
    def __init__(self, data_shape, z_dim, width=1.0):
        super().__init__(data_shape, z_dim, width, upsample="resize")


register(Variant(name="frozen-g-gan", family="failing", paper="mlp-gan with G's lr 1e-12: D wins",
                 generator=MLPGenerator, discriminator=MLPDiscriminator, z_dim=2, data_kinds=("points",),
                 recipe=dataclasses.replace(MLP.recipe, lr_g=1e-12, lr_d=1e-2)))
register(Variant(name="constant-g-gan", family="failing", paper="G ignores z: mode collapse",
                 generator=ConstantGenerator, discriminator=MLPDiscriminator, z_dim=2, data_kinds=("points",),
                 recipe=MLP.recipe))
register(Variant(name="transposed-g-gan", family="failing", paper="3x3 stride-2 transposed convolutions",
                 generator=TransposedGenerator, discriminator=DCGANDiscriminator, data_kinds=("images",),
                 recipe=Recipe(lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch=64)))
register(Variant(name="resize-g-gan", family="failing", paper="nearest upsampling + 3x3 convolutions",
                 generator=ResizeGenerator, discriminator=DCGANDiscriminator, data_kinds=("images",),
                 recipe=Recipe(lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch=64)))
'''


@pytest.fixture
def failing_root(bench_root):
    from bench.protocol import variants

    (bench_root / "unstable.py").write_text(UNSTABLE_PLUGIN)
    (bench_root / "failing.py").write_text(FAILING)
    variants.load(["unstable.py", "failing.py"], bench_root)
    write_params(bench_root, ring8={"train": {"kimg": 4, "curve_every_kimg": 0.5}})  # mlp-gan spreads out by 4
    return bench_root


def _trained_and_evaluated(root, name: str) -> dict:
    from bench.measurement.evaluate import evaluate
    from bench.training.loop import train

    run = RunId.parse(name)
    train(run, root)
    evaluate(run, root)
    return read_json(run.folder(root) / "eval" / "metrics.json")["health"]


def test_runs_built_to_fail_on_ring8_get_their_verdict_and_a_healthy_run_none(failing_root):
    verdicts = {name: _trained_and_evaluated(failing_root, f"t/ring8/{name}/s0")
                for name in ("unstable-gan", "frozen-g-gan", "constant-g-gan", "mlp-gan")}
    assert verdicts["unstable-gan"]["flagged"] == ["diverged"]
    assert verdicts["frozen-g-gan"]["checks"]["d_wins"]["flag"]
    assert verdicts["constant-g-gan"]["checks"]["mode_collapse"]["flag"]
    assert verdicts["mlp-gan"]["healthy"], verdicts["mlp-gan"]


def test_transposed_convolutions_are_flagged_for_checkerboards_and_resize_convolutions_are_not(failing_root):
    from bench.data.datasets import load_prepared
    from bench.measurement.evaluate import evaluate  # noqa: F401  (the stage's own sampling below)
    from bench.protocol.resolve import resolve
    from bench.training.checkpoint import finished_checkpoint
    from bench.training.loop import train
    from bench.training.snapshots import quantize
    from bench.training.tasks import task_of

    real = load_prepared("fmnist32", failing_root)["eval_x"][:256]
    ratios = {}
    for name in ("transposed-g-gan", "resize-g-gan"):
        run = RunId.parse(f"t/fmnist32/{name}/s0")
        train(run, failing_root)
        resolved = resolve(run, failing_root)
        task = task_of(resolved.task)
        g = task.evaluated_module(resolved, finished_checkpoint(run.folder(failing_root) / "train",
                                                                resolved.config_hash))
        samples, _ = task.evaluation_samples(resolved, g, 256, torch.device("cpu"))
        ratios[name] = health.checkerboard_check(quantize(samples), real)
    assert ratios["transposed-g-gan"]["flag"] and not ratios["resize-g-gan"]["flag"]
