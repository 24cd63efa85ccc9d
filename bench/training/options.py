"""The named options a variant takes as `<variant>+<option>`: every loss and every regularizer/trick.

A loss option switches the loss and applies the defaults of its paper (learning rates, betas, n_critic,
penalty weight or clipping bound: see bench/training/losses.py); it clears the penalty weight and clipping bound
of an earlier loss, but leaves R1/R2 alone (they are regularizers of their own: `+rpgan+ns` keeps
RpGAN's R1/R2). A regularizer option turns one trick on with the weight or interval its paper uses.
Options compose left to right: `dcgan+hinge+sn+ttur`.
"""

from __future__ import annotations

from bench.training.losses import LOSSES
from models.registry import Option, register_option

for _loss in LOSSES.values():
    register_option(Option(_loss.name, "loss", _loss.paper,
                           recipe={"loss": _loss.name, "penalty_weight": 0.0, "clip": 0.0, **_loss.defaults}))

REGULARIZERS = [
    Option("sn", "regularizer", "Miyato et al. 2018 (arXiv:1802.05957), spectral normalization of every D layer",
           recipe={"spectral_norm": True}),
    Option("r1", "regularizer", "Mescheder et al. 2018 (arXiv:1801.04406), zero-centered R1 on reals, gamma 10",
           recipe={"r1": 10.0}),
    Option("r2", "regularizer", "Mescheder et al. 2018 (arXiv:1801.04406), zero-centered R2 on fakes, gamma 10",
           recipe={"r2": 10.0}),
    Option("lazy", "regularizer", "Karras et al. 2020 (arXiv:1912.04958), lazy regularization: R1/R2 every 16 "
           "D steps, weight x 16", recipe={"reg_every": 16}),
    Option("smooth", "regularizer", "Salimans et al. 2016 (arXiv:1606.03498), one-sided label smoothing, real "
           "target 0.9", recipe={"label_smoothing": 0.1}),
    Option("noise", "regularizer", "Sonderby et al. 2017 (arXiv:1610.04490); Arjovsky & Bottou 2017, instance "
           "noise on D's inputs, std 0.1 annealed linearly to 0", recipe={"instance_noise": 0.1}),
    Option("fm", "regularizer", "Salimans et al. 2016 (arXiv:1606.03498), feature matching on D's penultimate "
           "features", recipe={"feature_matching": True}),
    Option("mbd", "regularizer", "Salimans et al. 2016 (arXiv:1606.03498), minibatch discrimination, "
           "100 kernels of dimension 5", recipe={"minibatch_discrimination": 100}),
    Option("mbstd", "regularizer", "Karras et al. 2018 (arXiv:1710.10196), minibatch standard deviation, "
           "group 4", recipe={"minibatch_stddev": 4}),
    Option("unrolled", "regularizer", "Metz et al. 2017 (arXiv:1611.02163), G's loss through D unrolled 5 "
           "steps (second order)", recipe={"unrolled_steps": 5}),
    Option("ttur", "regularizer", "Heusel et al. 2017 (arXiv:1706.08500), two time-scale update rule, lr "
           "G 1e-4 / D 4e-4 (SAGAN's pair)", recipe={"lr_g": 1e-4, "lr_d": 4e-4}),
    Option("ha", "regularizer", "Salimans et al. 2016 (arXiv:1606.03498), historical averaging of both "
           "players, weight 0.01 (the paper gives none)", recipe={"historical_averaging": 0.01}),
    Option("ema", "regularizer", "Yazici et al. 2019 (arXiv:1806.04498); Karras et al. 2018, EMA of G's "
           "weights, beta 0.999", recipe={"ema_beta": 0.999}),
    Option("ncritic5", "regularizer", "Arjovsky et al. 2017 (arXiv:1701.07875), 5 D steps per G step",
           recipe={"n_critic": 5}),
    Option("diffaug", "regularizer", "Zhao et al. 2020 (arXiv:2006.10738), DiffAugment color,translation,cutout "
           "on every D input (reals and fakes, D and G steps)", recipe={"diffaug": "color,translation,cutout"}),
    Option("diffaug-translation", "regularizer", "Zhao et al. 2020 (arXiv:2006.10738), DiffAugment translation "
           "only", recipe={"diffaug": "translation"}),
    Option("diffaug-color-translation", "regularizer", "Zhao et al. 2020 (arXiv:2006.10738), DiffAugment "
           "color,translation", recipe={"diffaug": "color,translation"}),
    Option("ada", "regularizer", "Karras et al. 2020 (arXiv:2006.06676), adaptive discriminator augmentation: the "
           "bgc pipeline on every D input, p from 0 adapted towards E[sign D(augmented reals)] = 0.6 every 4 D steps, "
           "500 kimg for p 0 -> 1 (scaled to the budget)",
           recipe={"ada_target": 0.6, "ada_p": 0.0, "ada_kimg": 500.0, "ada_interval": 4}),
    Option("ada-fixed-p", "regularizer", "Karras et al. 2020 (arXiv:2006.06676), the bgc pipeline at a constant p "
           "= 0.2, no adaptation (the paper's fixed-p comparison, whose best constant depends on the set size)",
           recipe={"ada_target": 0.0, "ada_p": 0.2, "ada_kimg": 0.0}),
]
for _option in REGULARIZERS:
    register_option(_option)

ARCHITECTURE_OPTIONS = [
    Option("gated", "architecture", "arXiv:2201.11351, gated shortcut in every generator residual block "
           "(models/blocks.py: GatedShortcut); ResNet generators (sngan, sngan-proj, sagan, biggan)",
           arch={"gated": True}),
]
for _option in ARCHITECTURE_OPTIONS:
    register_option(_option)
