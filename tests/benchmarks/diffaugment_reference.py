"""Benchmark: our DiffAugment beside the authors' function, on the same draws.

Fetch mit-han-lab/data-efficient-gans (its `DiffAugment_pytorch.py` at the top level), then run
`python tests/benchmarks/diffaugment_reference.py PATH/DiffAugment_pytorch.py`. For every policy, on RGB
and gray batches, the global torch RNG is seeded the same for both functions; the script prints the
largest absolute difference of the outputs and of the gradients w.r.t. the input, and fails above 1e-6.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

import torch

from bench.training.augment import diff_augment

POLICIES = ("color", "translation", "cutout", "color,translation,cutout", "translation,cutout")


def load_reference(path: str):
    spec = importlib.util.spec_from_file_location("diffaugment_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DiffAugment


def compare(reference, policy: str, shape: tuple[int, ...], seed: int) -> tuple[float, float]:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    weights = torch.randn(*shape[1:], generator=torch.Generator().manual_seed(seed + 1))
    outputs, grads = [], []
    for fn in (lambda t: reference(t, policy=policy), lambda t: diff_augment(t, policy)):
        torch.manual_seed(seed)
        leaf = x.clone().requires_grad_(True)
        out = fn(leaf)
        (grad,) = torch.autograd.grad((out * weights).sum(), leaf)
        outputs.append(out.detach())
        grads.append(grad)
    return (outputs[0] - outputs[1]).abs().max().item(), (grads[0] - grads[1]).abs().max().item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="path of the authors' DiffAugment_pytorch.py")
    args = parser.parse_args()
    reference, worst = load_reference(args.reference), 0.0
    print(f"{'policy':<28} {'shape':<16} {'max |out diff|':>14} {'max |grad diff|':>15}")
    for policy in POLICIES:
        for shape in ((64, 3, 32, 32), (64, 1, 32, 32), (16, 3, 64, 64)):
            for seed in range(3):
                out, grad = compare(reference, policy, shape, seed)
                worst = max(worst, out, grad)
            print(f"{policy:<28} {'x'.join(map(str, shape)):<16} {out:>14.3g} {grad:>15.3g}")
    print(f"largest difference over {len(POLICIES) * 3 * 3} comparisons: {worst:.3g}")
    return 0 if worst <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
