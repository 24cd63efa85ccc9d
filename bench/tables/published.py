"""Published numbers shown beside ours as labeled reference rows (never mixed into our statistics).

Source: ../shared/REFERENCES.md, which cites each paper. PacGAN Table 1 (Lin et al. 2018): 2,500
samples per evaluation, 10 runs; modes covered (mean +- std where published), high-quality %,
reverse KL. VEEGAN (Srivastava et al. 2017): 2,500 samples, 5 runs; modes and high-quality % only.
"""

from __future__ import annotations

PUBLISHED_MODES = {
    "ring8": [
        {"source": "PacGAN Table 1", "model": "GAN", "modes_covered": "6.3 ± 0.5", "high_quality": "98.2",
         "reverse_kl": "0.45"},
        {"source": "PacGAN Table 1", "model": "PacGAN2", "modes_covered": "7.9", "high_quality": "95.6",
         "reverse_kl": "0.07"},
        {"source": "VEEGAN", "model": "GAN", "modes_covered": "1", "high_quality": "99.3", "reverse_kl": "–"},
        {"source": "VEEGAN", "model": "Unrolled GAN", "modes_covered": "7.6", "high_quality": "35.6",
         "reverse_kl": "–"},
    ],
    "grid25": [
        {"source": "PacGAN Table 1", "model": "GAN", "modes_covered": "17.3 ± 0.8", "high_quality": "94.8",
         "reverse_kl": "0.70"},
        {"source": "PacGAN Table 1", "model": "PacGAN2", "modes_covered": "23.8", "high_quality": "91.3",
         "reverse_kl": "0.13"},
        {"source": "VEEGAN", "model": "GAN", "modes_covered": "3.3", "high_quality": "0.5", "reverse_kl": "–"},
        {"source": "VEEGAN", "model": "Unrolled GAN", "modes_covered": "23.6", "high_quality": "16",
         "reverse_kl": "–"},
    ],
}

# Lucic, Kurach et al. 2018 ("Are GANs Created Equal?"), Fashion-MNIST: best FID (mean +- std over the
# best configuration's re-runs), Inception FID of 10k samples vs 10k test images, 20 epochs, 100 samples
# per loss. A different backbone, N and budget than ours: shown as a labeled column, never compared.
PUBLISHED_LUCIC_FMNIST = {
    "mm": "29.6 ± 1.6", "ns": "26.5 ± 1.6", "lsgan": "30.7 ± 2.2", "wgan": "21.5 ± 1.6",
    "wgan-gp": "24.5 ± 2.1", "dragan": "27.7 ± 1.2",
}

# Karras et al. 2020 (StyleGAN2), Table 1: FID on FFHQ at 1024x1024 (50k samples, Inception), configs A-F.
# A different dataset, resolution, N and budget than ours: a labeled reference column, never compared.
PUBLISHED_STYLEGAN2_TABLE1 = {"a": 4.40, "b": 4.39, "c": 4.38, "d": 4.34, "e": 3.31, "f": 2.84}

# CIFAR-10 (32x32), each number with the protocol it was measured under: N generated images against the reference
# split (train 50k or test 10k), the FID/IS code, and where it was read. FID falls with N and moves with the library,
# resize and reference split, so these are labeled reference rows beside a cifar10 leaderboard, never ranked or
# pooled with ours. "verified": read in the cited source itself (README text, its figure, or the code that fixes
# the protocol); False is a number only known second-hand, kept because the issue asks for the model.
_STUDIOGAN = {"n_gen": 50_000, "reference": "train", "n_ref": 50_000, "verified": True,
              "library": "StudioGAN, TF-Inception weights, friendly resize; IS over all 50k",
              "source": "StudioGAN README, Benchmark figure, POSTECH-CVLab/PyTorch-StudioGAN@947b35e"}
_MIMICRY = {"n_gen": 50_000, "reference": "train", "n_ref": 50_000, "verified": True,
            "library": "torch-mimicry, TF Inception graph of the TTUR FID code; IS 10 splits",
            "source": "mimicry README, CIFAR-10 results, kwotsin/mimicry@a7fda06"}
_DIFFAUGMENT = {"n_gen": 10_000, "reference": "test", "n_ref": 10_000, "verified": True}
_NVLABS_FID50K_FULL = {"n_gen": 50_000, "reference": "train", "n_ref": 50_000, "is": None}

PUBLISHED_CIFAR10 = [
    {**_MIMICRY, "model": "DCGAN", "conditional": False, "fid": "28.95 ± 0.42", "is": None, "n_gen": 10_000,
     "n_ref": 10_000, "source": "mimicry README, Reproducibility, kwotsin/mimicry@a7fda06"},
    {**_STUDIOGAN, "model": "DCGAN", "conditional": False, "fid": "48.29", "is": "6.11"},
    {**_MIMICRY, "model": "WGAN-GP", "conditional": False, "fid": "22.29 ± 0.06", "is": "7.33 ± 0.02"},
    {**_STUDIOGAN, "model": "WGAN-GP", "conditional": False, "fid": "53.98", "is": "5.22"},
    {**_MIMICRY, "model": "SNGAN", "conditional": False, "fid": "16.77 ± 0.04", "is": "7.97 ± 0.06"},
    {**_MIMICRY, "model": "cGAN-PD (SNGAN, projection D)", "conditional": True, "fid": "10.84 ± 0.03",
     "is": "8.25 ± 0.13"},
    {**_STUDIOGAN, "model": "SNGAN (projection D)", "conditional": True, "fid": "9.01", "is": "8.83"},
    {**_STUDIOGAN, "model": "SAGAN", "conditional": True, "fid": "10.35", "is": "8.64"},
    {**_DIFFAUGMENT, "model": "BigGAN", "conditional": True, "fid": "9.59", "is": "9.06",
     "library": "TF Inception of the NVlabs metrics; IS 10 splits",
     "source": "DiffAugment-biggan-cifar README, mit-han-lab/data-efficient-gans@0b63395"},
    {**_STUDIOGAN, "model": "BigGAN", "conditional": True, "fid": "4.16", "is": "9.96"},
    {**_DIFFAUGMENT, "model": "StyleGAN2", "conditional": False, "fid": "11.07", "is": "9.18",
     "library": "NVlabs StyleGAN2 TF metrics; IS 10 splits",
     "source": "DiffAugment-stylegan2 README, mit-han-lab/data-efficient-gans@0b63395"},
    {**_STUDIOGAN, "model": "StyleGAN2", "conditional": True, "fid": "3.78", "is": "10.17"},
    {**_NVLABS_FID50K_FULL, "model": "StyleGAN2-ADA", "conditional": True, "fid": "2.42", "verified": True,
     "library": "NVlabs metrics, fid50k_full",
     "source": "Karras et al. 2020, abstract as in the README of NVlabs/stylegan2-ada@43eca51",
     "note": "taken as class-conditional, as the README's CIFAR-10 model is; the paper's table (IS, "
             "unconditional) was not read"},
    {**_STUDIOGAN, "model": "StyleGAN2-ADA", "conditional": True, "fid": "2.31", "is": "10.53"},
    {**_NVLABS_FID50K_FULL, "model": "StyleGAN-XL", "conditional": True, "fid": "1.85", "verified": True,
     "library": "NVlabs StyleGAN3 metrics, fid50k_full",
     "source": "StyleGAN-XL README, Pretrained Models, autonomousvision/stylegan-xl@0790fac",
     "note": "N and split from the metric the README names (fid50k_full), not stated beside the number"},
    {**_NVLABS_FID50K_FULL, "model": "R3GAN", "conditional": True, "fid": "1.96", "verified": False,
     "library": "NVlabs StyleGAN3 metrics, fid50k_full",
     "source": "Huang et al. 2024, R3GAN paper; not read here, and the brownvc/R3GAN README gives no number",
     "note": "protocol from the README (fid50k_full, CIFAR-10 trained with --cond=1)"},
]

# Zhao et al. 2020 (DiffAugment), mit-han-lab/data-efficient-gans README (../shared/REFERENCES.md "Limited data"):
# FID baseline -> + DiffAugment at each share of the training set. CIFAR-10: 10k samples (against the test
# split); FFHQ 256: 50k samples against the train split. Other datasets, resolutions, N and budgets than ours: the
# limited-data page shows them as labeled reference rows for the direction of the effect, never compared.
# StyleGAN2-ADA's FFHQ subset curve (Karras et al. 2020, Fig. 7) is not listed: REFERENCES.md asks for it to be
# checked against the paper's figure first, which could not be done here.
PUBLISHED_LIMITED_DATA = [
    {"source": "DiffAugment README", "dataset": "CIFAR-10", "model": "StyleGAN2", "protocol": "FID 10k vs test",
     "points": [("10%", 5000, 36.02, 14.50), ("20%", 10000, 23.08, 12.15), ("100%", 50000, 11.07, 9.89)]},
    {"source": "DiffAugment README", "dataset": "CIFAR-10", "model": "BigGAN", "protocol": "FID 10k vs test",
     "points": [("10%", 5000, 39.78, 22.40), ("20%", 10000, 21.58, 14.04), ("100%", 50000, 9.59, 8.70)]},
    {"source": "DiffAugment README", "dataset": "FFHQ 256", "model": "StyleGAN2", "protocol": "FID 50k vs train",
     "points": [("1k", 1000, 62.16, 25.66), ("5k", 5000, 26.60, 10.45), ("10k", 10000, 14.75, 7.86),
                ("30k", 30000, 6.16, 5.05), ("70k", 70000, 3.81, 4.24)]},
]
