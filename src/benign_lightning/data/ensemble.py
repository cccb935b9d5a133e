"""An ensemble's data: one datamodule per member (each the single run's: its noise, its subset, its
batch order), served as one stream of stacked batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytorch_lightning as pl
import torch

from benign_lightning.data.base import LabelNoiseDataModule, Split, stack_splits
from benign_lightning.plumbing.errors import ConfigError


class MemberSamplers:
    """Lightning calls ``set_epoch`` on a loader's ``sampler``: pass it to every member's."""

    def __init__(self, samplers: Sequence) -> None:
        self.samplers = list(samplers)

    def set_epoch(self, epoch: int) -> None:
        for sampler in self.samplers:
            sampler.set_epoch(epoch)


class MemberBatches:
    """Batch i of every member's own loader, stacked: ``(x (N, B, ...), y (N, B), index (N, B))``."""

    def __init__(self, loaders: Sequence) -> None:
        self.loaders = list(loaders)
        self.sampler = MemberSamplers([loader.sampler for loader in self.loaders])

    def __len__(self) -> int:
        return len(self.loaders[0])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        for batches in zip(*self.loaders, strict=True):
            yield tuple(torch.stack(parts) for parts in zip(*batches, strict=True))


class EnsembleDataModule(pl.LightningDataModule):
    """The members' datamodules, set up together; ``stacked_train`` is their training splits one
    after the other (member-major), what the per-epoch predictions and the evaluation run on."""

    def __init__(self, members: Sequence[LabelNoiseDataModule]) -> None:
        super().__init__()
        self.members = list(members)
        self.stacked_train: Split | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.stacked_train is not None:
            return
        for member in self.members:
            member.trainer = self.trainer
            member.prepare_data()
            member.setup(stage)
        sizes = [len(m.train) for m in self.members]
        if len(set(sizes)) > 1:
            raise ConfigError(
                f"ensemble members' training sets differ in size ({sizes}): every member takes one batch "
                "per step, so they need equal sizes (data.train_subset and data.holdout as counts or "
                "fractions of the same data)"
            )
        first = self.members[0]
        for member in self.members[1:]:
            # Members with the same inputs (only labels or batch order differ) share one copy.
            if member.train.x.shape == first.train.x.shape and torch.equal(member.train.x, first.train.x):
                member.train = Split(first.train.x, member.train.y)
        self.stacked_train = stack_splits([m.eval_train for m in self.members])

    def train_dataloader(self) -> MemberBatches:
        return MemberBatches([m.train_dataloader() for m in self.members])
