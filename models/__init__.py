"""GAN variants, one module per family; importing this package registers all of them."""

from models import acgan, biggan, cgan, dcgan, mlp_gan, r3gan, sagan, sngan  # noqa: F401  (import registers the variants)
