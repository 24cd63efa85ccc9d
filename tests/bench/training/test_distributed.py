"""One run on several ranks: the micro-batched phase against plain autograd, and on gloo, 2 ranks x 1
micro-batch against 1 process x 2 micro-batches, byte for byte, for a representative set of variants."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.nn as nn

from bench.protocol.runs import RunId
from bench.training.checkpoint import CHECKPOINT
from bench.training.distributed import Phase, Ranks, SharedDraws
from bench.training.loop import resume_dir, train
from tests.conftest import write_params


class Holder:
    """The part of the objective a phase touches: its random stream and the path length target."""

    def __init__(self) -> None:
        self.rng, self.pl_mean = torch.Generator().manual_seed(0), 0.0


def test_shared_draws_give_every_micro_batch_its_slice_of_the_same_global_batch():
    stream = torch.Generator().manual_seed(3)

    def draw():
        return torch.randn(8, 2, generator=stream), torch.arange(8)

    draws = SharedDraws(draw)
    first, second = draws.part(1, 2), draws.part(0, 2)
    (x1, y1), (x1b, _), (x0, y0) = first(), first(), second()
    assert y1.tolist() == [4, 5, 6, 7] and y0.tolist() == [0, 1, 2, 3]
    expected = torch.Generator().manual_seed(3)
    whole = torch.randn(8, 2, generator=expected)
    assert torch.equal(torch.cat([x0, x1]), whole)  # micro-batch 1 asked first: still the first global draw
    assert torch.equal(x1b, torch.randn(8, 2, generator=expected)[4:])  # its second call: the next global draw
    assert len(draws.batches) == 2


def test_a_micro_batched_phase_takes_the_gradient_of_the_global_batch_mean():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = torch.randn(8, 3)
    reference = [p.detach().clone() for p in net.parameters()]
    loss = net(x).pow(2).mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    expected = [p - 0.1 * g for p, g in zip(reference, grads, strict=True)]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    logs = Phase(Ranks(), 4, [net], Holder(), torch.device("cpu")).run(
        opt, lambda m, n: ((out := net(x[m * 2:(m + 1) * 2]).pow(2).mean()), {"loss": out.item()}))
    for p, e in zip(net.parameters(), expected, strict=True):
        torch.testing.assert_close(p, e, rtol=1e-6, atol=1e-7)
    assert logs["loss"] == pytest.approx(loss.item(), rel=1e-6)


def test_every_micro_batch_starts_from_the_phase_start_buffers_and_the_last_one_is_kept():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(2)
    x = torch.randn(4, 2) * 3 + 1
    opt = torch.optim.SGD(bn.parameters(), lr=0.0)
    seen = []

    def loss_of(m, n):
        seen.append(bn.running_mean.clone())
        return bn(x[m * 2:(m + 1) * 2]).sum(), {}

    Phase(Ranks(), 2, [bn], Holder(), torch.device("cpu")).run(opt, loss_of)
    assert torch.equal(seen[0], torch.zeros(2)) and torch.equal(seen[1], torch.zeros(2))
    torch.testing.assert_close(bn.running_mean, 0.1 * x[2:].mean(dim=0))  # momentum 0.1, last micro-batch


def test_micro_batches_draw_their_own_random_numbers_and_leave_the_global_stream_alone():
    net = nn.Linear(1, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    holder = Holder()
    drawn = {}

    def loss_of(m, n):
        drawn[m] = (torch.rand(3), torch.rand(3, generator=holder.rng))
        return net(torch.ones(1, 1)).sum(), {}

    torch.manual_seed(5)
    Phase(Ranks(), 2, [net], holder, torch.device("cpu")).run(opt, loss_of)
    assert not torch.equal(drawn[0][0], drawn[1][0]) and not torch.equal(drawn[0][1], drawn[1][1])
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))
    assert holder.rng.initial_seed() == 0  # the objective's own stream is back in place


def _gbench(root, *args, **popen):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "bench.cli", "--root", str(root), *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _finished_bytes(root, run):
    folder = run.folder(root) / "train"
    return {name: (folder / name).read_bytes() for name in (CHECKPOINT, "curve.json", "curve_samples.npz")}


MICRO = {"fmnist32": {"train": {"micro_batch": 32, "kimg": 0.192, "checkpoint_every_kimg": 0.064}},
         "ring8": {"train": {"micro_batch": 50, "kimg": 0.6, "checkpoint_every_kimg": 0.2}}}


@pytest.mark.parametrize("run_id", [
    "t/fmnist32/dcgan+sn+diffaug/s0",  # BatchNorm, spectral norm's vectors, DiffAugment's global-stream draws
    "t/ring8/mlp-gan+wgan-gp+ha+noise+r1+lazy/s0",  # penalties, their stream, a lazy R1 phase, history
    "t/fmnist32/cgan/s0",  # class-conditional
    "t/fmnist32/progan/s1",  # growing: lod and the Adam resets
    "t/fmnist32/stylegan2/s0",  # noise inputs, style mixing, tracked w, lazy R1 and path length, EMA
])
def test_two_ranks_equal_one_process_accumulating_the_same_micro_batches(bench_root, run_id):
    run = RunId.parse(run_id)
    settings = {run.dataset: {"train": {**MICRO[run.dataset]["train"]}}}
    if run.variant.startswith("stylegan2"):
        settings[run.dataset]["train"]["micro_batch"] = 16  # of its batch of 32
    write_params(bench_root, **settings)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the ranks run one thread each; CPU kernels may split sums by thread count
    try:
        train(run, bench_root)
    finally:
        torch.set_num_threads(threads)
    alone = _finished_bytes(bench_root, run)
    ranks = _gbench(bench_root, "train", run_id, "--nproc", "2", "--restart")
    out, _ = ranks.communicate(timeout=300)
    assert ranks.returncode == 0, out
    assert "on 2 ranks" in out
    assert _finished_bytes(bench_root, run) == alone


def test_a_killed_rank_stops_the_run_and_a_restart_resumes_to_the_uninterrupted_bytes(bench_root):
    run = RunId.parse("t/fmnist32/dcgan/s0")
    write_params(bench_root, fmnist32={"train": {"micro_batch": 32, "kimg": 0.64, "checkpoint_every_kimg": 0.128}})
    whole = _gbench(bench_root, "train", str(run), "--nproc", "2")
    assert whole.wait(timeout=300) == 0, whole.stdout.read()
    uninterrupted = _finished_bytes(bench_root, run)
    killed = _gbench(bench_root, "train", str(run), "--nproc", "2", "--restart", start_new_session=True)
    checkpoint = resume_dir(bench_root, run) / CHECKPOINT
    before = checkpoint.stat().st_mtime_ns
    deadline = time.monotonic() + 240
    while checkpoint.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.05)
    ranks = subprocess.run(["pgrep", "-f", f"bench.cli --root {bench_root} train {run}"], capture_output=True,
                           text=True).stdout.split()
    children = [int(p) for p in ranks if int(p) != killed.pid]
    assert len(children) == 2, ranks
    os.kill(children[1], signal.SIGKILL)  # one rank dies mid-run: the other must not hang
    out, _ = killed.communicate(timeout=120)
    assert killed.returncode != 0, out
    assert not subprocess.run(["pgrep", "-f", f"train {run}"], capture_output=True).stdout  # nothing left behind
    resumed = _gbench(bench_root, "train", str(run), "--nproc", "2")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resuming" in out
    assert _finished_bytes(bench_root, run) == uninterrupted


def test_ranks_that_cannot_share_the_micro_batches_are_refused_before_any_rank_starts(bench_root):
    write_params(bench_root)
    proc = _gbench(bench_root, "train", "t/fmnist32/dcgan/s0", "--nproc", "2")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "profiles.smoke.fmnist32.train.micro_batch" in out and "set" in out and "32" in out
    write_params(bench_root, fmnist32={"train": {"micro_batch": 24}})
    proc = _gbench(bench_root, "train", "t/fmnist32/dcgan/s0")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "24 does not divide the variant's batch of 64" in out, out
