"""pix2pix (Isola, Zhu, Zhou & Efros, CVPR 2017, arXiv:1611.07004): paired image-to-image translation with a
conditional GAN, and the paper's Table 1 ablation of its objective.

`pix2pix`: U-Net G with skips and dropout (models/unet.py), PatchGAN D on the (input, output) pair
(models/patchgan.py; a 16x16 field at 32x32: `n_layers_for`), batch norm, the vanilla GAN criterion, L1 weight
100, D's loss halved, Adam 2e-4 (0.5, 0.999), batch 1, and both learning rates decaying linearly to 0 over the
second half of the budget: the defaults of junyanz/pytorch-CycleGAN-and-pix2pix's train options and
pix2pix_model.py. `pix2pix-l1` trains G on the L1 term alone (no D); `pix2pix-gan` on the cGAN term alone.
The training step is bench/training/tasks/translation.py's.
"""

from __future__ import annotations

from models.patchgan import PatchDiscriminator, n_layers_for
from models.registry import Recipe, Variant, register
from models.unet import UNetGenerator

PAPER = "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks (arXiv:1611.07004)"


def pair_discriminator(in_channels: int, size: int, width: float = 1.0, norm: str = "batch") -> PatchDiscriminator:
    """The PatchGAN D with the reference's field share at this image size (70 px at 256, 16 px at 32)."""
    return PatchDiscriminator(in_channels, width=width, n_layers=n_layers_for(size), norm=norm)


RECIPE = Recipe(loss="ns", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch=1, l1_weight=100.0, d_loss_scale=0.5,
                lr_decay_from=0.5)

for name, changes, what in (("pix2pix", {}, "L1 + cGAN"),
                            ("pix2pix-l1", {"adversarial_weight": 0.0}, "Table 1's L1 alone: no D"),
                            ("pix2pix-gan", {"l1_weight": 0.0}, "Table 1's cGAN alone")):
    register(Variant(name=name, family="pix2pix", paper=f"{PAPER}: {what}", generator=UNetGenerator,
                     discriminator=pair_discriminator, recipe=Recipe(**{**RECIPE.__dict__, **changes}),
                     data_kinds=("paired",), arch={"norm": "batch"}, z_dim=0, task="translation"))
