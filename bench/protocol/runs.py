"""Run identities. A run is (study, dataset, variant, seed) with the readable id `study/dataset/variant/sN`;
its folder is results/<id>/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.protocol.errors import ConfigError
from bench.protocol.names import VariantName

SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*")  # study and dataset names


@dataclass(frozen=True, order=True)
class RunId:
    study: str
    dataset: str
    variant: str
    seed: int

    @classmethod
    def parse(cls, text: str) -> RunId:
        parts = text.strip("/").split("/")
        if (len(parts) != 4 or not SEGMENT.fullmatch(parts[0]) or not SEGMENT.fullmatch(parts[1])
                or not re.fullmatch(r"s[0-9]+", parts[3])):
            raise ConfigError(f"run id {text!r} is not of the form study/dataset/variant/sN "
                              "(e.g. leaderboard/fmnist32/dcgan/s0)")
        VariantName.parse(parts[2])
        return cls(parts[0], parts[1], parts[2], int(parts[3][1:]))

    @property
    def name(self) -> VariantName:
        return VariantName.parse(self.variant)

    def __str__(self) -> str:
        return f"{self.study}/{self.dataset}/{self.variant}/s{self.seed}"

    def folder(self, root: Path) -> Path:
        return root / "results" / self.study / self.dataset / self.variant / f"s{self.seed}"
