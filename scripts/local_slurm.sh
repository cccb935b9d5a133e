#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for the SLURM tests and for trying
# `hydra/launcher=slurm` without a cluster. Debian's slurm-wlm and munge; run as root; no systemd.
#
#   scripts/local_slurm.sh install   # apt-get install slurm-wlm munge (skipped when present)
#   scripts/local_slurm.sh start     # munged, slurm.conf, slurmctld, slurmd; waits for an idle node
#   scripts/local_slurm.sh stop      # cancels all jobs, stops the daemons
#   scripts/local_slurm.sh status    # sinfo and squeue
#   scripts/local_slurm.sh install start   # several, in order
#
# The node gets all CPUs of the machine and its memory less 1 GiB, in one partition `local`
# (the default). No GPUs: submit with `trainer.accelerator=cpu`, which asks for none (docs/slurm-ddp.md).
# There is no accounting database (slurmdbd): submitit's sacct calls fail and it warns "Bypassing
# sacct error" (harmless). The cost: a job killed without writing its result (e.g. by scancel)
# leaves the submitting process waiting; stop it with Ctrl-C and read SWEEP_DIR/.submitit/.
# An existing /etc/slurm/slurm.conf that this script did not write is left alone (start fails);
# set LOCAL_SLURM_FORCE=1 to overwrite it.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARKER="# written by benign_lightning scripts/local_slurm.sh"
STATE=/var/lib/slurm/slurmctld
SPOOL=/var/lib/slurm/slurmd
LOGS=/var/log/slurm
PARTITION=local

die() { echo "local_slurm: $*" >&2; exit 1; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (it writes /etc/slurm and starts the daemons)"
}

install() {
    need_root
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        echo "local_slurm: slurm-wlm and munge are installed"
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Try without a fresh package index first: it is quicker and works on most images.
    apt-get install -y -q slurm-wlm munge >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null; }
    echo "local_slurm: installed $(slurmd -V)"
}

start_munge() {
    local key=/etc/munge/munge.key
    if [[ ! -s $key ]] || (($(stat -c %s "$key") < 32)); then
        # munge wants at least 32 bytes; 1 KiB of random bytes as mungekey(8) makes.
        head -c 1024 /dev/urandom >"$key"
    fi
    chown munge:munge "$key" && chmod 400 "$key"
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged
    fi
    munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
}

write_conf() {
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF" && [[ ${LOCAL_SLURM_FORCE:-0} != 1 ]]; then
        die "$CONF exists and was not written by this script; LOCAL_SLURM_FORCE=1 overwrites it"
    fi
    mkdir -p /etc/slurm "$STATE" "$SPOOL" "$LOGS"
    cat >"$CONF.tmp" <<EOF
$MARKER
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
# Quick turnaround for tests: a cancelled or requeued job gets SIGKILL 5 s after SIGTERM.
KillWait=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

wait_idle() {
    local i state
    for i in $(seq 1 60); do
        state=$(sinfo -h -o %T 2>/dev/null || true)
        if [[ $state == idle* || $state == mixed* || $state == allocated* ]]; then
            echo "local_slurm: up: node $(hostname -s) $state, partition $PARTITION"
            return
        fi
        sleep 0.5
    done
    tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
    die "the node did not become idle in 30 s (state: '${state:-no answer}')"
}

start() {
    need_root
    command -v slurmctld >/dev/null || die "slurm-wlm is not installed: run '$0 install' first"
    start_munge
    write_conf
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    wait_idle
}

stop() {
    need_root
    scancel --full --user=root 2>/dev/null || true
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    pkill -x munged 2>/dev/null || true
    local i
    for i in $(seq 1 20); do
        running >/dev/null || { echo "local_slurm: stopped"; return; }
        sleep 0.5
    done
    die "daemons still running: $(running)"
}

running() {  # the names of the daemons still running; status 1 if none
    local name found=()
    for name in slurmd slurmctld munged; do
        pgrep -x "$name" >/dev/null && found+=("$name")
    done
    [[ ${#found[@]} -gt 0 ]] && echo "${found[*]}"
}

status() {
    sinfo && squeue
}

[[ $# -gt 0 ]] || set -- usage
for command in "$@"; do  # e.g. `scripts/local_slurm.sh install start`
    case "$command" in
        install) install ;;
        start) start ;;
        stop) stop ;;
        status) status ;;
        *) echo "usage: $0 install|start|stop|status ..." >&2; exit 2 ;;
    esac
done
