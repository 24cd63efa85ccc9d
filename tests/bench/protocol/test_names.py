"""The variant-name grammar and run ids: one parser, a safe alphabet, round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.protocol.errors import ConfigError
from bench.protocol.names import VariantName
from bench.protocol.runs import RunId

PART = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,8}", fullmatch=True)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(base=PART, options=st.lists(PART, max_size=3), sample=st.none() | st.integers(0, 150))
def test_names_round_trip(base, options, sample):
    text = "+".join([base, *options])
    if sample is not None and options:
        text += f"~h{sample:02d}"
    name = VariantName.parse(text)
    assert str(name) == text and name.base == base and list(name.options) == options
    assert name.registry_name == "+".join([base, *options])
    assert name.sweep_loss == (options[-1] if name.sample else None)


@pytest.mark.parametrize("text", ["mlp-gan~h00;touch x;echo", "dcgan+", "+sn", "DCGAN", "dc gan", "dcgan~h00",
                                  "dcgan+ns~3", "dcgan+ns~h1", "dcgan$(id)", "dcgan/../x", "", "dcgan+ns~h00~h01"])
def test_names_outside_the_grammar_are_refused(text):
    with pytest.raises(ConfigError, match="variant name"):
        VariantName.parse(text)


def test_run_id_round_trip_and_folder(tmp_path):
    run = RunId.parse("leaderboard/fmnist32/dcgan+hinge/s2")
    assert (run.study, run.dataset, run.variant, run.seed) == ("leaderboard", "fmnist32", "dcgan+hinge", 2)
    assert str(run) == "leaderboard/fmnist32/dcgan+hinge/s2" and run.name.options == ("hinge",)
    assert run.folder(tmp_path) == tmp_path / "results/leaderboard/fmnist32/dcgan+hinge/s2"
    for bad in ("leaderboard/fmnist32/dcgan", "leaderboard/fmnist32/dcgan/2", "Lead/fmnist32/dcgan/s0",
                "leaderboard/fmnist32/dcgan;rm/s0", "leaderboard/fm nist/dcgan/s0"):
        with pytest.raises(ConfigError):
            RunId.parse(bad)
