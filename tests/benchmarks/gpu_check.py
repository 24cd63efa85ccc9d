"""The CUDA path, as one prepared script for a lent GPU machine: `make gpu-check`.

In a scratch results root (the repository's params.yaml and studies, plus a study of its own), it runs the stages
`dvc repro` would run, in this process (the DDP ranks as `gbench train --nproc` processes), and prints what each
took and measured:

1. the machine: torch, CUDA, the device, and the TF32/AMP settings (the harness never turns TF32 or AMP on;
   the check records that they are off);
2. a smoke run of each task kind (unconditional DCGAN, class-conditional cGAN): prepare, classifier,
   reference, train, evaluate on the device; images/s from cost.json and the metrics;
3. the DDP path: `gbench train --nproc N` with `micro_batch` on N ranks (NCCL, one GPU each, when the machine
   has two or more; else two gloo ranks on the CPU, which checks the path but not NCCL), and the checkpoint
   bytes against one process accumulating the same micro-batches;
4. (not with --dry) the standard profile on fmnist32 for two classic variants (DCGAN, SN-GAN) with a
   wall-clock budget (`--seconds` each, budget_unit device_seconds), then FID/KID/P/R on 10k samples.

`--dry` runs 2 and 3 on the CPU at the smoke profile, where needing no classifier or Inception pass (the 2-D
ring for the unconditional kind and the ranks, cGAN trained but not scored): the test suite runs it.
Every check prints a JSON line; the last line is a summary with `ok`. Exit 0 only if every check passed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
STUDY = "gpu-check"


def scratch_root(dest: Path, profile: str, datasets: dict, settings: dict, device: str) -> Path:
    """A results root in `dest`: the repository's params.yaml (profile and device set, `settings` merged into
    the profile's dataset blocks) and studies, plus a study of the check's own runs. The code is the
    repository's own."""
    (dest / "pipelines").mkdir(parents=True, exist_ok=True)
    from bench.protocol.studies import study_paths

    for path in study_paths(REPO):
        shutil.copy(path, dest / "pipelines" / path.name)
    (dest / "pipelines" / f"{STUDY}.yaml").write_text(yaml.safe_dump({STUDY: {"datasets": datasets, "seeds": [0]}}))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(profile=profile, device=device)
    for dataset, stages in settings.items():
        for stage, values in stages.items():
            params["profiles"][profile][dataset][stage].update(values)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def timed(fn, *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def gbench(root: Path, *args: str, env: dict | None = None) -> float:
    """A `gbench` process (the DDP launcher starts its ranks as processes), timed."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.cli", "--root", str(root), *args], cwd=root,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"gbench {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def report(check: str, **values) -> dict:
    line = {"check": check, **values}
    print(json.dumps(line, sort_keys=True), flush=True)
    return line


def machine(device: str) -> dict:
    import torch

    cuda = device.startswith("cuda")
    return report("machine", torch=torch.__version__, device=device,
                  device_name=torch.cuda.get_device_name(0) if cuda else "cpu",
                  gpus=torch.cuda.device_count() if cuda else 0,
                  tf32_matmul=torch.backends.cuda.matmul.allow_tf32, tf32_cudnn=torch.backends.cudnn.allow_tf32,
                  amp="off (no recipe asks for it)", ok=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def stage_inputs(root: Path, backbones: list[str], device: str) -> dict:
    """Prepare ring8 and fmnist32; with `backbones`, fmnist32's classifier and reference arrays too."""
    from bench.data.datasets import prepare
    from bench.measurement.classifier import build_classifier
    from bench.measurement.reference import build_reference

    seconds = {"prepare": timed(prepare, "fmnist32", root) + timed(prepare, "ring8", root)}
    if backbones:
        seconds["classifier"] = timed(build_classifier, "fmnist32", root, device=device)
    for backbone in backbones:
        seconds[f"reference-{backbone}"] = timed(build_reference, "fmnist32", root, backbone, device)
    return report("data", seconds=seconds, ok=True)


def train_and_score(root: Path, run: str, check: str, score: bool = True, **extra) -> dict:
    from bench.measurement.evaluate import evaluate
    from bench.protocol.runs import RunId
    from bench.training.loop import train

    run_id = RunId.parse(run)
    train_s = timed(train, run_id, root)
    eval_s = timed(evaluate, run_id, root) if score else None
    folder = root / "results" / run
    cost = json.loads((folder / "train" / "cost.json").read_text())
    metrics = json.loads((folder / "eval" / "metrics.json").read_text())["metrics"] if score else {}
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return report(check, run=run, kimg=cost["kimg"], img_per_s=cost["img_per_s"], device=cost["device"],
                  device_name=cost["device_name"], train_s=cost["train_s"], train_stage_s=train_s,
                  evaluate_stage_s=eval_s, gflop=cost["flops_total"] / 1e9, metrics=scalars,
                  ok=bool(scalars) or not score, **extra)


def ddp(root: Path, run: str, device: str, gpus: int) -> dict:
    """N ranks x 1 micro-batch against 1 process x N micro-batches: the same checkpoint bytes."""
    import torch

    from bench.protocol.runs import RunId
    from bench.training.loop import train

    nccl = device.startswith("cuda") and gpus >= 2
    ranks, on = (gpus, device) if nccl else (2, "cpu")
    checkpoint = root / "results" / run / "train" / "checkpoint.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each CPU rank: kernels split their sums by thread count
    try:
        alone_s = timed(train, RunId.parse(run), root, on, restart=True)
    finally:
        torch.set_num_threads(threads)
    alone = _sha(checkpoint)
    ranks_s = gbench(root, "train", run, "--device", on, "--nproc", str(ranks), "--restart",
                     env={"OMP_NUM_THREADS": "1"})
    together = _sha(checkpoint)
    cost = json.loads((root / "results" / run / "train" / "cost.json").read_text())
    return report("ddp", backend="nccl" if nccl else "gloo", ranks=ranks, device=on, one_process_s=alone_s,
                  ranks_stage_s=ranks_s, img_per_s=cost["img_per_s"], nproc=cost["nproc"],
                  checkpoint_one_process=alone, checkpoint_ranks=together, identical=alone == together,
                  note=None if nccl else f"{gpus} GPU(s): NCCL needs two or more; checked on the CPU with gloo",
                  ok=alone == together)


def standard(dest: Path, seconds: float, device: str) -> list[dict]:
    """DCGAN and SN-GAN on fmnist32 at the standard profile for `seconds` of training each, then scored."""
    root = scratch_root(dest, "standard", {"fmnist32": ["dcgan", "sngan"]},
                        {"fmnist32": {"train": {"budget_unit": "device_seconds", "device_seconds": seconds}}}, device)
    stage_inputs(root, ["inception", "domain"], device)
    return [train_and_score(root, f"{STUDY}/fmnist32/{variant}/s0", f"standard {variant}")
            for variant in ("dcgan", "sngan")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry", action="store_true", help="CPU, smoke profile, domain backbone: seconds")
    parser.add_argument("--seconds", type=float, default=120.0, help="training seconds per standard-profile run")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it (default: a temp folder)")
    args = parser.parse_args(argv)
    import torch

    device = "cpu" if args.dry or not torch.cuda.is_available() else "cuda"
    work = args.keep or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    # The dry run keeps to what needs no classifier or Inception pass (the test suite's time): DCGAN on the
    # 2-D ring instead of fmnist32 for the unconditional kind and the ranks, and cGAN trained but not scored.
    smoke = {"fmnist32": {"train": {"micro_batch": 32}}, "ring8": {"train": {"micro_batch": 50, "kimg": 0.5}}}
    unconditional = "ring8/mlp-gan" if args.dry else "fmnist32/dcgan"
    results = [machine(device)]
    try:
        root = scratch_root(work / "smoke", "smoke", {"fmnist32": ["dcgan", "cgan"], "ring8": ["mlp-gan"]}, smoke,
                            device)
        results.append(stage_inputs(root, [] if args.dry else ["inception", "domain"], device))
        results.append(train_and_score(root, f"{STUDY}/{unconditional}/s0", "task-kind unconditional"))
        results.append(train_and_score(root, f"{STUDY}/fmnist32/cgan/s0", "task-kind class-conditional",
                                       score=not args.dry))
        results.append(ddp(root, f"{STUDY}/{unconditional}/s0", device, results[0]["gpus"]))
        if not args.dry:
            results += standard(work / "standard", args.seconds, device)
    except RuntimeError as exc:
        results.append(report("failed", error=str(exc)[-4000:], ok=False))
    ok = all(r["ok"] for r in results)
    report("summary", checks=len(results), failed=[r["check"] for r in results if not r["ok"]], work=str(work), ok=ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
