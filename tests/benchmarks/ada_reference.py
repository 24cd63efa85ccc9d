"""Benchmark: our bgc ADA pipeline (bench/training/ada.py) beside NVlabs' own AugmentPipe, on the same draws.

Fetch NVlabs/stylegan2-ada-pytorch (read at commit d72cc7d041b4; its training/augment.py is unchanged since
375a436003d1), then run `python tests/benchmarks/ada_reference.py PATH_TO_THAT_REPO`. Its `torch_utils` imports
as is on a CPU (the custom CUDA ops fall back to their plain PyTorch versions). For every single op and for the
whole bgc pipeline, on RGB and gray batches, at p = 1 and p = 0.3, the global torch RNG is seeded the same for
both; the script prints the largest absolute difference of the outputs and of the gradients w.r.t. the input,
checks that both consumed the same draws, and fails above 2e-5 (float32 rounding of differently ordered
products on unit noise, measured 8e-6). It also prints how far both x-flips are from `torch.flip`.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import torch

from bench.training.ada import BGC_OPS, AdaptiveAugment

TOLERANCE = 2e-5


def load_reference(repo: str):
    sys.path.insert(0, repo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from training.augment import AugmentPipe  # the reference's own module, found through sys.path
    return AugmentPipe


def pipelines(reference_class, ops: tuple[str, ...], p: float) -> tuple[torch.nn.Module, torch.nn.Module]:
    reference = reference_class(**{op: 1 for op in ops})
    reference.p.fill_(p)
    return reference, AdaptiveAugment(p, ops=ops)


def compare(reference_class, ops: tuple[str, ...], shape: tuple[int, ...], p: float, seed: int) -> tuple[float, ...]:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    weights = torch.randn(*shape[1:], generator=torch.Generator().manual_seed(seed + 1))
    outputs, grads, next_draws = [], [], []
    for module in pipelines(reference_class, ops, p):
        torch.manual_seed(seed)
        leaf = x.clone().requires_grad_(True)
        out = module(leaf)
        (grad,) = torch.autograd.grad((out * weights).sum(), leaf)
        outputs.append(out.detach())
        grads.append(grad)
        next_draws.append(torch.rand(4))
    same_draws = float(torch.equal(*next_draws))
    return (outputs[0] - outputs[1]).abs().max().item(), (grads[0] - grads[1]).abs().max().item(), same_draws


def flip_distance(reference_class) -> tuple[float, float]:
    """RMS distance from torch.flip of each pipeline's x-flip, on unit noise (both at p = 1, the flipped half)."""
    x = torch.randn(64, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    rms = []
    for module in pipelines(reference_class, ("xflip",), 1.0):
        torch.manual_seed(0)
        out = module(x)
        flipped = (out - x).flatten(1).abs().amax(dim=1) > 1e-3
        rms.append((out[flipped] - torch.flip(x[flipped], dims=[3])).square().mean().sqrt().item())
    return rms[0], rms[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="path of a checkout of NVlabs/stylegan2-ada-pytorch")
    args = parser.parse_args()
    reference_class, worst, all_same = load_reference(args.reference), 0.0, True
    print(f"{'ops':<12} {'shape':<12} {'p':>4} {'max |out diff|':>14} {'max |grad diff|':>15} {'same draws':>10}")
    for ops in [(op,) for op in BGC_OPS] + [BGC_OPS]:
        for shape in ((16, 3, 32, 32), (16, 1, 32, 32)):
            for p in (1.0, 0.3):
                results = [compare(reference_class, ops, shape, p, seed) for seed in range(3)]
                out, grad = max(r[0] for r in results), max(r[1] for r in results)
                same = all(r[2] for r in results)
                worst, all_same = max(worst, out, grad), all_same and same
                name = ops[0] if len(ops) == 1 else "bgc"
                print(f"{name:<12} {'x'.join(map(str, shape)):<12} {p:>4} {out:>14.3g} {grad:>15.3g} {str(same):>10}")
    reference_rms, our_rms = flip_distance(reference_class)
    print(f"x-flip vs torch.flip on unit noise, RMS: reference {reference_rms:.4f}, ours {our_rms:.4f}")
    print(f"largest difference: {worst:.3g} (tolerance {TOLERANCE:g}); same draws everywhere: {all_same}")
    return 0 if worst <= TOLERANCE and all_same else 1


if __name__ == "__main__":
    sys.exit(main())
