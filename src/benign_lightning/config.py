"""The config's schema and the checks that cannot be typed, in one place.

``validate(cfg)`` is what the CLI, ``run`` and the SLURM launcher call before anything is computed
or written. It checks, in order:

1. the **schema** (``SCHEMA``): the type and range of every key a user sets, declared once as a
   table of key → rule. A bad value is reported as ``<key>=<value>: <what is allowed>``. Keys a
   config does not have (``data.sigma2`` outside toy-MNIST) are skipped.
2. the **combinations** (``check_combinations``): rules between keys, such as "early stopping needs a
   held-out split" or "this label set needs that method".
3. the **datamodule**: instantiating it checks the dataset's own settings; its files are checked
   unless ``check_data=False`` (the SLURM launcher's host may not see the compute nodes' data).

Why a table and not Hydra's structured configs: OmegaConf's dataclass schemas check types but not
ranges, have no union types (``holdout`` is a fraction or a count, ``memorization`` a bool or
``auto``), and Hydra reports their errors with its own message and exit status 1 before the app
runs, where the project's contract is one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from benign_lightning.attacks import NORMS
from benign_lightning.attacks.autoattack import VERSIONS as AA_VERSIONS
from benign_lightning.attacks.autoattack import AutoAttackMissing, check_available
from benign_lightning.attacks.pgd import LOSSES
from benign_lightning.attacks.spec import ATTACKS
from benign_lightning.data.base import LOADERS, LabelNoiseDataModule
from benign_lightning.data.cifar import LABEL_SETS
from benign_lightning.data.human_noise import HUMAN_LABELS
from benign_lightning.data.imagenet import VARIANTS
from benign_lightning.data.noise import NOISE_MODES
from benign_lightning.evaluation.checks import CHECK_LEVELS
from benign_lightning.methods.natural import SCHEDULER_INTERVALS
from benign_lightning.models import MODELS
from benign_lightning.models.fine2coarse import COARSE_RULES
from benign_lightning.plumbing.errors import ConfigError

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass(frozen=True)
class Rule:
    """What one key may hold: a test and the words that say what is allowed."""

    allowed: str
    test: Callable[[Any], bool]

    def __or__(self, other: Rule) -> Rule:
        return Rule(f"{self.allowed}, or {other.allowed}", lambda v: self.test(v) or other.test(v))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def integer(minimum: int | None = None) -> Rule:
    words = "an integer" if minimum is None else f"an integer >= {minimum}"
    return Rule(words, lambda v: _is_int(v) and (minimum is None or v >= minimum))


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Rule:  # fmt: skip
    if low is not None and high is not None:
        words = f"a number in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    elif low is not None:
        words = f"a number {'>' if open_low else '>='} {low:g}"
    else:
        words = "a number"

    def test(v: Any) -> bool:
        if not _is_number(v):
            return False
        if low is not None and (v <= low if open_low else v < low):
            return False
        return high is None or (v < high if open_high else v <= high)

    return Rule(words, test)


def one_of(*choices: Any) -> Rule:
    words = dict.fromkeys(str(c).lower() if isinstance(c, bool) else str(c) for c in choices)  # 32 == "32"
    shown = ", ".join(words)
    return Rule(f"one of {shown}", lambda v: any(v is c if isinstance(c, bool) else v == c for c in choices))


def list_of(rule: Rule, *, non_empty: bool = False) -> Rule:
    item = rule.allowed.removeprefix("a ").removeprefix("an ")
    words = f"a {'non-empty ' if non_empty else ''}list of {item}s"

    def test(v: Any) -> bool:
        return isinstance(v, list | tuple) and (len(v) > 0 or not non_empty) and all(map(rule.test, v))

    return Rule(words, test)


def _is_pair_in(v: Any, low: float, high: float) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2 and all(_is_number(b) and low <= b < high for b in v)


def _is_range(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2 and all(map(_is_number, v)) and v[0] < v[1]


BOOL = one_of(True, False)
NULL = Rule("null", lambda v: v is None)
AUTO = one_of(True, False, "auto")
FRACTION_OR_COUNT = Rule(
    "a fraction in [0, 1) or a whole number of examples",
    lambda v: _is_number(v) and (0 <= v < 1 or (v >= 1 and float(v).is_integer())),
)

# Every key a user sets, with what it may hold. A key absent from the composed config is skipped.
SCHEMA: dict[str, Rule] = {
    "seed": integer(0),
    "data_seed": integer(0),
    "eta": number(0, 1),
    "eps": number(0),
    "arch": one_of(*sorted(MODELS)),
    "resume": BOOL,
    "skip_complete": BOOL,
    "checkpoint_every_n_epochs": integer(1),
    "flush_denormal": BOOL,
    "memorization": AUTO,
    "memorization_every_n_epochs": integer(1),
    "representations.epochs": list_of(integer(1)),
    "representations.n_points": integer(1),
    "representations.steps": integer(1),
    "figures": AUTO,
    "small_loss_epoch": NULL | integer(1),
    "curves.enabled": BOOL,
    "curves.every_n_epochs": integer(1),
    "curves.n_test": integer(1),
    "curves.attack.steps": integer(1),
    "curves.attack.restarts": integer(1),
    "curves.attack.batch_size": NULL | integer(1),
    "stop_at_zero_train_err": BOOL,
    "coarse_rule": one_of(*COARSE_RULES),
    "ensemble.size": integer(1),
    "ensemble.vmap": AUTO,
    "ensemble.member": NULL | integer(0),
    "progress": one_of("auto", "bar", "epoch", "none"),
    "train_attack.steps": integer(1),
    "train_attack.step_size": NULL | number(0, open_low=True),
    "train_attack.eps_warmup_epochs": number(0),
    "train_attack.random_start": BOOL,
    "train_attack.bn_eval": BOOL,
    "early_stopping.enabled": BOOL,
    "early_stopping.patience": integer(1),
    "early_stopping.min_delta": number(0),
    "early_stopping.steps": NULL | integer(1),
    "early_stopping.restore_best": BOOL,
    "attack.name": one_of(*ATTACKS),
    "attack.norm": one_of(*NORMS),
    "attack.steps": integer(1),
    "attack.step_size": NULL | number(0, open_low=True),
    "attack.rel_step_size": NULL | number(0, open_low=True),
    "attack.random_start": BOOL,
    "attack.restarts": integer(1),
    "attack.loss": one_of(*LOSSES),
    "attack.early_stop": BOOL,
    "attack.version": one_of(*AA_VERSIONS),
    "attack.envelope_only": BOOL,
    "attack.checks": one_of(*CHECK_LEVELS),
    "attack.large_eps": NULL | number(0, open_low=True),
    "attack.clamp": NULL | one_of("auto") | Rule("a pair [low, high] with low < high", _is_range),
    "attack.eval_eps": list_of(number(0), non_empty=True),
    "attack.batch_size": integer(1),
    "data.eta": number(0, 1),
    "data.noise_mode": one_of(*NOISE_MODES),
    "data.batch_size": integer(1),
    "data.eval_batch_size": integer(1),
    "data.train_subset": NULL | integer(1),
    "data.test_subset": NULL | integer(1),
    "data.holdout": FRACTION_OR_COUNT,
    "data.holdout_seed": integer(0),
    "data.cv_folds": NULL | integer(2),
    "data.cv_fold": NULL | integer(0),
    "data.noise_file": NULL | Rule("a file path", lambda v: isinstance(v, str) and v != ""),
    "data.noise_label": NULL | one_of(*HUMAN_LABELS),
    "data.download": BOOL,
    "data.augment": BOOL,
    "data.drop_last": BOOL,
    "data.loader": one_of(*LOADERS),
    "data.num_workers": integer(0),
    "data.sigma2": number(0),
    "data.n_train": integer(1),
    "data.n_test": integer(1),
    "data.clip": BOOL,
    "data.label_set": one_of(*LABEL_SETS),
    "data.variant": one_of(*VARIANTS),
    "recipe.lr": number(0, open_low=True),
    "recipe.momentum": number(0, 1, open_high=True),
    "recipe.weight_decay": number(0),
    "recipe.milestones": list_of(integer(1)),
    "recipe.gamma": number(0, open_low=True),
    "optimizer.lr": number(0, open_low=True),
    "optimizer.momentum": number(0, 1, open_high=True),
    "optimizer.weight_decay": number(0),
    "optimizer.nesterov": BOOL,
    "optimizer.betas": Rule("a pair of numbers in [0, 1)", lambda v: _is_pair_in(v, 0, 1)),
    "scheduler.milestones": list_of(integer(1)),
    "scheduler.gamma": number(0, open_low=True),
    "scheduler.T_max": integer(1),
    "scheduler.eta_min": number(0),
    "scheduler.total_steps": NULL | integer(1),
    "scheduler.pct_start": number(0, 1, open_low=True, open_high=True),
    "scheduler.interval": one_of(*SCHEDULER_INTERVALS),
    "method.beta": number(0),
    "speed.channels_last": BOOL,
    "speed.fused_optimizer": BOOL,
    "speed.compile": BOOL,
    "trainer.benchmark": NULL | BOOL,
    "trainer.max_epochs": integer(1) | one_of(-1),
    "trainer.min_epochs": NULL | integer(0),
    "trainer.num_nodes": integer(1),
    "trainer.devices": integer(1) | one_of(-1, "auto") | list_of(integer(0), non_empty=True),
    "trainer.accelerator": one_of("auto", "cpu", "gpu", "cuda", "mps", "tpu"),
    # The weights stay fp32: evaluation and its attacks run in fp32 (PGD steps of 1/255 vanish in
    # bf16's 1/256 spacing near 1.0), so "*-true" half or double weights are not offered.
    "trainer.precision": Rule(
        "one of 32-true, 32, 16-mixed, bf16-mixed (fp32 weights; bf16-true, 16-true and 64-true would "
        "hand evaluation weights of another dtype than its fp32 inputs)",
        one_of("32-true", "32", 32, "16-mixed", "bf16-mixed").test,
    ),
    "trainer.limit_train_batches": NULL | integer(1) | number(0, 1, open_low=True),
    "trainer.overfit_batches": integer(0) | number(0, 1),
    "trainer.log_every_n_steps": integer(1),
    "trainer.deterministic": BOOL | one_of("warn"),
    "trainer.fast_dev_run": BOOL | integer(1),
    "trainer.enable_progress_bar": BOOL,
}


def _show(value: Any) -> str:
    """A value as a user would type it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain Python, every interpolation resolved; a missing or unresolvable value
    is a ConfigError that names its key. A ``hydra`` node (the SLURM launcher checks configs that
    carry it, before Hydra has filled in the job's own values) is left out."""
    try:
        return {
            key: OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
            if isinstance(node := cfg[key], DictConfig | ListConfig) else node
            for key in cfg if key != "hydra"
        }  # fmt: skip
    except MissingMandatoryValue as e:
        key = e.full_key
        hint = "set it on the command line" + (" (or choose a recipe=NAME)" if key == "arch" else "")
        raise ConfigError(f"{key}=???: a value is required; {hint}") from None
    except InterpolationResolutionError as e:
        raise ConfigError(f"{e.full_key}: {e.msg}") from None


def _select(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def check_schema(
    values: dict[str, Any], cfg: DictConfig | None = None, schema: dict[str, Rule] = SCHEMA
) -> None:
    """Raise a ConfigError for the first key whose value breaks its rule. With ``cfg`` (the
    unresolved config), a value that came through an interpolation says where it came from."""
    for key, rule in schema.items():
        value = _select(values, key)
        if value is not _MISSING and not rule.test(value):
            source = _interpolation(cfg, key) if cfg is not None else None
            via = f" (from {source})" if source else ""
            raise ConfigError(f"{key}={_show(value)}{via}: must be {rule.allowed}")


def _interpolation(cfg: DictConfig, key: str) -> str | None:
    """The interpolation ``key`` holds in ``cfg`` (e.g. ``${trainer.max_epochs}``), if it holds one."""
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    if isinstance(parent, DictConfig) and leaf in parent and OmegaConf.is_interpolation(parent, leaf):
        return str(parent._get_node(leaf)._value())
    return None


def check_combinations(values: dict[str, Any], warn: bool = True) -> None:
    """The rules between keys (each names the keys involved and what to set); with ``warn``, the
    settings that are allowed but weak are warned about."""
    stopping = values["early_stopping"]
    if stopping["enabled"] and not (values["data"].get("holdout") or values["data"].get("cv_folds")):
        raise ConfigError(
            "early_stopping.enabled=true needs a held-out split: set data.holdout to a fraction "
            "(e.g. data.holdout=0.1) or a number of training examples"
        )
    _check_small_loss(values)
    label_set = values["data"].get("label_set")
    method = values["method"]["_target_"].rsplit(".", 1)[-1]
    if label_set == "fine2coarse" and method != "Fine2CoarseTraining":
        raise ConfigError(
            f"data.label_set=fine2coarse trains on fine labels and evaluates on coarse ones: it needs "
            f"method=fine2coarse (the method is {method})"
        )
    if method == "Fine2CoarseTraining" and label_set != "fine2coarse":
        raise ConfigError(
            f"method=fine2coarse needs data.label_set=fine2coarse (got {_show(label_set)}): a dataset "
            "with fine and coarse labels, as in +experiment=fine2coarse_cifar100"
        )
    if values["data"].get("cv_folds") and label_set == "fine2coarse":
        raise ConfigError(
            "data.cv_folds with data.label_set=fine2coarse: the held-out probabilities would be over the "
            "coarse classes and the labels fine ones; cross-validate on label_set=fine or coarse"
        )
    _check_autoattack(values)
    _check_ensemble(values)
    _check_deterministic(values["trainer"])
    _check_sync_batchnorm(values["trainer"])
    _check_global_batch(values)
    if warn:
        _warn_unreachable_eps(values)


def _check_small_loss(values: dict[str, Any]) -> None:
    """``small_loss_epoch`` is recorded by the memorization tracker, within the run's epochs."""
    epoch = values.get("small_loss_epoch")
    if epoch is None:
        return
    if values.get("memorization") is False:
        raise ConfigError(
            f"small_loss_epoch={epoch} is recorded by the memorization tracker: set memorization=true "
            "(or auto)"
        )
    max_epochs = values["trainer"].get("max_epochs")
    if max_epochs not in (None, -1) and epoch > max_epochs:
        raise ConfigError(
            f"small_loss_epoch={epoch} is after the last epoch (trainer.max_epochs={max_epochs})"
        )


def runs_on_cuda(trainer: dict[str, Any]) -> bool:
    """Will the trainer run on CUDA (``gpu``/``cuda``, or ``auto`` where a GPU is visible)?"""
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator == "auto":
        import torch

        return torch.cuda.is_available()
    return accelerator in ("gpu", "cuda")


def process_count(trainer: dict[str, Any]) -> int | None:
    """How many processes (DDP ranks) the trainer runs: devices × nodes; None where only Lightning
    can tell (``devices: -1`` or ``auto`` on CPUs)."""
    devices = trainer.get("devices", 1)
    if isinstance(devices, list | tuple):
        per_node = len(devices)
    elif _is_int(devices) and devices > 0:
        per_node = devices
    elif runs_on_cuda(trainer):  # -1 or auto: every GPU of the node
        import torch

        per_node = torch.cuda.device_count()
    else:
        return None
    return per_node * int(trainer.get("num_nodes", 1))


def _check_global_batch(values: dict[str, Any]) -> None:
    """``data.batch_size`` is the global batch: it must split evenly across the ranks."""
    from benign_lightning.data.base import rank_batch_size

    batch_size, world = values["data"].get("batch_size"), process_count(values["trainer"])
    if batch_size is not None and world:
        rank_batch_size(batch_size, world)


def _check_sync_batchnorm(trainer: dict[str, Any]) -> None:
    """torch's SyncBatchNorm has no CPU kernel: DDP on CPUs with it stops at the first BatchNorm."""
    ddp = "ddp" in str(trainer.get("strategy", ""))
    if trainer.get("sync_batchnorm") and ddp and not runs_on_cuda(trainer):
        raise ConfigError(
            f"trainer.sync_batchnorm=true with trainer.accelerator={trainer.get('accelerator')}: torch's "
            "SyncBatchNorm runs on GPUs only; use trainer=ddp_cpu, or trainer.sync_batchnorm=false"
        )


def _check_deterministic(trainer: dict[str, Any]) -> None:
    """``trainer.deterministic=true`` on CUDA stops at the first training step: PyTorch has no
    deterministic CUDA kernel for ``nll_loss`` (the cross-entropy of every method) nor for the
    backward of ``adaptive_avg_pool2d`` (every torchvision architecture)."""
    if trainer.get("deterministic") is True and runs_on_cuda(trainer):
        raise ConfigError(
            "trainer.deterministic=true on CUDA: PyTorch has no deterministic CUDA kernel for nll_loss (the "
            "cross-entropy every method trains on) nor for adaptive_avg_pool2d's backward (every torchvision "
            "architecture), so the run would stop at its first step. Use trainer.deterministic=warn "
            "(deterministic kernels where they exist, a warning where not), or trainer.accelerator=cpu for "
            "runs that repeat bit for bit"
        )


def _check_ensemble(values: dict[str, Any]) -> None:
    """What ``ensemble.size > 1`` cannot do (the method and the model are checked in ``validate``)."""
    size = values.get("ensemble", {}).get("size", 1)
    if size == 1:
        return
    trainer, speed, folds = values["trainer"], values.get("speed", {}), values["data"].get("cv_folds")
    devices, strategy = trainer.get("devices"), str(trainer.get("strategy", "auto"))
    refused = [
        (values["early_stopping"]["enabled"], "early_stopping.enabled=true",
         "each member would stop at its own held-out epoch and restore its own best weights"),
        (bool(values.get("representations", {}).get("epochs")), "representations.epochs (Figure 3)",
         "the snapshots are taken of one model"),
        (devices not in (1, [0]) or trainer.get("num_nodes", 1) != 1 or "ddp" in strategy,
         f"trainer.devices={_show(devices)} (strategy {strategy})",
         "members fill one device; spread jobs over devices with a sweep instead"),
        (values["data"].get("loader") == "dataloader", "data.loader=dataloader",
         "members' batches are stacked from device-resident tensors (data.loader=tensor)"),
        (bool(speed.get("compile")), "speed.compile=true", "the vmapped members are not compiled"),
        (values.get("small_loss_epoch") is not None, f"small_loss_epoch={values.get('small_loss_epoch')}",
         "the members' fit records keep no per-point loss"),
        (bool(values.get("curves", {}).get("enabled")), "curves.enabled=true",
         "the per-epoch curves are one model's"),
        (folds not in (None, size), f"data.cv_folds={folds}",
         "a cross-validation ensemble has one member per fold (ensemble.size = data.cv_folds)"),
        (folds and values["data"].get("cv_fold") is not None, f"data.cv_fold={values['data'].get('cv_fold')}",
         "member k holds out fold k; leave data.cv_fold null"),
        (trainer.get("gradient_clip_val") is not None and trainer.get("gradient_clip_algorithm") != "value",
         f"trainer.gradient_clip_val={_show(trainer.get('gradient_clip_val'))}",
         "clipping by the norm of all parameters would couple the members"),
    ]  # fmt: skip
    for bad, what, why in refused:
        if bad:
            raise ConfigError(f"ensemble.size={size} with {what}: {why}; use ensemble.size=1")


def _check_autoattack(values: dict[str, Any]) -> None:
    attack = values["attack"]
    needs = attack["name"] == "autoattack" or attack.get("checks") == "full"
    if needs:
        try:
            check_available()
        except AutoAttackMissing as e:
            why = "attack=autoattack" if attack["name"] == "autoattack" else "attack.checks=full"
            raise ConfigError(f"{why} runs AutoAttack, but {e}") from None


def _warn_unreachable_eps(values: dict[str, Any]) -> None:
    attack = values["attack"]
    if attack["name"] != "pgd" or attack.get("step_size") is None or attack["random_start"]:
        return  # a step relative to each eps always reaches it (2.5 * eps / steps per step)
    all_eps = [values["eps"], *attack["eval_eps"]]
    reach = attack["steps"] * attack["step_size"]
    if attack["norm"] == "linf" and max(all_eps) > reach:
        # A sign step moves each pixel by step_size, so from x the attack cannot leave the
        # reach-ball: errors at larger eps are those at eps = reach (e.g. App. D.1's 20 x 0.01).
        log.warning(
            "attack.steps * attack.step_size = %g is below the largest eps (%g): PGD cannot use the "
            "budget beyond %g. Raise attack.steps or attack.step_size, or leave attack.step_size null "
            "for a step relative to each eps.", reach, max(all_eps), reach,
        )  # fmt: skip


def validate(cfg: DictConfig, check_data: bool = True, warn: bool = True) -> LabelNoiseDataModule:
    """Check everything a user can get wrong, before any compute or any file is written; return the
    datamodule (instantiated, not yet set up)."""
    from benign_lightning.run.builders import (
        attack_spec,
        build_datamodule,
        build_exact,
        check_ensemble,
        check_optimization,
        is_exact,
    )

    values = resolved(cfg)
    check_schema(values, cfg)
    check_combinations(values, warn)
    check_optimization(cfg)
    datamodule = build_datamodule(cfg)
    attack_spec(cfg.attack, datamodule.input_range)  # e.g. AutoAttack on inputs outside [0, 1]
    if is_exact(cfg):
        build_exact(cfg, datamodule)  # its data, norm and eps grid
    if int(cfg.ensemble.size) > 1:
        check_ensemble(cfg, datamodule)  # its method and its model
    if check_data:
        datamodule.check_available()
        datamodule.check_noise_file()
    return datamodule


def check_command_line(overrides: list[str]) -> None:
    """Compose and validate the config the command line asks for, before Hydra starts: a key or a
    group option the config does not have, or a bad value, is one ``error:`` line (a ConfigError)
    rather than Hydra's exit status 1 after some jobs of a sweep have run. Each value of a swept key
    is checked, with the other keys at their first value. ``hydra.*`` overrides take part (a
    ``hydra.searchpath`` adds config options); glob sweeps are left to Hydra."""
    from hydra import compose, initialize_config_module
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as e:
        given = getattr(e, "override", None) or " ".join(overrides)
        raise ConfigError(f"{given}: cannot be parsed ({str(e).splitlines()[0]})") from None
    base, swept = [], []
    for override in parsed:
        if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
            continue
        if override.is_sweep_override():
            key = f"{'+' if override.is_add() else ''}{override.get_key_element()}"
            values = [f"{key}={v}" for v in override.sweep_string_iterator()]
            base.append(values[0])
            swept.append((len(base) - 1, values[1:]))
        else:
            base.append(override.input_line)
    jobs = [base] + [base[:i] + [v] + base[i + 1 :] for i, values in swept for v in values]
    with initialize_config_module("benign_lightning.conf", version_base="1.3"):
        for job in jobs:
            try:
                cfg = compose("config", overrides=job)
            except HydraException as e:
                raise ConfigError(_composition_error(e, job)) from None
            validate(cfg, check_data=False, warn=False)  # the run itself warns


def _composition_error(error: Exception, overrides: list[str]) -> str:
    """Hydra's refusal of an override, as ``<override>: <what is allowed>``."""
    from hydra.errors import MissingConfigException

    text = str(error)
    if isinstance(error, MissingConfigException) and error.options is not None and error.missing_cfg_file:
        group, _, name = error.missing_cfg_file.rpartition("/")
        options = ", ".join(sorted(error.options))
        given = next((o for o in overrides if o.lstrip("+~").split("=", 1)[0] == group), None)
        if given is None:  # chosen through another choice: recipe follows data
            return f"{group}={name} (it follows another choice): must be one of {options}; set {group}=NAME"
        return f"{given}: must be one of {options}"
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if f"Could not override '{key}'" in text:
            return f"{override}: the config has no key {key}; a new key is added with +{override}"
        if f"An item is already at '{key}'" in text:
            return f"{override}: {key} is already in the config; set it without the +"
    return text.splitlines()[0]


def recipe_summary(cfg: DictConfig) -> str:
    """One line saying which recipe a run uses, and what it came to after the overrides."""
    values = resolved(cfg)
    recipe = values.get("recipe") or {}
    opt = dict(values["optimizer"])
    opt_name = opt.pop("_target_").rsplit(".", 1)[-1]
    opt.pop("_partial_", None)
    sched = dict(values.get("scheduler") or {})
    if sched:
        sched_name = sched.pop("_target_").rsplit(".", 1)[-1]
        sched.pop("_partial_", None)
        sched.pop("interval", None)
        schedule = f"{sched_name}({_kwargs(sched)})"
    else:
        schedule = "constant lr"
    epochs = values["trainer"]["max_epochs"]
    eps_grid = ", ".join(f"{e:.4g}" for e in values["attack"]["eval_eps"])
    return (
        f"recipe {recipe.get('name', '?')} ({recipe.get('about', 'no description')}): "
        f"{values['arch']}, {opt_name}({_kwargs(opt)}), {schedule}, {epochs} epochs, "
        f"{values['attack']['norm']} eps={values['eps']:.4g} over [{eps_grid}]"
    )


def _kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v) if not isinstance(v, float) else f'{v:g}'}" for k, v in kwargs.items())
