"""Files every stage writes: atomic, and JSON that is JSON (no NaN or Infinity literals)."""

import json
import math

import numpy as np

from bench.protocol.io import write_json


def test_non_finite_floats_are_written_as_null(tmp_path):
    path = write_json(tmp_path / "x.json", {"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": np.float64("nan"),
                                            "d": (2.5, "text"), "e": {"f": 3}})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None, None], "c": None, "d": [2.5, "text"], "e": {"f": 3}}
