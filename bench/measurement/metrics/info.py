"""How to read one metric: the entry each metric module declares next to its function (its `METRICS`),
collected by the catalog (bench/measurement/catalog.py). Import-light: no numpy or torch here."""

from __future__ import annotations

from dataclasses import dataclass, replace

BACKBONE_LABELS = {"inception": "Inception", "domain": "domain"}
# The pretrained network each image backbone runs, by the name a trained network declares when its training sees
# it (`pretrained_networks`, e.g. a vision-aided D on the Inception trunk): the metrics of that backbone are then
# marked for that run.
BACKBONE_NETWORKS = {"inception": "tf-inception-v3", "domain": "domain-classifier"}


def trained_against(backbone: str, networks: str | list[str] | None) -> str | None:
    """The network of `backbone` when the run's training saw it (`networks`: names, or comma-joined), else None."""
    names = networks.split(",") if isinstance(networks, str) else list(networks or [])
    network = BACKBONE_NETWORKS.get(backbone)
    return network if network is not None and network in names else None


def column(name: str, backbone: str) -> str:
    """The column of a per-backbone metric: its name on Inception, `<name>_<backbone>` on the others."""
    return name if backbone == "inception" else f"{name}_{backbone}"


@dataclass(frozen=True)
class MetricInfo:
    name: str  # the column in metrics.json and every table
    label: str  # what a table header says, e.g. "FID"
    lower_is_better: bool | None  # None: a count or companion value, never ranked
    description: str = ""
    scale: float = 1.0  # values are shown multiplied by this (KID x 10^3, high-quality share in %)
    unit: str = ""  # shown after the label: "×10³", "%", "dB"
    backbone: str = ""  # the features it is computed on: inception, domain, points, generator, ...
    per_backbone: bool = False  # a template computed on every image backbone (see `on`)
    compared_on: tuple[str, ...] = ()  # backbones on which `gbench compare` and new-method pages use it by default
    log_axis: bool = False  # plots draw it on a log scale
    summarized: bool = True  # aggregated over seeds and shown in tables (False: a companion value)
    undefined: str = ""  # when the value may legitimately be undefined or infinite (then it is written as None)
    min_generated: int = 1  # the fewest generated samples it is defined for (params.yaml's n_gen is checked)
    min_reference: int = 1  # the fewest reference samples (n_ref)

    def on(self, backbone: str) -> MetricInfo:
        """The entry of a per-backbone template on one backbone."""
        assert self.per_backbone, self.name
        return replace(self, name=column(self.name, backbone), backbone=backbone, per_backbone=False,
                       compared_on=tuple(b for b in self.compared_on if b == backbone))

    @property
    def compared(self) -> bool:
        return bool(self.compared_on)

    @property
    def heading(self) -> str:
        """The label with its backbone and unit, e.g. "KID (Inception) ×10³", "high quality %"."""
        text = self.label
        if self.backbone in BACKBONE_LABELS:
            text += f" ({BACKBONE_LABELS[self.backbone]})"
        return f"{text} {self.unit}" if self.unit else text
