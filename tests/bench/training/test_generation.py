"""The GAN task kinds' step: lazy regularization as its own optimizer step, as NVlabs' StyleGAN2 loop runs it."""

import pytest

from bench.protocol.resolve import resolve
from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT, load_checkpoint
from bench.training.loop import train
from bench.training.regularizers import lazy_adam
from models.mlp_gan import MLPDiscriminator
from tests.conftest import write_params


def test_lazy_r1_is_an_extra_adam_step_every_16_d_steps_on_adjusted_settings(bench_root):
    """33 iterations of mlp-gan+r1+lazy (R1 every 16 D steps, batch 100): D's Adam takes 33 main steps and 3 R1
    steps (iterations 0, 16, 32), G's 33. With c = 16/17 the 17 steps of 16 iterations move D by the plain
    recipe's lr x 16, and beta^c over 17 steps decays like beta over 16 (stylegan2 training_loop.py's mb_ratio)."""
    write_params(bench_root, ring8={"train": {"kimg": 3.3, "checkpoint_every_kimg": 10, "curve_every_kimg": 10}})
    run = RunId.parse("t/ring8/mlp-gan+r1+lazy/s0")
    train(run, bench_root)
    saved = load_checkpoint(run.folder(bench_root) / "train" / CHECKPOINT)
    assert json_steps(saved) == 33
    names = [name for name, _ in MLPDiscriminator((2,), width=0.25).named_parameters()]
    d_steps = {name: float(s["step"]) for name, s in zip(names, saved["opt_D"]["state"].values(), strict=True)}
    # the weights take 33 + 3 steps; R1 (the input gradient's norm) does not depend on the biases, which get no
    # gradient in the R1 step and so no Adam step (torch's Adam skips them, as in NVlabs' Dreg phase)
    assert {s for name, s in d_steps.items() if name.endswith("weight")} == {33.0 + 3.0}
    assert {s for name, s in d_steps.items() if name.endswith("bias")} == {33.0}
    assert {float(s["step"]) for s in saved["opt_G"]["state"].values()} == {33.0}
    recipe = resolve(run, bench_root).variant.recipe
    (group,) = saved["opt_D"]["param_groups"]
    assert (group["lr"], tuple(group["betas"])) == lazy_adam(recipe.lr_d, recipe.betas, 16)
    assert 17 * group["lr"] == pytest.approx(16 * recipe.lr_d)
    assert group["betas"][1] ** 17 == pytest.approx(recipe.betas[1] ** 16)
    assert saved["opt_G"]["param_groups"][0]["lr"] == recipe.lr_g  # G is not regularized: plain Adam


def test_eager_r1_is_part_of_the_d_step(bench_root):
    write_params(bench_root, ring8={"train": {"kimg": 1.0, "checkpoint_every_kimg": 10, "curve_every_kimg": 10}})
    run = RunId.parse("t/ring8/mlp-gan+r1/s0")
    train(run, bench_root)
    saved = load_checkpoint(run.folder(bench_root) / "train" / CHECKPOINT)
    assert {float(s["step"]) for s in saved["opt_D"]["state"].values()} == {10.0}
    assert saved["opt_D"]["param_groups"][0]["lr"] == resolve(run, bench_root).variant.recipe.lr_d


def json_steps(saved) -> int:
    import json

    return json.loads(saved["state"])["step"]


def test_generate_keeps_each_latent_with_its_label_at_any_batch():
    """Batched generation gives every sample what G gives that latent and label alone, at the CPU's default
    batch and at a batch that does not divide N."""
    import torch

    from bench.training.snapshots import generate

    class TinyConditional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.fc = torch.nn.Embedding(3, 4), torch.nn.Linear(4, 6)

        def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.fc(z * self.embed(y)))

    torch.manual_seed(0)
    g, z, y = TinyConditional(), torch.randn(70, 4), torch.arange(70) % 3
    alone = torch.cat([g(z[i:i + 1], y[i:i + 1]) for i in range(70)])
    for batch in (None, 32, 256):
        torch.testing.assert_close(generate(g, z, torch.device("cpu"), y, batch=batch), alone)
    assert not g.training


def _trainer(root, run_id: str):
    import torch

    from bench.data.datasets import load_prepared
    from bench.training.tasks import task_of

    run = resolve(RunId.parse(run_id), root)
    return task_of(run.task).trainer(run, load_prepared(run.run.dataset, root), torch.device("cpu"))


def test_a_dcgan_step_is_pytorch_examples_loop_body_on_the_same_draws(bench_root):
    """pytorch/examples dcgan/main.py, written out: D's BCE on reals, then on G(z).detach(), Adam; then G's BCE
    through the updated D on the same G(z), Adam. One step of ours from the same weights and the same draws
    ends at the same weights (our D's logits through BCE-with-logits are its sigmoid through BCE)."""
    import copy

    import torch
    import torch.nn as nn

    write_params(bench_root, fmnist32={"train": {"width": 0.0625}})
    trainer = _trainer(bench_root, "t/fmnist32/dcgan/s0")
    r, batch = trainer.recipe, trainer.batch
    g, d = copy.deepcopy(trainer.g), copy.deepcopy(trainer.d)
    data_rng, latent_rng = (torch.Generator().set_state(rng.get_state())
                            for rng in (trainer.data_rng, trainer.latent_rng))
    real = trainer.x[torch.randint(trainer.x.shape[0], (batch,), generator=data_rng)]
    z = torch.randn(batch, trainer.z_dim, generator=latent_rng)
    opt_d = torch.optim.Adam(d.parameters(), lr=r.lr_d, betas=r.betas)
    opt_g = torch.optim.Adam(g.parameters(), lr=r.lr_g, betas=r.betas)
    bce, ones, zeros = nn.BCEWithLogitsLoss(), torch.ones(batch), torch.zeros(batch)
    d.zero_grad()
    bce(d(real), ones).backward()
    fake = g(z)
    bce(d(fake.detach()), zeros).backward()
    opt_d.step()
    g.zero_grad()
    bce(d(fake), ones).backward()
    opt_g.step()

    trainer.step({"images": 0, "step": 0}, 10 * batch)
    for ours, theirs in ((trainer.g, g), (trainer.d, d)):
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize(("run_id", "g_forwards"), [
    ("t/fmnist32/dcgan/s0", 1),  # G's step on the D step's fakes
    ("t/fmnist32/dcgan+ncritic5/s0", 5),  # on the last of its five D steps' fakes
    ("t/fmnist32/acgan/s0", 1),  # as clvrai/ACGAN-PyTorch's loop
    ("t/fmnist32/cgan/s0", 2),  # fresh latents for G's step
])
def test_g_runs_once_per_d_step_and_again_only_without_g_on_d_fakes(bench_root, run_id, g_forwards):
    write_params(bench_root, fmnist32={"train": {"width": 0.0625}})
    trainer = _trainer(bench_root, run_id)
    calls = []
    trainer.g.register_forward_hook(lambda *_: calls.append(1))
    trainer.step({"images": 0, "step": 0}, 100 * trainer.images_per_step)
    assert len(calls) == g_forwards
