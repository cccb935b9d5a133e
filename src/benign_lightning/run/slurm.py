"""``hydra/launcher=slurm``: the checks the launcher runs before it queues anything, and the
resolver its config uses. The launcher itself is ``hydra_plugins.benign_lightning_slurm`` (Hydra
loads launchers only from the ``hydra_plugins`` namespace).

The launcher submits one job array for a sweep; each array task runs one job of the sweep with
``tasks_per_node`` SLURM tasks, one per device, and Lightning's DDP takes its ranks from SLURM.
A requeued job (time-out or preemption: submitit's USR2 handler) reruns the same job into the same
folder, where ``run`` resumes from ``checkpoints/last.ckpt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from omegaconf import DictConfig, OmegaConf

from benign_lightning.plumbing.errors import ConfigError


def slurm_gpus(accelerator: Any, devices: Any) -> Any:
    """``hydra.launcher.gpus_per_node``: one GPU per device, none when the trainer runs on CPUs."""
    return None if str(accelerator) == "cpu" else devices


OmegaConf.register_new_resolver("slurm_gpus", slurm_gpus, replace=True)


@dataclass
class BenignSlurmQueueConf(SlurmQueueConf):
    """hydra-submitit-launcher's SLURM settings (``submitit_slurm``) plus ``srun_args``, the
    arguments of each job's ``srun`` step: submitit takes them, the plugin's schema has no key."""

    _target_: str = "hydra_plugins.benign_lightning_slurm.SlurmLauncher"
    srun_args: list[str] = field(default_factory=list)


# conf/hydra/launcher/slurm.yaml builds on it (this module is imported before any config is composed).
ConfigStore.instance().store(
    group="hydra/launcher", name="benign_slurm_base", node=BenignSlurmQueueConf, provider="benign_lightning"
)


def check_resources(params: dict[str, Any]) -> None:
    """The launcher's own settings: counts SLURM can allocate."""
    tasks = params.get("tasks_per_node")
    if not isinstance(tasks, int) or tasks < 1:
        raise ConfigError(
            f"hydra.launcher.tasks_per_node={tasks!r} (it follows trainer.devices): SLURM needs a "
            "count of devices per node; set trainer.devices=N (N >= 1), one SLURM task per device"
        )
    gpus = params.get("gpus_per_node")
    if gpus is not None and gpus != tasks:
        raise ConfigError(
            f"hydra.launcher.gpus_per_node={gpus!r} but tasks_per_node={tasks}: the launcher runs "
            "one task per GPU; leave gpus_per_node to follow trainer.devices"
        )
    for key in ("nodes", "timeout_min", "array_parallelism"):
        value = params.get(key)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"hydra.launcher.{key}={value!r}: must be an integer >= 1")


def check_job(cfg: DictConfig, params: dict[str, Any]) -> None:
    """One job's config: valid, and sized as the launcher sizes every job of the sweep."""
    from benign_lightning.config import validate

    trainer = cfg.trainer
    overrides = " ".join(cfg.hydra.overrides.task)
    if trainer.devices != params["tasks_per_node"] or trainer.num_nodes != params["nodes"]:
        raise ConfigError(
            f"job '{overrides}' asks for trainer.devices={trainer.devices}, "
            f"trainer.num_nodes={trainer.num_nodes}, but the sweep's SLURM jobs have "
            f"{params['tasks_per_node']} tasks on {params['nodes']} node(s): one sweep has one job "
            "size; sweep trainer.devices in separate sweeps"
        )
    try:
        validate(cfg, check_data=False)
    except ConfigError as e:
        raise ConfigError(f"job '{overrides}': {e}") from None


# sbatch's refusals (its message, lower case) and the launcher key that answers each.
SBATCH_HINTS = (
    ("generic resource", "The cluster (or this partition) has no GPUs of that kind: set "
                         "trainer.accelerator=cpu for a CPU job, or hydra.launcher.partition=<a GPU "
                         "partition>"),
    ("invalid partition", "Set hydra.launcher.partition=<a partition sinfo lists> (or "
                          "$BENIGN_SLURM_PARTITION)"),
    ("time limit", "Lower hydra.launcher.timeout_min to the partition's limit (sinfo shows it)"),
    ("account", "Set hydra.launcher.account=<your account> (or $BENIGN_SLURM_ACCOUNT)"),
    ("qos", "Set hydra.launcher.qos=<a QOS you may use>"),
    ("memory", "Lower hydra.launcher.mem_per_cpu or hydra.launcher.cpus_per_task"),
    ("node configuration", "The job asks for more than a node has: lower hydra.launcher.cpus_per_task, "
                           "hydra.launcher.mem_per_cpu or trainer.devices"),
)  # fmt: skip


def sbatch_refusal(stderr: str) -> str:
    """The error line for a sweep sbatch refused: its own words, then the key to set."""
    lines = [line.strip().removeprefix("sbatch: error: ") for line in stderr.splitlines()]
    message = "; ".join(line for line in lines if line) or "no message"
    hint = next((h for needle, h in SBATCH_HINTS if needle in message.lower()), None)
    return f"sbatch refused the sweep: {message}" + (f". {hint}" if hint else "")


def check_slurm_step(cfg: DictConfig) -> None:
    """A run inside a SLURM job must be as many processes as the job step has tasks.

    Lightning takes its ranks from SLURM whenever it sees a batch job (``SLURM_NTASKS`` set, the job
    not named ``bash`` or ``interactive``), one rank per task: with ``trainer.devices=4`` in a
    step of one task (or in the batch script itself, which is one process whatever ``--ntasks``
    says) it refuses, or waits for ranks that never start. Inside an interactive allocation
    Lightning starts the ranks itself, and nothing is checked. Called by the job before anything is
    written (not by the SLURM launcher, whose host may itself run inside a job)."""
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    from benign_lightning.config import process_count

    if TorchElasticEnvironment.detect() or not SLURMEnvironment.detect():
        return  # torchrun inside a SLURM job: Lightning takes the ranks from torchrun, as here
    wanted = process_count(OmegaConf.to_container(cfg.trainer, resolve=True))
    step_tasks = os.environ.get("SLURM_STEP_NUM_TASKS")
    tasks = int(step_tasks) if step_tasks else 1
    if wanted is None or wanted == tasks:
        return
    trainer = cfg.trainer
    if step_tasks:
        where = f"but this SLURM step runs {tasks} task(s)"
    else:
        where = "but this SLURM batch script is one process (it was not started by srun)"
    raise ConfigError(
        f"trainer.devices={trainer.devices} x trainer.num_nodes={trainer.num_nodes} = {wanted} processes, "
        f"{where}: Lightning runs one rank per SLURM task. Submit with hydra/launcher=slurm (one task per "
        f"device), or start the run with srun --kill-on-bad-exit=1 --nodes={trainer.num_nodes} "
        f"--ntasks-per-node={wanted // int(trainer.num_nodes)} python -m benign_lightning ..."
    )


def check_several_nodes(cfg: DictConfig) -> None:
    """``trainer.num_nodes > 1`` needs the processes of every node started from outside, by torchrun
    or as SLURM tasks. Lightning's own launcher would start each node's ranks from a process that
    decides about the run folder from its own node's view (``run/agree.py``), and two nodes would set
    a damaged checkpoint aside at once."""
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    nodes = int(cfg.trainer.num_nodes)
    if nodes > 1 and not (TorchElasticEnvironment.detect() or SLURMEnvironment.detect()):
        raise ConfigError(
            f"trainer.num_nodes={nodes}: start the processes of every node with torchrun (--nnodes={nodes} "
            "--node-rank=k --rdzv-endpoint=<node 0>:<port>) or as SLURM tasks (hydra/launcher=slurm, or "
            "srun), not with Lightning's own launcher"
        )


def under_submitit() -> bool:
    """True in a job started by submitit (its sbatch script exports SUBMITIT_EXECUTOR)."""
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def threads_for_this_task() -> int | None:
    """Under SLURM, one torch thread per CPU of the task (``SLURM_CPUS_PER_TASK``), unless the user
    set ``OMP_NUM_THREADS``. torch's default is one per core of the node, so tasks sharing a node
    oversubscribe it: two 1-CPU toy-MNIST jobs on this 2-core machine took 122-180 s each with 2
    threads each, against about 25 s for one alone (bench/README.md, SLURM). Returns the count set."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if not cpus or "OMP_NUM_THREADS" in os.environ:
        return None
    import torch

    torch.set_num_threads(int(cpus))
    return int(cpus)
