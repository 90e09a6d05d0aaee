#!/usr/bin/env bash
# A one-node SLURM on this machine, from Debian's packages, to try the slurm
# specs for real (the tests start it this way: tests/integration/services.py).
#
#   apt-get install slurmctld slurmd slurm-client   # Debian/Ubuntu: SLURM 22.05 or later
#   cluster/local-slurm.sh start /tmp/slurm          # prints the SLURM_CONF line to export
#   export SLURM_CONF=/tmp/slurm/slurm.conf
#   sinfo; sbatch --wrap hostname; sgdsm cluster up my-slurm.yaml   # queue: sgdsm
#   cluster/local-slurm.sh stop /tmp/slurm           # cancels the jobs, stops both daemons by pid
#
# Everything lives in the folder: slurm.conf, state, spool, logs, pid files.
# slurmctld and slurmd run in the foreground (-D) as plain processes of the
# caller, no systemd, no munge (auth/none: only for a machine of your own;
# a real site has munge or slurm's own auth). Run it as root: slurmd starts
# every job as its user. Settings: SLURM_CPUS (default 2), SLURM_PARTITION
# (default sgdsm).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop FOLDER" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")
conf=$dir/slurm.conf
export SLURM_CONF=$conf

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() {
  for cmd in slurmctld slurmd sinfo; do
    command -v "$cmd" >/dev/null || { echo "$0: $cmd not found: apt-get install slurmctld slurmd slurm-client" >&2; exit 1; }
  done
  if [ -e "$dir/slurmctld.pid" ]; then
    echo "$0: $dir already holds a SLURM (stop it first: $0 stop $dir)" >&2
    exit 1
  fi
  mkdir -p "$dir/state" "$dir/spool"
  local node cpus partition mem_mb user
  node=$(hostname -s)
  cpus=${SLURM_CPUS:-2}
  partition=${SLURM_PARTITION:-sgdsm}
  user=$(id -un)
  # RealMemory below what is free, so the node is not drained as "Low RealMemory"
  mem_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024 / 2)}' /proc/meminfo)
  cat >"$conf" <<EOF
# written by cluster/local-slurm.sh: one node, $cpus CPUs, everything under $dir
ClusterName=sgdsm
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=$user
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.slurm-pid
SlurmdPidFile=$dir/slurmd.slurm-pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=5
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  # the daemons carry SGDSM_LOCAL_SLURM, and so does every slurmstepd they start: how stop finds them
  SGDSM_LOCAL_SLURM=$dir nohup slurmctld -D -f "$conf" >"$dir/slurmctld.out" 2>&1 &
  echo $! >"$dir/slurmctld.pid"
  SGDSM_LOCAL_SLURM=$dir nohup slurmd -D -f "$conf" -N "$node" >"$dir/slurmd.out" 2>&1 &
  echo $! >"$dir/slurmd.pid"
  local state=""
  for _ in $(seq 1 300); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    for d in slurmctld slurmd; do
      if ! kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null; then
        echo "$0: $d exited; its log:" >&2
        tail -20 "$dir/$d.log" "$dir/$d.out" >&2 || true
        stop
        exit 1
      fi
    done
    sleep 0.1
  done
  if [ "$state" != "idle" ]; then
    echo "$0: node $node is '$state', not idle, after 30 s; see $dir/slurmctld.log and $dir/slurmd.log" >&2
    stop
    exit 1
  fi
  echo "export SLURM_CONF=$conf   # partition $partition, node $node, $cpus CPUs, ${mem_mb} MB"
}

# the processes whose environment holds SGDSM_LOCAL_SLURM=$dir: the daemons and their slurmstepd
marked() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    if { tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qxF "SGDSM_LOCAL_SLURM=$dir"; then echo "$pid"; fi
  done
}

stop_pid() {  # SIGTERM, then SIGKILL after 15 s
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  local ctld slurmd
  ctld=$(cat "$dir/slurmctld.pid" 2>/dev/null || true)
  slurmd=$(cat "$dir/slurmd.pid" 2>/dev/null || true)
  if [ -n "$ctld" ] && kill -0 "$ctld" 2>/dev/null; then
    scancel --quiet --full --user "$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 150); do  # KillWait is 5 s
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  [ -n "$slurmd" ] && stop_pid "$slurmd"
  [ -n "$ctld" ] && stop_pid "$ctld"
  for pid in $(marked); do  # a slurmstepd still finishing a job
    [ "$pid" != "$$" ] && stop_pid "$pid"
  done
  rm -f "$dir/slurmctld.pid" "$dir/slurmd.pid"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
