"""tests/benchmarks/reference_throughput.py's loader of networks defined in training scripts (pytorch/examples'
DCGAN): the script's definitions run, its argument parsing, data loading and loop do not."""

import importlib.util
import sys

import pytest

from tests.conftest import REPO


def _benchmark():
    spec = importlib.util.spec_from_file_location("reference_throughput",
                                                  REPO / "tests" / "benchmarks" / "reference_throughput.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SCRIPT = '''
import math
import sys

opt = sys.argv[1]  # a script's argument parsing: fails when imported here
raise SystemExit("the training loop ran")


def init(layer):
    layer.scale = math.sqrt(width)


class Net:
    def __init__(self, n):
        self.n, self.width = n, width
'''


def test_script_definitions_run_only_the_imports_and_the_named_definitions(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(SCRIPT)
    namespace = _benchmark().script_definitions(script, {"Net", "init"}, {"width": 4})
    net = namespace["Net"](3)
    namespace["init"](net)
    assert (net.n, net.width, net.scale) == (3, 4, 2.0)
    assert "opt" not in namespace


def test_script_definitions_name_what_the_script_lacks(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(SCRIPT)
    with pytest.raises(SystemExit, match=r"main.py: no top-level Generator"):
        _benchmark().script_definitions(script, {"Net", "Generator"}, {})
