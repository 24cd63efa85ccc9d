"""Image files to exact 8-bit pixels, one rule for every reader (`gbench score`, `gbench dataset-tool`,
image-folder datasets).

8-bit images (bilevel, gray, palette, RGB, with or without alpha: alpha is dropped, as PIL's convert does)
convert to 'L' or 'RGB' exactly. 16-bit gray keeps its top 8 bits, v >> 8: what PIL itself does to 16-bit
RGB PNGs, so a 16-bit gray and a 16-bit RGB file of the same pixels agree, and a 16-bit file made from 8-bit
data (v16 = 257 v8) gives back exactly its 8-bit pixels. Other modes (32-bit integer or float, CMYK) have
no exact 8-bit form: their range is not that of an image's 8 bits.
"""

from __future__ import annotations

import numpy as np

EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA")  # PIL's convert maps these to L / RGB exactly
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")  # 16-bit gray PNG
UNSUPPORTED = "has no exact 8-bit form; save it as an 8-bit or 16-bit PNG (gray or RGB) or an RGB JPEG"


def eight_bit(image, mode: str) -> np.ndarray | None:
    """A PIL image as (H, W) ('L') or (H, W, 3) ('RGB') uint8, or None if its mode has no exact 8-bit form."""
    if image.mode in SIXTEEN_BIT_MODES:
        gray = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
        return gray if mode == "L" else np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode not in EIGHT_BIT_MODES:
        return None
    return np.asarray(image.convert(mode))
