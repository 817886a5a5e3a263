#!/usr/bin/env bash
# A real single-node Slurm on this machine, for rnnlab's job-array integration
# test (issue 17): Debian's slurm-wlm (22.05) and munge, one node (this host,
# all its CPUs), one partition `debug`, no accounting (no sacct). Run as root
# (CI is root); jobs run as root too (SlurmUser=root).
#
#   scripts/slurm-local.sh install  # apt-get install slurm-wlm munge, if slurmctld is missing
#   scripts/slurm-local.sh start    # write slurm.conf, start munged, slurmctld, slurmd, wait
#                                   # until the node is idle and srun + sbatch jobs run
#   scripts/slurm-local.sh status   # up or not, sinfo, squeue
#   scripts/slurm-local.sh stop     # cancel every job, stop the daemons this script started
#
# All four are idempotent (`start` on a healthy cluster with the same config does
# nothing). Exit status: 0 done; 1 failed (a failed `start` prints the tails of
# /var/log/slurm/slurmctld.log and slurmd.log); 2 usage, not root, or an
# /etc/slurm/slurm.conf that this script did not write: it never overwrites or
# stops a real cluster (its own config has the marker line below as first line).
# `start` gives up after SLURM_LOCAL_DEADLINE seconds (default 60).
#
# Files: /etc/slurm/slurm.conf; state in /var/spool/slurmctld, /var/spool/slurmd;
# logs in /var/log/slurm/; pid files /run/slurmctld.pid, /run/slurmd.pid;
# /run/slurm-local/munged says this script started munged (a munged that was
# already running, e.g. Debian's munge service on a systemd machine, is used
# and left alone by `stop`).
#
# Configuration choices:
# - Addresses: always the loopback: SlurmctldHost=<hostname -s>(127.0.0.1),
#   NodeAddr=127.0.0.1. It works whether or not `hostname -s` resolves (in these
#   sandboxes it may not; the script says so) and /etc/hosts is never edited. The
#   node keeps the name `hostname -s`, which is how slurmd finds itself.
# - proctrack/linuxproc, task/none: the cgroup plugins do not work in these
#   machines. A job is its batch shell's process tree; nothing confines CPU or
#   memory.
# - CPUs=$(nproc) with CR_CPU: every CPU is schedulable on its own
#   (--cpus-per-task=1 on 2 CPUs runs 2 tasks at once). RealMemory is 90 % of
#   MemTotal so that `--mem` requests are accepted; memory is not consumed.
# - JobRequeue=1: batch jobs are requeueable; `scontrol requeue JOB` works.
# - AuthInfo=cred_expire=10: a requeued job is eligible again 11 s after it
#   ended (Slurm's default, 120, makes it 121 s).
# - SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=5: jobs
#   start within about a second of sbatch, and a requeued job is picked up
#   within ~5 s of becoming eligible (defaults 3, 60, 30 s).
# - MinJobAge=300 (the default): a finished job stays visible to
#   `scontrol show job ID` and `squeue -t all` for 5 min.
# - KillWait=30 (the default): see below. Job output files are truncated when a
#   requeued job restarts (use sbatch --open-mode=append to keep both runs).
#
# Signals, measured with this configuration (22.05.8, linuxproc; "all" = the
# batch shell and every process it started; each list starts with SIGCONT):
# - scontrol requeue (what preemption by requeue does): SIGCONT + SIGTERM to all
#   at once, SIGKILL to survivors KillWait (30 s) later; ~11 s after the job
#   ended it runs again with the same job id and array index and
#   SLURM_RESTART_COUNT=1, 2, ... (`scontrol update JobId=J StartTime=now`
#   is not needed with cred_expire=10).
# - scancel JOB: the same, and the job ends CANCELLED.
# - time limit: enforced 5-30 s late (a 30 s periodic check); SIGCONT + SIGTERM
#   to all, SIGKILL 30 s later; state TIMEOUT, not requeued.
# - scancel --signal=TERM JOB: NOTHING for a batch job without srun steps (the
#   job keeps running); --batch (-b): the batch shell only, not its children;
#   --full (-f): all. scancel --signal=KILL on a running job is turned into a
#   plain cancel (TERM, KillWait, KILL); with -b it kills the shell at once and
#   orphans its children, which linuxproc then no longer tracks.
# - sbatch --signal=B:TERM@60: SIGCONT + SIGTERM to the batch shell only (not
#   its children), earlier than asked: @60 came 77-85 s and @30 47 s before the
#   limit. Without B: it goes to srun steps only (a step-less batch job gets
#   nothing). So a batch script should `exec` the program (or trap and forward).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by rnnlab scripts/slurm-local.sh"
LOGS=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
OURS=/run/slurm-local
DEADLINE=${SLURM_LOCAL_DEADLINE:-60}
export SLURM_CONF=$CONF
export PATH=$PATH:/usr/sbin:/sbin

say() { echo "slurm-local: $*"; }
fail() {
  echo "slurm-local: error: $*" >&2
  exit 1
}
refuse() {
  echo "slurm-local: $*" >&2
  exit 2
}
need_root() {
  [[ $(id -u) -eq 0 ]] || refuse "run as root (it installs packages and starts system daemons)"
}

# running NAME PIDFILE: the daemon's pid, if the pid file names a live NAME.
running() {
  local pid
  [[ -s $2 ]] || return 1
  pid=$(<"$2")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
  echo "$pid"
}

# live NAME: pids of live (not zombie) processes called NAME. A daemon just
# stopped can linger as a zombie until init reaps it.
live() {
  local pid st
  for pid in $(pgrep -x "$1" || true); do
    st=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    if [[ -n $st && $st != Z ]]; then echo "$pid"; fi
  done
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

node_state() { { sinfo -h -n "$HOST" -o '%T' 2>/dev/null || true; } | head -n1; }

# Refuse (exit 2) if /etc/slurm/slurm.conf exists and is not ours.
check_conf() {
  if [[ -e $CONF && $(head -n1 "$CONF") != "$MARK" ]]; then
    refuse "$CONF exists and was not written by this script (its first line is not '$MARK').
Not touching a real Slurm configuration: use that cluster, or move the file aside (and stop its daemons) first."
  fi
}

desired_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  cat <<EOF
$MARK
# A single-node test cluster; see the script for the reasons of each setting.
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
AuthType=auth/munge
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmUser=root
ReturnToService=2
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobRequeue=1
MinJobAge=300
KillWait=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

logs() {
  local f
  for f in "$LOGS/slurmctld.log" "$LOGS/slurmd.log" /var/log/munge/munged.log; do
    if [[ -s $f ]]; then
      echo "----- $f (last 25 lines)"
      tail -n 25 "$f"
    fi
  done >&2
}

fail_start() {
  echo "slurm-local: error: start failed: $*" >&2
  sinfo >&2 2>&1 || true
  logs
  exit 1
}

# Daemons that were not started through our pid files would hold the ports.
check_strays() {
  local name pidfile pid own
  for name in slurmctld slurmd; do
    pidfile=$CTLD_PID
    [[ $name == slurmd ]] && pidfile=$SLURMD_PID
    own=$(running "$name" "$pidfile" || true)
    for pid in $(live "$name"); do
      [[ $pid == "$own" ]] && continue
      # slurmctld's helper (slurmscriptd) is a child of slurmctld.
      [[ -n $own && $(ps -o ppid= -p "$pid" | tr -d ' ') == "$own" ]] && continue
      fail "a $name (pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) is running that this script did not start; stop it first"
    done
  done
}

install() {
  need_root
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    say "already installed ($(slurmctld -V 2>/dev/null || echo slurm))"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  say "installing slurm-wlm and munge with apt-get"
  apt-get update -qq || fail "apt-get update failed"
  # The recommended extra plugins (hdf5, influxdb, ...) are not needed.
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
    || fail "apt-get install slurm-wlm munge failed"
  command -v slurmctld >/dev/null || fail "slurmctld is still missing after apt-get install"
  say "installed ($(slurmctld -V))"
}

stop_pid() { # stop_pid NAME PIDFILE: SIGTERM, then SIGKILL after 10 s
  local pid i
  pid=$(running "$1" "$2") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    running "$1" "$2" >/dev/null || break
    sleep 0.2
  done
  if running "$1" "$2" >/dev/null; then
    say "$1 (pid $pid) ignored SIGTERM for 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$2"
}

start_munge() {
  munge_ok && return 0
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
      || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
  fi
  if running munged "$MUNGE_PID" >/dev/null; then
    fail_start "munged is running (pid $(<"$MUNGE_PID")) but 'munge -n | unmunge' fails"
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge 2>/dev/null || true
  # As root munged wants --force (it warns about log file ownership).
  munged --force 2>/dev/null || fail_start "munged did not start"
  mkdir -p "$OURS"
  touch "$OURS/munged"
  local i
  for i in $(seq 50); do
    munge_ok && return 0
    sleep 0.1
  done
  fail_start "munged started but 'munge -n | unmunge' fails"
}

# wait_job ID SECONDS: until the job is COMPLETED (0) or ends otherwise (1).
wait_job() {
  local end=$((SECONDS + $2)) state
  while ((SECONDS < end)); do
    state=$(scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
    case $state in
      JobState=COMPLETED) return 0 ;;
      JobState=PENDING | JobState=RUNNING | JobState=CONFIGURING | JobState=COMPLETING | "") ;;
      *) return 1 ;;
    esac
    sleep 0.2
  done
  return 1
}

start() {
  need_root
  for cmd in slurmctld slurmd munged sinfo sbatch; do
    command -v "$cmd" >/dev/null || fail "$cmd not found: run '$0 install' first"
  done
  check_conf
  local want t0=$SECONDS state left id
  want=$(desired_conf)
  if [[ -f $CONF && $(<"$CONF") == "$want" ]] \
    && running slurmctld "$CTLD_PID" >/dev/null && running slurmd "$SLURMD_PID" >/dev/null \
    && munge_ok; then
    state=$(node_state)
    case $state in
      idle | mixed | allocated | completing)
        say "already up: node $HOST $state"
        return 0
        ;;
    esac
  fi
  if getent hosts "$HOST" >/dev/null; then
    say "host $HOST; the daemons talk over 127.0.0.1"
  else
    say "host $HOST does not resolve; the daemons talk over 127.0.0.1 (no /etc/hosts change)"
  fi
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGS"
  if [[ ! -f $CONF || $(<"$CONF") != "$want" ]]; then
    if running slurmctld "$CTLD_PID" >/dev/null || running slurmd "$SLURMD_PID" >/dev/null; then
      say "configuration changed: restarting slurmctld and slurmd (jobs are kept)"
      stop_pid slurmd "$SLURMD_PID"
      stop_pid slurmctld "$CTLD_PID"
    fi
    printf '%s\n' "$want" >"$CONF.tmp.$$"
    mv -f "$CONF.tmp.$$" "$CONF"
  fi
  check_strays
  start_munge
  if ! running slurmctld "$CTLD_PID" >/dev/null; then
    slurmctld || fail_start "slurmctld exited with status $?"
  fi
  if ! running slurmd "$SLURMD_PID" >/dev/null; then
    slurmd || fail_start "slurmd exited with status $?"
  fi
  # The node registers within a second or two; ReturnToService=2 brings back
  # a node that a previous run left down.
  while :; do
    state=$(node_state)
    case $state in
      idle | mixed | allocated | completing) break ;;
      down | drained | draining | drain) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    running slurmctld "$CTLD_PID" >/dev/null || fail_start "slurmctld died"
    running slurmd "$SLURMD_PID" >/dev/null || fail_start "slurmd died"
    ((SECONDS - t0 < DEADLINE)) || fail_start "node $HOST not up after ${DEADLINE} s (state: ${state:-no answer from slurmctld})"
    sleep 0.25
  done
  # A job step and a batch job, as root, unless real jobs fill the node.
  if [[ $state == idle || $state == mixed ]]; then
    left=$((DEADLINE - (SECONDS - t0)))
    ((left >= 10)) || left=10
    timeout "$left" srun -N1 -n1 -t 1 -J slurm-local-check true \
      || fail_start "'srun -N1 -n1 true' failed"
    id=$(sbatch --parsable -N1 -n1 -t 1 -J slurm-local-check -o /dev/null --wrap true) \
      || fail_start "sbatch failed"
    wait_job "${id%%;*}" "$left" \
      || fail_start "the test batch job $id did not complete: $(scontrol show job -o "$id" 2>&1)"
  fi
  say "up in $((SECONDS - t0)) s: node $HOST $(node_state), $(nproc) CPUs, partition debug"
}

status() {
  local ctld slurmd bad=0
  if ctld=$(running slurmctld "$CTLD_PID"); then say "slurmctld: running (pid $ctld)"; else say "slurmctld: not running"; bad=1; fi
  if slurmd=$(running slurmd "$SLURMD_PID"); then say "slurmd: running (pid $slurmd)"; else say "slurmd: not running"; bad=1; fi
  if munge_ok; then say "munge: ok"; else say "munge: not working"; bad=1; fi
  if [[ -f $CONF && $(head -n1 "$CONF") != "$MARK" ]]; then say "note: $CONF was not written by this script"; fi
  if ((bad == 0)); then
    sinfo
    say "jobs: $(squeue -h | wc -l) pending or running"
    case $(node_state) in idle | mixed | allocated | completing) say "up" ;; *) say "not usable"; exit 1 ;; esac
  else
    say "down"
    exit 1
  fi
}

# wait_jobs SECONDS: until squeue lists no job (pending, running or completing).
wait_jobs() {
  local end=$((SECONDS + $1))
  while [[ -n $(squeue -h -o '%A' 2>/dev/null) ]]; do
    ((SECONDS < end)) || return 1
    sleep 0.2
  done
}

stop() {
  need_root
  check_conf
  local users u left
  if running slurmctld "$CTLD_PID" >/dev/null; then
    # With linuxproc, job processes would outlive slurmd: cancel every job
    # first (SIGTERM, SIGKILL after KillWait = 30 s, as on a real cluster).
    # Not `scancel --signal=KILL`: for a running job Slurm turns it into the
    # same cancel, and `--batch --signal=KILL` kills the batch shell only,
    # leaving its children orphaned and untracked.
    users=$(squeue -h -o '%u' 2>/dev/null | sort -u)
    if [[ -n $users ]]; then
      say "cancelling $(squeue -h | wc -l) job(s)"
      for u in $users; do scancel -u "$u" 2>/dev/null || true; done
      wait_jobs 45 || say "warning: jobs left after 45 s: $(squeue -h -o '%A %T' | tr '\n' ' ')"
    fi
  fi
  stop_pid slurmd "$SLURMD_PID"
  stop_pid slurmctld "$CTLD_PID"
  if [[ -f $OURS/munged ]]; then
    stop_pid munged "$MUNGE_PID"
    rm -f "$OURS/munged"
  fi
  rmdir "$OURS" 2>/dev/null || true
  sleep 0.5
  left=$(for p in slurmctld slurmd slurmstepd; do live "$p"; done | tr '\n' ' ')
  if [[ -n $left ]]; then
    say "warning: Slurm processes still running: pids $left"
  fi
  say "stopped"
}

case "${1:-}" in
  install | start | stop | status)
    HOST=$(hostname -s) && [[ -n $HOST ]] || fail "hostname -s gave nothing"
    "$1"
    ;;
  *)
    echo "usage: $0 install|start|status|stop" >&2
    exit 2
    ;;
esac
