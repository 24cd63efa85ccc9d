"""Metric protocols by name (NVlabs' grammar): names from what was measured, names parsed into N and reference,
and a profile's `protocol:` setting the evaluate and reference stages, with every contradiction an error."""

import pytest
import yaml

from bench.protocol.checks import check_sizes
from bench.protocol.errors import ConfigError
from bench.protocol.metric_protocols import WELL_KNOWN, count_text, name, parse
from bench.protocol.params import load_params, stage_settings
from tests.conftest import write_params


@pytest.mark.parametrize(("args", "expected"), [
    (("fid", 50_000, "train", 50_000, 50_000), "fid50k_full"),  # StyleGAN2-ADA's CIFAR-10 protocol
    (("kid", 50_000, "train", 50_000, 50_000), "kid50k_full"),
    (("pr", 50_000, "train", 50_000, 50_000), "pr50k3_full"),
    (("fid", 10_000, "eval", 10_000, 10_000), "fid10k_test"),  # Lucic et al.'s
    (("fid", 200, "eval", 2_000, 10_000), "fid200_test2k"),  # our quick fmnist32 leaderboard
    (("dc", 2_500, "train", 500, 60_000), "dc2.5k5_train500"),
    (("is", 50_000), "is50k"),
])
def test_names_say_n_k_and_the_reference(args, expected):
    assert name(*args) == expected


@pytest.mark.parametrize("text", [*WELL_KNOWN, "fid200_test2k", "dc2.5k5_train500", "pr163_test48", "is16"])
def test_a_name_parses_back_into_what_it_says(text):
    p = parse(text)
    whole = p.n_ref is None
    size = 10**6  # a split larger than any subset named here
    assert name(p.family, p.n_gen, p.split, size if whole else p.n_ref, size) == text


def test_parsed_values():
    def values(p):
        return p.family, p.n_gen, p.split, p.n_ref

    assert values(parse("fid50k_full")) == ("fid", 50_000, "train", None)
    assert values(parse("kid500_test2k")) == ("kid", 500, "eval", 2_000)
    assert parse("pr50k3_full").spec_name("kid") == "kid50k_full" and parse("fid10k_test").spec_name("is") == "is10k"
    assert [count_text(n) for n in (50_000, 2_500, 1_000, 999, 1_234)] == ["50k", "2.5k", "1k", "999", "1234"]


@pytest.mark.parametrize("text", ["fid50k", "is50k_full", "pr50k_full", "pr50k4_full", "fid_full", "fid50k_val",
                                  "ppl50k_full", "FID50k_full", "fid50k_full_"])
def test_malformed_names_are_refused_with_the_grammar(text):
    with pytest.raises(ValueError, match=r"is not a metric protocol name: <metric><N>\[k\]_<reference>"):
        parse(text)


def _params(tmp_path, **block):
    params = write_params(tmp_path)
    params["profiles"]["smoke"]["fmnist32"].update(block)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_named_protocol_sets_evaluate_n_and_the_reference(tmp_path):
    _params(tmp_path, protocol="fid10k_full", reference={"batch": 16},
            evaluate={"batch": 16, "backbones": ["inception"]})
    params = load_params(tmp_path)
    check_sizes(params)
    assert stage_settings(params, "fmnist32", "evaluate")["n_gen"] == 10_000
    assert stage_settings(params, "fmnist32", "reference") == {"batch": 16, "split": "train", "n_ref": None}
    _params(tmp_path, protocol="kid500_test2k", reference={"batch": 16}, evaluate={"n_gen": 500})
    assert stage_settings(load_params(tmp_path), "fmnist32", "reference")["n_ref"] == 2_000


@pytest.mark.parametrize(("block", "message"), [
    ({"protocol": "fid50k_ful"}, r"profiles\.smoke\.fmnist32\.protocol: .*'fid50k_ful' is not a metric protocol"),
    ({"protocol": "fid10k_test", "evaluate": {"n_gen": 500}},
     r"fmnist32\.evaluate\.n_gen: 500 contradicts protocol fid10k_test \(N = 10000\); remove n_gen"),
    ({"protocol": "fid10k_test", "reference": {"n_ref": 2000}},
     r"fmnist32\.reference\.n_ref: the protocol fid10k_test sets the reference size; remove n_ref"),
    ({"protocol": "fid10k_test", "reference": {"split": "train"}},
     r"fmnist32\.reference\.split: train contradicts protocol fid10k_test \(the eval split\)"),
    ({"protocol": "is10k"}, r"fmnist32\.protocol: is10k has no reference \(IS\)"),
    ({"protocol": "fid10k_test20k"},
     r"fmnist32\.reference\.n_ref: 20000 is more than the 10000 images of fmnist32's eval split"),
    ({"evaluate": {"batch": 16}}, r"fmnist32\.evaluate: n_gen is missing; add it, or name a `protocol:`"),
])
def test_contradictions_and_gaps_name_the_key_and_the_fix(tmp_path, block, message):
    params = write_params(tmp_path)
    smoke = params["profiles"]["smoke"]["fmnist32"]
    for stage in ("reference", "evaluate"):
        if "protocol" in block and stage not in block:
            smoke[stage].pop("n_ref" if stage == "reference" else "n_gen")
    smoke.update(block)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=message):
        check_sizes(load_params(tmp_path))


def test_a_2d_set_takes_no_protocol(tmp_path):
    params = write_params(tmp_path)
    params["profiles"]["smoke"]["ring8"]["protocol"] = "fid2.5k_full"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.ring8\.protocol: ring8 is a 2-D set"):
        load_params(tmp_path)


@pytest.mark.parametrize(("profile", "named", "n_gen", "split"), [("standard", "fid10k_test", 10_000, "eval"),
                                                                   ("paper", "fid50k_full", 50_000, "train")])
def test_standard_and_paper_score_cifar10_on_its_leaderboard_under_a_published_protocol(tmp_path, profile, named,
                                                                                         n_gen, split):
    """CIFAR-10 is their main image set (the leaderboard lists it; quick and smoke leave it out: no offline copy)."""
    from bench.protocol.resolve import Protocol
    from bench.protocol.runs import RunId
    from bench.protocol.studies import load_studies
    from tests.conftest import REPO, write_studies

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = profile
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_studies(tmp_path)
    params = load_params(tmp_path)
    check_sizes(params)
    protocol = Protocol(REPO, params, load_studies(tmp_path, params))
    leaderboard = {run.dataset for run in protocol.study("leaderboard").runs()}
    assert "cifar10" in leaderboard and "fmnist32" in leaderboard
    assert params["profiles"][profile]["cifar10"]["protocol"] == named
    run = protocol.resolve(RunId.parse("leaderboard/cifar10/stylegan2/s0"))
    assert run.evaluate["n_gen"] == n_gen and run.dataset.shape == (3, 32, 32)
    assert stage_settings(params, "cifar10", "reference") == {"batch": 64, "split": split, "n_ref": None}
    for default in ("quick", "smoke"):
        params["profile"] = default
        studies = {study.name: study for study in load_studies(tmp_path, params)}
        assert "cifar10" not in {run.dataset for run in studies["leaderboard"].runs()}
