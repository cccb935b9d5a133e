#!/usr/bin/env bash
# Run from an empty folder with a cluster up (scripts/local_slurm.sh start); see bench/README.md.
# A job of a SLURM sweep is preempted (SIGTERM, then submitit's USR2) mid-training and requeued;
# then the same job runs uninterrupted without SLURM, and the two results.json are compared.
set -euo pipefail
PY=${PYTHON:-python}
COMMON="trainer.enable_progress_bar=false logger=none data.n_train=4000 data.n_test=300 attack.steps=5 trainer.max_epochs=25 trainer.min_epochs=25"
start=$(date +%s.%N)
$PY -m benign_lightning -m hydra/launcher=slurm trainer.accelerator=cpu hydra.launcher.cpus_per_task=1 hydra.launcher.mem_per_cpu=1G $COMMON hydra.sweep.dir=pre > pre.log 2>&1 &
launcher=$!
until ls pre/0_*/checkpoints/last.ckpt >/dev/null 2>&1; do sleep 0.2; done
job=$(basename "$(dirname "$(ls pre/.submitit/*/*_submitted.pkl)")")
scancel --signal=TERM "$job"; sleep 1; scancel --signal=USR2 "$job"
until scontrol -o show job "$job" | grep -q "JobState=PENDING.*Restarts=1"; do sleep 0.5; done
echo "requeued job $job: $(scontrol -o show job "$job" | grep -o 'EligibleTime=[^ ]*')"
scontrol update JobId="$job" StartTime=now   # skip slurmctld's 120 s hold of a requeued batch job
wait $launcher
echo "preempted sweep: $(echo "$(date +%s.%N) - $start" | bc) s"
OMP_NUM_THREADS=1 $PY -m benign_lightning trainer.accelerator=cpu $COMMON hydra.run.dir=straight > straight.log 2>&1
$PY - <<'PY'
import glob, json
import numpy as np
pre_dir = glob.glob("pre/0_*")[0]
a, b = (json.load(open(f"{d}/results.json")) for d in (pre_dir, "straight"))
env = json.load(open(f"{pre_dir}/env.json"))
print("preempted run: resumed", a["resumed"], "start_epoch", a["start_epoch"], "epochs", a["epochs"],
      "slurm", env["slurm"], "threads", env["torch_num_threads"])
skip = {"wall_s", "resumed", "start_epoch"}
diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if k not in skip and a.get(k) != b.get(k)}
print("keys differing from the uninterrupted run:", diff or "none")
for name in ("predictions.npz", "memorization.npz", "noise.npz"):
    x, y = np.load(f"{pre_dir}/{name}"), np.load(f"straight/{name}")
    same = all(np.array_equal(x[k], y[k]) for k in x.files)
    print(name, "identical" if same else "DIFFERS")
PY
