"""Projected gradient descent (Madry et al. 2018), ℓ∞ and ℓ2, in pixel space [0, 1].

Written by hand rather than taken from a library, so that it is fast and its every step is visible:
- gradients are taken w.r.t. the input only (``torch.autograd.grad``), so no parameter receives a
  gradient and DDP's gradient hooks never fire;
- the cross-entropy's ascent direction is computed so that it cannot underflow on very confident
  points (see ``ce_logit_direction``);
- the model runs in eval mode by default (BatchNorm uses running statistics and is not updated),
  and its previous mode is restored afterwards;
- the loop (``ascend``) takes the loss as a *logit direction*, so PGD on the cross-entropy and
  TRADES' attack on the KL term (``attacks/trades.py``) are one loop;
- with ``early_stop`` an example leaves the batch at the first iterate that is misclassified, which
  can only raise the measured error and makes evaluation of weak models much faster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("linf", "l2")

# (logits, target) -> a positive per-example multiple of dLoss/dlogits, the loss to ascend.
LogitDirection = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class BlockSeeds:
    """One seed per block of consecutive rows (``sizes`` rows each): each block draws its random
    starts from its own stream, as it would if attacked alone. An ensemble attacks its members'
    rows side by side with them (methods/ensemble.py), so member k draws what a single run would."""

    seeds: tuple[int, ...]
    sizes: tuple[int, ...]


@dataclass
class BlockGenerators:
    """The generators of ``BlockSeeds``, advanced block by block."""

    generators: list[torch.Generator]
    sizes: tuple[int, ...]

    def split(self, x: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Generator]]:
        return zip(x.split(list(self.sizes)), self.generators, strict=True)


Seed = int | BlockSeeds | None


def rows_of(model: nn.Module, keep: torch.Tensor) -> nn.Module:
    """The model for the rows ``keep`` of the batch it answers: itself, unless it ties rows to
    sub-models (an ensemble's members, ``models.ensemble.MemberRows``), which must be narrowed too."""
    select = getattr(model, "select_rows", None)
    return model if select is None else select(keep)


def attack_mode(model: nn.Module, bn_eval: bool):
    """The context an attack runs the model in: eval mode (the default), or the mode it is in."""
    return eval_mode(model) if bn_eval else nullcontext(model)


@contextmanager
def eval_mode(model: nn.Module):
    """Run ``model`` in eval mode and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    """Per-example ℓ2 norm, shaped to broadcast against ``t``."""
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.dim() - 1)))


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str, clamp) -> torch.Tensor:
    """Project onto the ε-ball around ``x`` (in ``norm``) and then onto the box ``clamp``."""
    x_adv = x + (x_adv - x).clamp(-eps, eps) if norm == "linf" else _shrink_l2(x_adv, x, eps)
    return x_adv.clamp(*clamp) if clamp is not None else x_adv


def _shrink_l2(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Pull ``x_adv`` back onto the ℓ2 ball of radius ``eps`` around ``x`` (no-op inside it)."""
    delta = x_adv - x
    return x + delta * (eps / _flat_norm(delta)).clamp(max=1.0)


def random_start_point(x, eps: float, norm: str, clamp, generator: torch.Generator | None):
    """A random point of the ε-ball around ``x``: uniform per coordinate for ℓ∞, a uniform radius
    along a uniform direction for ℓ2."""
    if isinstance(generator, BlockGenerators):
        return torch.cat([random_start_point(xb, eps, norm, clamp, g) for xb, g in generator.split(x)])
    if norm == "linf":
        delta = (torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1) * eps
    else:
        direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        radius = torch.rand((len(x),) + (1,) * (x.dim() - 1), generator=generator, device=x.device)
        delta = direction / _flat_norm(direction) * radius * eps
    return project(x + delta, x, eps, norm, clamp)


def ce_logit_direction(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the cross-entropy w.r.t. the logits, rescaled per example to max |g| = 1.

    In float32 the textbook gradient softmax(z) − onehot(y) underflows to zero once the margin
    exceeds about 87 (exp(−87) is the smallest normal float), and PGD then stands still on the very
    confident points: gradient masking by underflow. Here the probabilities come from a float64
    log-softmax, the true class gets −Σ_{k≠y} p_k (exact, where 1 − p_y would round to 0), and each
    row is rescaled. A positive per-example scale leaves the ℓ∞ sign step and the normalised ℓ2
    step unchanged, so the attack takes exactly the cross-entropy ascent direction.
    """
    p = torch.log_softmax(logits.double(), dim=1).exp()
    true = F.one_hot(y, logits.shape[1]).bool()
    g = p.masked_fill(true, 0.0)
    g = g - true * g.sum(1, keepdim=True)
    return _unit_rows(g).to(logits.dtype)


def margin_logit_direction(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the Carlini–Wagner margin max_{k≠y} z_k − z_y w.r.t. the logits: +1 at the
    strongest other class, −1 at the true one. It does not saturate on confident points, where the
    cross-entropy's gradient vanishes, so it is the usual second loss of a strong evaluation."""
    other = logits.detach().masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).argmax(1)
    # scatter on the logits' device: a host-built row index would be copied to the device every step.
    g = torch.zeros_like(logits).scatter_(1, other[:, None], 1.0)
    return g.scatter_(1, y[:, None], -1.0)


# The losses PGD can ascend, by name (``attack.loss``).
LOSSES: dict[str, LogitDirection] = {"ce": ce_logit_direction, "margin": margin_logit_direction}


def kl_logit_direction(logits: torch.Tensor, p_natural: torch.Tensor) -> torch.Tensor:
    """The gradient of KL(p_natural ‖ softmax(logits)) w.r.t. the logits, softmax(logits) − p_natural,
    in float64 and rescaled per example like ``ce_logit_direction`` (TRADES' inner maximisation)."""
    g = torch.log_softmax(logits.double(), dim=1).exp() - p_natural.double()
    return _unit_rows(g).to(logits.dtype)


def _unit_rows(g: torch.Tensor) -> torch.Tensor:
    """Rescale each row to max |g| = 1 (rows of zeros stay zero)."""
    return g / g.abs().amax(1, keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)


def _ascent_step(x_adv, grad, step_size: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return x_adv + step_size * grad.sign()
    return x_adv + step_size * grad / _flat_norm(grad)


def _box(x: torch.Tensor, eps: float, norm: str, clamp) -> tuple:
    """Per-coordinate bounds that every iterate must respect: the ℓ∞ ball intersected with the box
    (for ℓ2 only the box; the ball is enforced by rescaling)."""
    lo, hi = (None, None) if clamp is None else clamp
    if norm == "linf":
        lower, upper = x - eps, x + eps
        return (lower if lo is None else lower.clamp_min(lo)), (upper if hi is None else upper.clamp_max(hi))
    return lo, hi


def ascend(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    start: torch.Tensor,
    direction: LogitDirection = ce_logit_direction,
    eps: float,
    steps: int,
    step_size: float,
    norm: str,
    clamp,
    early_stop: bool = False,
) -> torch.Tensor:
    """The PGD loop: ``steps`` ascent steps from ``start`` on the loss whose logit gradient is
    ``direction(logits, target)``, each projected onto the ε-ball around ``x`` and the box. The
    model is called as it is (the caller picks its mode). ``early_stop`` needs class labels as
    ``target``."""
    # Bounds are computed once; each step is then one clamp (ℓ∞) or a rescale and a clamp (ℓ2).
    lower, upper = _box(x, eps, norm, clamp)
    x_adv = start.clone()  # the result; early-stopped rows are written into it
    active = torch.arange(len(x), device=x.device)
    xa, xo, ya = start, x, target  # the iterates of the active rows (never modified in place)
    for _ in range(steps):
        xa = xa.detach().requires_grad_(True)
        logits = model(xa)
        (grad,) = torch.autograd.grad(logits, xa, grad_outputs=direction(logits.detach(), ya))
        xa = xa.detach()
        if early_stop:
            # Examples already misclassified keep this iterate (stored in x_adv) and leave the batch.
            still_correct = logits.argmax(1) == ya
            if not bool(still_correct.all()):
                x_adv[active] = xa
                active, xa, xo, ya, grad = (t[still_correct] for t in (active, xa, xo, ya, grad))
                model = rows_of(model, still_correct)
                if norm == "linf":
                    lower, upper = lower[still_correct], upper[still_correct]
                if len(active) == 0:
                    return x_adv
        xa = _ascent_step(xa, grad, step_size, norm)
        if norm == "l2":
            xa = _shrink_l2(xa, xo, eps)
        if lower is not None:
            xa = xa.clamp(lower, upper)
    x_adv[active] = xa
    return x_adv


@torch.no_grad()
def _is_worse(model, x_new, x_best, y) -> torch.Tensor:
    """Per example: does ``x_new`` beat ``x_best`` (misclassified first, then higher loss)?"""
    logits_new, logits_best = model(x_new), model(x_best)
    wrong_new, wrong_best = logits_new.argmax(1) != y, logits_best.argmax(1) != y
    # float64, so that two very confident points do not both round to a loss of 0.
    loss_new = F.cross_entropy(logits_new.double(), y, reduction="none")
    loss_best = F.cross_entropy(logits_best.double(), y, reduction="none")
    return (wrong_new & ~wrong_best) | ((wrong_new == wrong_best) & (loss_new > loss_best))


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
    norm: str = "linf",
    random_start: bool = False,
    restarts: int = 1,
    early_stop: bool = False,
    seed: Seed = None,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    bn_eval: bool = True,
    loss: str = "ce",
) -> torch.Tensor:
    """Untargeted PGD on the cross-entropy (``loss="ce"``) or the Carlini–Wagner margin
    (``"margin"``); returns ``x_adv`` (detached, same shape as ``x``).

    With ``restarts > 1`` each restart starts from a fresh random point (the first one too, unless
    ``random_start`` is False), and the worst case per example is kept: misclassified beats
    correctly classified, then the higher loss wins. With ``bn_eval=False`` the model keeps its
    current mode (in training: BatchNorm normalises with, and updates, batch statistics).
    """
    check_budget(eps=eps, steps=steps, step_size=step_size, norm=norm, restarts=restarts)
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is unknown; choose one of {', '.join(LOSSES)}")
    x, y = x.detach(), y.detach()
    if eps == 0 or steps == 0:
        return x.clone()
    generator = seeded_generator(seed, x.device)
    kwargs = dict(eps=eps, steps=steps, step_size=step_size, norm=norm, clamp=clamp, early_stop=early_stop,
                  direction=LOSSES[loss])  # fmt: skip
    best = None
    with attack_mode(model, bn_eval), torch.enable_grad():
        for restart in range(restarts):
            use_random = random_start or restart > 0
            start = random_start_point(x, eps, norm, clamp, generator) if use_random else x
            x_adv = ascend(model, x, y, start=start, **kwargs)
            if best is None:
                best = x_adv
            else:
                worse = _is_worse(model, x_adv, best, y)
                best[worse] = x_adv[worse]
    return best.detach()


def check_budget(*, eps: float, steps: int, step_size: float, norm: str, restarts: int = 1) -> None:
    """Raise ValueError, naming the bad value, for an attack that cannot be run."""
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is unknown; choose one of {', '.join(NORMS)}")
    if eps < 0 or steps < 0 or step_size < 0 or restarts < 1:
        raise ValueError(
            f"need eps >= 0, steps >= 0, step_size >= 0 and restarts >= 1; got eps={eps}, "
            f"steps={steps}, step_size={step_size}, restarts={restarts}"
        )


def seeded_generator(seed: Seed, device: torch.device) -> torch.Generator | BlockGenerators | None:
    """A generator on ``device`` seeded with ``seed`` (one per block for ``BlockSeeds``); None (the
    global RNG) without a seed."""
    if seed is None:
        return None
    if isinstance(seed, BlockSeeds):
        return BlockGenerators([seeded_generator(s, device) for s in seed.seeds], seed.sizes)
    return torch.Generator(device=device).manual_seed(int(seed))


def gaussian_like(x: torch.Tensor, generator: torch.Generator | BlockGenerators | None) -> torch.Tensor:
    """N(0, 1) noise of ``x``'s shape, drawn block by block for ``BlockGenerators``."""
    if isinstance(generator, BlockGenerators):
        return torch.cat([gaussian_like(xb, g) for xb, g in generator.split(x)])
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
