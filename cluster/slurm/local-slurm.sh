#!/usr/bin/env bash
# Run:  eval "$(cluster/slurm/local-slurm.sh start)"    # then sinfo, srun, sbatch work here
#       cluster/slurm/local-slurm.sh status | env | stop
#
# A real one-node SLURM (Debian's Slurm 22.05) on localhost, for trying the cluster path on one
# machine (docs/cluster.md; facts in shared/docs/cluster-notes.md). No systemd is needed: munged,
# slurmctld and slurmd are started by hand, their PIDs recorded, and stopped by those PIDs.
#
#   start   install slurmctld slurmd slurm-client munge when missing, write a private munge key
#           and slurm.conf, start the three daemons, wait until the node is idle; prints
#           `export SLURM_CONF=…` on stdout (everything else goes to stderr). Idempotent: when
#           the cluster already runs it only prints the export line.
#   stop    cancel every job, stop the daemons and leftover job processes by PID. Idempotent.
#   status  exit 0 and print the node state when the cluster answers, exit 1 otherwise.
#   env     print the export line.
#
# Environment (all optional):
#   TAILSWEEP_SLURM_DIR   private folder for config, keys, state, logs  [/tmp/tailsweep-slurm]
#                         (it and every folder above it must be world-executable: munged's socket)
#   TAILSWEEP_SLURM_PORT  slurmctld port                                      [6817]
#   TAILSWEEP_SLURMD_PORT slurmd port                                 [TAILSWEEP_SLURM_PORT + 1]
set -euo pipefail

dir="$(realpath -m "${TAILSWEEP_SLURM_DIR:-/tmp/tailsweep-slurm}")"
port="${TAILSWEEP_SLURM_PORT:-6817}"
slurmd_port="${TAILSWEEP_SLURMD_PORT:-$((port + 1))}"
conf="$dir/etc/slurm.conf"
node="$(hostname -s)"
export SLURM_CONF="$conf"

log() { printf 'local-slurm: %s\n' "$*" >&2; }
die() { printf 'local-slurm: error: %s\n' "$*" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_packages() {
  local missing=() p
  for p in slurmctld slurmd slurm-client munge; do installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}: install them as root"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "could not install ${missing[*]}"
}

# alive NAME: the daemon whose PID is recorded in $dir/pids/NAME runs and is that program.
alive() {
  local f="$dir/pids/$1" pid
  [ -s "$f" ] || return 1
  pid="$(cat "$f")"
  running "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

node_state() { timeout 5 sinfo -h -n "$node" -o '%T' 2>/dev/null | head -n1; }

write_config() {
  local real cpus
  real="$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')"
  [ -n "$real" ] || die "slurmd -C did not report RealMemory"
  real=$((real * 9 / 10))
  cpus="$(nproc)"
  : >"$dir/etc/plugstack.conf"
  cat >"$conf" <<EOF
# Written by cluster/slurm/local-slurm.sh: a one-node cluster on localhost.
ClusterName=tailsweep
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
PlugStackConfig=$dir/etc/plugstack.conf
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
KillWait=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# start_daemon NAME ARGS…: start in its own session, output to a log, record the PID. Every
# descriptor above 2 is closed first: a daemon must not keep open what our caller gave us (a
# caller waiting for EOF on a pipe, or Foundation's Process, which waits for a socket it passed
# down to close, would hang until the daemon stops).
start_daemon() {
  local name="$1"
  shift
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid "$@"
  ) </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo "$!" >"$dir/pids/$name"
}

# Job processes of this cluster: slurmstepd and job tasks carry SLURM_CONF=$conf in their
# environment (the daemons are started with it; jobs inherit it from the submitter).
job_pids() {
  local p env
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = "$$" ] && continue
    env="$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ")" || continue
    grep -qxF "SLURM_CONF=$conf" <<<"$env" || continue
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ] || grep -q '^SLURM_JOB_ID=' <<<"$env"; then
      echo "$p"
    fi
  done
}

# running PID: the process exists and is not a zombie (PID 1 here may not reap orphans).
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

kill_pids() { # PIDS…: TERM, wait up to 10 s, then KILL.
  [ "$#" -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local _ p left
  for _ in $(seq 50); do
    left=0
    for p in "$@"; do running "$p" && left=1; done
    [ "$left" -eq 0 ] && return 0
    sleep 0.2
  done
  kill -KILL "$@" 2>/dev/null || true
}

cmd_start() {
  if alive munged && alive slurmctld && alive slurmd && [ -n "$(node_state)" ]; then
    log "already running ($dir)"
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  install_packages
  cmd_stop quiet
  mkdir -p "$dir"
  chmod 0755 "$dir"
  # munged's socket needs every folder above it world-executable; check instead of guessing.
  local d="$dir"
  while [ "$d" != / ]; do
    [ "$(($(stat -c '%#a' "$d") & 1))" -eq 1 ] || die "$d is not world-executable (munged needs that)"
    d="$(dirname "$d")"
  done
  rm -rf "$dir/state" "$dir/spool" "$dir/run" "$dir/munge/munge.socket"*
  mkdir -p "$dir/etc" "$dir/state" "$dir/spool" "$dir/run" "$dir/log" "$dir/pids" "$dir/munge"
  chmod 0755 "$dir/munge"
  chmod 0700 "$dir/log" "$dir/state"
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 0400 "$dir/munge/munge.key"
  fi
  write_config

  start_daemon munged munged -F --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/run/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
  local _
  for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$dir/munge/munge.socket" ] || die "munged did not start (see $dir/log/munged.out)"

  start_daemon slurmctld slurmctld -D -i -f "$conf"
  start_daemon slurmd slurmd -D -f "$conf"
  local state=""
  for _ in $(seq 60); do
    alive slurmctld || die "slurmctld exited (see $dir/log/slurmctld.log)"
    alive slurmd || die "slurmd exited (see $dir/log/slurmd.log)"
    state="$(node_state)"
    [ "$state" = idle ] && break
    sleep 0.5
  done
  [ "$state" = idle ] || die "node $node not idle after 30 s (state '$state'; see $dir/log)"
  log "node $node idle; slurmctld on 127.0.0.1:$port ($dir)"
  echo "export SLURM_CONF=$conf"
}

cmd_stop() {
  local quiet="${1:-}"
  if alive slurmctld; then
    timeout 10 scancel --full "--partition=local" >/dev/null 2>&1 || true
    local _
    for _ in $(seq 25); do [ -z "$(job_pids)" ] && break; sleep 0.2; done
  fi
  # shellcheck disable=SC2046
  kill_pids $(job_pids)
  local name pids=()
  for name in slurmd slurmctld munged; do
    alive "$name" && pids+=("$(cat "$dir/pids/$name")")
  done
  kill_pids "${pids[@]}"
  # shellcheck disable=SC2046
  kill_pids $(job_pids)
  rm -f "$dir/pids/"* 2>/dev/null || true
  [ -n "$quiet" ] || log "stopped ($dir)"
}

cmd_status() {
  local name ok=0
  for name in munged slurmctld slurmd; do
    if alive "$name"; then
      printf '%s\t%s\n' "$name" "$(cat "$dir/pids/$name")"
    else
      printf '%s\tnot running\n' "$name"
      ok=1
    fi
  done
  if [ "$ok" -eq 0 ]; then
    local state
    state="$(node_state)"
    printf 'node\t%s\t%s\n' "$node" "${state:-no answer}"
    [ -n "$state" ] || ok=1
  fi
  return "$ok"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *)
    sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
