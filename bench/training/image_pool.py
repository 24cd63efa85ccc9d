"""CycleGAN's history of generated images (Zhu et al., ICCV 2017, arXiv:1703.10593, section 4; after
Shrivastava et al., CVPR 2017): D is updated on fakes drawn from the last 50 generated images rather than
only the newest ones, to reduce model oscillation.

The rule, per image of the batch, as junyanz/pytorch-CycleGAN-and-pix2pix@c99ce7c4 util/image_pool.py
(ImagePool.query): while the pool holds fewer than `size` images, store the image and return it; once
full, draw u ~ U[0, 1): if u > 0.5, return a uniformly drawn stored image and store the new one in its
place, else return the new image. Size 0 returns the batch unchanged (pix2pix's pool_size 0).
The draws come from an explicit torch.Generator (u, then the index only when u > 0.5), so a run is
seedable, and state_dict() carries the stored images and the generator's state for a bit-identical resume.
Returned and stored images are detached: D's update on them never reaches G.
"""

from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, size: int = 50, *, generator: torch.Generator) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self.generator = generator
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                i = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    __call__ = query

    def state_dict(self) -> dict:
        return {"size": self.size, "images": [t.clone() for t in self.images],
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if state["size"] != self.size or len(state["images"]) > self.size:
            raise ValueError(f"a pool of size {state['size']} with {len(state['images'])} images cannot load into "
                             f"a pool of size {self.size}")
        self.images = [t.clone() for t in state["images"]]
        self.generator.set_state(state["generator"])
