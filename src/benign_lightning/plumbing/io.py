"""Atomic file writes: a crash never leaves a half-written result behind.

Each writer writes a temporary file in the target's folder, flushes it to disk, then renames it
over the target (``os.replace`` is atomic on POSIX within one file system).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np


def atomic_write(
    path: str | Path, write: Callable[[IO[bytes]], None], *, keep_previous: str | Path | None = None
) -> Path:
    """Call ``write(f)`` on a temporary binary file, then move it to ``path``. With
    ``keep_previous``, the file that was at ``path`` is moved there first (once the new one is on
    disk), so a reader always finds one complete file of the two."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous is not None and path.exists():
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_savez(path: str | Path, **arrays: np.ndarray) -> Path:
    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def atomic_savefig(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """A matplotlib figure as a PNG, written atomically."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
