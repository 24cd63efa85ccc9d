"""Backbones by name: uint8 images -> the arrays every metric of that backbone reads, in one pass.

`inception`: NVlabs TF-Inception pool3 features (bench/measurement/inception.py). `domain`: the penultimate layer
and class probabilities of the dataset's own classifier (bench/measurement/classifier.py); Stacked Fashion-MNIST
is scored channel by channel with the Fashion-MNIST classifier (1000 modes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAMES = ("inception", "domain")


class BackboneSet:
    def __init__(self, name: str, root: Path, dataset: str | None, device: str = "cpu", batch: int = 16) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(NAMES)}")
        self.name = name
        if name == "inception":
            from bench.measurement.inception import InceptionFeatures

            self._net = InceptionFeatures(device=device, batch=batch)
        else:
            self._net = domain_backbone(root, dataset, device, max(batch, 256))

    def spec(self) -> dict:
        return self._net.spec()

    def __call__(self, images: np.ndarray, progress: bool = False) -> dict[str, np.ndarray]:
        if self.name == "inception":
            return {"features": self._net(images, progress=progress)}
        features, probs = self._net(images)
        return {"features": features, "probs": probs}


def domain_backbone(root: Path, dataset: str | None, device: str = "cpu", batch: int = 256):
    from bench.data.datasets import StackedSpec, spec
    from bench.measurement.classifier import DomainBackbone

    if dataset is None:
        raise ValueError("the domain backbone is the classifier of a dataset: name the dataset")
    ds = spec(dataset)
    if ds.classifier is None:
        raise ValueError(f"{dataset} has no domain classifier (it is unlabeled); use the inception backbone")
    return DomainBackbone.load(root, ds.classifier, device=device, batch=batch,
                               per_channel=isinstance(ds, StackedSpec))
