"""Published numbers shown beside ours as labeled reference rows (never mixed into our statistics).

Source: ../shared/REFERENCES.md, which cites each paper. PacGAN Table 1 (Lin et al. 2018): 2,500
samples per evaluation, 10 runs; modes covered (mean +- std where published), high-quality %,
reverse KL.
"""

from __future__ import annotations

PUBLISHED_MODES = {
    "ring8": [
        {"source": "PacGAN Table 1", "model": "GAN", "modes_covered": "6.3 ± 0.5", "high_quality": "98.2",
         "reverse_kl": "0.45"},
        {"source": "PacGAN Table 1", "model": "PacGAN2", "modes_covered": "7.9", "high_quality": "95.6",
         "reverse_kl": "0.07"},
        {"source": "VEEGAN", "model": "Unrolled GAN", "modes_covered": "7.6", "high_quality": "35.6",
         "reverse_kl": "–"},
    ],
    "grid25": [
        {"source": "PacGAN Table 1", "model": "GAN", "modes_covered": "17.3 ± 0.8", "high_quality": "94.8",
         "reverse_kl": "0.70"},
        {"source": "PacGAN Table 1", "model": "PacGAN2", "modes_covered": "23.8", "high_quality": "91.3",
         "reverse_kl": "0.13"},
        {"source": "VEEGAN", "model": "Unrolled GAN", "modes_covered": "23.6", "high_quality": "16",
         "reverse_kl": "–"},
    ],
}
