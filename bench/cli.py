"""`gbench`: the one command line of gan-bench (the stages dvc.yaml calls, plus `list`).

Imports are lazy: each DVC stage is a process, and torch/torchvision/clean-fid cost seconds to import.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SCORE_METRICS = "fid,kid,pr,dc,is,copying,leak"  # bench.measurement.scoring.ALL (not imported: start-up)
PAPER_ARCHIVES = ("facades", "maps", "edges2shoes", "horse2zebra")  # bench.data.paper_translation.ARCHIVES (ditto)


def _describe(v) -> list[str]:
    """Two lines of `gbench list` for one variant: its paper, then its recipe in words."""
    from models.registry import factory_name

    r = v.recipe
    extras = [text for on, text in (
        (v.conditional, "class-conditional"), (r.spectral_norm, "SN in D"),
        (r.ortho_reg, f"ortho reg {r.ortho_reg:g}"),
        (r.aux_classifier, f"aux classifier x{r.aux_classifier:g}"), (v.truncation, "truncation curve"),
        (r.diffaug, f"DiffAugment {r.diffaug}"),
        (r.ada_target, f"ADA towards r_t {r.ada_target:g} from p {r.ada_p:g}"),
        (r.ada_p and not r.ada_target, f"ADA at fixed p {r.ada_p:g}"),
        (v.arch, ", ".join(f"{k}={a}" for k, a in v.arch.items()))) if on]
    module = lambda factory: getattr(factory, "func", factory).__module__  # noqa: E731
    if module(v.discriminator) != module(v.generator):  # a D from another module (e.g. +projected's)
        extras.append(f"D {factory_name(v.discriminator)}")
    ema = f"{r.ema_beta} from G step {r.ema_start}" if r.ema_beta and r.ema_start else (r.ema_beta or "no")
    if r.ema_kimg:
        ema = f"half-life {r.ema_kimg:g} kimg"
    if r.ema_rampup:
        ema = f"{ema} (half-life at most {r.ema_rampup:g} x images shown)"
    lazy = f" every {r.reg_every} D steps" if r.reg_every > 1 else ""
    extras = [text for on, text in (
        (r.penalty_weight, f"penalty {r.penalty_weight:g}"), (r.drift, f"drift {r.drift:g}"),
        (r.r1, f"R1 gamma {r.r1:g}{lazy}"), (r.r2, f"R2 gamma {r.r2:g}{lazy}"),
        (r.path_length, f"path length {r.path_length:g} every {r.pl_every} G steps")) if on] + extras
    return [f"  {v.name:<12} [{v.family}] {v.paper}",
            f"  {'':<12} data: {', '.join(v.data_kinds)}; loss {r.loss}; Adam lr G {r.lr_g:g} / D {r.lr_d:g}, "
            f"betas {r.betas}; n_critic {r.n_critic}; batch {r.batch}; EMA {ema}" + "".join(f"; {e}" for e in extras)]


def _cmd_list(args: argparse.Namespace) -> int:
    from bench.protocol import variants

    if args.flops:
        return _print_flops(args.protocol, args.flops, args.names)
    if args.names:  # composed names: each one's recipe, or why it cannot train
        for name in args.names:
            print("\n".join(_describe(variants.compose(name))))
        return 0
    print("Variants (train any of them with options: <variant>+<option>+..., e.g. dcgan+hinge+sn):")
    for v in variants.all_variants():
        print("\n".join(_describe(v)))
    for kind, title in (("loss", "Losses (+<loss>: the loss with its paper's defaults)"),
                        ("regularizer", "Regularizers and training tricks (+<name>)"),
                        ("architecture", "Architecture options (+<name>)"),
                        ("discriminator", "Discriminator options (+<name>: another D under the variant's G)")):
        options = [o for o in variants.all_options() if o.kind == kind]
        if not options:
            continue
        print(f"{title}:")
        for o in options:
            changes = ", ".join(f"{k}={v}" for k, v in {**o.recipe, **o.arch}.items()
                                if k != "loss" and v != 0.0)  # 0.0: an earlier loss's penalty/clip cleared
            print(f"  +{o.name:<11} {o.paper}")
            if changes:
                print(f"  {'':<12} sets {changes}")
    if args.protocol is not None:
        print(f"Studies: {args.protocol.summary()}")
    return 0


def _print_flops(protocol, dataset: str, names: list[str]) -> int:
    """`gbench list --flops DATASET`: training FLOPs per image of each variant as the active profile trains it."""
    from bench.data.datasets import spec
    from bench.protocol import variants
    from bench.protocol.errors import ConfigError
    from bench.training.budget import flops_per_image

    if protocol is None:
        raise ConfigError("gbench list --flops: no params.yaml here; run it from the repository root")
    data = spec(dataset)
    chosen = names or [v.name for v in variants.all_variants()
                       if data.kind in v.data_kinds and (data.n_labels or not v.conditional)]
    profile = protocol.params["profile"]
    print(f"Training FLOPs per image shown to D on {dataset} ({'x'.join(map(str, data.shape))}), profile {profile}, "
          "at full resolution, lazy steps at their frequency:")
    for name in chosen:
        run = protocol.planning_run(name, dataset)
        per_image, kimg = flops_per_image(run), run.train["kimg"]
        print(f"  {name:<24} {per_image / 1e6:12.1f} MFLOP/image  width {run.train['width']:g}, batch "
              f"{run.variant.recipe.batch}; {kimg:g} kimg = {per_image * kimg * 1e3 / 1e9:.1f} GFLOP")
    return 0


def _cmd_sweep_sample(args: argparse.Namespace) -> int:
    from bench.protocol.sweep import write_samples

    print(f"drew {args.k} samples per loss into {write_samples(args.root, args.study, args.k)}; "
          "now run `gbench pipelines`")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from bench.data.datasets import prepare
    from bench.protocol.params import load_params

    params = load_params(args.root) if (args.root / "params.yaml").is_file() else None
    print(f"prepared {args.dataset} in {prepare(args.dataset, args.root, params)}")
    return 0


def _cmd_download_fmnist(args: argparse.Namespace) -> int:
    from bench.data.datasets import download_fmnist

    folder = download_fmnist(Path(args.dest))
    print(f"downloaded to {folder}; now set `data: {{fmnist_dir: {folder}}}` in params.yaml")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from bench.data.cifar10 import download_cifar10
    from bench.data.mnist import download_mnist
    from bench.protocol.errors import DatasetError

    if args.source in PAPER_ARCHIVES:
        from bench.data.paper_translation import download_archive

        archive, digest = download_archive(args.source, Path(args.dest), args.url, args.sha256)
        print(f"downloaded {archive}, sha256 {digest} (the source publishes no checksum); now set `data: "
              f"{{{args.source}_archive: {archive}, {args.source}_sha256: {digest}}}` in params.yaml (the sha256 "
              "pins this file: optional)")
    elif args.sha256:
        raise DatasetError(f"--sha256 is for the translation archives; {args.source} is checked against its "
                           "published md5")
    elif args.source == "mnist":
        folder = download_mnist(Path(args.dest), *([args.url] if args.url else []))
        print(f"downloaded to {folder}; now set `data: {{mnist_dir: {folder}}}` in params.yaml")
    else:
        archive = download_cifar10(Path(args.dest), *([args.url] if args.url else []))
        print(f"downloaded {archive}; now set `data: {{cifar10_archive: {archive}}}` in params.yaml")
    return 0


def _cmd_dataset_tool(args: argparse.Namespace) -> int:
    from bench.data.dataset_tool import convert

    done = convert(Path(args.source), Path(args.dest), args.resolution, args.transform, args.channels,
                   args.max_images)
    labels = "true" if done["labels"] else "false"
    classes = f", {done['classes']} classes" if done["labels"] else ""
    print(f"wrote {done['images']} images ({done['resolution']}x{done['resolution']}, {done['channels']} "
          f"channel(s), labels: {labels}{classes}) "
          f"to {done['dest']}")
    return 0


def _cmd_reference(args: argparse.Namespace) -> int:
    from bench.measurement.reference import build_reference

    print(f"reference arrays in {build_reference(args.dataset, args.root, args.backbone, args.device)}")
    return 0


def _cmd_classifier(args: argparse.Namespace) -> int:
    from bench.measurement.classifier import build_classifier
    from bench.protocol.io import read_json

    out = build_classifier(args.dataset, args.root, device=args.device or "cpu")
    report = read_json(out / "classifier.json")
    print(f"classifier in {out}: test accuracy {report['test_accuracy']:.4f}")
    return 0


def _cmd_fetch_inception_head(args: argparse.Namespace) -> int:
    from bench.measurement.inception_head import URL, fetch_head

    print(f"Inception classifier head in {fetch_head(args.url or URL, Path(args.dest) if args.dest else None)}")
    return 0


def _cmd_fetch_clip(args: argparse.Namespace) -> int:
    from models.clip_visual import URL, fetch_clip

    print(f"CLIP ViT-B/32 weights in {fetch_clip(args.url or URL, Path(args.dest) if args.dest else None)}")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from bench.measurement.score import format_table, score
    from bench.protocol.io import write_json

    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    result = score(Path(args.images), args.reference, root=args.root, metrics=metrics, backbone=args.backbone,
                   n=args.n, n_ref=args.n_ref, dataset=args.dataset, device=args.device, batch=args.batch)
    print(format_table(result))
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from bench.protocol.runs import RunId
    from bench.training.launch import launch_or_train

    for run in args.runs:
        RunId.parse(run)  # every id checked before the first run starts
    for run in args.runs:  # a stage of several runs trains them in turn in this one process
        code = launch_or_train(run, args.root, args.protocol, args.device, args.restart, args.nproc)
        if code:
            return code
    return 0


def _cmd_prior(args: argparse.Namespace) -> int:
    from bench.protocol.process import die_with_parent, run_lock
    from bench.protocol.runs import RunId
    from bench.training.loop import train

    die_with_parent()
    runs = [RunId.parse(run) for run in args.runs]
    for run in runs:
        with run_lock(args.root, str(run), "prior"):
            print(f"trained into {train(run, args.root, args.device, args.protocol, args.restart, stage='prior')}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bench.measurement.evaluate import StageInputs, evaluate
    from bench.protocol.io import read_json
    from bench.protocol.process import die_with_parent, run_lock
    from bench.protocol.runs import RunId

    die_with_parent()
    runs = [RunId.parse(run) for run in args.runs]
    inputs = StageInputs(args.root)  # one process scores them all: backbones and references are loaded once
    for run in runs:
        with run_lock(args.root, str(run), "evaluate"):
            out = evaluate(run, args.root, args.device, args.protocol, inputs)
        record = read_json(out / "metrics.json")
        prefix = f"{run}: " if len(runs) > 1 else ""
        if record.get("diverged"):
            diverged = record["diverged"]
            print(f"{run} diverged at {diverged['kimg']:g} kimg ({diverged['reason']}): recorded, no metrics")
            continue
        print(prefix + " ".join(f"{k}={'n/a' if v is None else f'{v:.4g}'}" for k, v in record["metrics"].items()))
    return 0


def _cmd_aggregate(args: argparse.Namespace) -> int:
    from bench.tables.aggregate import aggregate

    print(f"tables in {aggregate(args.root, partial=args.partial)}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bench.report.render import render

    print(f"report: {render(args.root)}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from bench.protocol.io import read_json
    from bench.tables.compare import baselines_of, compare, format_table

    tables = args.root / "results" / "tables"
    if not (tables / "runs.json").is_file():
        raise FileNotFoundError(f"{tables / 'runs.json'} is missing; run `dvc repro` (or `gbench aggregate`) first")
    runs = pd.DataFrame(read_json(tables / "runs.json"))
    if args.study:
        runs = runs[runs["study"] == args.study]
    if args.against:
        against = [name.strip() for name in args.against.split(",") if name.strip()]
    else:
        variants = read_json(tables / "variants.json") if (tables / "variants.json").is_file() else {}
        against = baselines_of(runs, args.new, {k: v["builtin"] for k, v in variants.items()} or None)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    print(format_table(compare(runs, args.new, against, metrics, alpha=args.alpha)))
    return 0


def _cmd_pipelines(args: argparse.Namespace) -> int:
    from bench.protocol.pipelines import write_all

    changed = write_all(args.root, check=args.check, protocol=args.protocol)
    if args.check:
        if changed:
            print("stale generated pipelines (run `gbench pipelines`): " + ", ".join(map(str, changed)))
            return 1
        print("generated pipelines are up to date")
        return 0
    print("wrote (or removed, for datasets no study runs): " + (", ".join(map(str, changed)) if changed
                                                                 else "nothing (up to date)"))
    return 0


def _cmd_fingerprint(args: argparse.Namespace) -> int:
    from bench.protocol.fingerprint import write_fingerprint

    print(f"wrote {write_fingerprint(args.root, args.stage, *args.modules)}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from bench.protocol.cluster import sweep

    return sweep(args.root.resolve(), args.targets, args.address, gpus=args.gpus, cpus=args.cpus_per_stage,
                 workdir=args.workdir, retries=args.retries, git_remote=args.git_remote)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gbench", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="every registered variant, loss and regularizer, with its paper (and check "
                       "that every run of the studies resolves)")
    p.add_argument("names", nargs="*", help="describe these composed variants instead, e.g. dcgan+hinge+sn")
    p.add_argument("--flops", metavar="DATASET", default=None, help="print each variant's training FLOPs per image "
                   "on DATASET at the active profile's width (to plan a gflop budget)")
    p.set_defaults(fn=_cmd_list)
    p = sub.add_parser("sweep-sample", help="draw the hyperparameter samples of a sweep study into its file")
    p.add_argument("study")
    p.add_argument("--k", type=int, default=100, help="samples per loss (sample h00 = the paper's defaults)")
    p.set_defaults(fn=_cmd_sweep_sample)
    p = sub.add_parser("prepare", help="prepare stage: dataset -> results/data/<dataset>")
    p.add_argument("dataset")
    p.set_defaults(fn=_cmd_prepare)
    p = sub.add_parser("download-fmnist", help="fetch Fashion-MNIST with torchvision (needs internet)")
    p.add_argument("dest")
    p.set_defaults(fn=_cmd_download_fmnist)
    p = sub.add_parser("download", help="fetch MNIST or the CIFAR-10 binary archive, checked against the "
                                        "published md5, or a translation paper's archive (needs internet)")
    p.add_argument("source", choices=["mnist", "cifar10", *PAPER_ARCHIVES])
    p.add_argument("dest")
    p.add_argument("--url", default=None, help="a mirror: the folder URL of the MNIST files, or the archive's URL")
    p.add_argument("--sha256", default=None, help="a translation archive's expected sha256 (none is published)")
    p.set_defaults(fn=_cmd_download)
    p = sub.add_parser("dataset-tool", help="convert a folder or zip of images (e.g. CelebA's img_align_celeba.zip) "
                                            "into a dataset zip, NVlabs' layout, R x R")
    p.add_argument("--source", required=True, help="a folder or a zip of images (with an optional dataset.json)")
    p.add_argument("--dest", required=True, help="the .zip to write")
    p.add_argument("--resolution", type=int, required=True, help="output side R, a power of two")
    p.add_argument("--transform", default=None,
                   help="center-crop, center-crop-wide or center-crop-<S> (default: none, images must be R x R)")
    p.add_argument("--channels", type=int, default=3, choices=[1, 3])
    p.add_argument("--max-images", type=int, default=None)
    p.set_defaults(fn=_cmd_dataset_tool)
    p = sub.add_parser("reference", help="reference stage: one backbone's arrays of the eval split")
    p.add_argument("dataset")
    p.add_argument("--backbone", default="inception", choices=["inception", "domain"])
    p.add_argument("--device", default=None, help="default: params.yaml `device` (auto: cuda when there is one)")
    p.set_defaults(fn=_cmd_reference)
    p = sub.add_parser("classifier", help="classifier stage: the domain classifier of a labeled dataset")
    p.add_argument("dataset")
    p.add_argument("--device", default=None, help="cpu (default), cuda, ...")
    p.set_defaults(fn=_cmd_classifier)
    p = sub.add_parser("fetch-inception-head", help="download the TF-Inception classifier head for IS "
                       "(needs internet; once per machine)")
    p.add_argument("--url", default=None, help="override the download address")
    p.add_argument("--dest", default=None, help="file to write (default: torch's hub cache)")
    p.set_defaults(fn=_cmd_fetch_inception_head)
    p = sub.add_parser("fetch-clip", help="download OpenAI's CLIP ViT-B/32 for +vision-aided-clip (needs internet; "
                       "once per machine)")
    p.add_argument("--url", default=None, help="override the download address")
    p.add_argument("--dest", default=None, help="file to write (default: $GAN_BENCH_CLIP_WEIGHTS or "
                   "~/.cache/clip/ViT-B-32.pt)")
    p.set_defaults(fn=_cmd_fetch_clip)
    p = sub.add_parser("score", help="every metric of a folder of images against a folder or a dataset")
    p.add_argument("--images", required=True, help="folder of PNG/JPEG images (any size)")
    p.add_argument("--reference", required=True, help="folder of images, or a dataset name (e.g. fmnist32)")
    p.add_argument("--metrics", default=SCORE_METRICS, help=f"comma list of {SCORE_METRICS}")
    p.add_argument("--backbone", default="inception", choices=["inception", "domain"])
    p.add_argument("--dataset", default=None, help="whose classifier the domain backbone uses "
                   "(default: the reference dataset)")
    p.add_argument("--n", type=int, default=None, help="score the first N images (sorted by name)")
    p.add_argument("--n-ref", type=int, default=None, help="reference size (default: all / cached)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--json", type=Path, default=None, help="write the numbers and the metric spec here")
    p.set_defaults(fn=_cmd_score)
    for name, fn, text in (("train", _cmd_train, "train stage: one run, or several in turn in one process"),
                           ("prior", _cmd_prior, "a tokenizer run's second stage: its prior over the trained "
                            "tokenizer's codes"),
                           ("evaluate", _cmd_evaluate, "evaluate stage: one run, or several in one process")):
        p = sub.add_parser(name, help=text)
        p.add_argument("runs", nargs="+", metavar="run", help="study/dataset/variant/sN")
        p.add_argument("--device", default=None, help="auto (default from params.yaml), cpu, cuda, ...")
        if name in ("train", "prior"):
            p.add_argument("--restart", action="store_true", help="train from scratch, ignoring any checkpoint")
        if name == "train":
            p.add_argument("--nproc", type=int, default=None, help="ranks to train on (torch.distributed; default: "
                           "params.yaml `nproc`, else 1); the result does not depend on it")
        p.set_defaults(fn=fn)
    p = sub.add_parser("aggregate", help="aggregate stage: results tables")
    p.add_argument("--partial", action="store_true", help="aggregate although some runs of the studies have no "
                   "metrics yet (the tables and the report name them)")
    p.set_defaults(fn=_cmd_aggregate)
    sub.add_parser("report", help="report stage: reports/index.html").set_defaults(fn=_cmd_report)
    p = sub.add_parser("compare", help="a new method against the baselines over seeds (from results/tables)")
    p.add_argument("new", help="the variant to judge, e.g. my-gan")
    p.add_argument("--against", default=None, help="comma list of variants (default: every built-in variant "
                   "with runs in the same study and dataset)")
    p.add_argument("--metrics", default=None, help="comma list (default: fid,kid,precision,recall,fid_domain,"
                   "intra_fid_domain,modes_covered,high_quality,reverse_kl where measured)")
    p.add_argument("--study", default=None, help="only this study's runs (default: every study with NEW)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm's correction")
    p.set_defaults(fn=_cmd_compare)
    p = sub.add_parser("pipelines", help="write the dvc.yaml files from the studies in pipelines/")
    p.add_argument("--check", action="store_true", help="only report whether they are up to date")
    p.set_defaults(fn=_cmd_pipelines)
    p = sub.add_parser("fingerprint", help="code stage: the sha256 of every file a kind of stage executes -> "
                       "results/code/<kind>.json (the one code dependency of each such stage)")
    p.add_argument("stage", help="the stage kind: prepare, classifier, reference, train, evaluate, aggregate, report")
    p.add_argument("modules", nargs="*", help="its task kind's module (train, evaluate), e.g. "
                   "bench.training.tasks.generation")
    p.set_defaults(fn=_cmd_fingerprint)
    p = sub.add_parser("sweep", help="run the out-of-date stages on a Ray cluster (`dvc repro --pull STAGE` + "
                       "`dvc push --run-cache` per stage, in clean checkouts of the pushed commit)")
    p.add_argument("targets", nargs="*", help="studies (leaderboard), STUDY/DATASET (leaderboard/ring8) or DVC "
                   "stages and dvc.yaml files (default: every stage)")
    p.add_argument("--address", required=True, help="the Ray head, HOST:PORT (as `ray start --head` printed it)")
    p.add_argument("--gpus", action="store_true", help="the workers have GPUs: each train stage asks for params.yaml "
                   "`nproc` GPUs (other stages for none)")
    p.add_argument("--cpus-per-stage", type=int, default=1, help="CPUs each stage asks for, and its threads; CPU "
                   "results are bit-identical at the same thread count (default: 1)")
    p.add_argument("--workdir", default=None, help="where workers put the stages' checkouts (default: their temp "
                   "folder, e.g. /tmp/gbench-sweep)")
    p.add_argument("--retries", type=int, default=3, help="runs of a stage again after its worker or node died "
                   "(a stage that fails on its own is never retried)")
    p.add_argument("--git-remote", default="origin", help="the git remote workers clone the commit from")
    p.set_defaults(fn=_cmd_sweep)
    return parser


# Commands that read the registry (variants, options, plugins); all of them get params.yaml checked first.
REGISTRY_COMMANDS = {"list", "pipelines", "train", "prior", "evaluate", "aggregate"}
NO_STUDIES = {"sweep-sample"}  # draws the samples that the study check would find missing


def _check_protocol(args: argparse.Namespace) -> None:
    """The validation pass before any stage runs: params.yaml and every study file against their schemas;
    for the commands that build variants, the registry loaded with the plugins, and for `list` and
    `pipelines` every run of every study resolved (names, options, settings). Stage commands get the loaded
    protocol in `args.protocol`, so a process reads the files once."""
    from bench.protocol.checks import check_sizes

    args.protocol = None
    if not (args.root / "params.yaml").is_file():
        return
    if args.command in REGISTRY_COMMANDS:
        from bench.protocol.resolve import Protocol

        args.protocol = Protocol.load(args.root)
        check_sizes(args.protocol.params)
        if args.command == "list":  # `pipelines` resolves every run as it writes their stages
            args.protocol.resolve_all()
        return
    from bench.protocol.params import load_params

    params = load_params(args.root)
    check_sizes(params)
    if args.command not in NO_STUDIES:
        from bench.protocol.studies import load_studies

        load_studies(args.root, params)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # a process of its own: a stage DVC started runs in a warm server when one is up
        from bench.protocol import warm

        if warm.wanted():
            code = warm.run(sys.argv)
            if code is not None:
                return code
    args = build_parser().parse_args(argv)
    from bench.protocol.errors import UserError
    from bench.protocol.io import DiskFull
    from models.registry import RegistryError

    try:
        _check_protocol(args)
        return args.fn(args)
    except (UserError, RegistryError, FileNotFoundError) as exc:
        print(f"gbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DiskFull as exc:
        print(f"gbench {args.command}: error: {exc}; every file written before is intact (writes are atomic): "
              "free some space and run it again: a train stage resumes from its last checkpoint", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
