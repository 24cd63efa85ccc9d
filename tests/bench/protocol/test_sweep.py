"""The loss sweep: seeded samples from the wide ranges, sample h00 = the paper's defaults, run naming."""

import json
import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.protocol.errors import ConfigError
from bench.protocol.params import load_params
from bench.protocol.resolve import Protocol
from bench.protocol.runs import RunId
from bench.protocol.studies import load_studies
from bench.protocol.sweep import WIDE, draw, recipe_changes, write_samples
from bench.tables.stats import best_of_k
from bench.training.losses import LOSSES
from tests.conftest import write_params

STUDY = """# header kept
are-gans-equal:
  title: sweep
  datasets:
    ring8: [mlp-gan]
  sweep:
    losses: [ns, wgan, wgan-gp, rpgan]
    sampler_seed: 7
"""


def test_sample_zero_is_each_losss_published_defaults():
    for name, loss in LOSSES.items():
        first = draw(name, 1, seed=0)[0]
        assert first["lr"] == loss.defaults["lr_g"] and first["beta1"] == loss.defaults["betas"][0]
        assert first["n_critic"] == loss.defaults["n_critic"]


def test_draws_are_seeded_and_lie_in_the_papers_wide_ranges():
    a, b, c = draw("wgan", 200, seed=3), draw("wgan", 200, seed=3), draw("wgan", 200, seed=4)
    assert a == b and a != c
    rest = a[1:]
    lr = np.log10([s["lr"] for s in rest])
    assert WIDE["log10_lr"][0] <= lr.min() and lr.max() <= WIDE["log10_lr"][1]
    assert all(0.0 <= s["beta1"] <= 1.0 for s in rest) and {s["n_critic"] for s in rest} == {1, 5}
    clip = np.log10([s["clip"] for s in rest])
    assert -3.0 <= clip.min() and clip.max() <= 0.0
    assert lr.min() < -4.5 and lr.max() > -2.5  # the range is really covered (200 uniform draws)
    assert all("penalty" not in s for s in rest)
    penalties = np.log10([s["penalty"] for s in draw("wgan-gp", 200, seed=3)[1:]])
    assert -1.0 <= penalties.min() and penalties.max() <= 2.0


def test_recipe_changes_map_the_sample_onto_the_recipe():
    changes = recipe_changes("wgan-gp", {"lr": 1e-3, "beta1": 0.2, "n_critic": 5, "penalty": 3.0}, beta2=0.9)
    assert changes == {"lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.2, 0.9), "n_critic": 5, "penalty_weight": 3.0}
    rp = recipe_changes("rpgan", {"lr": 1e-3, "beta1": 0.0, "n_critic": 1, "penalty": 0.5}, beta2=0.99)
    assert rp["r1"] == rp["r2"] == 0.5 and "penalty_weight" not in rp


def _sweep_root(tmp_path, samples=2, seeds=(0, 1)):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/sweep.yaml").write_text(STUDY)
    params = write_params(tmp_path)
    for profile in params["profiles"].values():  # this root's one study, with its one dataset
        profile["studies"] = {"are-gans-equal": {"samples": samples}}
    params["profiles"]["smoke"]["studies"] = {"are-gans-equal": {
        "samples": samples, "seeds": list(seeds), "ring8": {"train": {"kimg": 0.5}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def _samples(root) -> dict:
    return json.loads((root / "pipelines/sweep.samples.json").read_text())


def _write_samples(root, doc) -> None:
    (root / "pipelines/sweep.samples.json").write_text(json.dumps(doc))


def test_written_samples_make_a_static_run_list_with_the_drawn_recipes(tmp_path):
    root = _sweep_root(tmp_path)
    with pytest.raises(ConfigError, match="gbench sweep-sample are-gans-equal --k 2"):
        load_studies(root, load_params(root))
    study_text = (root / "pipelines/sweep.yaml").read_text()
    write_samples(root, "are-gans-equal", 5)
    assert (root / "pipelines/sweep.yaml").read_text() == study_text  # the study file is the user's: untouched
    written = _samples(root)["are-gans-equal"]
    assert written["sampler_seed"] == 7 and written["space"] == "wide" and len(written["drawn"]["ns"]) == 5
    assert written["drawn"]["wgan"] == {f"h{k:02d}": sample for k, sample in enumerate(draw("wgan", 5, 7))}
    (study,) = load_studies(root, load_params(root))
    runs = study.runs()
    assert len(runs) == 4 * 2 * 2 and RunId("are-gans-equal", "ring8", "mlp-gan+wgan-gp~h01", 1) in runs
    drawn = written["drawn"]["wgan-gp"]["h01"]
    protocol = Protocol.load(root)
    run = protocol.resolve(RunId("are-gans-equal", "ring8", "mlp-gan+wgan-gp~h01", 0))
    variant = run.variant
    assert variant.recipe.lr_g == variant.recipe.lr_d == drawn["lr"]
    assert variant.recipe.betas == (drawn["beta1"], 0.9) and variant.recipe.penalty_weight == drawn["penalty"]
    assert variant.recipe.loss == "wgan-gp" and variant.name == "mlp-gan+wgan-gp~h01"
    assert run.train["kimg"] == 0.5  # the study's budget
    with pytest.raises(ConfigError, match="no drawn sample h09"):
        protocol.resolve(RunId("are-gans-equal", "ring8", "mlp-gan+wgan-gp~h09", 0))


def test_a_sample_that_makes_an_invalid_recipe_is_a_clear_error(tmp_path):
    root = _sweep_root(tmp_path)
    write_samples(root, "are-gans-equal", 2)
    doc = _samples(root)
    doc["are-gans-equal"]["drawn"]["wgan"]["h01"]["n_critic"] = 0
    _write_samples(root, doc)
    with pytest.raises(ConfigError, match=r"pipelines/sweep\.samples\.json: are-gans-equal\.drawn\.wgan\.h01\."
                                          r"n_critic: 0 must be >= 1"):
        Protocol.load(root)
    doc["are-gans-equal"]["drawn"]["wgan"]["h01"]["n_critic"] = 1
    doc["are-gans-equal"]["drawn"]["wgan"]["h01"]["beta1"] = 1.5  # refused even if no profile runs h01
    _write_samples(root, doc)
    with pytest.raises(ConfigError, match=r"drawn\.wgan\.h01\.beta1: 1\.5 must be < 1; write Adam's beta1 in \[0, 1\)"):
        Protocol.load(root)


def test_samples_drawn_with_other_sampler_settings_or_left_in_the_study_file_are_refused(tmp_path):
    """A changed sampler_seed makes the written samples stale, and samples still inside the study file (the
    old layout) would be silently ignored: both are an error naming the fix."""
    root = _sweep_root(tmp_path)
    write_samples(root, "are-gans-equal", 2)
    study = root / "pipelines/sweep.yaml"
    study.write_text(study.read_text().replace("sampler_seed: 7", "sampler_seed: 8"))
    with pytest.raises(ConfigError, match=r"drawn with \{'space': 'wide', 'sampler_seed': 7\}, but pipelines/"
                                          r"sweep\.yaml now asks for \{'space': 'wide', 'sampler_seed': 8\}; run "
                                          r"`gbench sweep-sample are-gans-equal --k 2`"):
        Protocol.load(root)
    write_samples(root, "are-gans-equal", 2)
    Protocol.load(root)
    doc = yaml.safe_load(study.read_text())
    doc["are-gans-equal"]["sweep"]["drawn"] = _samples(root)["are-gans-equal"]["drawn"]
    study.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"are-gans-equal\.sweep\.drawn: the drawn samples live in "
                                          r"pipelines/sweep\.samples\.json now; delete `drawn:` here"):
        Protocol.load(root)
    (root / "pipelines/sweep.samples.json").write_text("{not json")
    study.write_text(STUDY.replace("sampler_seed: 7", "sampler_seed: 8"))
    with pytest.raises(ConfigError, match=r"pipelines/sweep\.samples\.json:1:2: not valid JSON"):
        Protocol.load(root)
    write_samples(root, "are-gans-equal", 2)  # the fix the message names works on the damaged file
    Protocol.load(root)


def _expected_min_of_k(values, k):
    """E[min of k draws with replacement] = sum_i v_(i) [((n-i+1)/n)^k - ((n-i)/n)^k] (order statistics)."""
    v = np.sort(values)
    n = len(v)
    i = np.arange(1, n + 1)
    return float(np.sum(v * (((n - i + 1) / n) ** k - ((n - i) / n) ** k)))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 10_000).map(lambda v: v / 100), min_size=1, max_size=12), st.integers(1, 8))
def test_best_of_k_bootstrap_matches_the_exact_order_statistic(values, k):
    (point,) = best_of_k(values, [k], lower_is_better=True, n_resamples=20000, seed=1)
    spread = max(values) - min(values)
    assert point["mean"] == pytest.approx(_expected_min_of_k(values, k), abs=0.03 * spread + 1e-9)
    eps = 1e-9 * (1 + max(values))  # a skewed best-of-k may put the mean outside its 95% band: not checked
    assert min(values) - eps <= point["low"] <= point["high"] <= max(values) + eps
    assert min(values) - eps <= point["mean"] <= max(values) + eps


def test_best_of_k_improves_with_budget_and_maximises_when_higher_is_better():
    values = [5.0, 1.0, 3.0, 4.0]
    curve = best_of_k(values, range(1, 5))
    means = [p["mean"] for p in curve]
    assert means == sorted(means, reverse=True) and means[0] == pytest.approx(np.mean(values), abs=0.1)
    top = best_of_k(values, [50], lower_is_better=False)[0]
    assert top["mean"] == pytest.approx(5.0, abs=1e-3) and not math.isnan(top["high"])
