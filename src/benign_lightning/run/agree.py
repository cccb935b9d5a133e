"""Decisions every DDP rank must take alike, taken by rank 0 and shared.

Whether ``last.ckpt`` exists, which checkpoint a run resumes from (and moving a damaged one
aside), whether to write the final ``last.ckpt`` and whether ``best.ckpt`` is there to restore all
read the run folder. On a shared filesystem (NFS, Lustre) a node's view can be stale, and ranks
that decide from their own views end on different weights, or hang in a collective
(``trainer.save_checkpoint`` is one). So rank 0 decides and the others take its answer:

- once the process group exists (after ``trainer.fit``; or joined early, below): a broadcast;
- before ``fit``, in the process from which Lightning's launcher starts this node's other ranks:
  the answer goes into the environment those ranks are started with;
- in a rank that launcher started: the answer read from that environment;
- in processes started from outside (torchrun, SLURM's tasks): the process group is joined now
  (``strategy.setup_environment``, which ``fit`` then finds done) and the answer broadcast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch.distributed as dist
from lightning_fabric.plugins.environments import LightningEnvironment

from benign_lightning.plumbing.errors import ConfigError

ENV_PREFIX = "BENIGN_RANK0_"


def rank_zero_decides(trainer: pl.Trainer, key: str, decide: Callable[[], Any]) -> Any:
    """``decide()`` as rank 0 answers it, on every rank (a JSON-serialisable value); ``decide`` runs
    on rank 0 only (where it may change the folder, e.g. set a damaged checkpoint aside). A
    ConfigError that ``decide`` raises on rank 0 is raised on every rank, so none is left waiting in
    the broadcast."""
    if trainer.world_size == 1:
        return decide()
    if not (dist.is_available() and dist.is_initialized()):
        environment = getattr(trainer.strategy, "cluster_environment", None)
        variable = f"{ENV_PREFIX}{key.upper()}"
        if environment is not None and not environment.creates_processes_externally:
            value = decide()  # this process launches the node's other ranks (node 0: it is rank 0)
            os.environ[variable] = json.dumps(value)
            return value
        if isinstance(environment, LightningEnvironment) and variable in os.environ:
            return json.loads(os.environ[variable])  # started by that launcher, with its answer
        trainer.strategy.setup_environment()  # started from outside: join the process group now
        if not dist.is_initialized():
            raise RuntimeError(f"{type(trainer.strategy).__name__} started no process group for {key!r}")
    answer = _answer(decide) if dist.get_rank() == 0 else None
    answer = trainer.strategy.broadcast(answer, src=0)
    if "error" in answer:
        raise ConfigError(answer["error"])
    return answer["value"]


def _answer(decide: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"value": decide()}
    except ConfigError as e:
        return {"error": str(e)}


def forget_decisions() -> None:
    """Drop the answers handed to launched ranks (a sweep's next job in this process decides anew)."""
    for variable in [v for v in os.environ if v.startswith(ENV_PREFIX)]:
        del os.environ[variable]
