"""GAN variants, one module per family; importing this package registers all of them."""

from models import (  # noqa: F401  (import registers the variants)
    acgan,
    biggan,
    cgan,
    cyclegan,
    dcgan,
    mlp_gan,
    pix2pix,
    progan,
    projected_gan,
    r3gan,
    sagan,
    sngan,
    stylegan,
    stylegan2,
    stylegan3,
    vision_aided,
    vit_vqgan,
    vqgan,
    wgan_robustness,
)
