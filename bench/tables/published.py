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
