"""Benchmark: our train step against the reference implementation's own train step, per GAN family, in images
shown to D per second on the CPU, at the same network configuration.

Our side is tests/benchmarks/training_throughput.py (imported, not copied): the variant built exactly as the
train stage builds it under a profile (default `quick`) and stepped by the real trainer. The reference side is
imported at run time from a checkout the user passes (`--repo FAMILY=PATH`; nothing of it is copied here): its
G and D built with the constructor arguments that give our network at the profile's width (1 image channel,
32x32, the variant's z dim), its loss class and its optimizers, stepped as its training loop steps them. A
reference's loop is one long function (data loaders, snapshots, metrics), so the few lines of its loop body that
make one iteration (phases, their intervals, the optimizer settings, gradient clean-up, the G EMA) are
transcribed below with their file and lines; everything else is the reference's own objects. Both sides read
our prepared fmnist32 split (uint8 -> [-1, 1], random batches) and run in this process with the same torch
threads and flags. Blocks alternate, ours then the reference's (`--blocks`), each on freshly built networks:
`--warmup` steps, then `--repeats` x `--steps` timed steps; the table reports the median over all samples.
Images shown to D per step are counted as our budget counts them (n_critic x batch), which is also what each
reference counts per iteration. Lazy regularization falls on the same iterations on both sides (the first, then
every N-th), so equal windows hold the same regularization steps; windows of 16+ steps include the lazy R1 of
the StyleGAN families in proportion. Before timing, each family prints both sides' parameter counts (G and D);
a difference is printed as DIFFERENT NETWORKS.

Covered (our variant: reference repository, what was matched):
- `r3gan`: brownvc/R3GAN, train.py `--preset=CIFAR10 --cond=1` at our width (quick family_width 1/32: 4 stages of 2
  blocks at 24 channels, cardinality 3, i.e. 16 channels per group of the expanded 3x3 conv), float32
  (FP16Stages=[]: our recipe has no mixed precision), no augmentation (our recipe has none; at the start of
  the reference's schedule its probability is 0), R1 and R2 from the same D pass every step, gamma and Adam
  at the schedules' start values. The reference hard-codes 3 image channels in G's last and D's first 1x1
  convolution (R3GAN/Networks.py Generator.AggregationLayer, Discriminator.ExtractionLayer): those two layers
  are rebuilt with the reference's own `Convolution` class at 1 channel, so the counts match.
- `stylegan2`: NVlabs/stylegan2-ada-pytorch, `--cfg=stylegan2 --fp32=1` at our width (channel_base and
  channel_max x width, w_dim 512 x width, z 512, 8 mapping layers, mbstd group 4), StyleGAN2Loss with style
  mixing 0.9, lazy R1 every 16 D steps and path length (weight 2) every 4 G steps, our gamma.
- `stylegan3-t`: NVlabs/stylegan3, `--cfg=stylegan3-t --fp32=1` at our width and our 4 synthesis layers
  (num_layers=4; conv_clamp 256 kept, as our filtered leaky ReLU clamps), 2 mapping layers, the
  magnitude EMA decay of train.py, StyleGAN2's D, lazy R1 every 16 D steps, no path length, no mixing.
- `sngan`: kwotsin/mimicry, nets/sngan/sngan_32.py at our width (ngf 256 x width, ndf 128 x width, nz 128),
  hinge loss, n_dis = our n_critic, the models' own `train_step`s in the order of training/trainer.py.
  As in R3GAN, G's last conv and D's first block hard-code 3 channels; they are rebuilt with the reference's
  classes (nn.Conv2d with its Xavier init, resblocks.DBlockOptimized) at 1 channel.
- `sngan-proj`: the same checkout, nets/cgan_pd/cgan_pd_32.py (Miyato & Koyama's projection cGAN: conditional BN
  in G, projection D) at our width, with its conditional models' `train_step`s (real labels for D's real pass,
  uniform random labels for the fakes); the 3-channel layers rebuilt as in `sngan`.
- `sagan`: the same checkout, nets/sagan/sagan_32.py (cgan_pd_32 with SN in G and mimicry's BigGAN-style
  SelfAttention) at our width, with our two time-scale Adam. Its G attends after the 8 -> 16 block as ours;
  its D attends after its second block (8x8 at 32x32), ours after the first (16x16, where the authors' 32x32
  configurations attend: models/sagan.py), so the benchmark moves the reference's own SelfAttention module to
  after its first block (same parameters, the FLOPs of our network). G's last conv is rebuilt with its SNConv2d.
- `biggan`: ajbrock/BigGAN-PyTorch, BigGAN.py `arch[32]` (4 x ch channels per block: G_ch = D_ch = 64 x
  width), train.py's parser defaults with scripts/launch_cifar_ema.sh's settings, then ours where they differ:
  hierarchical z and the shared embedding (128-d) as our BigGAN and the authors' paper, orthogonal init and
  orthogonal regularization 1e-4 on G (the script has 0), one process without DataParallel; hinge, 4 D steps,
  batch 50, G EMA from iteration 1000, SN everywhere, stepped by train_fns.GAN_training_function's closure
  itself. G's output conv and D's first block hard-code 3 channels; they are rebuilt at 1 channel with the
  networks' own layer factories and the weights and optimizers re-made as the constructors make them.

- `dcgan`: pytorch/examples dcgan/main.py. The script parses arguments, loads data and trains when run, so only
  its import statements and its Generator, Discriminator and weights_init are compiled from its file and run
  (`script_definitions`), with its module-level settings set to ours (ngf = ndf = 64 x width, nz, nc). Its
  networks are 64x64; at 32x32 G's first block starts at ngf x 4 channels and D's ndf x 8 block goes (the
  paper's rule, as models/dcgan.py applies it). BCE on D's sigmoid; G's step reuses the D step's fakes, as the
  script does and ours does (`g_on_d_fakes`).
- `acgan`: clvrai/ACGAN-PyTorch network.py `_netG_CIFAR10` / `_netD_CIFAR10` (the layer sizes models/acgan.py
  follows) and utils.weights_init, loaded from their files; the loop body of main.py (BCE and NLL on D's two
  heads, the class one-hot in the latents' first entries, G's step on the D step's fakes). Its channels are
  fixed, so both sides run at width 1 (the quick profile trains 1/4). Its 3-channel first D conv and last G
  transposed conv are rebuilt at 1 channel.
- `progan`: facebookresearch/pytorch_GAN_zoo models/progressive_gan.py, a PyTorch re-implementation (the
  authors' code, tkarras/progressive_growing_of_gans, is TensorFlow 1 and does not run here). ProgressiveGAN at
  our width and z, WGAN-GP with the drift term, minibatch stddev, equalized lr, grown to 32x32 by addScale with
  alpha 0, stepped by its own optimizeParameters (which also updates its G average). Ours is timed in its last
  segment (`at` 0.95: 32x32, no fade-in). Its `models` package is imported under another name. Its G has 480
  parameters more at the quick width (327,524 against 327,044; D equal): its dense 4x4 layer has a bias per
  output unit (16 x nf), the authors' code and ours one per channel (nf); the FLOPs are the same, so the table
  says DIFFERENT NETWORKS for that.

- `stylegan`: rosinality/style-based-gan-pytorch, a PyTorch re-implementation (the authors' NVlabs/stylegan is
  TensorFlow 1). Its lists of blocks are fixed (512 channels to 32x32, then narrower, up to 1024x1024) and its
  mapping is z wide, so its StyledGenerator and Discriminator get their mapping, progression, toRGB and fromRGB
  rebuilt from its own classes (PixelNorm, EqualLinear, StyledConvBlock, ConvBlock, EqualConv2d) at our width
  and w_dim, 4x4 to 32x32. Its train.py loop body with `--loss r1 --mixing` at the last step, alpha 1; ours
  timed at `at` 0.95 (32x32, no fade-in). Its G has 32 parameters fewer (106,340 against 106,372; D equal):
  its 4x4 constant has no bias before the first noise and AdaIN, NVlabs' and ours one per channel.

Not covered:
- `cgan`: no reference implements this network (Mirza & Osindero's conditioning on the DCGAN backbone; their
  own networks are MLPs); its backbone's step is `dcgan`'s.

Requirements met at run time, without editing the references: `pkg_resources` (gone from setuptools >= 81;
NVlabs' torch_utils and R3GAN import `parse_version` from it) is stood in for by packaging's `parse`; mimicry's
package __init__ (tensorboard, TensorFlow metrics) is skipped by importing its subpackages directly; BigGAN's
utils.py imports its datasets.py, which imports h5py for ImageNet HDF5 files: an empty module stands in where
h5py is not installed; pytorch_GAN_zoo builds Adam with betas=[0, 0.99], an int beside a float, which current
torch refuses: its progressive_gan module's `optim` name is given an Adam that casts them to floats; its
updateAlpha assumes DataParallel networks (GPU), so alpha is set with the networks' own setNewAlpha as it would.
The references' own prints (BigGAN prints a line per step) are discarded. NVlabs'
custom CUDA ops (bias_act, upfirdn2d, filtered_lrelu) use their reference PyTorch paths on CPU and compile
nothing.

    python tests/benchmarks/reference_throughput.py --repo r3gan=/src/R3GAN \\
        --repo stylegan2=/src/stylegan2-ada-pytorch --repo stylegan3-t=/src/stylegan3 --repo sngan=/src/mimicry \\
        --repo biggan=/src/BigGAN-PyTorch --repo sagan=/src/mimicry --repo sngan-proj=/src/mimicry \\
        --repo dcgan=/src/examples --repo acgan=/src/ACGAN-PyTorch --repo progan=/src/pytorch_GAN_zoo \\
        --repo stylegan=/src/style-based-gan-pytorch
    python tests/benchmarks/reference_throughput.py --repo sngan=/src/mimicry --blocks 5 --json sngan.json

Each repository's commit is read with `git -C PATH rev-parse HEAD` ('unknown' if that fails) and printed with
a warning when its tracked .py files differ from that commit.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import importlib.util
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def module_from_file(path: Path, name: str) -> types.ModuleType:
    """The Python file at `path` as a module named `name`, whatever else of that name sys.path would find."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OURS = module_from_file(HERE / "training_throughput.py", "training_throughput")  # our side of the comparison


# --- the reference checkouts -------------------------------------------------------------------------------------


def commit_of(path: Path) -> str:
    """The checkout's commit, with a note when its tracked Python files have local changes."""
    try:
        commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    edited = subprocess.run(["git", "-C", str(path), "diff", "--quiet", "HEAD", "--", "*.py"]).returncode != 0
    return commit + (" (local changes to .py files)" if edited else "")


def stand_in(name: str, **attributes) -> None:
    """An empty module `name` (with `attributes`) where the package is not installed."""
    try:
        importlib.import_module(name)
    except ImportError:
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module


def stand_in_pkg_resources() -> None:
    """NVlabs' and R3GAN's torch_utils import `parse_version` from pkg_resources, which setuptools >= 81 no
    longer ships; packaging's `parse` is what it was."""
    from packaging.version import parse

    stand_in("pkg_resources", parse_version=parse)


def bare_package(name: str, folder: Path) -> None:
    """Make `name` importable as a package without running its __init__ (its subpackages still run theirs)."""
    module = types.ModuleType(name)
    module.__path__ = [str(folder)]
    sys.modules[name] = module


@contextlib.contextmanager
def imported_from(path: Path) -> Iterator[None]:
    """The checkout first on sys.path while its family is measured; then its modules are forgotten, so the next
    checkout's `training`, `torch_utils`, ... are its own."""
    root = str(path.resolve())
    sys.path.insert(0, root)
    try:
        yield
    finally:
        sys.path.remove(root)
        for name, module in list(sys.modules.items()):
            if any(place.startswith(root) for place in places_of(module)):
                del sys.modules[name]


def places_of(module: types.ModuleType) -> list[str]:
    """A module's file and, for a package, its folders."""
    places = [str(getattr(module, "__file__", None) or "")]
    folders = getattr(module, "__path__", None)
    if isinstance(folders, Iterable) and not isinstance(folders, str):  # torch._classes' __path__ is neither
        places += [str(f) for f in folders]
    return places


# --- what both sides share ---------------------------------------------------------------------------------------


class RealBatches:
    """Random batches of the prepared training split as the reference loops feed them: uint8 -> [-1, 1], with
    the class labels (integers; one-hot where the reference's dataset gives one-hot vectors)."""

    def __init__(self, data: dict, batch: int, seed: int) -> None:
        import torch

        self.x, self.y = torch.from_numpy(data["train_x"]), torch.from_numpy(data["train_y"]).long()
        self.batch, self.rng = batch, torch.Generator().manual_seed(seed)

    def __call__(self, batch: int | None = None):
        import torch

        index = torch.randint(self.x.shape[0], (batch or self.batch,), generator=self.rng)
        return self.x[index].float() / 127.5 - 1.0, self.y[index]

    def one_hot(self, n_classes: int):
        import torch.nn.functional as F

        x, y = self()
        return x, F.one_hot(y, n_classes).float()


@dataclass
class ReferenceStep:
    """A reference's G and D and one iteration of its training loop (returns the images shown to D)."""

    g: object
    d: object
    step: Callable[[], int]


@dataclass(frozen=True)
class Setting:
    """What a reference builder needs: our resolved run, its prepared data and the reference checkout."""

    run: object
    data: dict
    path: Path  # the reference checkout

    @property
    def recipe(self):
        return self.run.variant.recipe

    @property
    def width(self) -> float:
        return self.run.train["width"]

    @property
    def channels(self) -> int:
        return self.run.dataset.shape[0]

    @property
    def resolution(self) -> int:
        return self.run.dataset.shape[1]

    def reals(self) -> RealBatches:
        return RealBatches(self.data, self.recipe.batch, self.run.run.seed)


def ema_update(g_ema, g, beta: float) -> None:
    """NVlabs' G EMA step (stylegan2-ada-pytorch and stylegan3 training/training_loop.py 'Update G_ema'; R3GAN's
    is the same)."""
    import torch

    with torch.no_grad():
        for p_ema, p in zip(g_ema.parameters(), g.parameters(), strict=True):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(g_ema.buffers(), g.buffers(), strict=True):
            b_ema.copy_(b)


def flat_grads(module, clean: Callable | None = None) -> None:
    """The gradients as one flat tensor (where multi-GPU runs all-reduce them), optionally cleaned, and split back
    (stylegan3 and R3GAN training_loop.py, the phase's '_opt' block)."""
    import torch

    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    if clean is not None:
        clean(flat)
    for p, grad in zip(params, flat.split([p.numel() for p in params]), strict=True):
        p.grad = grad.reshape(p.shape)


# --- R3GAN -------------------------------------------------------------------------------------------------------


def build_r3gan(s: Setting) -> ReferenceStep:
    """brownvc/R3GAN train.py `--preset=CIFAR10 --cond=1` at our width; one iteration of training/training_loop.py
    (lines 284-358): a D phase and a G phase, each on its own real batch, lr and beta2 set from the schedules,
    flat gradients, Adam, then the G EMA."""
    import torch
    import training.networks as networks
    from R3GAN.Networks import Convolution
    from training.loss import R3GANLoss

    from models.r3gan import BLOCKS_PER_STAGE, EXPANSION, STAGES, channels_and_groups

    channels, groups = channels_and_groups(s.width)
    n_classes = s.run.n_classes
    common = {"WidthPerStage": [channels] * STAGES, "CardinalityPerStage": [groups] * STAGES,
              "BlocksPerStage": [BLOCKS_PER_STAGE] * STAGES, "ExpansionFactor": EXPANSION, "FP16Stages": [],
              "c_dim": n_classes, "img_resolution": s.resolution}
    g = networks.Generator(NoiseDimension=s.run.variant.z_dim, ConditionEmbeddingDimension=s.run.variant.z_dim,
                           **common)  # train.py: G's embedding is NoiseDimension wide, D's WidthPerStage[0]
    d = networks.Discriminator(ConditionEmbeddingDimension=channels, **common)
    g.Model.AggregationLayer = Convolution(channels, s.channels, KernelSize=1)  # the reference hard-codes 3
    d.Model.ExtractionLayer = Convolution(s.channels, channels, KernelSize=1)
    g.train().requires_grad_(False)
    d.train().requires_grad_(False)
    g_ema = copy.deepcopy(g).eval()
    loss = R3GANLoss(g, d, augment_pipe=None)
    r = s.recipe
    adam = {"betas": (0.0, 0.0), "eps": 1e-8}  # train.py; lr and betas are set every iteration from the schedules
    phases = [("D", d, torch.optim.Adam(d.parameters(), **adam)), ("G", g, torch.optim.Adam(g.parameters(), **adam))]
    reals, batch = s.reals(), r.batch
    ema_beta = 0.5 ** (batch / max(0.0, 1e-8))  # ema_scheduler's base_value 0 (train.py): G_ema follows G

    def step() -> int:
        for name, module, opt in phases:
            real, c = reals.one_hot(n_classes)
            z = torch.randn([batch, g.z_dim])
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            loss.accumulate_gradients(phase=name, real_img=real, real_c=c, gen_z=z, gamma=r.r1, gain=1.0)
            module.requires_grad_(False)
            for group in opt.param_groups:  # one lr schedule for both networks; its start value is our lr
                group["lr"], group["betas"] = r.lr_d, (0, r.betas[1])
            flat_grads(module)
            opt.step()
        ema_update(g_ema, g, ema_beta)
        return batch

    return ReferenceStep(g, d, step)


# --- NVlabs: stylegan2-ada-pytorch and stylegan3 -----------------------------------------------------------------


@dataclass
class NVlabsLoop:
    """One iteration of NVlabs' training_loop() (stylegan2-ada-pytorch lines 256-309, stylegan3 lines 255-312):
    phases G then D, each 'main' every iteration and 'reg' every `interval` iterations (or 'both' without lazy
    regularization), a real batch shared by the phases and fresh latents per phase, gradients cleaned of NaN/Inf,
    Adam, then the G EMA with its ramp-up."""

    g: object
    g_ema: object
    phases: list  # (name, module, optimizer, interval)
    accumulate: Callable  # (phase, real_img, real_c, gen_z, gen_c, gain, cur_nimg)
    clean_grads: Callable  # (module)
    reals: RealBatches
    batch: int
    ema_kimg: float
    ema_rampup: float | None
    batch_idx: int = 0
    cur_nimg: int = 0

    def __call__(self) -> int:
        import torch

        real, _ = self.reals()
        real_c = gen_c = torch.zeros([self.batch, 0])  # unconditional: the dataset's labels are 0-dim
        all_z = torch.randn([len(self.phases) * self.batch, self.g.z_dim]).split(self.batch)
        for (name, module, opt, interval), z in zip(self.phases, all_z, strict=True):
            if self.batch_idx % interval != 0:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            self.accumulate(name, real, real_c, z, gen_c, interval, self.cur_nimg)
            module.requires_grad_(False)
            self.clean_grads(module)
            opt.step()
        ema_nimg = self.ema_kimg * 1000
        if self.ema_rampup:
            ema_nimg = min(ema_nimg, self.cur_nimg * self.ema_rampup)
        ema_update(self.g_ema, self.g, 0.5 ** (self.batch / max(ema_nimg, 1e-8)))
        self.cur_nimg += self.batch
        self.batch_idx += 1
        return self.batch


def nvlabs_phases(g, d, recipe, g_interval: int | None, d_interval: int | None) -> list:
    """training_loop.py 'Setup training phases': one Adam per network (eps 1e-8, train.py); with lazy
    regularization every N iterations its lr x c and betas ^ c, c = N / (N + 1)."""
    import torch

    phases = []
    for name, module, lr, interval in (("G", g, recipe.lr_g, g_interval), ("D", d, recipe.lr_d, d_interval)):
        if interval is None:
            opt = torch.optim.Adam(module.parameters(), lr=lr, betas=recipe.betas, eps=1e-8)
            phases.append((name + "both", module, opt, 1))
            continue
        c = interval / (interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=lr * c, betas=[b**c for b in recipe.betas], eps=1e-8)
        phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
    return phases


def lazy_interval(every: int, applies: bool) -> int | None:
    """Our recipe's interval as NVlabs' G_reg_interval / D_reg_interval (None: no lazy regularization)."""
    return every if applies and every > 1 else None


def nvlabs_discriminator(networks, s: Setting, channel_base: int, channel_max: int):
    """StyleGAN2's residual D (both repositories' training/networks*.py Discriminator), float32, no clamping."""
    return networks.Discriminator(c_dim=0, img_resolution=s.resolution, img_channels=s.channels,
                                  channel_base=channel_base, channel_max=channel_max, num_fp16_res=0,
                                  conv_clamp=None, epilogue_kwargs={"mbstd_group_size": 4})


def published_times(s: Setting, value: int) -> int:
    """A published channel setting (512 channels, channel_base 32768, w_dim 512) at our width."""
    return max(8, round(value * s.width))


def build_stylegan2(s: Setting) -> ReferenceStep:
    """NVlabs/stylegan2-ada-pytorch train.py `--cfg=stylegan2 --fp32=1 --aug=noaug` at our width."""
    import torch
    import training.networks as networks
    from torch_utils import misc
    from training.loss import StyleGAN2Loss

    r, base, cap = s.recipe, published_times(s, 32768), published_times(s, 512)
    g = networks.Generator(z_dim=s.run.variant.z_dim, c_dim=0, w_dim=published_times(s, 512),
                           img_resolution=s.resolution, img_channels=s.channels,
                           mapping_kwargs={"num_layers": 8},
                           synthesis_kwargs={"channel_base": base, "channel_max": cap, "num_fp16_res": 0,
                                             "conv_clamp": None})
    d = nvlabs_discriminator(networks, s, base, cap)
    g.train().requires_grad_(False)
    d.train().requires_grad_(False)
    loss = StyleGAN2Loss(torch.device("cpu"), g.mapping, g.synthesis, d, r1_gamma=r.r1, pl_weight=r.path_length)

    def accumulate(phase, real_img, real_c, gen_z, gen_c, gain, _cur_nimg) -> None:
        loss.accumulate_gradients(phase=phase, real_img=real_img, real_c=real_c, gen_z=gen_z, gen_c=gen_c,
                                  sync=True, gain=gain)

    def clean_grads(module) -> None:  # stylegan2-ada-pytorch training_loop.py lines 289-291: per parameter
        for p in module.parameters():
            if p.grad is not None:
                misc.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)

    phases = nvlabs_phases(g, d, r, lazy_interval(r.pl_every, r.path_length > 0), lazy_interval(r.reg_every, True))
    loop = NVlabsLoop(g, copy.deepcopy(g).eval(), phases, accumulate, clean_grads, s.reals(), r.batch,
                      r.ema_kimg, r.ema_rampup)
    return ReferenceStep(g, d, loop)


def build_stylegan3(s: Setting) -> ReferenceStep:
    """NVlabs/stylegan3 train.py `--cfg=stylegan3-t --fp32=1 --aug=noaug` at our width and synthesis depth."""
    import torch
    import training.networks_stylegan2 as networks
    from torch_utils import misc
    from training.loss import StyleGAN2Loss
    from training.networks_stylegan3 import Generator

    r, base, cap = s.recipe, published_times(s, 32768), published_times(s, 512)
    # train.py: magnitude_ema_beta = 0.5 ** (batch / 20k); --fp32 would also drop conv_clamp, but our G clamps at 256
    g = Generator(z_dim=s.run.variant.z_dim, c_dim=0, w_dim=published_times(s, 512), img_resolution=s.resolution,
                  img_channels=s.channels, mapping_kwargs={"num_layers": 2}, channel_base=base, channel_max=cap,
                  num_layers=s.run.variant.arch["num_layers"], num_fp16_res=0,
                  magnitude_ema_beta=0.5 ** (r.batch / 20e3))
    d = nvlabs_discriminator(networks, s, base, cap)
    g.train().requires_grad_(False)
    d.train().requires_grad_(False)
    loss = StyleGAN2Loss(torch.device("cpu"), g, d, r1_gamma=r.r1)  # stylegan3-t: no mixing, no path length

    def accumulate(phase, real_img, real_c, gen_z, gen_c, gain, cur_nimg) -> None:
        loss.accumulate_gradients(phase=phase, real_img=real_img, real_c=real_c, gen_z=gen_z, gen_c=gen_c,
                                  gain=gain, cur_nimg=cur_nimg)

    def clean_grads(module) -> None:
        flat_grads(module, lambda flat: misc.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat))

    phases = nvlabs_phases(g, d, r, lazy_interval(r.pl_every, r.path_length > 0), lazy_interval(r.reg_every, True))
    loop = NVlabsLoop(g, copy.deepcopy(g).eval(), phases, accumulate, clean_grads, s.reals(), r.batch,
                      r.ema_kimg, r.ema_rampup)
    return ReferenceStep(g, d, loop)


# --- mimicry -----------------------------------------------------------------------------------------------------


def import_mimicry(s: Setting) -> None:
    """mimicry's subpackages, without its package __init__ (it imports tensorboard and the TensorFlow metrics)."""
    package = s.path / "torch_mimicry"
    bare_package("torch_mimicry", package)
    bare_package("torch_mimicry.training", package / "training")


def mimicry_steps(g, d, s: Setting) -> ReferenceStep:
    """mimicry's models stepped as training/trainer.py Trainer.train steps them: n_dis D train_steps on fresh
    real batches, G's train_step after the last one; Adam as examples/sngan_example.py makes it, at our recipe."""
    import torch
    from torch_mimicry.training.metric_log import MetricLog

    r = s.recipe
    opt_g = torch.optim.Adam(g.parameters(), r.lr_g, betas=r.betas)
    opt_d = torch.optim.Adam(d.parameters(), r.lr_d, betas=r.betas)
    reals, cpu, global_step = s.reals(), torch.device("cpu"), [0]

    def step() -> int:
        log_data = MetricLog()
        for i in range(r.n_critic):
            real_batch = reals()
            log_data = d.train_step(real_batch=real_batch, netG=g, optD=opt_d, log_data=log_data,
                                    global_step=global_step[0], device=cpu)
            if i == r.n_critic - 1:
                log_data = g.train_step(real_batch=real_batch, netD=d, optG=opt_g, log_data=log_data,
                                        global_step=global_step[0], device=cpu)
        global_step[0] += 1
        return r.n_critic * r.batch

    return ReferenceStep(g, d, step)


def mimicry_networks(s: Setting, generator, discriminator, conv, conditional: bool):
    """mimicry's 32x32 G and D at our width (ngf 256 x width, ndf 128 x width, our z; our classes where
    conditional). They hard-code 3 channels in G's last conv (c5) and D's first block: both are rebuilt at our
    channels with mimicry's own classes (`conv`, its DBlockOptimized) and G's Xavier init."""
    import torch.nn as nn
    from torch_mimicry.modules.resblocks import DBlockOptimized

    from models.sngan import D_CHANNELS, G_CHANNELS, scaled

    ngf, ndf = scaled(G_CHANNELS, s.width), scaled(D_CHANNELS, s.width)
    classes = {"num_classes": s.run.dataset.n_labels} if conditional else {}
    g, d = generator(nz=s.run.variant.z_dim, ngf=ngf, **classes), discriminator(ndf=ndf, **classes)
    g.c5 = conv(ngf, s.channels, 3, 1, padding=1)
    nn.init.xavier_uniform_(g.c5.weight.data, 1.0)
    d.block1 = DBlockOptimized(s.channels, ndf)
    return g, d


def build_sngan(s: Setting) -> ReferenceStep:
    """kwotsin/mimicry nets/sngan/sngan_32.py at our width."""
    import torch.nn as nn

    import_mimicry(s)
    from torch_mimicry.nets.sngan.sngan_32 import SNGANDiscriminator32, SNGANGenerator32

    return mimicry_steps(*mimicry_networks(s, SNGANGenerator32, SNGANDiscriminator32, nn.Conv2d, False), s)


def build_sngan_proj(s: Setting) -> ReferenceStep:
    """kwotsin/mimicry nets/cgan_pd/cgan_pd_32.py at our width."""
    import torch.nn as nn

    import_mimicry(s)
    from torch_mimicry.nets.cgan_pd.cgan_pd_32 import CGANPDDiscriminator32, CGANPDGenerator32

    return mimicry_steps(*mimicry_networks(s, CGANPDGenerator32, CGANPDDiscriminator32, nn.Conv2d, True), s)


def build_sagan(s: Setting) -> ReferenceStep:
    """kwotsin/mimicry nets/sagan/sagan_32.py at our width, its D's attention after its first block as ours."""
    import torch.nn as nn

    import_mimicry(s)
    from torch_mimicry.modules.layers import SNConv2d
    from torch_mimicry.nets.sagan.sagan_32 import SAGANDiscriminator32, SAGANGenerator32

    g, d = mimicry_networks(s, SAGANGenerator32, SAGANDiscriminator32, SNConv2d, True)
    d.block1, d.attn_block = nn.Sequential(d.block1, d.attn_block), nn.Identity()  # 16x16, not 8x8
    return mimicry_steps(g, d, s)


# --- BigGAN-PyTorch ----------------------------------------------------------------------------------------------


def biggan_config(s: Setting, utils) -> dict:
    """train.py's config: its parser's defaults, scripts/launch_cifar_ema.sh, then our recipe and width (hier z,
    shared embedding and ortho reg as our BigGAN; no attention; orthogonal init; one GPU, no DataParallel),
    completed as train.py run() completes it."""
    from models.biggan import G_CHANNELS, SHARED_DIM
    from models.sngan import scaled

    r = s.recipe
    config = vars(utils.prepare_parser().parse_args([]))
    config.update(dataset="C10", batch_size=r.batch, num_G_accumulations=1, num_D_accumulations=1,
                  num_D_steps=r.n_critic, G_lr=r.lr_g, D_lr=r.lr_d, G_B1=r.betas[0], G_B2=r.betas[1],
                  D_B1=r.betas[0], D_B2=r.betas[1], G_ortho=r.ortho_reg, G_attn="0", D_attn="0", ema=True,
                  use_ema=True, ema_start=r.ema_start, ema_decay=r.ema_beta, G_init="ortho", D_init="ortho",
                  G_ch=scaled(G_CHANNELS, s.width) // 4, D_ch=scaled(G_CHANNELS, s.width) // 4,  # arch[32]: 4 x ch
                  dim_z=s.run.variant.z_dim, hier=True, G_shared=True, shared_dim=SHARED_DIM, parallel=False)
    config.update(resolution=utils.imsize_dict["C10"], n_classes=utils.nclass_dict["C10"],
                  G_activation=utils.activation_dict[config["G_nl"]],
                  D_activation=utils.activation_dict[config["D_nl"]])
    return config


def one_channel_biggan(g, d, channels: int, layers) -> None:
    """BigGAN.py hard-codes 3 image channels in G's output conv and D's first block: both rebuilt with the
    networks' own layer factories at `channels` (D's block 0 with its constructor's arguments), then the
    weights re-initialised and the optimizers remade as the constructors do."""
    import torch.nn as nn

    g.output_layer[2] = g.which_conv(g.arch["out_channels"][-1], channels)
    d.blocks[0][0] = layers.DBlock(in_channels=channels, out_channels=d.arch["out_channels"][0],
                                   which_conv=d.which_conv, wide=d.D_wide, activation=d.activation,
                                   preactivation=False, downsample=nn.AvgPool2d(2))
    for net in (g, d):
        net.init_weights()
        net.optim = type(net.optim)(net.parameters(), **net.optim.defaults)


def build_biggan(s: Setting) -> ReferenceStep:
    """ajbrock/BigGAN-PyTorch BigGAN.py `arch[32]` at our width, stepped by train_fns.GAN_training_function's
    own closure on one loader batch of num_D_steps x batch_size images, as train.py's loop calls it."""
    stand_in("h5py")  # datasets.py imports it for ImageNet HDF5 files (utils.py imports datasets.py)
    import BigGAN
    import layers
    import train_fns
    import utils

    config = biggan_config(s, utils)
    g, d = BigGAN.Generator(**config), BigGAN.Discriminator(**config)
    g_ema = BigGAN.Generator(**{**config, "skip_init": True, "no_optim": True})
    one_channel_biggan(g, d, s.channels, layers)
    g_ema.output_layer[2] = g_ema.which_conv(g_ema.arch["out_channels"][-1], s.channels)
    ema = utils.ema(g, g_ema, config["ema_decay"], config["ema_start"])
    z_, y_ = utils.prepare_z_y(config["batch_size"], g.dim_z, config["n_classes"], device="cpu")
    state_dict = {"itr": 0, "epoch": 0, "save_num": 0, "save_best_num": 0, "best_IS": 0, "best_FID": 999999,
                  "config": config}
    train = train_fns.GAN_training_function(g, d, BigGAN.G_D(g, d), z_, y_, ema, state_dict, config)
    reals, images = s.reals(), config["batch_size"] * config["num_D_steps"]

    def step() -> int:  # train.py lines 171-185
        state_dict["itr"] += 1
        for net in (g, d, g_ema):
            net.train()
        train(*reals(images))
        return images

    return ReferenceStep(g, d, step)


# --- pytorch/examples DCGAN and clvrai/ACGAN-PyTorch: networks defined in training scripts -----------------------


def script_definitions(script: Path, names: set[str], values: dict) -> dict:
    """The top-level classes and functions `names` of a training script, run without the rest of it (it parses
    arguments, loads data and trains when run): the script's own import statements and those definitions are
    compiled from its file and executed in a namespace holding `values`, the module-level settings they read
    (e.g. nz, ngf)."""
    import ast

    tree = ast.parse(script.read_text(), filename=str(script))
    defined = {node.name: node for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    if names - defined.keys():
        raise SystemExit(f"{script}: no top-level {', '.join(sorted(names - defined.keys()))}")
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    namespace = dict(values)
    code = compile(ast.Module(body=imports + [defined[name] for name in sorted(names)], type_ignores=[]),
                   str(script), "exec")
    exec(code, namespace)  # noqa: S102 - the user's checkout of the reference, as importing it would run it
    return namespace


def dcgan_at_resolution(g, d, resolution: int, nz: int, ngf: int, ndf: int) -> None:
    """pytorch/examples' networks are its 64x64 ones (4 stride-2 layers each side). At 32x32 DCGAN's rule (the
    paper's, and our models/dcgan.py's) has one fewer: G starts at ngf x 4 channels and D's last stride-2 conv
    goes. Built from the reference's own Sequential, its first G block and D's 8ndf block replaced by
    the layers one doubling down would have (same kernels, bias=False)."""
    import torch.nn as nn

    if resolution == 64:
        return
    if resolution != 32:
        raise SystemExit(f"dcgan reference: pytorch/examples' network is 64x64; {resolution}x{resolution} is not "
                         "mapped onto it here")
    g.main = nn.Sequential(nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), *list(g.main)[4:])
    d.main = nn.Sequential(*list(d.main)[:8], nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid())


def build_dcgan(s: Setting) -> ReferenceStep:
    """pytorch/examples dcgan/main.py's Generator, Discriminator and weights_init at our width (ngf = ndf = 64 x
    width, nz = our z, nc = our channels) and resolution, stepped as its loop body (lines 228-259): BCE on D's
    sigmoid, D on reals then on G(z).detach(), Adam; G's loss on the same fakes, Adam."""
    import torch
    import torch.nn as nn

    from models.dcgan import channels_at

    c, nz = channels_at(s.width), s.run.variant.z_dim
    script = script_definitions(s.path / "dcgan" / "main.py", {"Generator", "Discriminator", "weights_init"},
                                {"nz": nz, "ngf": c, "ndf": c, "nc": s.channels})
    g, d = script["Generator"](1), script["Discriminator"](1)
    dcgan_at_resolution(g, d, s.resolution, nz, c, c)
    g.apply(script["weights_init"])
    d.apply(script["weights_init"])
    r, criterion, reals = s.recipe, nn.BCELoss(), s.reals()
    opt_d = torch.optim.Adam(d.parameters(), lr=r.lr_d, betas=r.betas)
    opt_g = torch.optim.Adam(g.parameters(), lr=r.lr_g, betas=r.betas)

    def step() -> int:
        real, _ = reals()
        batch = real.shape[0]
        d.zero_grad()
        label = torch.full((batch,), 1.0)
        criterion(d(real), label).backward()
        fake = g(torch.randn(batch, nz, 1, 1))
        label.fill_(0.0)
        criterion(d(fake.detach()), label).backward()
        opt_d.step()
        g.zero_grad()
        label.fill_(1.0)
        criterion(d(fake), label).backward()
        opt_g.step()
        return batch

    return ReferenceStep(g, d, step)


def build_acgan(s: Setting) -> ReferenceStep:
    """clvrai/ACGAN-PyTorch network.py `_netG_CIFAR10` / `_netD_CIFAR10` (fixed channels: our width 1) with its
    utils.weights_init, stepped as main.py's loop body (lines 176-228): D's BCE real/fake and NLL class losses on
    reals and on G's fakes, whose latents carry the one-hot class in their first entries, Adam; then G's on the
    same fakes. Its first D conv and last G transposed conv hard-code 3 channels: rebuilt at ours (nn layers of
    the same shape, bias=False) before weights_init."""
    import numpy as np
    import torch
    import torch.nn as nn

    network, utils = (module_from_file(s.path / f"{name}.py", f"acgan_{name}") for name in ("network", "utils"))
    weights_init = utils.weights_init
    n_classes, nz = s.run.dataset.n_labels, s.run.variant.z_dim + s.run.dataset.n_labels  # 110 = fc1's inputs
    g, d = network._netG_CIFAR10(1, nz), network._netD_CIFAR10(1, n_classes)
    g.tconv5[0] = nn.ConvTranspose2d(g.tconv5[0].in_channels, s.channels, 4, 2, 1, bias=False)
    d.conv1[0] = nn.Conv2d(s.channels, d.conv1[0].out_channels, 3, 2, 1, bias=False)
    g.apply(weights_init)
    d.apply(weights_init)
    r, reals, rng = s.recipe, s.reals(), np.random.default_rng(s.run.run.seed)
    dis_criterion, aux_criterion = nn.BCELoss(), nn.NLLLoss()
    opt_d = torch.optim.Adam(d.parameters(), lr=r.lr_d, betas=r.betas)
    opt_g = torch.optim.Adam(g.parameters(), lr=r.lr_g, betas=r.betas)

    def losses(images, dis_label, aux_label):
        dis_output, aux_output = d(images)
        return dis_criterion(dis_output, dis_label) + aux_criterion(aux_output, aux_label)

    def step() -> int:
        real, label = reals()
        batch = real.shape[0]
        d.zero_grad()
        losses(real, torch.full((batch,), 1.0), label).backward()
        classes = rng.integers(0, n_classes, batch)
        noise = rng.normal(0, 1, (batch, nz))
        noise[np.arange(batch), :n_classes] = np.eye(n_classes)[classes]
        fake = g(torch.from_numpy(noise).float().view(batch, nz, 1, 1))
        aux_label = torch.from_numpy(classes)
        losses(fake.detach(), torch.full((batch,), 0.0), aux_label).backward()
        opt_d.step()
        g.zero_grad()
        losses(fake, torch.full((batch,), 1.0), aux_label).backward()
        opt_g.step()
        return batch

    return ReferenceStep(g, d, step)


# --- facebookresearch/pytorch_GAN_zoo: ProGAN ---------------------------------------------------------------------


def build_progan(s: Setting) -> ReferenceStep:
    """facebookresearch/pytorch_GAN_zoo models/progressive_gan.py ProgressiveGAN (a PyTorch re-implementation of
    the authors' TensorFlow code, which cannot run here) at our width (every scale nf = 512 x width deep), our z,
    WGAN-GP (lambda 10) with the drift term (epsilon 0.001), minibatch stddev, equalized lr, our lr; grown to our
    resolution with addScale and alpha 0 (the stable phase, no fade-in), stepped by its own optimizeParameters,
    which also updates its G average. Its `models` package is imported as `gan_zoo_models` (ours is `models`)."""
    import torch

    from models.progan import feature_maps

    bare_package("gan_zoo_models", s.path / "models")
    progressive_gan = importlib.import_module("gan_zoo_models.progressive_gan")

    def adam(params, betas, lr):  # its betas=[0, 0.99] mix an int and a float, which torch 2.14 refuses
        return torch.optim.Adam(params, betas=tuple(float(b) for b in betas), lr=lr)

    progressive_gan.optim = types.SimpleNamespace(Adam=adam)
    depth, r = feature_maps(s.resolution, s.width), s.recipe  # the same at every scale up to 32x32
    model = progressive_gan.ProgressiveGAN(
        dimLatentVector=s.run.variant.z_dim, depthScale0=depth, miniBatchStdDev=True, equalizedlR=True,
        dimOutput=s.channels, useGPU=False, baseLearningRate=r.lr_g, lossMode="WGANGP",
        lambdaGP=r.penalty_weight, epsilonD=r.drift)
    for _ in range(s.resolution.bit_length() - 3):  # 4x4 -> the resolution
        model.addScale(depth)
    for net in (model.getOriginalG(), model.getOriginalD(), model.getOriginalAvgG()):  # what updateAlpha does on
        net.setNewAlpha(0.0)  # a GPU; on the CPU it reaches for a DataParallel `.module` that is not there
    model.config.alpha = 0.0
    reals = s.reals()

    def step() -> int:
        real, _ = reals()
        model.optimizeParameters(real)
        return real.shape[0]

    return ReferenceStep(model.getOriginalG(), model.getOriginalD(), step)


# --- rosinality/style-based-gan-pytorch: StyleGAN -----------------------------------------------------------------


def rosinality_networks(model, s: Setting, channels: int, w_dim: int):
    """Its StyledGenerator and Discriminator with their layers rebuilt from its own classes at our width and
    resolution (its lists are 512 channels wide down to 32x32, then narrower, up to 1024x1024; its mapping is z_dim
    wide): the mapping (pixel norm, 8 x EqualLinear + leaky ReLU) from z to our w_dim; G a constant-input
    StyledConvBlock and upsampling ones with w_dim styles, a 1x1 toRGB per level; D a from-RGB 1x1 conv (with its
    leaky ReLU, train.py's default) per level, downsampling ConvBlocks and the 4x4 block after the
    minibatch-stddev channel."""
    import torch.nn as nn

    levels = s.resolution.bit_length() - 2  # 4x4 ... resolution
    g = model.StyledGenerator(s.run.variant.z_dim)
    dims = [s.run.variant.z_dim] + [w_dim] * 8
    g.style = nn.Sequential(model.PixelNorm(), *(layer for a, b in zip(dims[:-1], dims[1:], strict=True)
                                                 for layer in (model.EqualLinear(a, b), nn.LeakyReLU(0.2))))
    g.generator.progression = nn.ModuleList(
        [model.StyledConvBlock(channels, channels, 3, 1, style_dim=w_dim, initial=True)]
        + [model.StyledConvBlock(channels, channels, 3, 1, style_dim=w_dim, upsample=True) for _ in range(levels - 1)])
    g.generator.to_rgb = nn.ModuleList([model.EqualConv2d(channels, s.channels, 1) for _ in range(levels)])
    d = model.Discriminator(from_rgb_activate=True)
    d.progression = nn.ModuleList([model.ConvBlock(channels, channels, 3, 1, downsample=True)
                                   for _ in range(levels - 1)] + [model.ConvBlock(channels + 1, channels, 3, 1, 4, 0)])
    d.from_rgb = nn.ModuleList([nn.Sequential(model.EqualConv2d(s.channels, channels, 1), nn.LeakyReLU(0.2))
                                for _ in range(levels)])
    d.n_layer, d.linear = levels, model.EqualLinear(channels, 1)
    return g, d, levels - 1


def build_stylegan(s: Setting) -> ReferenceStep:
    """rosinality/style-based-gan-pytorch (a PyTorch re-implementation; NVlabs/stylegan is TensorFlow 1) model.py
    at our width, stepped as its train.py loop body (lines 126-214) with `--loss r1 --mixing` at the last, stable
    step (alpha 1): D on reals with R1 (its gamma 10), on G's fakes, Adam; G's non-saturating loss with style
    mixing 0.9, Adam (the mapping at lr x 0.01), then its running average (accumulate, decay 0.999)."""
    import random

    import torch
    import torch.nn.functional as F

    from models.progan import feature_maps

    model = module_from_file(s.path / "model.py", "rosinality_model")
    ours = s.run.build_models()[0]
    g, d, step_index = rosinality_networks(model, s, feature_maps(s.resolution, s.width), ours.w_dim)
    g_running = copy.deepcopy(g).train(False)
    r, reals, code_size = s.recipe, s.reals(), s.run.variant.z_dim
    g_optimizer = torch.optim.Adam(g.generator.parameters(), lr=r.lr_g, betas=(0.0, 0.99))
    g_optimizer.add_param_group({"params": g.style.parameters(), "lr": r.lr_g * 0.01, "mult": 0.01})
    d_optimizer = torch.optim.Adam(d.parameters(), lr=r.lr_d, betas=(0.0, 0.99))

    def requires_grad(module, flag: bool) -> None:  # train.py lines 20-22
        for p in module.parameters():
            p.requires_grad = flag

    def latents(b: int):
        if random.random() < 0.9:
            return list(torch.randn(2, b, code_size).unbind(0))
        return torch.randn(b, code_size)

    requires_grad(g, False)

    def step() -> int:
        d.zero_grad()
        real = reals()[0].requires_grad_(True)
        b = real.shape[0]
        real_scores = d(real, step=step_index, alpha=1)
        F.softplus(-real_scores).mean().backward(retain_graph=True)
        grad_real = torch.autograd.grad(outputs=real_scores.sum(), inputs=real, create_graph=True)[0]
        (10 / 2 * (grad_real.view(b, -1).norm(2, dim=1) ** 2).mean()).backward()
        gen_in1, gen_in2 = latents(b), latents(b)
        F.softplus(d(g(gen_in1, step=step_index, alpha=1), step=step_index, alpha=1)).mean().backward()
        d_optimizer.step()
        g.zero_grad()
        requires_grad(g, True)
        requires_grad(d, False)
        F.softplus(-d(g(gen_in2, step=step_index, alpha=1), step=step_index, alpha=1)).mean().backward()
        g_optimizer.step()
        with torch.no_grad():  # train.py accumulate(g_running, generator), lines 25-30
            for p_running, p in zip(g_running.parameters(), g.parameters(), strict=True):
                p_running.mul_(0.999).add_(p, alpha=0.001)
        requires_grad(g, False)
        requires_grad(d, True)
        return b

    return ReferenceStep(g, d, step)


# --- the families ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    repo: str  # GitHub owner/name
    build: Callable[[Setting], ReferenceStep]
    width: float | None = None  # where the reference's channels are fixed: both sides at this width
    at: float = 0.0  # where in our budget our side is timed: growing families at the reference's stage


FAMILIES = {
    "r3gan": Reference("brownvc/R3GAN", build_r3gan),
    "stylegan2": Reference("NVlabs/stylegan2-ada-pytorch", build_stylegan2),
    "stylegan3-t": Reference("NVlabs/stylegan3", build_stylegan3),
    "sngan": Reference("kwotsin/mimicry", build_sngan),
    "sngan-proj": Reference("kwotsin/mimicry", build_sngan_proj),
    "sagan": Reference("kwotsin/mimicry", build_sagan),
    "biggan": Reference("ajbrock/BigGAN-PyTorch", build_biggan),
    "dcgan": Reference("pytorch/examples", build_dcgan),
    "acgan": Reference("clvrai/ACGAN-PyTorch", build_acgan, width=1.0),
    "progan": Reference("facebookresearch/pytorch_GAN_zoo", build_progan, at=0.95),  # 32x32, stable
    "stylegan": Reference("rosinality/style-based-gan-pytorch", build_stylegan, at=0.95),
}
NOT_COVERED = {
    "cgan": "no reference implements this network (Mirza & Osindero's conditioning on the DCGAN backbone; their "
            "own code is MLPs): its backbone's step is `dcgan`'s",
}


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def reference_images_per_second(build: Callable[[], ReferenceStep], warmup: int, steps: int,
                                repeats: int) -> list[float]:
    """Samples of images/s of `steps` consecutive reference iterations on fresh networks, as
    training_throughput.images_per_second times ours."""
    with contextlib.redirect_stdout(io.StringIO()):
        step = build().step
        for _ in range(warmup):
            step()
        rates = []
        for _ in range(repeats):
            images, started = 0, time.perf_counter()
            for _ in range(steps):
                images += step()
            rates.append(images / (time.perf_counter() - started))
    return rates


def check_same_network(family: str, run, reference: ReferenceStep) -> dict[str, dict[str, int]]:
    """Both sides' parameter counts, printed; a difference is reported, not hidden."""
    g, d = run.build_models()
    counts = {"G": {"ours": n_params(g), "reference": n_params(reference.g)},
              "D": {"ours": n_params(d), "reference": n_params(reference.d)}}
    line = ", ".join(f"{k} {c['ours']:,} / {c['reference']:,}" for k, c in counts.items())
    same = all(c["ours"] == c["reference"] for c in counts.values())
    print(f"  {family} (width {run.train['width']:g}, batch {run.variant.recipe.batch}): parameters ours / "
          f"reference: {line}" + ("" if same else "  DIFFERENT NETWORKS"), flush=True)
    return counts


def measure(family: str, path: Path, run, data, args) -> dict:
    """Interleaved blocks of ours and the reference's, on fresh networks each."""
    from bench.protocol.seeding import make_deterministic

    reference, setting = FAMILIES[family], Setting(run, data, path)
    commit, started = commit_of(path), time.perf_counter()
    with imported_from(path):
        make_deterministic()  # the flags our trainer runs under, for both sides

        def build() -> ReferenceStep:
            import torch

            torch.manual_seed(run.run.seed)
            return reference.build(setting)

        with contextlib.redirect_stdout(io.StringIO()):
            first = build()
        counts = check_same_network(family, run, first)
        ours, theirs = [], []
        for block in range(args.blocks):
            ours += OURS.images_per_second(run, data, reference.at, args.warmup, args.steps, args.repeats)
            theirs += reference_images_per_second(build, args.warmup, args.steps, args.repeats)
            print(f"  {family}: block {block + 1}/{args.blocks}: ours {statistics.median(ours):.2f}, reference "
                  f"{statistics.median(theirs):.2f} img/s so far", flush=True)
    print(f"  {family}: {time.perf_counter() - started:.0f} s", flush=True)
    return {"family": family, "ours": statistics.median(ours), "reference": statistics.median(theirs),
            "ratio": statistics.median(ours) / statistics.median(theirs), "ours_samples": ours,
            "reference_samples": theirs, "params": counts, "repo": reference.repo, "commit": commit,
            "path": str(path), "width": run.train["width"], "batch": run.variant.recipe.batch}


def print_table(rows: list[dict]) -> None:
    print(f"\n{'family':<12} {'ours img/s':>10} {'ref img/s':>10} {'ours/ref':>8}  reference")
    for row in rows:
        print(f"{row['family']:<12} {row['ours']:>10.2f} {row['reference']:>10.2f} {row['ratio']:>8.2f}  "
              f"{row['repo']}@{row['commit']}")


def parse_repos(items: list[str], refuse: Callable[[str], None]) -> dict[str, Path]:
    """`--repo FAMILY=PATH` items as {family: checkout}; anything else is refused with the reason (exit 2)."""
    repos = {}
    for item in items:
        family, _, path = item.partition("=")
        if family in NOT_COVERED:
            refuse(f"{family} is not covered: {NOT_COVERED[family]}")
        if family not in FAMILIES or not path:
            refuse(f"--repo {item!r}: expected FAMILY=PATH with FAMILY one of {', '.join(FAMILIES)}")
        if not Path(path).is_dir():
            refuse(f"--repo {item!r}: {path} is not a directory (a checkout of {FAMILIES[family].repo})")
        repos[family] = Path(path).resolve()
    return repos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", default=[], metavar="FAMILY=PATH",
                        help=f"a checkout of the family's reference ({', '.join(FAMILIES)})")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=3, help="alternations of ours and the reference's")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    repos = parse_repos(args.repo, parser.error)
    if not repos:
        parser.error("give at least one --repo FAMILY=PATH")

    import torch

    from bench.data.datasets import load_prepared
    from bench.protocol.resolve import Protocol
    from bench.protocol.runs import RunId

    stand_in_pkg_resources()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        widths = {family: FAMILIES[family].width for family in repos if FAMILIES[family].width is not None}
        root = OURS.scratch_root(Path(tmp) / "root", args.profile, list(repos), widths)
        protocol, data = Protocol.load(root), load_prepared("fmnist32", root)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, profile {args.profile}; images shown "
              f"to D per second, median of {args.blocks} blocks x {args.repeats} x {args.steps} steps after "
              f"{args.warmup}, ours and the reference's alternating")
        for family, path in repos.items():
            run = protocol.resolve(RunId(OURS.STUDY, "fmnist32", family, 0))
            rows.append(measure(family, path, run, data, args))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
