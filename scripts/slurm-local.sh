#!/usr/bin/env bash
# A real single-node Slurm on this machine, for rnnlab's job-array tests:
# Debian's slurm-wlm and munge, one node (this host) with all its CPUs, one
# partition. Run as root (CI is root).
#
#   scripts/slurm-local.sh install   # apt-get install slurm-wlm munge (if missing)
#   scripts/slurm-local.sh start     # write slurm.conf, start munged, slurmctld, slurmd; wait until usable
#   scripts/slurm-local.sh status    # is it up? (sinfo)
#   scripts/slurm-local.sh stop      # stop the daemons this script started
#
# It never overwrites a slurm.conf it did not write (the first line marks
# its own). The cgroup plugins are not usable in these machines, hence
# proctrack/linuxproc and task/none. Logs: /var/log/slurm/.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARK="# written by rnnlab scripts/slurm-local.sh"
LOGS=/var/log/slurm
DEADLINE=${SLURM_LOCAL_DEADLINE:-60}

die() {
  echo "slurm-local: $*" >&2
  exit 2
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "run as root (it starts system daemons)"
}

install() {
  need_root
  if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  if [[ -f $CONF ]] && ! head -1 "$CONF" | grep -qF "$MARK"; then
    die "$CONF exists and was not written by this script; not touching a real cluster's configuration"
  fi
  mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd "$LOGS"
  # The node's address: its name if that resolves, else the loopback address.
  local addr=""
  getent hosts "$host" >/dev/null || addr=" NodeAddr=127.0.0.1"
  cat >"$CONF" <<EOF
$MARK
ClusterName=local
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmUser=root
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobRequeue=1
MinJobAge=300
KillWait=30
NodeName=$host CPUs=$cpus RealMemory=$mem$addr State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

alive() {
  local pidfile=$1
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(cat "$pidfile")
  # A zombie answers kill -0 but serves nothing.
  [[ -r /proc/$pid/status ]] && ! grep -q "^State:.*Z" "/proc/$pid/status"
}

usable() {
  sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'
}

logs() {
  for f in "$LOGS"/slurmctld.log "$LOGS"/slurmd.log; do
    [[ -f $f ]] && { echo "--- $f (last lines)"; tail -n 20 "$f"; } >&2
  done
}

start() {
  need_root
  command -v slurmctld >/dev/null || die "slurm-wlm is not installed: run '$0 install' first"
  if alive /run/slurmctld.pid && alive /run/slurmd.pid && usable; then
    echo "slurm-local: already up"
    return 0
  fi
  write_conf
  # munge: the package made a key; the daemon needs its run directory.
  mkdir -p /run/munge
  chown munge:munge /run/munge 2>/dev/null || true
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [[ ! -f /etc/munge/munge.key ]]; then
      mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    munged --force 2>/dev/null || su -s /bin/sh munge -c 'munged --force' 2>/dev/null || die "munged did not start"
  fi
  alive /run/slurmctld.pid || slurmctld
  alive /run/slurmd.pid || slurmd
  local start=$SECONDS
  until usable; do
    if (( SECONDS - start > DEADLINE )); then
      echo "slurm-local: the node did not become usable within ${DEADLINE} s" >&2
      sinfo >&2 || true
      logs
      exit 1
    fi
    # A node left DOWN from an earlier start comes back by itself
    # (ReturnToService=2); ask once in case it is DRAINED.
    scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true
    sleep 1
  done
  echo "slurm-local: up in $(( SECONDS - start )) s: $(sinfo -h -o '%P %D %T %c')"
}

status() {
  if alive /run/slurmctld.pid && alive /run/slurmd.pid; then
    sinfo
  else
    echo "slurm-local: not running"
    exit 1
  fi
}

stop() {
  need_root
  for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  for _ in $(seq 50); do
    alive /run/slurmd.pid || alive /run/slurmctld.pid || break
    sleep 0.2
  done
  echo "slurm-local: stopped"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|status|stop" >&2; exit 2 ;;
esac
