"""The evaluate stage: N samples from a finished run -> one feature pass per backbone -> every metric.

Images are quantised to uint8 as NVlabs does (x * 127.5 + 128, clamped, truncated) before any
backbone sees them; each backbone's arrays are saved beside metrics.json so a new metric never needs
another pass. The quality-vs-kimg curve scores the samples the train stage kept at each curve point
(on the cheap `domain` backbone for images; the mode metrics for 2-D sets).
"""

from __future__ import annotations

import importlib.metadata
import json
import math
from pathlib import Path

import numpy as np
import torch

from bench.data.datasets import load_prepared
from bench.data.datasets import spec as dataset_spec
from bench.measurement import catalog, protocols
from bench.measurement.grids import save_grid
from bench.measurement.health import PAIRS_N, assess
from bench.measurement.inception_head import available_head
from bench.measurement.metrics.conditional import intra_class_fid, requested_class_accuracy
from bench.measurement.metrics.memorization import closest_to_training
from bench.measurement.metrics.modes import mode_metrics
from bench.measurement.reference import load_reference, save_npz
from bench.measurement.scoring import MetricSettings, score_features
from bench.protocol.errors import ConfigError, ResultsError
from bench.protocol.io import atomic_write, read_json, remove_partial_writes, write_json
from bench.protocol.resolve import Protocol, ResolvedRun, resolve
from bench.protocol.runs import RunId
from bench.protocol.seeding import generator, resolve_device, stream_seed
from bench.training.checkpoint import finished_checkpoint
from bench.training.snapshots import generate, load_snapshots, quantize
from bench.training.tasks import run_stage, task_of
from bench.training.tasks.generation import requested_labels

CURVE_BACKBONE = "domain"


def library_versions() -> dict[str, str]:
    names = ["torch", "torchvision", "clean-fid", "numpy", "scipy", "pillow"]
    return {name: importlib.metadata.version(name) for name in names}


INTRA_PER_CLASS = 200  # samples per class for the conditional metrics (domain backbone only: cheap)
TRUNCATION_N = 2000  # samples per point of the truncation curve (domain backbone), unless evaluate.truncation_n
EQUIVARIANCE_N = 128  # latents (each with its own random shift) of EQ-T and EQ-T_frac


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


class StageInputs:
    """What the runs of one evaluate stage score against, each loaded once per stage rather than once per use:
    the backbone networks (Inception's weights are read and sha256-checked when built) and the reference
    arrays (the domain reference holds every train image's features). Made for one stage's runs, so a later
    stage in the same process never sees stale files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._nets: dict[tuple, object] = {}
        self._references: dict[tuple, tuple[dict, dict]] = {}

    def backbone(self, name: str, dataset: str, device: torch.device, batch: int = 16):
        from bench.measurement.backbones import BackboneSet

        key = (name, dataset, str(device), batch if name == "inception" else max(batch, 256))  # as BackboneSet
        if key not in self._nets:
            self._nets[key] = BackboneSet(name, self.root, dataset, device=str(device), batch=batch)
        return self._nets[key]

    def reference(self, dataset: str, name: str) -> tuple[dict[str, np.ndarray], dict]:
        """The `name` reference that scores `dataset`: that of its `reference_dataset` (a subset's parent)."""
        dataset = dataset_spec(dataset).reference_dataset
        if (dataset, name) not in self._references:
            self._references[dataset, name] = load_reference(self.root, dataset, name)
        return self._references[dataset, name]


def _image_metrics(run: ResolvedRun, inputs: StageInputs, images: np.ndarray, device: torch.device,
                   out: Path) -> tuple[dict, dict, dict]:
    settings, dataset = run.evaluate, run.run.dataset
    available = run.reference_backbones
    backbones = [b for b in settings.get("backbones", available) if b in available]
    if not backbones:
        raise ConfigError(f"params.yaml: {run.run}: the study's evaluate.backbones {settings.get('backbones')} has "
                          f"none of the backbones whose references {dataset} computes ({list(available)}); add "
                          f"them to profiles.{run.profile}.{dataset}.evaluate.backbones")
    kid_seed = stream_seed(run.run.seed, "kid-subsets") % 2**32  # numpy legacy seeds are 32-bit
    metric_settings = MetricSettings(kid_subsets=settings.get("kid_subsets", 100),
                                     kid_subset_size=settings.get("kid_subset_size", 1000), kid_seed=kid_seed)
    head, head_missing = available_head() if "inception" in backbones else (None, None)
    metrics, specs, nets = {}, {}, {}
    for name in backbones:
        net = inputs.backbone(name, dataset, device, settings.get("batch", 16))
        nets[name] = net
        arrays = net(images, progress=True)
        save_npz(out / f"features_{name}.npz", **arrays)
        ref, ref_spec = inputs.reference(dataset, name)
        reference = run.dataset.reference_dataset  # a subset is scored against its parent's reference
        if ref_spec.get("weights_sha256") != net.spec().get("weights_sha256"):
            raise RuntimeError(f"the {name} reference of {reference} was computed with other weights; "
                               f"re-run `gbench reference {reference} --backbone {name}` (or `dvc repro`)")
        values, how = score_features(name, arrays, ref, metric_settings, head=head, head_missing=head_missing,
                                     reference_hist=ref.get("train_class_hist"))
        metrics.update(values)
        specs[name] = {**net.spec(), **how,
                       "reference": {"dataset": reference, "split": ref_spec["split"], "n_ref": ref_spec["n_ref"],
                                     "split_size": ref_spec.get("split_size")}}
        specs[name]["protocols"] = protocols.of_spec(specs[name], len(images))
    curve = _image_curve(run, inputs, nets.get(CURVE_BACKBONE), metric_settings)
    return metrics, specs, curve


def _image_curve(run: ResolvedRun, inputs: StageInputs, net, metric_settings: MetricSettings) -> dict:
    dataset = run.run.dataset
    if net is None:
        return {"metric": None, "reason": f"the {CURVE_BACKBONE} backbone is not evaluated on {dataset}",
                "points": []}
    kimg, snapshots = load_snapshots(run.run.folder(inputs.root) / "train")
    ref, _ = inputs.reference(dataset, CURVE_BACKBONE)
    settings = MetricSettings(which=("fid",), kid_seed=metric_settings.kid_seed)
    points = []
    for k, samples in zip(kimg, snapshots, strict=True):
        values, _ = score_features(CURVE_BACKBONE, net(samples), ref, settings,
                                   reference_hist=ref.get("train_class_hist"))
        points.append({"kimg": float(k), **values})
    return {"metric": f"fid_{CURVE_BACKBONE}", "backbone": CURVE_BACKBONE, "n": int(snapshots.shape[1]),
            "reference": "eval split (descriptive only: no checkpoint is selected from this curve)",
            "points": points}


def _domain_or_reason(run: ResolvedRun, inputs: StageInputs, device: torch.device):
    """The domain backbone and its reference, or None and why the dataset has none."""
    if "domain" not in run.reference_backbones:
        return None, None, f"the active profile does not evaluate {run.run.dataset} on the domain backbone"
    ref, _ = inputs.reference(run.run.dataset, "domain")
    return inputs.backbone("domain", run.run.dataset, device), ref, None


def _conditional_metrics(run: ResolvedRun, inputs: StageInputs, g: torch.nn.Module,
                         device: torch.device) -> tuple[dict, dict]:
    """Intra-class FID and requested-class accuracy on the domain backbone, from INTRA_PER_CLASS
    samples per class (their own latents, so the main N samples stay those of every other variant)."""
    n_classes = run.n_classes
    net, ref, reason = _domain_or_reason(run, inputs, device)
    if net is None:
        return {"intra_fid_domain": None, "class_accuracy_domain": None}, {"available": False, "reason": reason}
    labels = requested_labels(INTRA_PER_CLASS * n_classes, n_classes)
    latents = torch.randn(len(labels), run.variant.z_dim, generator=generator(run.run.seed, "eval-class-latents"))
    arrays = net(quantize(generate(g, latents, device, labels)))
    split = inputs.reference(run.run.dataset, "domain")[1]["split"]  # the protocol's reference split
    ref_labels = load_prepared(run.dataset.reference_dataset, inputs.root)[f"{split}_y"][ref["indices"]]
    mean, per_class = intra_class_fid(arrays["features"], labels.numpy(), ref["features"], ref_labels, n_classes)
    accuracy = requested_class_accuracy(arrays["probs"], labels.numpy())
    spec = {"available": True, "backbone": "domain", "n_per_class": INTRA_PER_CLASS,
            "n_ref_per_class": [int((ref_labels == c).sum()) for c in range(n_classes)],
            "intra_fid_per_class": per_class,
            "intra_fid": "mean over classes of FID(samples asked for class c, reference images of class c)",
            "class_accuracy": "share of samples the domain classifier assigns to their requested class",
            "latents": "seed stream 'eval-class-latents'"}
    return {"intra_fid_domain": mean, "class_accuracy_domain": accuracy}, spec


def _truncation_curve(run: ResolvedRun, inputs: StageInputs, g: torch.nn.Module, device: torch.device) -> dict:
    """FID and IS (domain backbone) of samples with z truncated at each tau, and untruncated (tau None)."""
    from bench.measurement.truncation import TAUS, truncated_normal

    net, ref, reason = _domain_or_reason(run, inputs, device)
    if net is None:
        return {"run": str(run.run), "available": False, "reason": reason, "points": []}
    n = run.evaluate.get("truncation_n", TRUNCATION_N)
    labels = requested_labels(n, run.n_classes)
    settings = MetricSettings(which=("fid", "is"))
    points = []
    for tau in (*TAUS, None):
        z = truncated_normal(n, run.variant.z_dim, tau, generator(run.run.seed, "truncation"))
        arrays = net(quantize(generate(g, z, device, labels)))
        values, _ = score_features("domain", arrays, ref, settings)
        point = {"tau": tau, "fid_domain": values["fid_domain"], "is_domain": values["is_domain"]}
        if labels is not None:
            point["class_accuracy_domain"] = requested_class_accuracy(arrays["probs"], labels.numpy())
        points.append(point)
    return {"run": str(run.run), "available": True, "backbone": "domain", "n": n,
            "sampling": "z ~ N(0, I) with every |z_i| > tau resampled (bench/measurement/truncation.py); tau null: "
                        "untruncated",
            "points": points}


def _equivariance(run: ResolvedRun, g: torch.nn.Module) -> tuple[dict, dict]:
    """EQ-T and EQ-T_frac (Karras et al. 2021, PSNR in dB, higher = more translation-equivariant), on CPU."""
    from bench.measurement.metrics.equivariance import MAX_SHIFT, eq_t

    g = g.cpu()
    seed = run.run.seed
    values = {"eq_t": eq_t(g, EQUIVARIANCE_N, generator(seed, "eq-t")),
              "eq_t_frac": eq_t(g, EQUIVARIANCE_N, generator(seed, "eq-t-frac"), fractional=True)}
    spec = {"n": EQUIVARIANCE_N, "max_shift": f"{MAX_SHIFT} x image size per axis, one shift per latent",
            "eq_t": "integer shifts; PSNR (peak 2) of the MSE pooled over samples, borders masked",
            "eq_t_frac": "sub-pixel shifts, reference translated with Lanczos-3 (bench/measurement/metrics/"
                         "equivariance.py)",
            "noise": "the same noise maps in the shifted and the unshifted pass"}
    return values, spec


def _point_curve(run: ResolvedRun, root: Path, modes: np.ndarray, sigma: float) -> dict:
    kimg, snapshots = load_snapshots(run.run.folder(root) / "train")
    points = [{"kimg": float(k), **mode_metrics(s, modes, sigma)} for k, s in zip(kimg, snapshots, strict=True)]
    return {"metric": "modes_covered", "backbone": "points", "n": int(snapshots.shape[1]), "points": points}


def _void_previous_result(out: Path) -> None:
    """metrics.json is written last and says the folder holds one complete evaluation: a new evaluation removes
    it first (as DVC removes a stage's outputs), so a killed one never leaves new files beside old metrics, and
    it sweeps up what a killed one left half-written."""
    (out / "metrics.json").unlink(missing_ok=True)
    if out.is_dir():
        remove_partial_writes(out)


def evaluate(run_id: RunId, root: Path, device_name: str | None = None, protocol: Protocol | None = None,
             inputs: StageInputs | None = None) -> Path:
    """Score one finished run into results/<run>/eval/ (its checkpoint must belong to this run's config). A run
    that diverged gets no metrics: its record says where and why, with the samples and the quality curve of
    the training before that point. `inputs`: the backbones and references of the stage's earlier runs on the
    same device, to reuse."""
    run = resolve(run_id, root, protocol)
    task = task_of(run.task)
    device = resolve_device(device_name or run.device)
    if inputs is None or inputs.root != root:
        inputs = StageInputs(root)
    stage = run_stage(run, root, task.evaluated_stage)  # the train stage's checkpoint, or a later stage's
    saved = finished_checkpoint(run_id.folder(root) / stage.name, stage.config_hash)
    diverged = json.loads(saved["state"]).get("diverged")
    g = task.evaluated_module(run, saved)
    out = run_id.folder(root) / "eval"
    _void_previous_result(out)
    n, data = run.evaluate["n_gen"], load_prepared(run_id.dataset, root)
    spec = {"n_gen": n, "config_hash": run.config_hash, "profile": run.profile, "libraries": library_versions(),
            "device": device.type, "kind": run.dataset.kind}
    if diverged is None:
        torch.manual_seed(stream_seed(run_id.seed, "eval-noise"))  # generators that draw noise (StyleGAN) draw it here
        samples, how = task.evaluation_samples(run, g, n, device, data)
        spec.update(how)
        if not torch.isfinite(samples).all():
            progress = json.loads(saved["state"])
            diverged = {"kimg": progress["images"] / 1000, "step": progress["step"],
                        "reason": "the generator's samples are not finite"}
    if diverged is not None:
        return _record_divergence(run, inputs, out, diverged, spec, device)

    if run.dataset.kind == "images":
        images = quantize(samples)
        save_grid(out / "samples.png", images)
        metrics, spec["backbones"], curve = _image_metrics(run, inputs, images, device, out)
    else:
        points = samples.numpy()
        save_scatter(out / "samples.png", points[:2500], data["modes"])
        metrics = mode_metrics(points, data["modes"], float(data["sigma"]))
        spec["backbones"] = {"points": {
            "backbone": "points", "high_quality_threshold": "3 sigma (strict <)",
            "reverse_kl": "KL(mode histogram of high-quality samples || uniform)"}}
        curve = _point_curve(run, root, data["modes"], float(data["sigma"]))
    for group in task.metric_groups(run, g):
        if group == "conditional":
            conditional, spec["conditional"] = _conditional_metrics(run, inputs, g, device)
            metrics.update(conditional)
        elif group == "truncation":
            write_json(out / "truncation.json", _truncation_curve(run, inputs, g, device))
        elif group == "equivariance":
            equivariance, spec["equivariance"] = _equivariance(run, g)
            metrics.update(equivariance)
        elif group == "translation":
            from bench.measurement.translation_group import translation_metrics

            domain = inputs.reference(run_id.dataset, "domain")[0] if "domain" in spec["backbones"] else None
            translated, spec["translation"] = translation_metrics(run, domain, data, saved, g, images, out, device)
            metrics.update(translated)
        elif group == "tokenizer":
            from bench.measurement.tokenizer_group import tokenizer_metrics

            backbones = {name: inputs.backbone(name, run_id.dataset, device, run.evaluate.get("batch", 16))
                         for name in spec["backbones"]}
            references = {name: inputs.reference(run_id.dataset, name)[0] for name in spec["backbones"]}
            tokenized, spec["tokenizer"] = tokenizer_metrics(run, g.autoencoder, data["eval_x"], backbones,
                                                             references, n, out, device)
            metrics.update(tokenized, sample_ms_per_image=spec["sampling"].pop("ms_per_image"))
        else:
            raise ValueError(f"task kind {run.task!r} asks for metric group {group!r}, which evaluate does not know")

    real = data.get("eval_x", data["train_x"])[:PAIRS_N]
    generated = images if run.dataset.kind == "images" else points
    coverage = [p["modes_covered"] for p in curve["points"]] if run.dataset.kind == "points" else None
    health = assess(_train_curve(run_id, root), None, metrics, run.dataset.kind, generated, real, coverage)
    if run.dataset.kind == "images" and "domain" in spec["backbones"]:
        own = run.dataset.reference_dataset == run_id.dataset  # else a subset's parent holds the training images
        spec["nearest"] = _nearest_grid(run, inputs, images, out, data if own else None)
    write_json(out / "curve.json", {"run": str(run_id), **curve})
    write_json(out / "metrics.json", {"run": str(run_id), "dataset": run_id.dataset, "variant": run_id.variant,
                                      "study": run_id.study, "seed": run_id.seed,
                                      "metrics": finite_metrics(run_id, metrics, spec), "health": health,
                                      "spec": spec})
    return out


def _train_curve(run_id: RunId, root: Path) -> list[dict]:
    """The train stage's curve points (losses and health signals)."""
    return read_json(run_id.folder(root) / "train" / "curve.json")["points"]


NEAREST_K = 16  # pairs in the nearest-neighbour grid


def _nearest_grid(run: ResolvedRun, inputs: StageInputs, images: np.ndarray, out: Path,
                  data: dict[str, np.ndarray] | None) -> dict:
    """nearest.png: the NEAREST_K samples closest to the training set in domain features, each beside its nearest
    training image (the reference's train images: a subset is scored against its parent's, loaded here; `data`:
    the reference dataset's arrays when already loaded), nearest first."""
    ref, _ = inputs.reference(run.run.dataset, "domain")
    if "train_features" not in ref:
        return {"available": False, "reason": "the domain reference keeps no train features (it is the train split)"}
    features = np.load(out / "features_domain.npz")["features"]
    order, nearest, distance = closest_to_training(features, ref["train_features"], NEAREST_K)
    train = (data if data is not None else load_prepared(run.dataset.reference_dataset, inputs.root))["train_x"]
    pairs = np.stack([images[order], train[nearest]], axis=1).reshape(-1, *images.shape[1:])
    save_grid(out / "nearest.png", pairs, nrow=8)
    return {"available": True, "file": "nearest.png", "order": order.tolist(), "train_index": nearest.tolist(),
            "distance": [round(float(d), 4) for d in distance], "features": "domain",
            "layout": "pairs left to right: sample, its nearest training image"}


def finite_metrics(run_id: RunId, metrics: dict, spec: dict) -> dict:
    """The metrics, each finite or None: a metric the catalog declares possibly undefined (reverse KL without a
    high-quality sample, or with samples where the data has none) becomes None with its reason in the spec;
    any other non-finite value is an error, never a silent hole in a table."""
    out = {}
    for name, value in metrics.items():
        if value is None or (isinstance(value, int | float) and math.isfinite(value)):
            out[name] = value
            continue
        info = catalog.CATALOG.get(name)
        if info is None or not info.undefined:
            raise ResultsError(f"{run_id}: metric {name} is {value} although the generator's samples are finite; "
                               "this is a bug in the metric or its inputs, not a result: report it")
        out[name] = None
        spec.setdefault("undefined", {})[name] = f"{value}: {info.undefined}"
    return out


def _record_divergence(run: ResolvedRun, inputs: StageInputs, out: Path, diverged: dict, spec: dict,
                       device: torch.device) -> Path:
    """metrics.json of a diverged run (no metrics, where and why it diverged), the samples of its last curve
    point before that, and its quality curve up to there."""
    root = inputs.root
    train_dir = run.run.folder(root) / "train"
    kimg, snapshots = load_snapshots(train_dir)
    spec["samples"] = f"the last curve snapshot before divergence (kimg {float(kimg[-1]):g}, fixed curve latents)"
    if run.dataset.kind == "images":
        save_grid(out / "samples.png", snapshots[-1])
        net = (inputs.backbone(CURVE_BACKBONE, run.run.dataset, device)
               if CURVE_BACKBONE in run.reference_backbones else None)
        curve = _image_curve(run, inputs, net, MetricSettings())
    else:
        data = load_prepared(run.run.dataset, root)
        save_scatter(out / "samples.png", snapshots[-1][:2500], data["modes"])
        curve = _point_curve(run, root, data["modes"], float(data["sigma"]))
    write_json(out / "curve.json", {"run": str(run.run), **curve})
    health = assess(_train_curve(run.run, root), diverged, {}, run.dataset.kind)
    write_json(out / "metrics.json", {"run": str(run.run), "dataset": run.run.dataset, "variant": run.run.variant,
                                      "study": run.run.study, "seed": run.run.seed, "metrics": {},
                                      "diverged": diverged, "health": health, "spec": spec})
    return out
