"""The few collectives the framework needs, as no-ops in a single process.

Evaluation is sharded: each rank takes one contiguous slice of a split, and ``gather_rows`` puts
the slices back together in order, so every example is evaluated exactly once whatever the
number of ranks.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


def dist_rank_world() -> tuple[int, int]:
    """(rank, world_size) of the initialised process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_bounds(n: int, world: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each rank's contiguous slice of ``n`` rows (sizes differ by at most 1)."""
    base, extra = divmod(n, world)
    bounds, start = [], 0
    for rank in range(world):
        stop = start + base + (rank < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


def my_shard(n: int) -> slice:
    """This rank's slice of ``n`` rows."""
    rank, world = dist_rank_world()
    return slice(*shard_bounds(n, world)[rank])


def gather_rows(local: torch.Tensor, n: int) -> torch.Tensor:
    """Concatenate every rank's ``local`` rows (its ``my_shard(n)`` slice) in rank order."""
    rank, world = dist_rank_world()
    if world == 1:
        return local
    bounds = shard_bounds(n, world)
    width = max(stop - start for start, stop in bounds)
    # Bool tensors are not supported by every backend; gather as uint8 and convert back.
    dtype = local.dtype
    payload = local.to(torch.uint8) if dtype == torch.bool else local
    padded = payload.new_zeros((width, *local.shape[1:]))
    padded[: len(local)] = payload
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    rows = torch.cat([p[: stop - start] for p, (start, stop) in zip(parts, bounds, strict=True)])
    return rows.to(dtype)


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a list of one in a single process)."""
    _, world = dist_rank_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out
