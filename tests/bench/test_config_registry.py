import pytest
import yaml

from bench import registry
from bench.config import ConfigError, RunId, load_params, stage_settings
from tests.conftest import write_params


def test_run_id_round_trip_and_folder(tmp_path):
    run = RunId.parse("leaderboard/fmnist32/dcgan/s2")
    assert (run.study, run.dataset, run.variant, run.seed) == ("leaderboard", "fmnist32", "dcgan", 2)
    assert str(run) == "leaderboard/fmnist32/dcgan/s2"
    assert run.folder(tmp_path) == tmp_path / "results/leaderboard/fmnist32/dcgan/s2"
    with pytest.raises(ConfigError, match="study/dataset/variant/sN"):
        RunId.parse("leaderboard/fmnist32/dcgan")


def test_unknown_stage_key_is_an_error_naming_the_allowed_ones(tmp_path):
    write_params(tmp_path, ring8={"train": {"kimgs": 3}})
    with pytest.raises(ConfigError, match="unknown keys \\['kimgs'\\]"):
        stage_settings(load_params(tmp_path), "ring8", "train")


def test_unknown_profile_is_an_error(tmp_path):
    write_params(tmp_path)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["profile"] = "fast"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="profile 'fast' is not defined"):
        load_params(tmp_path)


def test_registry_lists_the_skeleton_variants_with_papers():
    names = {v.name: v for v in registry.all_variants()}
    assert "Radford" in names["dcgan"].paper and "Goodfellow" in names["mlp-gan"].paper
    with pytest.raises(registry.RegistryError, match="registered variants: .*dcgan"):
        registry.get("stylegan9")


PLUGIN = '''
from bench.registry import Recipe, Variant, register
from models.dcgan import DCGANDiscriminator, DCGANGenerator

register(Variant(name="my-dcgan", family="mine", paper="Me et al. 2026", generator=DCGANGenerator,
                 discriminator=DCGANDiscriminator, recipe=Recipe(ema_beta=0.99), data_kinds=("images",)))
'''


def test_plugin_file_registers_a_variant(tmp_path):
    (tmp_path / "my_method.py").write_text(PLUGIN)
    registry.load_plugins(["my_method.py"], tmp_path)
    variant = registry.get("my-dcgan")
    assert variant.recipe.ema_beta == 0.99 and variant.paper == "Me et al. 2026"
    with pytest.raises(registry.RegistryError, match="does not exist"):
        registry.load_plugins(["missing.py"], tmp_path)


def test_study_overrides_are_validated_and_merged(tmp_path):
    from bench.config import run_settings

    params = write_params(tmp_path)
    params["profiles"]["smoke"]["studies"] = {"mine": {"ring8": {"train": {"kimg": 7}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    settings = run_settings(load_params(tmp_path), RunId("mine", "ring8", "mlp-gan", 0), "train")
    assert settings["kimg"] == 7 and settings["width"] == params["profiles"]["smoke"]["ring8"]["train"]["width"]
    other = run_settings(load_params(tmp_path), RunId("leaderboard", "ring8", "mlp-gan", 0), "train")
    assert other["kimg"] == params["profiles"]["smoke"]["ring8"]["train"]["kimg"]
    params["profiles"]["smoke"]["studies"] = {"mine": {"ring8": {"train": {"kimgs": 7}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="studies.mine.ring8.train has unknown keys"):
        run_settings(load_params(tmp_path), RunId("mine", "ring8", "mlp-gan", 0), "train")
