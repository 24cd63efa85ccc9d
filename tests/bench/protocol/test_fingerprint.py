"""Code stages: a stage kind's fingerprint holds the sha256 of exactly the files its stages execute, changes
when one of them changes and only then, and is what every stage of that kind depends on."""

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from bench.protocol.dependencies import stage_code
from bench.protocol.errors import ConfigError
from bench.protocol.fingerprint import code_file, code_stage, fingerprinted_files, write_fingerprint
from tests.conftest import REPO

GENERATION = "bench.training.tasks.generation"


@pytest.fixture
def harness(tmp_path):
    """The tracked bench/ and models/ files in a folder of their own, to edit without touching the repository."""
    files = subprocess.run(["git", "ls-files", "bench", "models"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tmp_path / name)
    return tmp_path


def _fingerprint(root, stage, *modules) -> dict:
    write_fingerprint(root, stage, *modules)
    return json.loads((root / code_file(stage, *modules)).read_text())


def test_the_fingerprint_is_the_sha256_of_each_file_the_stage_kind_executes(harness):
    written = _fingerprint(harness, "train", GENERATION)
    assert written["stage"] == "train" and written["modules"] == [GENERATION]
    files = written["files"]
    assert set(files) == set(stage_code("train", harness, GENERATION))
    assert {"bench/training/loop.py", "bench/training/losses.py", "bench/training/tasks/generation.py"} <= set(files)
    assert not [f for f in files if f.startswith(("bench/report/", "bench/tables/", "models/dcgan"))]
    for name, digest in files.items():
        assert digest == hashlib.sha256((harness / name).read_bytes()).hexdigest(), name
    report = _fingerprint(harness, "report")["files"]
    assert "bench/report/templates/base.html" in report  # read by the report, though never imported


def test_the_fingerprint_changes_exactly_when_a_file_of_its_kind_does(harness):
    first = _fingerprint(harness, "train", GENERATION)
    assert _fingerprint(harness, "train", GENERATION) == first  # deterministic: no time, no absolute path
    unrelated = harness / "bench/report/render.py"
    unrelated.write_text(unrelated.read_text() + "\n# an edit\n")
    assert _fingerprint(harness, "train", GENERATION) == first
    losses = harness / "bench/training/losses.py"
    losses.write_text(losses.read_text() + "\n# an edit\n")
    second = _fingerprint(harness, "train", GENERATION)
    changed = {name for name in first["files"] if first["files"][name] != second["files"][name]}
    assert changed == {"bench/training/losses.py"}


def test_the_code_stage_depends_on_the_files_it_hashes_and_on_its_own_code():
    stage = code_stage("evaluate", GENERATION, root=REPO)
    assert stage["cmd"] == f"exec gbench fingerprint evaluate {GENERATION}"
    assert stage["outs"] == ["results/code/evaluate-generation.json"]
    assert set(fingerprinted_files("evaluate", REPO, GENERATION)) <= set(stage["deps"])
    assert "bench/protocol/fingerprint.py" in stage["deps"]
    assert "bench/report/templates" in code_stage("report", root=REPO)["deps"]


def test_every_stage_depends_on_its_kinds_fingerprint_and_its_variants_modules_only():
    committed = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for path in sorted(REPO.glob("pipelines/*/dvc.yaml")):
        for name, stage in yaml.safe_load(path.read_text())["stages"].items():
            deps = stage.get("do", stage)["deps"]
            kind = name.split("-")[0]
            code = [d for d in deps if d.startswith("results/code/")]
            assert len(code) == 1 and code[0].removeprefix("results/code/").startswith(kind), (path, name, code)
            assert f"code-{code[0].removeprefix('results/code/').removesuffix('.json')}" in committed
            assert not [d for d in deps if d.startswith("bench/")], (path, name)
            assert all(d.startswith(("results/", "${item.dir}", "models/", "data/")) for d in deps), (path, name, deps)


@pytest.mark.parametrize("args, message", [
    (["trian"], "unknown stage kind 'trian'; known: prepare, classifier"),
    (["train", "bench.training.tasks.no_such_kind"], "no module 'bench.training.tasks.no_such_kind'"),
])
def test_a_wrong_stage_kind_or_module_is_one_message_and_exit_2(tmp_path, args, message):
    with pytest.raises(ConfigError, match=message):
        write_fingerprint(tmp_path, *args)
    result = subprocess.run([sys.executable, "-m", "bench.cli", "--root", str(tmp_path), "fingerprint", *args],
                            capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()
