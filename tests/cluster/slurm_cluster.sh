#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the SLURM workflow tests (tests/workflow/test_slurm.py).
#
#   tests/cluster/slurm_cluster.sh start    # install (apt, as root) and start munge + slurmctld + slurmd
#   tests/cluster/slurm_cluster.sh status   # exit 0 when the node answers and is usable
#   tests/cluster/slurm_cluster.sh stop     # stop slurmd, slurmctld and munged (by their pid files)
#
# Idempotent: a cluster that already answers is reused; running `start` twice is harmless.
# No accounting database (sacct sees nothing): Snakemake must poll with squeue. The node declares
# two stand-in GPU GRES ("gpu:2", no real devices) so that the `--gpus=1` the SLURM executor
# derives from the rules' `gpu=1` is satisfiable as on a GPU cluster; the jobs run on the CPU.
# Partitions `cpu` (default) and `gpu` match workflow/profiles/slurm/config.yaml.
# Exit codes: 0 ok, 2 not root (and no cluster running), 3 packages not installable, 4 daemons
# did not come up (logs in /var/log/slurm/).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
GRES=/etc/slurm/gres.conf
MARK="# written by heatcheck tests/cluster/slurm_cluster.sh"
LOGDIR=/var/log/slurm
HOST=$(hostname -s)

log() { echo "slurm_cluster: $*" >&2; }

node_state() {  # the node's state as sinfo reports it, or nothing when slurmctld does not answer
    timeout 10 sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -n1 || true
}

usable() {
    case "$(node_state)" in
        *"*"*) return 1 ;;  # not responding (yet)
        idle*|mixed*|allocated*|completing*) return 0 ;;
        *) return 1 ;;
    esac
}

alive() {  # alive PIDFILE
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return 0
    fi
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >&2; then
        log "apt-get could not install slurm-wlm munge"
        exit 3
    fi
}

start_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "munged did not come up"
    exit 4
}

write_conf() {  # prints "changed" when the configuration files were (re)written
    local hw cpus mem conf gres
    hw=$(slurmd -C | head -n1)
    cpus=$(sed -E 's/.*CPUs=([0-9]+).*/\1/' <<<"$hw")
    mem=$(sed -E 's/.*RealMemory=([0-9]+).*/\1/' <<<"$hw")
    conf="$MARK
ClusterName=heatcheck
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue for 5 minutes (Snakemake's status polling relies on it)
MinJobAge=300
# a job past its time limit gets SIGTERM, then SIGKILL after KillWait seconds
KillWait=5
GresTypes=gpu
NodeName=$HOST CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP"
    # Slurm 22.05 ignores a gpu GRES without File=; /dev/null and /dev/zero stand in for the devices
    # (no cgroup device constraint here, so nothing is bound; jobs see CUDA_VISIBLE_DEVICES only)
    gres="$MARK
AutoDetect=off
NodeName=$HOST Name=gpu File=/dev/null
NodeName=$HOST Name=gpu File=/dev/zero"
    if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
        log "$CONF exists and was not written by this script: not touching it"
        exit 4
    fi
    mkdir -p /etc/slurm "$LOGDIR" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
    if [[ "$(cat "$CONF" 2>/dev/null)" != "$conf" || "$(cat "$GRES" 2>/dev/null)" != "$gres" ]]; then
        printf '%s\n' "$conf" >"$CONF"
        printf '%s\n' "$gres" >"$GRES"
        echo changed
    fi
}

stop_daemons() {  # stop_daemons [PIDFILE...]: slurmd and slurmctld by default
    local pf pid
    local files=("$@")
    [[ ${#files[@]} -gt 0 ]] || files=(/run/slurmd.pid /run/slurmctld.pid)
    for pf in "${files[@]}"; do
        if alive "$pf"; then
            pid=$(cat "$pf")
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        rm -f "$pf"
    done
}

start() {
    if [[ $EUID -ne 0 ]]; then
        usable && { log "reusing the running cluster"; exit 0; }
        log "not root and no cluster running: cannot install or start SLURM"
        exit 2
    fi
    install_packages
    start_munge
    if [[ "$(write_conf)" == changed ]]; then
        stop_daemons   # daemons of another configuration
    elif usable; then
        log "reusing the running cluster"
        exit 0
    fi
    alive /run/slurmctld.pid || slurmctld
    alive /run/slurmd.pid || slurmd
    for _ in $(seq 60); do
        usable && { log "node $HOST up: $(node_state)"; exit 0; }
        case "$(node_state)" in
            down*|drain*|inval*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    log "node $HOST not usable after 30 s (state: '$(node_state)'); see $LOGDIR/slurmctld.log, slurmd.log"
    exit 4
}

case "${1:-}" in
    start) start ;;
    stop) stop_daemons /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid ;;
    status) usable && { sinfo; exit 0; } || { log "no usable node"; exit 1; } ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
