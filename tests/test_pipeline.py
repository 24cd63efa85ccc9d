"""The pipeline as a user runs it: `dvc repro` on a copy of the repository, smoke profile."""

import json
import re
import shlex
import subprocess
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from bench.protocol.pipelines import write_all
from tests.conftest import REPO, UNSTABLE_PLUGIN, copy_of_the_repository, page_problems, strict_json


def test_committed_pipelines_match_the_studies():
    assert write_all(REPO, check=True) == [], "run `gbench pipelines` and commit the dvc.yaml files"


def test_a_dataset_no_study_runs_any_more_loses_its_generated_pipeline(tmp_path):
    """Else `dvc repro` would still run the stages it had under the old profile."""
    bench_root, _ = copy_of_the_repository(tmp_path)
    assert (bench_root / "pipelines" / "stackedfmnist" / "dvc.yaml").is_file()  # the smoke leaderboard runs it
    params = yaml.safe_load((bench_root / "params.yaml").read_text())
    params["profiles"]["smoke"]["studies"]["leaderboard"]["datasets"] = ["ring8", "grid25", "fmnist32"]
    (bench_root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (bench_root / "pipelines" / "mine").mkdir()
    (bench_root / "pipelines" / "mine" / "dvc.yaml").write_text("stages: {}\n")  # not generated: left alone
    assert Path("pipelines/stackedfmnist/dvc.yaml") in write_all(bench_root, check=True)
    assert (bench_root / "pipelines" / "stackedfmnist" / "dvc.yaml").is_file()  # check mode changes nothing
    write_all(bench_root)
    assert not (bench_root / "pipelines" / "stackedfmnist" / "dvc.yaml").exists()
    assert (bench_root / "pipelines" / "mine" / "dvc.yaml").is_file()
    assert write_all(bench_root, check=True) == []


def _committed_stages() -> dict[str, dict]:
    """Every stage of the committed pipelines (the default profile's), `file:name[@item]` -> its body."""
    stages = {}
    for path in [REPO / "dvc.yaml", *sorted(REPO.glob("pipelines/*/dvc.yaml"))]:
        for name, stage in yaml.safe_load(path.read_text())["stages"].items():
            for item in stage.get("foreach", [None]):
                stages[f"{path.relative_to(REPO)}:{name}" + (f"@{item}" if item else "")] = stage.get("do", stage)
    return stages


def test_the_default_pipeline_stays_small_enough_for_a_fast_noop_repro():
    """A no-op `dvc repro` checks every dependency of every stage (~0.7 ms each on the 2-core machine), and each
    stage a repro runs costs seconds of start-up. The default profile groups a variant's seeds and a sweep loss's
    runs into one stage (group_runs), and a stage depends on its kind's harness code through one fingerprint
    (bench/protocol/fingerprint.py): only the code stages list modules. The bounds leave room for a few more
    variants, not for a stage per run, nor for a module list per stage, again. (206 stages since the robustness
    study's 28 cells, 2 seeds each: 296 runs; 238 since the translation study's four tasks: their prepare and
    reference stages, 9 method x task stages each to train and evaluate, and the kind's two code stages. 249 since
    the tokenizer study's 3 variants, three stages each (train, prior, evaluate), and its kind's code stages. The
    aggregate stage depends on a folder and a file per study, 22 with the tokenizer study's.)"""
    stages = _committed_stages()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["profiles"][params["profile"]].get("group_runs") is True
    assert len(stages) <= 260, len(stages)
    deps = {name: len(body.get("deps", [])) for name, body in stages.items()}
    code = {name for name in stages if name.startswith("dvc.yaml:code-")}
    assert 5 <= len(code) <= 12, code
    assert max(n for name, n in deps.items() if name not in code) <= 24, \
        max(((name, n) for name, n in deps.items() if name not in code), key=lambda item: item[1])
    assert max(deps[name] for name in code) <= 80
    assert sum(deps.values()) <= 2800, sum(deps.values())  # 2,586 with the tokenizer kind's three code stages


def test_no_stage_has_a_persistent_output():
    """DVC never run-caches a stage with a `persist` output, so a stage done on another machine could not be
    restored (`dvc repro --pull`): resume state lives in results/.resume instead (bench/training/loop.py)."""
    persistent = []
    for name, body in _committed_stages().items():
        for out in [*body.get("outs", []), *body.get("metrics", []), *body.get("plots", [])]:
            if isinstance(out, dict) and any(isinstance(v, dict) and v.get("persist") for v in out.values()):
                persistent.append(name)
    assert persistent == []


def run(cmd, cwd, env):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


FOLDER_DATASET, FOLDER_SIZE = "shapes64", 64


def _a_users_64px_image_folder(root: Path, env: dict) -> None:
    """What a user with their own images does (README "Datasets from files"): a folder of mixed sizes and
    modes (a grayscale, an RGBA and two 96x80 images among 64x64 RGB ones) through `gbench dataset-tool
    --transform center-crop --channels 3`, the zip declared in params.yaml with a smoke block, and a study."""
    from tests.bench.data.test_declared import SMALL, _shapes

    photos = root / "photos"
    _shapes(photos, 24, FOLDER_SIZE)
    Image.open(photos / "000.png").convert("L").save(photos / "000.png")
    Image.open(photos / "001.png").convert("RGBA").save(photos / "001.png")
    for name in ("002.png", "003.png"):
        Image.open(photos / name).resize((96, 80)).save(photos / name)
    run(["gbench", "dataset-tool", "--source", "photos", "--dest", f"data/{FOLDER_DATASET}.zip",
         "--resolution", str(FOLDER_SIZE), "--transform", "center-crop", "--channels", "3"], root, env)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["datasets"] = {FOLDER_DATASET: {"source": f"data/{FOLDER_DATASET}.zip", "resolution": FOLDER_SIZE,
                                           "channels": 3, "labels": True, "classes": 3}}
    params["profiles"]["smoke"][FOLDER_DATASET] = SMALL
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "pipelines" / "mine.yaml").write_text(yaml.safe_dump(
        {"mine": {"title": "My images at 64x64", "seeds": [0],
                  "datasets": {FOLDER_DATASET: ["dcgan", "stylegan2"]}}}, sort_keys=False))


@pytest.fixture(scope="module")
def repro_copy(tmp_path_factory):
    """A clean copy of the tracked files, switched to the smoke profile, with a user's 64x64 RGB image folder
    as a declared dataset in a study of its own, after one `dvc repro`."""
    root, env = copy_of_the_repository(tmp_path_factory.mktemp("repo"), before_pipelines=_a_users_64px_image_folder)
    output = run(["dvc", "repro"], root, env)
    return root, env, output


def test_a_users_64px_image_folder_is_trained_scored_and_reported(repro_copy):
    root, _, _ = repro_copy
    summary = pd.read_csv(root / "results/tables/summary.csv")
    mine = summary[summary["study"] == "mine"]
    assert sorted(mine["variant"]) == ["dcgan", "stylegan2"] and set(mine["dataset"]) == {FOLDER_DATASET}
    assert (mine["fid_mean"] > 0).all() and (mine["n_seeds"] == 1).all()
    lock = yaml.safe_load((root / "pipelines" / FOLDER_DATASET / "dvc.lock").read_text())
    assert f"data/{FOLDER_DATASET}.zip" in {dep["path"] for dep in lock["stages"]["prepare"]["deps"]}
    for variant in ("dcgan", "stylegan2"):
        run_dir = root / "results" / "mine" / FOLDER_DATASET / variant / "s0"
        config = json.loads((run_dir / "train" / "config.json").read_text())
        assert config["data_shape"] == [3, FOLDER_SIZE, FOLDER_SIZE]
        samples = Image.open(run_dir / "eval" / "samples.png")
        assert samples.mode == "RGB" and samples.height == 2 * (FOLDER_SIZE + 1) + 1  # 16 samples, 8 a row
    assert FOLDER_DATASET in (root / "reports/index.html").read_text()


def test_dvc_repro_builds_the_leaderboard(repro_copy):
    root, _, output = repro_copy
    assert "Running stage 'report'" in output
    summary = pd.read_csv(root / "results/tables/summary.csv")
    summary = summary[summary["study"] == "leaderboard"]
    by_dataset = {row.dataset: row for row in summary.itertuples() if row.variant in ("dcgan", "mlp-gan")}
    assert set(by_dataset) == {"fmnist32", "stackedfmnist", "ring8", "grid25"}
    assert all(row.n_seeds == 2 for row in summary.itertuples())  # smoke: seeds 0 and 1
    assert set(summary[summary["dataset"] == "fmnist32"]["variant"]) == {  # smoke: params.yaml's subset
        "dcgan", "cgan", "acgan", "biggan", "stylegan2"}
    conditional = summary[summary["variant"].isin(["cgan", "acgan", "biggan"])]
    assert (conditional["intra_fid_domain_mean"] > 0).all()
    assert conditional["class_accuracy_domain_mean"].between(0, 1).all()
    assert summary[summary["variant"].isin(["dcgan", "stylegan2"])]["intra_fid_domain_mean"].isna().all()
    fmnist = by_dataset["fmnist32"]
    assert fmnist.fid_mean > 0 and fmnist.fid_domain_mean > 0
    assert fmnist.fid_ci_low <= fmnist.fid_mean <= fmnist.fid_ci_high
    assert 0 <= fmnist.precision_mean <= 1 and 0 <= fmnist.coverage_domain_mean <= 1
    assert 1 <= fmnist.modes_covered_mean <= 10 and 1 <= fmnist.is_domain_mean <= 10
    assert "is_mean" not in summary  # offline: no Inception classifier head, so no IS anywhere
    stacked = by_dataset["stackedfmnist"]
    assert 1 <= stacked.modes_covered_mean <= 1000 and stacked.reverse_kl_mean > 0
    assert pd.isna(stacked.fid_mean) and stacked.fid_domain_mean > 0  # smoke: domain backbone only
    assert by_dataset["ring8"].variant == "mlp-gan" and 0 <= by_dataset["ring8"].modes_covered_mean <= 8
    html = (root / "reports/index.html").read_text()
    for text in ("fmnist32", "stackedfmnist", "ring8", "grid25", "N = 16", "7ff4a85c3a63", "PacGAN Table 1",
                 "FID (Inception) · fid16_test48", "(of 10000)",
                 "IS n/a", "FID (domain), N = 128", "intra-class FID (domain)", "quality vs train GFLOP",
                 'href="variant-biggan.html"', "clean-fid 0.1.35"):
        assert text in html
    biggan = (root / "reports/variant-biggan.html").read_text()
    for text in ("Truncation trick", "none (untruncated)", "ortho_reg", 'src="img/leaderboard_fmnist32_biggan_s1',
                 "Brock"):
        assert text in biggan
    for page in (root / "reports").glob("*.html"):
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.read_text()), page.name


def test_the_stylegan2_ablation_study_and_its_table(repro_copy):
    root, _, _ = repro_copy
    runs = pd.read_csv(root / "results/tables/runs.csv")
    ablation = runs[runs["study"] == "stylegan2-ablation"]
    assert sorted(set(ablation["variant"])) == ["stylegan2-a", "stylegan2-e"] and set(ablation["seed"]) == {0, 1}
    assert (ablation["kimg"] == ablation["kimg"].iloc[0]).all() and (ablation["fid"] > 0).all()
    config = json.loads((root / "results/stylegan2-ablation/fmnist32/stylegan2-e/s0/train/config.json").read_text())
    assert config["train"]["width"] == 0.03125 and "family_width" not in config["train"]
    page = (root / "reports/stylegan2-ablation.html").read_text()
    for text in ("published FID (FFHQ 1024², Table 1)", "4.40", "3.31", "change vs row above", "train wall s / run",
                 "FID (Inception)", "FID (domain)"):
        assert text in page, text
    assert page.index("<b>A</b>") < page.index("<b>E</b>")
    assert 'href="stylegan2-ablation.html"' in (root / "reports/index.html").read_text()


def test_metrics_carry_the_metric_spec(repro_copy):
    root, _, _ = repro_copy
    metrics = yaml.safe_load((root / "results/leaderboard/fmnist32/dcgan/s0/eval/metrics.json").read_text())
    spec, inception = metrics["spec"], metrics["spec"]["backbones"]["inception"]
    assert inception["weights_sha256"].startswith("7ff4a85c") and spec["n_gen"] == 16
    assert inception["reference"] == {"dataset": "fmnist32", "split": "eval", "n_ref": 48, "split_size": 10000}
    assert inception["protocols"] == {"fid": "fid16_test48", "kid": "kid16_test48", "pr": "pr163_test48",
                                      "dc": "dc165_test48", "is": "is16"}
    assert inception["kid"]["subsets"] == 100 and len(spec["config_hash"]) == 12
    assert "clean" in inception["resize"] and "clean-fid" in spec["libraries"]
    assert "k=3" in inception["pr"] and "k=5" in inception["dc"]
    assert inception["is"]["available"] is False and "fetch-inception-head" in inception["is"]["reason"]
    domain = spec["backbones"]["domain"]
    assert domain["backbone"] == "domain" and len(domain["weights_sha256"]) == 64
    assert set(metrics["metrics"]) >= {"fid", "kid", "precision", "recall", "density", "coverage", "is",
                                       "fid_domain", "is_domain", "modes_covered", "reverse_kl"}
    curve = yaml.safe_load((root / "results/leaderboard/fmnist32/dcgan/s0/eval/curve.json").read_text())
    assert curve["metric"] == "fid_domain" and [p["kimg"] for p in curve["points"]] == [0, 0.128, 0.256]
    assert all(p["fid_domain"] > 0 for p in curve["points"])


def _run_stages(root) -> dict[str, str]:
    """Every train/evaluate stage of the copy's pipelines (`file:group@item`) -> the variant of its runs."""
    stages = {}
    for path in root.glob("pipelines/*/dvc.yaml"):
        for group, stage in yaml.safe_load(path.read_text())["stages"].items():
            if group.startswith(("train-", "evaluate-")):
                for key, item in stage["foreach"].items():
                    variants = {run.split("/")[2] for run in shlex.split(item["runs"])}
                    assert len(variants) == 1, item
                    stages[f"{path.relative_to(root)}:{group}@{key}"] = variants.pop()
    return stages


def _out_of_date_after_editing(root, env, relative: str) -> set[str]:
    path = root / relative
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        status = run(["dvc", "status"], root, env)
    finally:
        path.write_text(original)
    return {line.rstrip(":") for line in status.splitlines() if line.endswith(":") and not line[0].isspace()}


def test_noop_repro_runs_nothing_and_a_family_edit_reruns_exactly_the_runs_that_import_it(repro_copy):
    """Exact dependencies: the stages out of date after editing a family's file are those of the runs whose
    variant's module imports it, measured independently by importing each variant's module afresh."""
    from bench.protocol import variants
    from bench.protocol.names import VariantName
    from tests.conftest import runtime_model_imports

    root, env, _ = repro_copy
    assert "Running stage" not in run(["dvc", "repro"], root, env)
    stages = _run_stages(root)
    module_of = {}
    for name in set(stages.values()):
        defined_in = Path(variants.compose(VariantName.parse(name).registry_name).defined_in)
        module_of[name] = ".".join(defined_in.relative_to(REPO).with_suffix("").parts)
    imports = runtime_model_imports(sorted(set(module_of.values())))
    for edited in ("models/stylegan2.py", "models/mlp_gan.py", "models/dcgan.py"):
        expected = {stage for stage, name in stages.items() if edited in imports[module_of[name]]}
        assert expected and _out_of_date_after_editing(root, env, edited) == expected, edited
    mlp = {name for name in stages.values() if "models/mlp_gan.py" in imports[module_of[name]]}
    assert {VariantName.parse(n).base for n in mlp} == {"mlp-gan"}
    assert any(n.startswith("mlp-gan+wgan-gp~h00") for n in mlp)
    # a harness module: only the code stages that fingerprint it (their stages follow once they re-run)
    fingerprints = {name: body for name, body in yaml.safe_load((root / "dvc.yaml").read_text())[
        "stages"].items() if name.startswith("code-")}
    for edited in ("bench/training/losses.py", "bench/measurement/metrics/fid.py", "bench/report/templates"):
        expected = {name for name, body in fingerprints.items() if edited in body["deps"]}
        if edited.endswith("templates"):
            edited = next(str(p.relative_to(root)) for p in sorted((root / edited).glob("*.html")))
        assert expected and _out_of_date_after_editing(root, env, edited) == expected, edited


def test_loss_sweep_and_mode_collapse_pages(repro_copy):
    root, _, _ = repro_copy
    runs = pd.read_csv(root / "results/tables/runs.csv")
    sweep = runs[runs["study"] == "are-gans-equal"]
    assert sorted(sweep["sweep_loss"]) == sorted(["mm", "ns", "lsgan", "wgan", "wgan-gp", "dragan", "hinge", "rpgan"])
    wgan_gp = sweep[sweep["sweep_loss"] == "wgan-gp"].iloc[0]
    assert wgan_gp["hp_penalty_weight"] == 10.0 and wgan_gp["hp_n_critic"] == 5  # sample h00: the paper's
    html = (root / "reports/are-gans-equal.html").read_text()
    for text in ("ring8", "Best configuration per loss", "budget: hyperparameter samples tried", "mlp-gan+rpgan~h00"):
        assert text in html
    page = (root / "reports/mode-collapse.html").read_text()
    for text in ("mlp-gan+unrolled", "mlp-gan+mbd", "published: VEEGAN", "published: PacGAN Table 1"):
        assert text in page
    assert 'href="mode-collapse.html"' in (root / "reports/index.html").read_text()


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    return text[start: text.index("\n## ", start + 1)]


def test_add_your_method_as_the_readme_says(repro_copy):
    """Follows README "Add your method" literally on the smoke copy: its shell blocks run as written, its
    two YAML lines go where the text says; then only the new runs may train."""
    root, env, _ = repro_copy
    section = _readme_section("Add your method")
    # the blocks sit in a numbered list: their lines carry the list's 3-space indent, which is not code
    shell = [textwrap.dedent(b) for b in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)]
    snippets = [b.rstrip()[3:] for b in re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)]
    assert len(shell) == 2 and len(snippets) == 2
    for line in shell[0].split("\n"):
        if line.strip():
            run(["bash", "-c", line.strip()], root, env)
    params = root / "params.yaml"
    assert "plugins: []" in params.read_text()
    params.write_text(params.read_text().replace("plugins: []", snippets[0].strip()))
    study = root / "pipelines/leaderboard.yaml"
    lines = study.read_text().split("\n")
    at = lines.index("    fmnist32:")
    assert snippets[1].startswith(lines[at + 1].partition("-")[0] + "- ")  # the README's indent is the file's
    study.write_text("\n".join([*lines[: at + 1], snippets[1], *lines[at + 1:]]))
    outputs = [run(["bash", "-c", line.strip()], root, env) for line in shell[1].split("\n") if line.strip()]
    ran = set(re.findall(r"Running stage '([^']+)'", outputs[1]))
    assert ran == {"pipelines/fmnist32/dvc.yaml:train-leaderboard-resize-dcgan@resize-dcgan",  # seeds 0 and 1
                   "pipelines/fmnist32/dvc.yaml:evaluate-leaderboard-resize-dcgan@resize-dcgan",
                   "aggregate", "report"}, ran
    assert all((root / f"results/leaderboard/fmnist32/resize-dcgan/s{seed}/eval/metrics.json").is_file()
               for seed in (0, 1))
    compared = outputs[2]
    assert "== fmnist32 (study leaderboard): resize-dcgan (2 seeds)" in compared
    verdicts = re.findall(r"^dcgan\s+(FID \(Inception\)|KID \(Inception\)|FID \(domain\)).*\s(better|worse|tied)$",
                          compared, flags=re.MULTILINE)
    assert {metric for metric, _ in verdicts} == {"FID (Inception)", "KID (Inception)", "FID (domain)"}
    assert "Welch tests over seeds, Holm-corrected" in compared
    page = (root / "reports/compare-resize-dcgan.html").read_text()
    assert "resize-dcgan against the baselines" in page and "Odena, Dumoulin" in page
    assert 'href="compare-resize-dcgan.html"' in (root / "reports/index.html").read_text()


def test_a_diverging_method_is_a_recorded_result_and_the_pipeline_stays_green(repro_copy):
    root, env, _ = repro_copy
    (root / "methods").mkdir(exist_ok=True)
    (root / "methods/unstable_gan.py").write_text(UNSTABLE_PLUGIN)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["plugins"] = [*(params.get("plugins") or []), "methods/unstable_gan.py"]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    study = yaml.safe_load((root / "pipelines/leaderboard.yaml").read_text())
    study["leaderboard"]["datasets"]["ring8"].append("unstable-gan")
    (root / "pipelines/leaderboard.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    run(["gbench", "pipelines"], root, env)
    # its own stages through DVC (a full `dvc repro` would also re-check every other stage: a minute of the budget)
    output = run(["dvc", "repro", "pipelines/ring8/dvc.yaml:evaluate-leaderboard-unstable-gan"], root, env)
    assert output.count("diverged at 0.1 kimg") == 2  # seeds 0 and 1, in one train and one evaluate stage
    assert output.count("Running stage") == 2
    run(["gbench", "aggregate"], root, env)
    run(["gbench", "report"], root, env)
    summary = {(r["dataset"], r["variant"]): r for r in strict_json(root / "results/tables/summary.json")
               if r["study"] == "leaderboard"}
    unstable = summary[("ring8", "unstable-gan")]
    assert unstable["n_seeds"] == 2 and unstable["n_diverged"] == 2 and unstable["modes_covered_rank"] is None
    assert summary[("ring8", "mlp-gan")]["modes_covered_rank"] == 1
    for table in (root / "results/tables").glob("*.json"):
        strict_json(table)
    html = (root / "reports/index.html").read_text()
    assert "diverged: 2 of 2 seeds (s0, s1, first at 0.10 kimg); not ranked" in html
    page = (root / "reports/variant-unstable-gan.html").read_text()
    assert "diverged at 0.100 kimg: loss_" in page and "= nan" in page


def test_the_alignment_study_sets_unaligned_runs_against_the_leaderboards_aligned_ones(repro_copy):
    root, _, _ = repro_copy
    entry = json.loads((root / "results/tables/alignment.json").read_text())["alignment/fmnist32-unaligned"]
    assert entry["versus"] == "leaderboard" and entry["aligned_dataset"] == "fmnist32"
    assert [r["variant"] for r in entry["rows"]] == ["dcgan", "stylegan2"]  # smoke: stylegan3-t excluded
    fid = {m["metric"]: m for m in entry["rows"][0]["metrics"]}["fid_domain"]
    assert fid["aligned"]["n_seeds"] == 2 and fid["unaligned"]["n_seeds"] == 1  # smoke seeds: [0, 1] and [0]
    assert fid["protocol"] == "fid16_test48" and fid["change"]["diff"] == pytest.approx(
        fid["unaligned"]["mean"] - fid["aligned"]["mean"])
    page = (root / "reports/alignment.html").read_text()
    for text in ("fmnist32-unaligned", "fid16_test48", 'href="leaderboard.html"', "unaligned − aligned",
                 'alt="samples of stylegan2 on fmnist32-unaligned"', 'alt="samples of stylegan2 on fmnist32"'):
        assert text in page, text
    meta = json.loads((root / "results/data/fmnist32-unaligned/meta.json").read_text())
    assert meta["source"]["unaligned_from"] == "fmnist32" and meta["splits"]["train_x"] == [60000, 1, 32, 32]


def test_the_smoke_report_in_the_browser(repro_copy, browser):
    """Every page the pipeline rendered from real runs (after "Add your method": its comparison page too)."""
    root, _, _ = repro_copy
    pages = sorted((root / "reports").glob("*.html"))
    assert {"index.html", "leaderboard.html", "are-gans-equal.html", "variant-biggan.html",
            "stylegan2-ablation.html", "alignment.html"} <= {p.name for p in pages}
    problems = {page.name: page_problems(browser, page) for page in pages}
    assert {name: found for name, found in problems.items() if found} == {}
