"""Dataset files on disk: damaged ones named in a clear error, gzip unpacked atomically, and the
originals' checksums compared once.

A truncated ``.gz`` used to end in ``EOFError: Compressed file ended ...`` with no file named, and
torchvision's ``extract_archive`` left the partial output in place, which the next run took for the
real file. Here a damaged file is a ConfigError naming it, and output appears only when complete.

Checksums: where the original files' md5 sums are known (MNIST, CIFAR), each file is compared once
and the outcome is recorded in ``env.json``. The md5 is cached by the file's path, size and
modification time in the user's cache (``checksum_cache()``), not beside the files: a dataset
folder is often a shared, read-only copy, and nothing is written in it unless something has to be
unpacked or downloaded. Files that differ are a warning, not an error: tests and users may bring
their own files in the same format.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import shutil
import zlib
from collections.abc import Mapping
from pathlib import Path

from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_write, atomic_write_json

log = logging.getLogger(__name__)


def checksum_cache() -> Path:
    """``$BENIGN_CACHE_DIR/checksums.json`` (default ``$XDG_CACHE_HOME/benign_lightning``, else
    ``~/.cache/benign_lightning``): the md5 sums already computed, by absolute file path."""
    root = os.environ.get("BENIGN_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "benign_lightning"  # fmt: skip
    return Path(root) / "checksums.json"


def damaged(path: Path, reason: str) -> ConfigError:
    return ConfigError(
        f"{path} is damaged ({reason}); delete it and run with data.download=true, or restore it"
    )


def gunzip(source: Path, target: Path) -> None:
    """Unpack ``source`` into ``target``; a damaged archive is a ConfigError and leaves no target."""
    try:
        with gzip.open(source, "rb") as src:
            atomic_write(target, lambda dst: shutil.copyfileobj(src, dst))
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise damaged(source, f"{type(e).__name__}: {e}") from None


def md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def compare_checksums(folder: Path, expected: Mapping[str, str], dataset: str) -> dict[str, str]:
    """``{file: "original" | "differs"}`` for the files of ``expected`` that exist in ``folder``;
    a warning names the ones that differ."""
    cache_path = checksum_cache()
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    report, changed = {}, False
    for name, want in expected.items():
        path = folder / name
        if not path.exists():
            continue
        stat, entry = path.stat(), str(path.resolve())
        key = f"{stat.st_size}:{stat.st_mtime_ns}"
        if cache.get(entry, {}).get("key") != key:
            cache[entry] = {"key": key, "md5": md5(path)}
            changed = True
        report[name] = "original" if cache[entry]["md5"] == want else "differs"
    differ = sorted(n for n, r in report.items() if r == "differs")
    if differ:
        log.warning(
            "%s: %s in %s differ from the original %s files (md5); fine for files of your own in the "
            "same format, otherwise restore them", dataset, ", ".join(differ), folder, dataset,
        )  # fmt: skip
    if changed:
        with contextlib.suppress(OSError):  # no writable cache: hashed again next time
            atomic_write_json(cache_path, cache)
    return report
