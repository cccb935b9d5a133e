"""N members of one architecture as one module (``torch.func``): each member keeps its own weights,
stacked along a leading dimension.

- ``StackedModels``: inputs ``(N, B, ...)`` → logits ``(N, B, C)``, member k on its own rows;
- ``MemberBlocks``: the same as a plain classifier of ``(N·B, ...)`` rows, member-major (training
  batches: every member has B rows), so the attacks and the losses run on it unchanged;
- ``MemberRows``: a classifier of rows that each name their member, in any order and any count
  (evaluation: each member attacks only its own naturally correct points, and PGD's early stop drops
  rows). ``select_rows`` narrows it to a subset of its rows (``attacks.pgd.rows_of``).

Two ways to run the members, chosen by ``StackedModels.vmapped`` (``ensemble.vmap``): ``vmap`` over
``functional_call``, one batched kernel per layer for all members, or each member in turn on its own
rows with its own slice of the stacked weights. Batching pays where one member's kernels are too
small to fill the device: on a GPU, and on a CPU for small models, where a call's cost is overhead.
On a CPU a larger model is arithmetic-bound and batching saves none of it; in turn, each member
runs exactly the single model's kernels, so its weights are bit for bit its single run's (a
vmapped matmul rounds differently: vmapped members agree with their single runs to float
tolerance, tests/test_ensemble.py). Measured with ``scripts/ensemble_step_bench.py`` (8 members,
batch 128, 2 threads): toy-MNIST's 4 x 512 MLP 65.8 ms a training step vmapped, 66.3 ms in turn,
60.4 ms as 8 models; the 4 x 100 MLP on 2-D points 3.8, 6.5 and 6.5 ms. Evaluation's rows shrink
unevenly under PGD's early stop, and padding them to one width for a vmapped call cost more than it
saved on a CPU (toy-MNIST's evaluation 1.4x slower; the circles job with the 4 x 100 MLP, vmapped
everywhere: 91 s against 79 s for 8 single runs, one repeat, one thread).
``vmapped=None``: training batches on CUDA or below ``SMALL_MODEL`` parameters a member;
evaluation's rows on CUDA only.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from benign_lightning.plumbing.errors import ConfigError


def check_stackable(model: nn.Module, arch: str) -> None:
    """A ConfigError, naming the reason, for a model whose members cannot be stacked."""
    batchnorm = nn.modules.batchnorm._BatchNorm
    norms = sorted({type(m).__name__ for m in model.modules() if isinstance(m, batchnorm)})
    if norms:
        raise ConfigError(
            f"ensemble.size > 1 with arch={arch}: it has {', '.join(norms)} layers, whose running statistics "
            "every training forward updates in place; torch.func.vmap cannot keep one such buffer per "
            "member. Use a model without BatchNorm (mlp, mnist_cnn, two_layer) or ensemble.size=1"
        )
    if any(isinstance(m, nn.Dropout) for m in model.modules()):
        raise ConfigError(
            f"ensemble.size > 1 with arch={arch}: dropout draws from the global random stream, which a "
            "vmapped member cannot share with a single run; use a model without dropout or ensemble.size=1"
        )


# Below this many parameters a member, a CPU runs the members vmapped (see the module docstring).
SMALL_MODEL = 100_000


def _key(name: str) -> str:
    return name.replace(".", "__")  # module attribute names cannot hold dots


class StackedModels(nn.Module):
    """The members' parameters and buffers stacked along dim 0."""

    def __init__(self, members: Sequence[nn.Module], vmapped: bool | None = None) -> None:
        super().__init__()
        params, buffers = stack_module_state(list(members))
        self.names = list(params)
        self.buffer_names = list(buffers)
        stacked = {_key(n): nn.Parameter(p.detach().clone()) for n, p in params.items()}
        self.stacked = nn.ParameterDict(stacked)
        for name, b in buffers.items():
            self.register_buffer(f"buffer__{_key(name)}", b.clone())
        # The architecture, out of the module tree (its own weights are never used): the shape of
        # each member, and the template ``member(k)`` copies.
        self.__dict__["template"] = copy.deepcopy(members[0])
        self.size = len(members)
        self._vmapped = vmapped

    @property
    def vmapped(self) -> bool:
        """Run the members in one vmapped call (``None`` at construction: on CUDA, or for a small
        model)."""
        if self._vmapped is not None:
            return self._vmapped
        return next(self.parameters()).is_cuda or sum(p[0].numel() for p in self.parameters()) < SMALL_MODEL

    @vmapped.setter
    def vmapped(self, value: bool | None) -> None:
        self._vmapped = value

    @property
    def vmapped_rows(self) -> bool:
        """Run ``MemberRows`` vmapped, padded to one width (``None`` at construction: on CUDA only).
        Evaluation batches shrink unevenly under PGD's early stop, and on a CPU padding them cost
        more than one call saved, even for small models (see the module docstring)."""
        return next(self.parameters()).is_cuda if self._vmapped is None else self._vmapped

    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {n: self.stacked[_key(n)] for n in self.names}
        out.update({n: getattr(self, f"buffer__{_key(n)}") for n in self.buffer_names})
        return out

    def train(self, mode: bool = True) -> StackedModels:
        super().train(mode)
        self.template.train(mode)  # functional_call runs the template's modules in their mode
        return self

    def _one(self, tensors: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, tensors, (x,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, B, ...) → logits (N, B, C)."""
        if self.vmapped:
            return vmap(self._one)(self._tensors(), x)
        return torch.stack(self.in_turn(list(x.unbind(0))))

    def in_turn(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Member k alone on ``inputs[k]`` (B_k, ...) → (B_k, C), for each k (an empty input is
        skipped and answered with an empty output)."""
        # unbind, not t[k]: its backward writes the members' gradients into one stacked tensor, where
        # N indexings would each allocate a zero tensor of the whole stack (measured 1.4x slower).
        per_member = {name: t.unbind(0) for name, t in self._tensors().items()}
        return [
            self._one({name: views[k] for name, views in per_member.items()}, x) if len(x) else x.new_zeros(0)
            for k, x in enumerate(inputs)
        ]

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member k's state dict, with the keys of a single model's ``state_dict()``."""
        tensors = self._tensors()
        return {name: tensors[name][k].detach().clone() for name in self.template.state_dict()}

    def member(self, k: int) -> nn.Module:
        """Member k as a plain module (a copy of its weights)."""
        model = copy.deepcopy(self.template)
        device = next(self.parameters()).device
        model.to(device).load_state_dict(self.member_state(k))
        return model.train(self.training)

    def blocks(self) -> MemberBlocks:
        return MemberBlocks(self)

    def rows(self, member_of_row: torch.Tensor) -> MemberRows:
        return MemberRows(self, member_of_row)


class MemberBlocks(nn.Module):
    """``(N·B, ...)`` rows, member-major (member k's B rows are block k) → ``(N·B, C)`` logits."""

    def __init__(self, stacked: StackedModels) -> None:
        super().__init__()
        self.stacked = stacked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.stacked.size
        logits = self.stacked(x.reshape(n, len(x) // n, *x.shape[1:]))
        return logits.reshape(len(x), -1)


class MemberRows(nn.Module):
    """Rows that each belong to one member (``member_of_row``), answered by their members: vmapped,
    each member's rows padded to ``width`` (by default the largest member's count); in turn, each
    member on its own rows."""

    def __init__(self, stacked: StackedModels, member_of_row: torch.Tensor, width: int | None = None) -> None:
        super().__init__()
        self.stacked = stacked
        self.member_of_row = member_of_row.long()
        members = self.member_of_row
        self.order = torch.argsort(members, stable=True)
        self._counts = torch.bincount(members, minlength=stacked.size)
        starts = torch.cumsum(self._counts, 0) - self._counts
        sorted_members = members[self.order]
        position = torch.arange(len(members), device=members.device) - starts[sorted_members]
        self.slot = (sorted_members, position)
        # Reading the largest count from the device waits for it: once per batch, and not on every
        # step of PGD's early stop, whose subsets keep their batch's width (``select_rows``).
        self.width = int(self._counts.max()) if width is None and len(members) else int(width or 0)
        self.inverse = torch.argsort(self.order)

    @property
    def counts(self) -> list[int]:
        """Each member's number of rows (host integers: the in-turn path splits by them)."""
        return self._counts.tolist()

    def select_rows(self, keep: torch.Tensor | slice) -> MemberRows:
        """The same members for the rows ``keep`` (a boolean mask, an index or a slice). A subset
        never has more rows per member than its batch, nor than its own length (known on the host):
        the smaller bounds its padded width, without reading the counts back from the device."""
        rows = self.member_of_row[keep]
        return MemberRows(self.stacked, rows, width=min(self.width, len(rows)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) != len(self.member_of_row):
            raise ValueError(f"MemberRows holds {len(self.member_of_row)} rows, got {len(x)}")
        if self.stacked.vmapped_rows:
            padded = x.new_zeros((self.stacked.size, self.width, *x.shape[1:]))
            padded = padded.index_put(self.slot, x[self.order])
            return self.stacked(padded)[self.slot][self.inverse]
        parts = self.stacked.in_turn(list(x[self.order].split(self.counts)))
        return torch.cat([part for part in parts if len(part)])[self.inverse]
