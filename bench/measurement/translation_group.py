"""Evaluate's `translation` metric group: a translation run's test translations scored against their ground truth,
their input's content and the target class, CycleGAN's cycle error and pix2pix's output diversity
(bench/measurement/metrics/translation.py), plus the input / output / ground-truth grid of the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.data.translation import BOOT, TASKS
from bench.measurement.grids import save_grid
from bench.measurement.metrics import translation as tm
from bench.protocol.resolve import ResolvedRun
from bench.training.snapshots import generate, quantize
from bench.training.tasks import task_of

DIVERSITY_INPUTS, DIVERSITY_DRAWS = 100, 4  # test inputs translated again under new dropout draws
TRANSLATION_GRID = 16  # test inputs shown in translations.png


def translation_metrics(run: ResolvedRun, domain_reference: dict | None, data: dict[str, np.ndarray], saved: dict,
                         g: torch.nn.Module, images: np.ndarray, out: Path, device: torch.device) -> tuple[dict, dict]:
    """Ground truth, content, cycle and diversity metrics of a translation run's N test translations
    (bench/measurement/metrics/translation.py); the classes come from the domain backbone's pass that scored them
    (features_domain.npz). `domain_reference`: the domain reference's arrays (None without that backbone), whose
    pass over the real targets gives the spec their classifier score (the ground-truth row of pix2pix's Table 1).
    translations.png shows inputs, outputs and ground truth (or CycleGAN's reconstruction)."""
    n, task_name, metrics = len(images), run.dataset.task, {}
    truth_text = TASKS[task_name][1] if task_name in TASKS else (  # else a paper's set (paper_translation.py)
        "eval_x is each input's own target, the archive's pair" if run.dataset.paired else "no pairs")
    spec: dict = {"task": task_name, "ground_truth": truth_text, "n": n, "psnr_cap_db": tm.PSNR_CAP,
                  "diversity": f"{DIVERSITY_DRAWS} dropout draws of the first {min(n, DIVERSITY_INPUTS)} test "
                               "inputs (Gs with test-time dropout)"}
    has_truth = run.dataset.paired or task_name == "fmnist-transposed"
    if has_truth:
        truth = data["eval_x"][:n]
        metrics.update(l1_truth=tm.l1(images, truth), psnr_truth=tm.psnr(images, truth),
                       ssim_truth=tm.ssim(images, truth))
    if (out / "features_domain.npz").is_file() and task_name != "fmnist-transposed":  # it knows upright items only
        translated = np.load(out / "features_domain.npz")["probs"].argmax(axis=1)
        # the real targets, as the domain reference classified them: Table 1's ground-truth row
        real, index = domain_reference["probs"].argmax(axis=1), domain_reference["indices"]
        spec["truth_n"] = int(len(index))
        if task_name == "sneaker2boot":
            metrics["target_success_domain"] = float((translated == BOOT).mean())
            spec["truth_target_success_domain"] = float((real == BOOT).mean())
        else:  # paired: a target's class is its input's
            metrics["content_accuracy_domain"] = float((translated == data["eval_a_y"][:n]).mean())
            spec["truth_content_accuracy_domain"] = float((real == data["eval_a_y"][index]).mean())
    task = task_of(run.task)
    torch_inputs = torch.from_numpy(data["eval_a"][:n]).float() / 127.5 - 1.0
    third = data["eval_x"][:TRANSLATION_GRID] if has_truth else None
    if run.variant.recipe.cycle_weight > 0:
        g_ba = task.build_networks(run)[1]
        g_ba.load_state_dict(saved["nets"][1])
        back = quantize(generate(g_ba.eval(), torch.from_numpy(images).float() / 127.5 - 1.0, device))
        metrics["cycle_l1"] = tm.l1(back, data["eval_a"][:n])
        third = third if third is not None else back[:TRANSLATION_GRID]
    spec["grid"] = save_translations(out / "translations.png", data["eval_a"][:TRANSLATION_GRID],
                                     images[:TRANSLATION_GRID], third, "ground truth" if has_truth else
                                     "G_BA(G_AB(input))")
    if getattr(g, "dropout_at_test", False):
        subset = torch_inputs[:DIVERSITY_INPUTS]
        draws = np.stack([quantize(generate(g, subset, device)) for _ in range(DIVERSITY_DRAWS)])
        metrics["diversity_l1"] = tm.diversity(draws)
    return metrics, spec


def save_translations(path: Path, inputs: np.ndarray, outputs: np.ndarray, third: np.ndarray | None,
                      third_name: str) -> str:
    """A grid of groups of rows (up to 8 items a row): inputs, their outputs and, when given, a third row (ground
    truth or reconstruction) under them; returns its caption."""
    width = min(8, len(inputs))
    rows = []
    for start in range(0, len(inputs) - width + 1, width):
        rows += [part[start:start + width] for part in (inputs, outputs, third) if part is not None]
    save_grid(path, np.concatenate(rows), nrow=width)
    named = ["input", "output"] + ([third_name] if third is not None else [])
    return f"rows of {width} test items, repeating: {', '.join(named)}"
