"""Metric protocols by name, in NVlabs' grammar (stylegan2-ada-pytorch metrics/metric_main.py): the name says
what was measured, on how many generated samples, against which reference, so a column headed `fid50k_full`
can only be compared with another `fid50k_full`.

    <metric><N>[<k>][_<reference>]

- metric: `fid`, `kid`, `pr` (precision/recall, with its k), `dc` (density/coverage, with its k), `is` (no
  reference);
- N: generated samples, `50k` for 50,000, `500` for 500, `2.5k` for 2,500;
- reference: `full` = the whole train split (NVlabs' full protocol: 50k for CIFAR-10), `test` = the whole
  eval split (Lucic et al.'s 10k test protocol), `train<M>` / `test<M>` = M images of that split (our
  fixed-permutation subset).

A profile names the protocol a dataset is scored under (`profiles.<p>.<dataset>.protocol: fid50k_full`):
it sets the evaluate stage's N and the reference stage's split and size. Every metric spec then records the
name of each metric's protocol (computed from what was measured, not from what was asked:
bench/measurement/protocols.py), and tables and pages show it in their headers. This module is the grammar
alone: params.yaml is checked with it, so every stage depends on it; keep it small and stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAMILIES = {"fid": None, "kid": None, "pr": 3, "dc": 5, "is": None}  # metric family -> its k (None: no k)
SPLIT_NAMES = {"train": "full", "eval": "test"}  # the whole split's name; a subset is `<train|test><M>`
WELL_KNOWN = ("fid50k_full", "kid50k_full", "pr50k3_full", "is50k", "fid10k_test", "fid50k_test", "kid10k_test")
_COUNT = re.compile(r"\d+(?:\.\d+)?k?")
_REFERENCE = re.compile(r"full|test|(?:train|test)\d+(?:\.\d+)?k?")


def count_text(n: int) -> str:
    """50000 -> '50k', 2500 -> '2.5k', 500 -> '500'."""
    if n >= 1000 and n % 100 == 0:
        thousands = n / 1000
        return f"{thousands:g}k"
    return str(n)


def count_value(text: str) -> int:
    return round(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def reference_text(split: str, n_ref: int | None, split_size: int | None) -> str:
    """`full` / `test` for a whole split (n_ref None, or the split's size), else `train<M>` / `test<M>`."""
    if n_ref is None or n_ref == split_size:
        return SPLIT_NAMES[split]
    return ("train" if split == "train" else "test") + count_text(n_ref)


def name(family: str, n_gen: int, split: str | None = None, n_ref: int | None = None,
         split_size: int | None = None) -> str:
    """The protocol name of one measurement, e.g. name('fid', 50000, 'train', 50000, 50000) == 'fid50k_full'."""
    k = FAMILIES[family]
    text = f"{family}{count_text(n_gen)}{k if k is not None else ''}"
    if family == "is" or split is None:
        return text
    return f"{text}_{reference_text(split, n_ref, split_size)}"


@dataclass(frozen=True)
class Protocol:
    """A named protocol, parsed: N generated, the reference split and its size (None: the whole split)."""

    name: str
    family: str
    n_gen: int
    split: str | None
    n_ref: int | None

    def spec_name(self, family: str) -> str:
        """The same protocol for another metric family (fid50k_full -> kid50k_full, pr50k3_full)."""
        return name(family, self.n_gen, self.split, self.n_ref)


def parse(text: str) -> Protocol:
    """'fid50k_full' -> Protocol(fid, 50000, 'train', None); a ValueError says what the grammar is."""
    head, _, ref = text.partition("_")
    family = next((f for f in FAMILIES if head.startswith(f)), None)
    count = head[len(family):] if family else ""
    k = FAMILIES.get(family)
    if k is not None:
        count = count[:-1] if count.endswith(str(k)) else ""
    if family is None or not _COUNT.fullmatch(count) or (ref and not _REFERENCE.fullmatch(ref)) \
            or (family == "is") == bool(ref):
        raise ValueError(f"{text!r} is not a metric protocol name: <metric><N>[k]_<reference>, metric fid, kid, "
                         f"pr (k 3), dc (k 5) or is (no reference), N like 50k or 500, reference full, test, "
                         f"train<M> or test<M>; e.g. {', '.join(WELL_KNOWN)}")
    if not ref:
        split, n_ref = None, None
    elif ref in ("full", "test"):
        split, n_ref = ("train" if ref == "full" else "eval"), None
    else:
        split = "train" if ref.startswith("train") else "eval"
        n_ref = count_value(ref[len("train") if split == "train" else len("test"):])
    return Protocol(text, family, count_value(count), split, n_ref)
