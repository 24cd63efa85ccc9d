"""SAGAN (Zhang, Goodfellow, Metaxas & Odena 2019, arXiv:1805.08318) at the SNGAN ResNet's resolutions.

The projection cGAN's ResNet (models/sngan.py: conditional BN in G, projection D) with the self-attention
block (models/blocks.py) in G and in D, spectral norm on every layer of both (the paper's change: SN in
G too), hinge loss and the two time-scale update rule: Adam lr 1e-4 for G and 4e-4 for D, betas (0, 0.9),
one D step per G step. The paper attends on the 32x32 feature maps of its 128x128 models (after G's
256-channel 32x32 block and D's 128-channel 32x32 block, as the authors' code and mimicry's `sagan_128`);
at 32x32 the attention sits where the authors' 32x32 configurations put it: after G's 16x16 block and
after D's first (32 -> 16) block. With no published network in between, 64x64 attends at 32x32 like
128x128 (one of the two best positions of the paper's Table 1) and 48x48 at 24x24, half its side like
32x32. `attention_at` overrides the position (the side of the feature maps attended on).
"""

from __future__ import annotations

from models.registry import Recipe, Variant, register
from models.sngan import Z_DIM, ResNetDiscriminator, ResNetGenerator, image_side
from models.spectral import spectral_normalize

ATTENTION_AT = {32: 16, 48: 24, 64: 32, 128: 32}  # image side -> side of the feature maps attended on


def attention_side(data_shape: tuple[int, ...], attention_at: int | None) -> int:
    return attention_at if attention_at is not None else ATTENTION_AT[image_side(data_shape)]


class SAGANGenerator(ResNetGenerator):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: float = 1.0, n_classes: int = 10,
                 attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__(data_shape, z_dim, width, n_classes=n_classes,
                         attention_at=attention_side(data_shape, attention_at), gated=gated)
        spectral_normalize(self, embeddings=False)


class SAGANDiscriminator(ResNetDiscriminator):
    def __init__(self, data_shape: tuple[int, ...], width: float = 1.0, n_classes: int = 10,
                 attention_at: int | None = None, gated: bool = False) -> None:
        super().__init__(data_shape, width, n_classes=n_classes, attention_at=attention_side(data_shape, attention_at))


register(Variant(
    name="sagan", family="sagan",
    paper="Zhang et al. 2019, Self-Attention Generative Adversarial Networks (arXiv:1805.08318); SN in G and D, "
          "attention at 16x16 in both at 32x32 (32x32 at 64 and 128 px)",
    generator=SAGANGenerator, discriminator=SAGANDiscriminator,
    recipe=Recipe(loss="hinge", lr_g=1e-4, lr_d=4e-4, betas=(0.0, 0.9), n_critic=1, batch=64, spectral_norm=True),
    data_kinds=("images",), z_dim=Z_DIM, conditional=True,
))
