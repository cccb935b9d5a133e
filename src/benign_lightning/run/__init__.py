"""One job, from its config to its results: ``job.run`` (a single model), ``ensemble`` (K models
trained together), ``exact`` (the closed-form classifiers), and what a job needs around it:
``builders`` (config to objects), ``lock`` (one run per folder), ``agree`` (rank 0 decides for all
ranks), ``checkpoints`` (resume past a damaged one), ``slurm`` (the launcher's checks), ``loggers``.

Kept free of imports so that ``hydra_plugins`` can read ``run.slurm`` without loading Lightning.
"""
