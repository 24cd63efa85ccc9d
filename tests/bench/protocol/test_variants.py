"""Composing names into variants, plugins, and combinations refused before any stage runs."""

import pytest

from bench.protocol import variants
from bench.protocol.variants import made_class
from models.progan import ProGANDiscriminator
from models.registry import Recipe, RegistryError, Variant, register
from models.stylegan2 import growing_discriminator


def test_registry_lists_every_family_with_its_paper():
    names = {v.name: v for v in variants.all_variants()}
    assert "Radford" in names["dcgan"].paper and "Goodfellow" in names["mlp-gan"].paper
    assert {"stylegan2-a", "r3gan", "biggan", "stylegan3-t"} <= set(names)
    with pytest.raises(RegistryError, match=r"unknown variant 'dcgann' \(did you mean 'dcgan'\?\)"):
        variants.compose("dcgann")


def test_options_apply_left_to_right():
    base = variants.compose("dcgan")
    assert variants.compose("dcgan+hinge+sn").recipe.spectral_norm and base.recipe.loss == "ns"
    both = variants.compose("dcgan+wgan-gp+ttur")
    assert both.recipe.loss == "wgan-gp" and both.recipe.lr_g == 1e-4 and both.recipe.lr_d == 4e-4
    assert variants.compose("dcgan+ttur+wgan-gp").recipe.lr_d == 1e-4  # the later loss resets the rates
    with pytest.raises(RegistryError, match=r"unknown option \+snn"):
        variants.compose("dcgan+snn")


@pytest.mark.parametrize(("name", "message"), [
    ("progan+fm", r"'progan\+fm' cannot train: feature matching \(\+fm\) needs a discriminator with `features\(x\)`"
                  r".*ProGANDiscriminator does not follow that protocol.*drop the option"),
    ("stylegan2+mbstd", r"minibatch stddev \(\+mbstd\) needs .*StyleGAN2Discriminator"),
    ("stylegan2-b+mbd", r"minibatch discrimination \(\+mbd\) needs .*ProGANDiscriminator"),
    ("mlp-gan+gated", r"its generator takes no gated"),
    ("dcgan+hinge+smooth", r"label smoothing \(\+smooth\) needs a loss with a real target"),
    ("cgan+fm", r"feature matching \(\+fm\) works on unconditional discriminators only"),
    ("cgan+unrolled", r"unrolled D \(\+unrolled\) works on unconditional"),
])
def test_combinations_that_cannot_build_are_refused_with_the_reason(name, message):
    with pytest.raises(RegistryError, match=message):
        variants.compose(name)


def test_options_that_fit_the_discriminator_protocol_compose():
    for name in ("dcgan+fm", "dcgan+mbstd+mbd", "mlp-gan+unrolled", "sngan+gated", "dcgan+r1+lazy"):
        assert variants.compose(name).name == name


def test_the_class_a_factory_builds_is_read_from_its_annotation():
    assert made_class(ProGANDiscriminator) is ProGANDiscriminator
    assert made_class(growing_discriminator) is ProGANDiscriminator
    assert made_class(lambda shape, width=1.0: None) is None


PLUGIN = '''
from models.registry import Recipe, Variant, register
from models.dcgan import DCGANDiscriminator, DCGANGenerator

register(Variant(name="my-dcgan", family="mine", paper="Me et al. 2026", generator=DCGANGenerator,
                 discriminator=DCGANDiscriminator, recipe=Recipe(ema_beta=0.99), data_kinds=("images",)))
'''


def test_a_plugin_file_registers_a_variant_and_records_where(tmp_path):
    (tmp_path / "my_method.py").write_text(PLUGIN)
    variants.load(["my_method.py"], tmp_path)
    variant = variants.compose("my-dcgan")
    assert variant.recipe.ema_beta == 0.99 and variant.paper == "Me et al. 2026"
    assert variant.defined_in == str(tmp_path / "my_method.py")
    assert variant.code_files()[0] == str(tmp_path / "my_method.py")
    with pytest.raises(RegistryError, match="does not exist"):
        variants.load(["missing.py"], tmp_path)


def test_registered_names_must_follow_the_grammar():
    from models.dcgan import DCGANDiscriminator, DCGANGenerator

    for bad in ("My GAN", "gan;rm", "gan+sn", "gan~h00"):
        with pytest.raises(RegistryError, match="name .* is not valid"):
            register(Variant(name=bad, family="x", paper="x", generator=DCGANGenerator,
                             discriminator=DCGANDiscriminator, recipe=Recipe(), data_kinds=("images",)))


@pytest.mark.parametrize(("fields", "message"), [
    ({"lr_g": -1e-4}, "lr_g must be a finite number > 0"), ({"lr_d": float("inf")}, "lr_d must be a finite"),
    ({"r1": float("nan")}, "r1 must be finite"), ({"n_critic": 0}, "n_critic"), ({"betas": (0.5, 1.0)}, "betas"),
    ({"batch": 0}, "batch"), ({"r1": -1.0}, "r1")])
def test_recipes_out_of_range_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**fields)


def test_a_runs_config_names_its_discriminator_factory_with_bound_arguments():
    """The D factory is part of the config (and its hash): a discriminator option changes it, and a partial's
    bound arguments are spelled out."""
    from bench.protocol import variants

    assert variants.compose("dcgan").describe()["discriminator"] == "models.dcgan.DCGANDiscriminator"
    assert (variants.compose("dcgan+projected-64").describe()["discriminator"]
            == "models.projected_gan.projected_discriminator_64")
    assert (variants.compose("stylegan2-a").describe()["discriminator"]
            == "models.progan.ProGANDiscriminator(downsample='blur')")
