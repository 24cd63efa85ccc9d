"""GAN variants, one module per family; importing this package registers all of them."""

from models import dcgan, mlp_gan  # noqa: F401  (import registers the variants)
