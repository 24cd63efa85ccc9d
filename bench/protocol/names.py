"""The variant-name grammar, parsed in this one place: `<variant>[+<option>...][~h<NN>]`.

`dcgan+hinge+sn` is the registered variant `dcgan` with the options `hinge` then `sn` applied; a sweep
study names its runs `<base>+<loss>~hNN`, hyperparameter sample NN of that loss (bench/protocol/sweep.py).
Every part uses one alphabet (lower-case letters, digits, '-' and '.'), so a name is safe in a file path,
a DVC stage name and a shell command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.protocol.errors import ConfigError
from models.registry import NAME_PATTERN

SAMPLE_PATTERN = re.compile(r"h[0-9]{2,}")
GRAMMAR = "<variant>[+<option>...][~hNN] (lower-case letters, digits, '-' and '.'; e.g. dcgan+hinge+sn)"


def sample_name(index: int) -> str:
    """Sample `index` of a sweep as it appears in run names and in the study file (h00 = the defaults)."""
    return f"h{index:02d}"


@dataclass(frozen=True)
class VariantName:
    base: str
    options: tuple[str, ...] = ()
    sample: str | None = None  # a sweep's hyperparameter sample, e.g. "h03"

    @classmethod
    def parse(cls, text: str) -> VariantName:
        if not isinstance(text, str):
            raise ConfigError(f"variant name {text!r} is not a string; write it as {GRAMMAR}")
        name, tilde, sample = text.partition("~")
        parts = name.split("+")
        bad = [p for p in parts if not NAME_PATTERN.fullmatch(p)]
        if bad or (tilde and not SAMPLE_PATTERN.fullmatch(sample)):
            raise ConfigError(f"variant name {text!r} does not follow the grammar {GRAMMAR}")
        if tilde and len(parts) < 2:
            raise ConfigError(f"variant name {text!r}: a sweep sample ~{sample} belongs to a loss option "
                              "(<base>+<loss>~hNN)")
        return cls(parts[0], tuple(parts[1:]), sample or None)

    @property
    def registry_name(self) -> str:
        """The name without the sweep sample: what the registry composes."""
        return "+".join((self.base, *self.options))

    @property
    def sweep_loss(self) -> str | None:
        """The loss a sweep sample belongs to (its last option), None outside sweeps."""
        return self.options[-1] if self.sample else None

    def __str__(self) -> str:
        return self.registry_name + (f"~{self.sample}" if self.sample else "")
