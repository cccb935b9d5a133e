"""Checkpoints that survive a bad file: written atomically, the previous one kept, and a resume
that falls back to it when the newest cannot be read.

Lightning's own ``TorchCheckpointIO`` writes the file in place, so a process killed while writing
(or a full disk) leaves a truncated ``last.ckpt``, and every later resume of the folder crashes in
the zip reader. ``KeptCheckpointIO`` writes a temporary file, fsyncs it, moves the current
checkpoint to ``<name>.prev.ckpt`` and the new one into place.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_write

log = logging.getLogger(__name__)


def previous_of(path: str | Path) -> Path:
    """``checkpoints/last.ckpt`` → ``checkpoints/last.prev.ckpt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


class KeptCheckpointIO(TorchCheckpointIO):
    """Atomic checkpoint writes that keep the previous checkpoint of the same name."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        atomic_write(path, lambda f: torch.save(checkpoint, f), keep_previous=previous_of(path))


def unreadable(path: Path) -> str | None:
    """Why the checkpoint at ``path`` cannot be read, or None if it can (every member's CRC is
    checked; torch checkpoints are zip archives)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        return f"{type(e).__name__}: {e}"
    return f"member {bad} is corrupt" if bad else None


def resume_from(last: Path) -> Path | None:
    """The checkpoint to resume from: ``last`` if it reads, else its previous one (said in a
    warning; the damaged file is set aside as ``<name>.damaged``), else None when there is none.
    A folder whose checkpoints exist but none reads is a ConfigError that names them and says how
    to start over."""
    candidates = [p for p in (last, previous_of(last)) if p.exists()]
    damaged = []
    for path in candidates:
        reason = unreadable(path)
        if reason is None:
            if damaged:
                bad, why = damaged[0]
                # Set aside, so the next checkpoint does not rotate it in as "the previous one".
                os.replace(bad, bad.with_name(bad.name + ".damaged"))
                log.warning(
                    "%s cannot be read (%s); resuming from the previous checkpoint %s (the damaged "
                    "file is kept as %s.damaged)", bad, why, path, bad.name,
                )  # fmt: skip
            return path
        damaged.append((path, reason))
    if damaged:
        listed = "; ".join(f"{p} ({reason})" for p, reason in damaged)
        raise ConfigError(
            f"cannot resume: {listed}, and no readable previous checkpoint. Run with resume=false to "
            "start this folder over (its checkpoints will be replaced), or restore the file"
        )
    return None
