"""benign_lightning's SLURM launcher (``hydra/launcher=slurm``), a Hydra plugin.

Hydra imports every module under ``hydra_plugins`` at start-up, so this one stays light: torch and
Lightning are imported only when a job's config is checked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as SubmititSlurmLauncher,
)
from submitit.core.utils import FailedJobError

from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.run.slurm import check_job, check_resources, sbatch_refusal

__all__ = ["SlurmLauncher"]


class SlurmLauncher(SubmititSlurmLauncher):
    """Checks the resources and every job's config, then submits as hydra-submitit-launcher does.

    A typo in job 37 of a sweep is reported at once, with status 2, and nothing is queued; so is a
    submission that sbatch refuses (its message, and the key that would fix it).
    """

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.hydra_context is not None and self.config is not None
        try:
            check_resources(self.params)
            for overrides in job_overrides:
                cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                check_job(cfg, self.params)
            return super().launch(job_overrides, initial_job_idx)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except FailedJobError as e:  # sbatch said no: nothing was queued
            print(f"error: {sbatch_refusal(str(e))}", file=sys.stderr)
            sys.exit(2)
