"""Benchmark: our one-pass evaluation vs clean-fid's own code paths, on the same N images.

(a) ours: one Inception pass per image set (gray images resized once), then FID (exact fast form),
    KID, precision/recall (k=3) and density/coverage (k=5) all from those features. Reported twice:
    with the reference pass (a-full) and with the reference cached, as the pipeline's reference
    stage makes it (a-cached).
(b) clean-fid as its README shows, offline: `compute_fid(gen_dir, ref_dir, custom_feat_extractor=...)`
    (a pass over both folders, scipy sqrtm), KID through `get_folder_features` on both folders and
    `kernel_distance` (`compute_kid` takes no custom extractor and would download), then a separate
    feature pass for P/R/D/C with the `prdc` package (k=3 for P/R, k=5 for D/C).
Both use the same TF-Inception weights; the script also checks that the numbers agree.

Run from the repository root: `python tests/benchmarks/metric_paths.py [--n 256]` (Fashion-MNIST:
train images stand in for generated ones, eval images are the reference). Prints timings, the
(b)/(a) ratios, features in img/s and as a fraction of this CPU's FP32 peak.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.data.fashion_mnist import fmnist_source_dir, load_fmnist_source
from bench.data.idx import pad_to_32
from bench.measurement.inception import InceptionFeatures
from bench.measurement.scoring import MetricSettings, score_features


def write_pngs(images: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image[0]).save(folder / f"{i:06d}.png")


def fp32_peak_gflops() -> tuple[float, str]:
    """cores x clock x FP32 FLOPs per cycle (2 FMA units: 32 with AVX2, 64 with AVX-512)."""
    info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    flags = next((line for line in info.splitlines() if line.startswith("Flags")), "")
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags and "fma" in flags else 8
    mhz = max(float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
              if line.startswith("cpu MHz"))
    cores = torch.get_num_threads()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if "Model name" in line), "?")
    return cores * mhz / 1000 * per_cycle, f"{model}, {cores} cores x {mhz:.0f} MHz x {per_cycle} FLOP/cycle"


def inception_gflop_per_image(net: InceptionFeatures) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        net.features_of_resized(torch.zeros(1, 3, 299, 299))
    return counter.get_total_flops() / 1e9


def ours(net: InceptionFeatures, gen: np.ndarray, ref: np.ndarray) -> tuple[dict, dict]:
    times = {}
    start = time.perf_counter()
    f_ref = net(ref)
    times["reference pass"] = time.perf_counter() - start
    start = time.perf_counter()
    f_gen = net(gen)
    times["generated pass"] = time.perf_counter() - start
    start = time.perf_counter()
    metrics, _ = score_features("inception", {"features": f_gen}, {"features": f_ref},
                                MetricSettings(which=("fid", "kid", "pr", "dc")))
    times["metrics"] = time.perf_counter() - start
    return metrics, times


def cleanfid_paths(net: InceptionFeatures, gen_dir: Path, ref_dir: Path, batch: int) -> tuple[dict, dict]:
    from cleanfid import fid
    from prdc import compute_prdc

    def extractor(x: torch.Tensor) -> torch.Tensor:
        return net.features_of_resized(x)

    common = {"num_workers": 0, "batch_size": batch, "device": torch.device("cpu"), "verbose": False}
    times = {}
    start = time.perf_counter()
    value = fid.compute_fid(str(gen_dir), str(ref_dir), mode="clean", custom_feat_extractor=extractor, **common)
    times["compute_fid (2 passes + sqrtm)"] = time.perf_counter() - start
    start = time.perf_counter()
    g = fid.get_folder_features(str(gen_dir), model=extractor, mode="clean", **common)
    r = fid.get_folder_features(str(ref_dir), model=extractor, mode="clean", **common)
    np.random.seed(0)
    kid = fid.kernel_distance(g, r, num_subsets=100, max_subset_size=1000)
    times["KID (2 passes + kernel_distance)"] = time.perf_counter() - start
    start = time.perf_counter()
    g = fid.get_folder_features(str(gen_dir), model=extractor, mode="clean", **common)
    r = fid.get_folder_features(str(ref_dir), model=extractor, mode="clean", **common)
    pr, dc = compute_prdc(r, g, nearest_k=3), compute_prdc(r, g, nearest_k=5)
    times["P/R/D/C (2 passes + prdc)"] = time.perf_counter() - start
    metrics = {"fid": value, "kid": kid, "precision": pr["precision"], "recall": pr["recall"],
               "density": dc["density"], "coverage": dc["coverage"]}
    return metrics, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="images per set")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    raw = load_fmnist_source(fmnist_source_dir())
    gen, ref = pad_to_32(raw["train_x"][: args.n]), pad_to_32(raw["eval_x"][: args.n])
    net = InceptionFeatures(batch=args.batch)
    print(f"N = {args.n} generated + {args.n} reference images (Fashion-MNIST 32x32, grayscale); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")

    ours_metrics, ours_times = ours(net, gen, ref)
    with tempfile.TemporaryDirectory() as tmp:
        gen_dir, ref_dir = Path(tmp) / "gen", Path(tmp) / "ref"
        write_pngs(gen, gen_dir)
        write_pngs(ref, ref_dir)
        their_metrics, their_times = cleanfid_paths(net, gen_dir, ref_dir, args.batch)

    total_ours = sum(ours_times.values())
    cached = total_ours - ours_times["reference pass"]
    total_theirs = sum(their_times.values())
    for name, times, total in (("(a) ours", ours_times, total_ours),
                               ("(b) clean-fid paths", their_times, total_theirs)):
        print(f"\n{name}: {total:.1f} s")
        for step, seconds in times.items():
            print(f"  {step:<36} {seconds:8.1f} s")
    print(f"\n(b) / (a-full)   = {total_theirs / total_ours:.2f}x  (ours including the reference pass)")
    print(f"(b) / (a-cached) = {total_theirs / cached:.2f}x  (reference cached by the reference stage)")

    rate = args.n / ours_times["generated pass"]
    gflop = inception_gflop_per_image(net)
    peak, how = fp32_peak_gflops()
    print(f"\nfeatures: {rate:.2f} img/s incl. clean resize; network {gflop:.2f} GFLOP/img -> "
          f"{rate * gflop:.1f} GFLOP/s = {rate * gflop / peak:.1%} of FP32 peak {peak:.0f} GFLOP/s ({how})")
    print("\nagreement (ours vs clean-fid/prdc):")
    for key, theirs in their_metrics.items():
        mine = ours_metrics[key]
        print(f"  {key:<10} ours {mine:.6g}  theirs {theirs:.6g}  rel diff {abs(mine - theirs) / abs(theirs):.2e}")


if __name__ == "__main__":
    main()
