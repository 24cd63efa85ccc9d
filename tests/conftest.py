"""Shared fixtures: a throw-away repository root with a tiny protocol and prepared datasets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import settings

# Property tests draw the same examples on every run and machine (a failure in CI reproduces here, and a green
# run is not a lucky draw); `--hypothesis-seed` or another profile still explores when asked.
settings.register_profile("deterministic", derandomize=True)
settings.load_profile("deterministic")

REPO = Path(__file__).resolve().parents[1]
FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def write_params(root: Path, **overrides) -> dict:
    """params.yaml of the repo with profile `smoke`, plus per-dataset stage overrides:
    overrides={"ring8": {"train": {...}}} merges into profiles.smoke.ring8.train."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "smoke"
    for dataset, stages in overrides.items():
        for stage, values in stages.items():
            params["profiles"]["smoke"][dataset][stage].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


class RecordingD(torch.nn.Module):
    """A linear D on 3x16x16 images that keeps a copy of every input it scores (`seen`): which inputs an
    augmentation wrapper hands to D (tests/bench/training/test_augment.py, test_ada_control.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((3 * 16 * 16,), 0.01))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return x.flatten(1) @ self.w


UNSTABLE_PLUGIN = """from models.mlp_gan import MLPDiscriminator, MLPGenerator
from models.registry import Recipe, Variant, register

register(Variant(name="unstable-gan", family="unstable", paper="MLP GAN at learning rate 1e30 (diverges at once)",
                 generator=MLPGenerator, discriminator=MLPDiscriminator, z_dim=2, data_kinds=("points",),
                 recipe=Recipe(lr_g=1e30, lr_d=1e30, batch=100)))
"""


def strict_json(path: Path):
    """The file parsed as JSON proper: NaN and Infinity are not JSON, and a table holding them fails here."""
    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def copy_of_the_repository(root: Path, smoke: dict | None = None,
                           before_pipelines: Callable[[Path, dict], None] | None = None) -> tuple[Path, dict]:
    """The tracked files copied into `root`, switched to the smoke profile (`smoke` merges into its dataset
    blocks like `write_params`; a key whose value is not a mapping, e.g. `group_runs`, is set in the profile),
    pipelines written for it and committed to a new git repository; and the environment a user's shell would
    have (this interpreter's scripts on PATH, no Inception head). `before_pipelines(root, env)` changes the copy
    (as a user would: their data, params.yaml, a study) before the pipelines are written."""
    import os
    import subprocess
    import sys

    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in files.stdout.split():
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["profile"] = "smoke"
    for key, stages in (smoke or {}).items():
        if not isinstance(stages, dict):
            params["profiles"]["smoke"][key] = stages
            continue
        for stage, values in stages.items():
            params["profiles"]["smoke"][key][stage].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GBENCH_INCEPTION_HEAD": str(root / "no-head-here.pth")}  # as offline, whatever this machine has
    if before_pipelines is not None:
        before_pipelines(root, env)
    for cmd in (["gbench", "pipelines"], ["git", "init", "-q"], ["git", "add", "-A"],  # run lists depend on the profile
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=root, env=env, capture_output=True, check=True)
    return root, env


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory) -> Path:
    """results/data with every dataset prepared once per test session (fmnist32 needs the Debian package)."""
    from bench.data.datasets import prepare

    root = tmp_path_factory.mktemp("prepared")
    for name in ("ring8", "grid25", "fmnist32"):
        prepare(name, root)
    return root / "results" / "data"


TEST_STUDY = """# runs of the unit tests: any variant on these datasets may be trained under study `t`
t:
  title: unit-test runs
  datasets:
    fmnist32: [dcgan]
    ring8: [mlp-gan]
"""


def second_root(bench_root: Path, tmp_path_factory, **settings) -> Path:
    """Another repository root on the same prepared data, with the same studies and `settings` (as
    `write_params`): where a run trains uninterrupted, to compare with a killed and resumed one."""
    root = tmp_path_factory.mktemp("uninterrupted")
    (root / "results").mkdir()
    (root / "results" / "data").symlink_to(bench_root / "results" / "data")
    write_params(root, **settings)
    write_studies(root)
    return root


def kill_at_first_checkpoint(root: Path, run, stage: str = "train") -> dict:
    """Start `gbench train RUN` (or a later stage's command, e.g. `gbench prior RUN`) in its own process, SIGKILL it
    as soon as its resume folder holds a checkpoint, and return that checkpoint (loaded)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from bench.training.checkpoint import CHECKPOINT, load_checkpoint
    from bench.training.loop import resume_dir

    ckpt = resume_dir(root, run, stage) / CHECKPOINT  # the run's state lives outside its DVC output
    process = subprocess.Popen([sys.executable, "-m", "bench.cli", "--root", str(root), stage, str(run)],
                               env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return load_checkpoint(ckpt)


def write_studies(root: Path) -> None:
    """The repository's study files (params.yaml's profiles refer to them) and the test study `t`."""
    (root / "pipelines").mkdir(exist_ok=True)
    from bench.protocol.studies import study_paths

    for path in study_paths(REPO):
        shutil.copy(path, root / "pipelines" / path.name)
    (root / "pipelines" / "t.yaml").write_text(TEST_STUDY)


@pytest.fixture
def bench_root(tmp_path, prepared_data) -> Path:
    """A repository root with params.yaml (profile smoke), the studies and prepared datasets, for stage calls."""
    (tmp_path / "results").mkdir()
    shutil.copytree(prepared_data, tmp_path / "results" / "data")
    write_params(tmp_path)
    write_studies(tmp_path)
    return tmp_path


@pytest.fixture
def loopback_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served, stopped after the test."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


# --- headless Chromium (Debian's `chromium` + `chromium-driver`, installed by `make system-deps`) via Selenium ---

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((path for path in CHROMIUM if shutil.which(path)), None)
    if binary is None or not shutil.which(DRIVER):
        pytest.fail("headless Chromium is missing: `make system-deps` installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def open_page(driver, path) -> dict:
    """Load a file:// page; returns its console messages and the URL of every request it made."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    console = driver.get_log("browser")
    requests = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    return {"console": console, "requests": urls}


def page_problems(driver, page: Path) -> list[str]:
    """What is wrong with one report page in the browser: console errors or warnings, requests that leave
    the report, images that did not load, links to files that do not exist."""
    loaded = open_page(driver, page)
    problems = [f"console: {m['message']}" for m in loaded["console"] if m["level"] in ("SEVERE", "WARNING")]
    problems += [f"request: {u}" for u in loaded["requests"] if not u.startswith(("file://", "data:"))]
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
    problems += [f"image did not load: {src[:80]}" for src, ok in images if not ok]
    links = driver.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'))")
    problems += [f"link to a missing file: {h}" for h in links
                 if not h.startswith("#") and not (page.parent / h.split("#")[0]).is_file()]
    return problems


# --- what a module imports at run time (the independent reference for bench/protocol/dependencies.py) ---

_RUNTIME_IMPORTS = r"""
import importlib, json, sys, types
from pathlib import Path
repo = Path(sys.argv[1])
result = {}
for name in sys.argv[2:]:
    for loaded in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[loaded]
    package = types.ModuleType("models")  # the package without its __init__, which imports every family
    package.__path__ = [str(repo / "models")]
    sys.modules["models"] = package
    importlib.import_module(name)
    result[name] = sorted(Path(m.__file__).relative_to(repo).as_posix() for k, m in sys.modules.items()
                          if k.startswith("models.") and getattr(m, "__file__", None))
print(json.dumps(result))
"""


def runtime_model_imports(modules: list[str]) -> dict[str, set[str]]:
    """For each module (e.g. models.stylegan2), the files of models/ that importing it loads, measured in a
    fresh interpreter."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _RUNTIME_IMPORTS, str(REPO), *modules], capture_output=True,
                         text=True, check=True, cwd=REPO)
    return {k: set(v) for k, v in json.loads(out.stdout).items()}
