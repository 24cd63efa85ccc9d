"""Fetching a published source file (users with internet; nothing here runs in the default pipeline): streamed
to a temporary file beside the target, checked, then renamed into place, so an interrupted or tampered download
never leaves a file that looks complete.

A source with a published md5 (MNIST, CIFAR-10) is checked against it. A source that publishes no checksum (the
translation papers' archives) can only be checked for completeness (the bytes the server announced in its
Content-Length all arrived) and, where the user pins one, against a sha256; the caller records the sha256 of what
arrived so a prepared dataset names the exact file it was built from."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from pathlib import Path

from bench.protocol.errors import DatasetError
from bench.protocol.io import atomic_write, sha256_file

RETRY = "try again, or download it by hand and give its path"


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def holds(path: Path, md5: str | None, sha256: str | None) -> bool:
    """Whether `path` matches every checksum given (with none given, any existing file: fetch writes whole files
    only, so one at the target is complete as the server sent it)."""
    return ((md5 is None or md5_file(path) == md5) and
            (sha256 is None or sha256_file(path) == sha256))


def fetch(url: str, dest: Path, md5: str | None, timeout: float = 60.0, sha256: str | None = None) -> Path:
    """Download `url` to `dest` unless `dest` already holds it. `md5` is the source's published checksum, None
    where it publishes none; `sha256` one the user pinned (optional). On any failure `dest` is left as it was."""
    if dest.is_file() and holds(dest, md5, sha256):
        return dest

    def download(tmp: Path) -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
                announced = response.headers.get("Content-Length")
        except OSError as exc:
            raise DatasetError(f"could not download {url}: {exc}; check the connection, or download it by hand "
                               f"and give its path") from exc
        _check_complete(tmp, announced, url)
        if md5 is not None and (got := md5_file(tmp)) != md5:
            raise DatasetError(f"{url} downloaded with md5 {got}, not the published {md5}: the file is "
                               f"damaged or not the original; {RETRY}")
        if sha256 is not None and (got := sha256_file(tmp)) != sha256:
            raise DatasetError(f"{url} downloaded with sha256 {got}, not the pinned {sha256}: the file is damaged "
                               f"or not the one pinned; {RETRY}, or pin the new sha256 if you trust it")

    return atomic_write(dest, download)


def _check_complete(path: Path, announced: str | None, url: str) -> None:
    """A connection dropped mid-transfer can end the stream quietly: compare with the size the server announced."""
    if announced is not None and announced.isdigit() and (got := path.stat().st_size) != int(announced):
        raise DatasetError(f"{url} ended after {got} of the {announced} bytes the server announced: the "
                           f"download was cut off; {RETRY}")
