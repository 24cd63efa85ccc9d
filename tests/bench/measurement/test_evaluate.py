"""The evaluate stage: its rule for non-finite numbers (explained where the catalog allows, else an error),
and its sample grid."""

import math

import numpy as np
import pytest
import torch

from bench.measurement.evaluate import finite_metrics
from bench.protocol.errors import ResultsError
from bench.protocol.runs import RunId

RUN = RunId.parse("leaderboard/ring8/mlp-gan/s0")


def test_an_undefined_reverse_kl_is_null_with_its_reason():
    spec = {}
    out = finite_metrics(RUN, {"modes_covered": 0, "high_quality": 0.0, "reverse_kl": math.nan}, spec)
    assert out == {"modes_covered": 0, "high_quality": 0.0, "reverse_kl": None}
    assert "no sample is high quality" in spec["undefined"]["reverse_kl"]
    assert finite_metrics(RUN, {"reverse_kl": math.inf}, spec)["reverse_kl"] is None


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_any_other_non_finite_metric_is_an_error_naming_run_and_metric(value):
    with pytest.raises(ResultsError, match=f"leaderboard/ring8/mlp-gan/s0: metric fid is {value}"):
        finite_metrics(RUN, {"fid": value}, {})


def test_finite_values_and_none_pass_unchanged():
    metrics = {"fid": 12.5, "is": None, "modes_covered": 7}
    assert finite_metrics(RUN, metrics, {}) == metrics


@pytest.mark.parametrize("shape", [(64, 1, 32, 32), (13, 3, 8, 6), (3, 1, 5, 5)])
def test_the_sample_grid_is_torchvisions_make_grid(shape):
    from torchvision.utils import make_grid

    from bench.measurement.grids import image_grid

    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    expected = make_grid(torch.from_numpy(images), nrow=8, padding=1, pad_value=255).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(image_grid(images, nrow=8), expected)
