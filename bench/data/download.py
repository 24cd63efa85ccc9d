"""Fetching a published source file (users with internet; nothing here runs in the default pipeline): streamed
to a temporary file beside the target, checked against its published md5, then renamed into place, so an
interrupted or tampered download never leaves a file that looks complete."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from pathlib import Path

from bench.protocol.errors import DatasetError
from bench.protocol.io import atomic_write


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, dest: Path, md5: str, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` unless `dest` already holds the file with checksum `md5`."""
    if dest.is_file() and md5_file(dest) == md5:
        return dest

    def download(tmp: Path) -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise DatasetError(f"could not download {url}: {exc}; check the connection, or download it by hand "
                               f"and give its path") from exc
        if (got := md5_file(tmp)) != md5:
            raise DatasetError(f"{url} downloaded with md5 {got}, not the published {md5}: the file is "
                               "damaged or not the original; try again, or download it by hand and give its path")

    return atomic_write(dest, download)
