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


def gather_rows(local: torch.Tensor, n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Concatenate every rank's ``local`` rows (its ``my_shard(n)`` slice) in rank order, on
    ``local``'s device.

    ``device`` is where the collective runs: the model's device. NCCL takes CUDA tensors only, and
    the DataLoader path keeps its splits (so the rows' labels and masks) on the host. A rank with an
    empty shard (fewer rows than ranks) may hold a tensor without the others' trailing dimensions
    (``torch.empty(0, 0)`` for logits it never computed): every rank pads to the shape and dtype of
    the ranks that have rows, which they agree on first."""
    rank, world = dist_rank_world()
    if world == 1:
        return local
    bounds = shard_bounds(n, world)
    shapes = gather_objects((tuple(local.shape[1:]), local.dtype) if len(local) else None)
    tail, dtype = next((s for s in shapes if s is not None), (tuple(local.shape[1:]), local.dtype))
    width = max(stop - start for start, stop in bounds)
    device = collective_device(torch.device(device) if device is not None else local.device)
    # Bool tensors are not supported by every backend; gather as uint8 and convert back.
    wire = torch.uint8 if dtype == torch.bool else dtype
    padded = torch.zeros((width, *tail), dtype=wire, device=device)
    if len(local):
        padded[: len(local)] = local.to(device=device, dtype=wire)
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    rows = torch.cat([p[: stop - start] for p, (start, stop) in zip(parts, bounds, strict=True)])
    return rows.to(device=local.device, dtype=dtype)


def collective_device(wanted: torch.device) -> torch.device:
    """Where the process group's collectives take tensors: NCCL's on this rank's CUDA device
    whatever ``wanted`` says (a model left on the host, splits on the host), others on ``wanted``."""
    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return wanted


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a list of one in a single process)."""
    _, world = dist_rank_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm's running statistics).

    DDP copies rank 0's buffers to the others at the start of each training forward, and each rank
    then updates them with its own batch: at an epoch's end the ranks' running statistics differ,
    so a rank evaluating its shard would score other weights than the checkpoint (rank 0's) holds.
    """
    _, world = dist_rank_world()
    if world == 1:
        return
    for buffer in module.buffers():
        wire = buffer.detach().to(collective_device(buffer.device))
        dist.broadcast(wire, src=0)
        buffer.data.copy_(wire)
