"""CycleGAN (Zhu, Park, Isola & Efros, ICCV 2017, arXiv:1703.10593): unpaired image-to-image translation with
two generators held to cycle consistency.

`cyclegan`: ResNet Gs of 6 residual blocks (models/resnet_translator.py: the reference's resnet_6blocks, its choice
for 128x128 and smaller), PatchGAN Ds (models/patchgan.py, a 16x16 field at 32x32), instance norm, the least
squares criterion, a history of the last 50 fakes per D, cycle weight 10 each way, identity weight 0.5 (x the
cycle weight), D's loss halved, Adam 2e-4 (0.5, 0.999), batch 1, and both learning rates decaying linearly to 0
over the second half of the budget: junyanz/pytorch-CycleGAN-and-pix2pix's defaults (train options,
cycle_gan_model.py). It trains on paired tasks too, ignoring the pairs. The training step is
bench/training/tasks/translation.py's.
"""

from __future__ import annotations

from models.patchgan import PatchDiscriminator, n_layers_for
from models.registry import Recipe, Variant, register
from models.resnet_translator import ResnetGenerator


def domain_discriminator(in_channels: int, size: int, width: float = 1.0,
                         norm: str = "instance") -> PatchDiscriminator:
    """The PatchGAN D of one domain with the reference's field share at this image size."""
    return PatchDiscriminator(in_channels, width=width, n_layers=n_layers_for(size), norm=norm)


register(Variant(
    name="cyclegan", family="cyclegan",
    paper="Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks "
          "(arXiv:1703.10593)",
    generator=ResnetGenerator, discriminator=domain_discriminator,
    recipe=Recipe(loss="lsgan", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch=1, cycle_weight=10.0,
                  identity_weight=0.5, image_pool=50, d_loss_scale=0.5, lr_decay_from=0.5),
    data_kinds=("unpaired", "paired"), arch={"norm": "instance", "blocks": 6}, z_dim=0, task="translation"))
