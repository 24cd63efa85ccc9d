"""`make gpu-check` in its dry mode (CPU, smoke profile): every check of the CUDA script runs and passes here."""

import json
import subprocess
import sys

from tests.conftest import REPO


def test_the_gpu_check_passes_in_its_dry_mode_on_the_cpu(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "tests" / "benchmarks" / "gpu_check.py"), "--dry", "--keep",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    checks = {line["check"]: line for line in lines}
    assert done.returncode == 0 and checks["summary"]["ok"], done.stdout + done.stderr
    assert set(checks) == {"machine", "data", "task-kind unconditional", "task-kind class-conditional", "ddp",
                           "summary"}
    assert checks["ddp"]["identical"] and checks["ddp"]["backend"] == "gloo" and checks["ddp"]["nproc"] == 2
    unconditional, conditional = checks["task-kind unconditional"], checks["task-kind class-conditional"]
    assert unconditional["img_per_s"] > 0 and "modes_covered" in unconditional["metrics"]
    assert conditional["img_per_s"] > 0 and conditional["device"] == "cpu"
    assert checks["machine"]["tf32_matmul"] is False
