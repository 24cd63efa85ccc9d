"""params.yaml and the study files against their schemas: every problem names the file, the key path, the
value and the fix; nothing falls back to a default silently."""

import pytest
import yaml

from bench.protocol.checks import check_sizes
from bench.protocol.errors import ConfigError
from bench.protocol.params import load_params, run_settings, stage_settings
from bench.protocol.studies import load_studies, study_paths
from tests.conftest import REPO, write_params


def _params(tmp_path, edit) -> None:
    params = write_params(tmp_path)
    edit(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _smoke(params: dict) -> dict:
    return params["profiles"]["smoke"]


BAD_PARAMS = [  # (edit, the message's key path and problem)
    (lambda p: _smoke(p)["ring8"]["train"].update(kimgs=3),
     r"profiles\.smoke\.ring8\.train\.kimgs: unknown key \(did you mean 'kimg'\?\)"),
    (lambda p: _smoke(p)["ring8"]["train"].update(kimg=-1), r"profiles\.smoke\.ring8\.train\.kimg: -1 must be > 0"),
    (lambda p: _smoke(p)["ring8"]["train"].update(kimg=0), r"train\.kimg: 0 must be > 0"),
    (lambda p: _smoke(p)["ring8"]["train"].update(kimg="ten"), r"train\.kimg: 'ten' is not a number"),
    (lambda p: _smoke(p)["ring8"]["train"].update(kimg=True), r"train\.kimg: True is not a number"),
    (lambda p: _smoke(p)["ring8"]["train"].pop("curve_n"), r"profiles\.smoke\.ring8\.train: `curve_n` is missing"),
    (lambda p: _smoke(p)["fmnist32"]["evaluate"].update(n_gen=1), r"evaluate\.n_gen: 1 must be >= 2"),
    (lambda p: _smoke(p)["fmnist32"]["evaluate"].update(n_gen=5),
     r"profiles\.smoke\.fmnist32\.evaluate\.n_gen: 5 is fewer samples than IS needs; use at least 10"),
    (lambda p: _smoke(p)["fmnist32"]["reference"].update(n_ref=20000),
     r"profiles\.smoke\.fmnist32\.reference\.n_ref: 20000 is more than the 10000 images of fmnist32's eval split"),
    (lambda p: _smoke(p)["fmnist32"]["reference"].update(n_ref=4),
     r"reference\.n_ref: 4 is fewer reference images than coverage, density, precision, recall need; use at least 6"),
    (lambda p: _smoke(p)["fmnist32"]["classifier"].update(n_train=70000),
     r"classifier\.n_train: 70000 is more than the 60000 images of fmnist32's train split"),
    (lambda p: p["profiles"]["quick"]["stackedfmnist"]["reference"].update(n_ref=10001),  # another profile: checked too
     r"profiles\.quick\.stackedfmnist\.reference\.n_ref: 10001 is more than the 10000 images"),
    (lambda p: _smoke(p)["studies"]["leaderboard"].update(fmnist32={"evaluate": {"n_gen": 3}}),
     r"studies\.leaderboard\.fmnist32\.evaluate\.n_gen: 3 is fewer samples"),
    (lambda p: _smoke(p)["fmnist32"]["evaluate"].update(backbones=["inceptoin"]),
     r"backbones\[0\]: 'inceptoin' is not one of inception, domain \(did you mean 'inception'\?\)"),
    (lambda p: _smoke(p)["ring8"].update(evalaute={"n_gen": 5}),
     r"profiles\.smoke\.ring8\.evalaute: unknown key \(did you mean 'evaluate'\?\)"),
    (lambda p: _smoke(p).update(rnig8=_smoke(p)["ring8"]),
     r"profiles\.smoke\.rnig8: unknown key \(did you mean 'ring8'\?\)"),
    (lambda p: p.update(seeds=["zero", 1]), r"seeds\[0\]: 'zero' is not an integer"),
    (lambda p: p.update(seeds=[0.5]), r"seeds\[0\]: 0.5 is not an integer"),
    (lambda p: p.update(seeds=[-1]), r"seeds\[0\]: -1 must be >= 0"),
    (lambda p: p.update(seeds=[]), r"seeds: the list is empty"),
    (lambda p: p.update(seeds=[1, 1]), r"seeds: 1 is listed twice"),
    (lambda p: p.update(sedes=[0]), r"sedes: unknown key \(did you mean 'seeds'\?\)"),
    (lambda p: p.update(profile="fast"), r"profile: 'fast' is not defined under `profiles:`"),
    (lambda p: _smoke(p)["studies"]["leaderboard"].update(seeds=[0.5]),
     r"studies\.leaderboard\.seeds\[0\]: 0.5 is not an integer"),
    (lambda p: _smoke(p)["studies"]["leaderboard"].update(fmnist32={"train": {"kimg": "x"}}),
     r"studies\.leaderboard\.fmnist32\.train\.kimg: 'x' is not a number"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_PARAMS)
def test_bad_params_name_the_key_value_and_fix(tmp_path, edit, message):
    _params(tmp_path, edit)
    with pytest.raises(ConfigError, match=message) as raised:
        check_sizes(load_params(tmp_path))  # the CLI's validation pass: the schema, then the sizes
    assert str(raised.value).startswith("params.yaml: ")


def test_every_problem_is_reported_at_once(tmp_path):
    _params(tmp_path, lambda p: (_smoke(p)["ring8"]["train"].update(kimg=-1, width="x"), p.update(seeds=[])))
    with pytest.raises(ConfigError) as raised:
        load_params(tmp_path)
    assert len(str(raised.value).splitlines()) == 3


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    write_params(tmp_path)
    lines = (tmp_path / "params.yaml").read_text().splitlines()
    lines[3] = "seeds: [0, 1"
    (tmp_path / "params.yaml").write_text("\n".join(lines))
    with pytest.raises(ConfigError, match=r"params\.yaml:\d+:\d+: YAML syntax error"):
        load_params(tmp_path)


def test_study_overrides_replace_the_datasets_settings_for_that_study_only(tmp_path):
    _params(tmp_path, lambda p: _smoke(p)["studies"].update(mine={"ring8": {"train": {"kimg": 7}}}))
    params = load_params(tmp_path)
    dataset = stage_settings(params, "ring8", "train")
    assert run_settings(params, "mine", "ring8", "train")["kimg"] == 7
    assert run_settings(params, "mine", "ring8", "train")["width"] == dataset["width"]
    assert run_settings(params, "leaderboard", "ring8", "train")["kimg"] == dataset["kimg"]


def _repo_studies(tmp_path, edit_params=None, study_text=None):
    (tmp_path / "pipelines").mkdir(parents=True)
    for path in study_paths(REPO):
        (tmp_path / "pipelines" / path.name).write_text(path.read_text())
    if study_text is not None:
        (tmp_path / "pipelines" / "extra.yaml").write_text(study_text)
    _params(tmp_path, edit_params or (lambda p: None))
    return load_studies(tmp_path, load_params(tmp_path))


BAD_STUDIES = [  # (params edit, extra study file, message)
    (lambda p: _smoke(p)["studies"].update(leaderbord={"seeds": [0]}), None,
     r"params\.yaml: profiles\.smoke\.studies\.leaderbord: no study 'leaderbord' .*did you mean 'leaderboard'"),
    (lambda p: p["profiles"]["quick"]["studies"].update(leaderbord={"seeds": [0]}), None,  # not the active profile
     r"params\.yaml: profiles\.quick\.studies\.leaderbord: no study 'leaderbord' .*did you mean 'leaderboard'"),
    (lambda p: _smoke(p)["studies"]["leaderboard"].update(exclude=["sngann"]), None,
     r"studies\.leaderboard\.exclude: 'sngann' is not a variant of the study \(did you mean 'sngan'\?\)"),
    (lambda p: _smoke(p)["studies"]["mode-collapse"].update(datasets=["ring9"]), None,
     r"studies\.mode-collapse\.datasets\[0\]: 'ring9' is not one of"),
    (None, "mine:\n  datasets: {ring8: [mlp-gan]}\n  spaces: wide\n",
     r"pipelines/extra\.yaml: mine\.spaces: unknown key"),
    (None, "mine:\n  kind: sweep\n  datasets: {ring8: [mlp-gan]}\n  sweep: {losses: [ns], space: narrow}\n",
     r"mine\.sweep\.space: 'narrow' is not one of wide"),
    (None, "mine:\n  datasets: {ring8: ['mlp-gan~h00;touch x;echo']}\n",
     r"mine\.datasets\.ring8\[0\]: variant name 'mlp-gan~h00;touch x;echo' does not follow the grammar"),
    (None, "mine:\n  datasets: {ring8: [mlp-gan, mlp-gan]}\n", r"mine\.datasets\.ring8: 'mlp-gan' is listed twice"),
    (None, "mine:\n  datasets: {ring8: [mlp-gan]}\n  seeds: [a]\n", r"mine\.seeds\[0\]: 'a' is not an integer"),
    (None, "leaderboard:\n  datasets: {ring8: [mlp-gan]}\n", r"study 'leaderboard' is also defined in"),
    (None, "mine:\n  versus: leaderbord\n  datasets: {ring8: [mlp-gan]}\n",
     r"mine\.versus: 'leaderbord' is not another table study; both must be `kind: table` \(table studies: "),
    (None, "mine:\n  versus: mode-collapse\n  datasets: {ring8: [mlp-gan]}\n", r"mine\.versus: 'mode-collapse'"),
    (None, "mine:\n  kind: alignment\n  datasets: {fmnist32-unaligned: [dcgan]}\n",
     r"mine\.versus: an alignment study names the table study whose runs on the aligned datasets"),
    (None, "mine:\n  kind: alignment\n  versus: leaderboard\n  datasets: {fmnist32: [dcgan]}\n",
     r"mine\.datasets\.fmnist32: an alignment study lists unaligned datasets"),
    (None, "mine:\n  kind: alignment\n  versus: leaderboard\n  datasets: {fmnist32-unaligned: [mlp-gan]}\n",
     r"mine\.datasets\.fmnist32-unaligned: mlp-gan not in leaderboard's fmnist32 list, so they have no aligned"),
]


@pytest.mark.parametrize(("edit", "study", "message"), BAD_STUDIES)
def test_bad_study_files_and_study_settings_are_refused(tmp_path, edit, study, message):
    with pytest.raises(ConfigError, match=message):
        _repo_studies(tmp_path, edit, study)


def test_the_repositorys_own_studies_load_under_every_profile(tmp_path):
    for profile in ("smoke", "quick", "standard", "paper"):
        studies = _repo_studies(tmp_path / profile, lambda p, profile=profile: p.update(profile=profile))
        assert {s.name for s in studies} >= {"leaderboard", "are-gans-equal", "mode-collapse", "stylegan2-ablation"}
