"""Shared fixtures: a throw-away repository root with a tiny protocol and prepared datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

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


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory) -> Path:
    """results/data with every dataset prepared once per test session (fmnist32 needs the Debian package)."""
    from bench.datasets import prepare

    root = tmp_path_factory.mktemp("prepared")
    for name in ("ring8", "grid25", "fmnist32"):
        prepare(name, root)
    return root / "results" / "data"


@pytest.fixture
def bench_root(tmp_path, prepared_data) -> Path:
    """A repository root with params.yaml (profile smoke) and prepared datasets, for stage calls."""
    (tmp_path / "results").mkdir()
    shutil.copytree(prepared_data, tmp_path / "results" / "data")
    write_params(tmp_path)
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
