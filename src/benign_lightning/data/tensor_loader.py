"""Batching of in-memory tensors without DataLoader workers.

Small datasets (toy-MNIST, MNIST, CIFAR) live as tensors on the training device. A batch is one
index into them, so there are no worker processes, no collation and no host-to-device copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from benign_lightning.plumbing.distributed import dist_rank_world


class EpochPermutation:
    """Per-epoch order of the indices, a pure function of (seed, epoch), sharded across ranks.

    It has ``set_epoch`` like ``DistributedSampler``, and Lightning's fit loop calls it through the
    loader's ``sampler`` attribute, so a resumed run continues with the same order an uninterrupted
    run would have used.
    """

    def __init__(self, n: int, *, shuffle: bool, seed: int, drop_last: bool = False) -> None:
        self.n, self.shuffle, self.seed, self.drop_last = n, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Number of indices this rank gets per epoch."""
        _, world = dist_rank_world()
        return -(-self.n // world)

    def indices(self) -> torch.Tensor:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        rank, world = dist_rank_world()
        if world > 1:
            # As DistributedSampler: pad by wrapping so every rank gets the same number of batches.
            per_rank = -(-self.n // world)
            order = torch.cat([order, order[: per_rank * world - self.n]])[rank::world]
        return order


class TensorLoader:
    """Iterates ``(x, y, index)`` batches of tensors already on their device."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        batch_size: int,
        sampler: EpochPermutation,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
        self.x, self.y, self.batch_size, self.sampler = x, y, batch_size, sampler
        self.transform, self.augment = transform, augment

    def _generator(self) -> torch.Generator:
        """The augmentation's random stream: a function of (seed, epoch, rank), so resumed and
        uninterrupted runs augment alike and ranks augment differently."""
        rank, _ = dist_rank_world()
        seed = (self.sampler.seed * 1_000_003 + self.sampler.epoch) * 1_009 + rank
        return torch.Generator(device=self.x.device).manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.sampler.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = self.sampler.indices().to(self.x.device)
        stop = len(order) - len(order) % self.batch_size if self.sampler.drop_last else len(order)
        generator = self._generator() if self.augment is not None else None
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.x[idx]
            if self.augment is not None:
                x = self.augment(x, generator)
            if self.transform is not None:
                x = self.transform(x)
            yield x, self.y[idx], idx
