#!/usr/bin/env bash
# Run:  cluster/ssh/launch-workers.sh HOSTFILE tcp://COORDINATOR_HOST:5555 [OPTIONS] [-- EXTRA_WORKER_ARGS…]
#
# Starts TailSweep workers on every host of HOSTFILE over ssh: N per host, where N is the
# host's second column or else its core count (`nproc` on that host). Each worker runs
# `BIN worker --connect ADDRESS [--data DIR] [--server-key KEY --keys DIR] EXTRA…` with
# OPENBLAS_NUM_THREADS=1 under nohup, so it outlives the ssh session.
#
# HOSTFILE: one host a line, `[user@]host [N]`; blank lines and `#` comments are ignored.
#
# Options:
#   --bin PATH         tailsweep binary on the hosts              [$TAILSWEEP_BIN or tailsweep]
#   --data DIR         data folder on the hosts (--data)          [$TAILSWEEP_DATA or worker's default]
#   --server-key KEY   coordinator's CURVE public key, or a file on the hosts holding it
#                      [$TAILSWEEP_SERVER_KEY or none]
#   --keys DIR         folder on the hosts with the workers' CURVE keypair (with --server-key)
#                      [$TAILSWEEP_WORKER_KEYS or none]
#   --per-host N       workers per host, overriding the hostfile and nproc
#   --remote-dir DIR   folder on each host for worker logs and the PID file; %h stands for the
#                      host as the hostfile names it (without user@), so that hosts sharing a
#                      home folder (NFS) keep apart          [.tailsweep-workers/%h]
#                      (relative to the remote home folder)
#   --local-dir DIR    folder here for one log and one PID list per host [./workers]
#   --ssh CMD          ssh command, split on spaces           [ssh -o BatchMode=yes]
#   --dry-run          print, for each host, the ssh command and the script it feeds to `sh -s`
#
# On each host the workers' PIDs go to REMOTE_DIR/workers.pids and worker logs to
# REMOTE_DIR/worker-I.log; here, LOCAL_DIR/HOST.pids gets the same PIDs and LOCAL_DIR/HOST.log
# the ssh session's output. Stop them with cluster/ssh/stop-workers.sh HOSTFILE.
set -euo pipefail

usage() { sed -n '2p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ "$#" -ge 2 ] || usage
hostfile="$1"
address="$2"
shift 2
bin="${TAILSWEEP_BIN:-tailsweep}"
data="${TAILSWEEP_DATA:-}"
server_key="${TAILSWEEP_SERVER_KEY:-}"
worker_keys="${TAILSWEEP_WORKER_KEYS:-}"
per_host=""
remote_dir=".tailsweep-workers/%h"
local_dir="./workers"
ssh_cmd="ssh -o BatchMode=yes"
dry_run=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
    --data) data="${2:?--data needs a folder}"; shift 2 ;;
    --server-key) server_key="${2:?--server-key needs a key or file}"; shift 2 ;;
    --keys) worker_keys="${2:?--keys needs a folder}"; shift 2 ;;
    --per-host) per_host="${2:?--per-host needs a number}"; shift 2 ;;
    --remote-dir) remote_dir="${2:?--remote-dir needs a folder}"; shift 2 ;;
    --local-dir) local_dir="${2:?--local-dir needs a folder}"; shift 2 ;;
    --ssh) ssh_cmd="${2:?--ssh needs a command}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --) shift; break ;;
    *) echo "launch-workers: unknown option '$1'" >&2; usage ;;
  esac
done
if { [ -n "$server_key" ] && [ -z "$worker_keys" ]; } || { [ -z "$server_key" ] && [ -n "$worker_keys" ]; }; then
  echo "launch-workers: --server-key and --keys go together" >&2; exit 2
fi
[ -r "$hostfile" ] || { echo "launch-workers: cannot read hostfile '$hostfile'" >&2; exit 2; }
case "$address" in tcp://*:*) ;; *) echo "launch-workers: address must look like tcp://HOST:PORT, got '$address'" >&2; exit 2 ;; esac
case "$per_host" in *[!0-9]* | 0*) echo "launch-workers: --per-host must be a positive integer" >&2; exit 2 ;; esac

# sq WORD: WORD in single quotes for a POSIX shell.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# The worker command, quoted for the remote POSIX shell.
worker=(env OPENBLAS_NUM_THREADS=1 nohup "$bin" worker --connect "$address")
[ -n "$data" ] && worker+=(--data "$data")
# `=` form: a Z85 key may start with "-", which would read as another option.
[ -n "$server_key" ] && worker+=("--server-key=$server_key")
[ -n "$worker_keys" ] && worker+=(--keys "$worker_keys")
worker+=("$@")
worker_q=""
for word in "${worker[@]}"; do worker_q+="$(sq "$word") "; done

# remote_script N HOST: the POSIX shell script that ssh feeds to `sh -s` on HOST (N empty: the
# host's core count). It prints the workers' PIDs, one a line.
remote_script() {
  local n="${1:-\$(nproc)}" dir="${remote_dir//%h/$2}"
  cat <<EOF
set -e
mkdir -p $(sq "$dir")
cd $(sq "$dir")
n=$n
: > workers.pids
i=0
while [ "\$i" -lt "\$n" ]; do
  $worker_q>"worker-\$i.log" 2>&1 </dev/null &
  echo "\$!" >> workers.pids
  i=\$((i + 1))
done
cat workers.pids
EOF
}

# shellcheck disable=SC2206
ssh_argv=($ssh_cmd)
[ "$dry_run" -eq 1 ] || mkdir -p "$local_dir"
status=0
while read -r host slots _; do
  case "$host" in '' | '#'*) continue ;; esac
  n="${per_host:-${slots:-}}"
  case "$n" in *[!0-9]* | 0*) n="" ;; esac
  cmd=("${ssh_argv[@]}" "$host" sh -s)
  name="${host##*@}"
  if [ "$dry_run" -eq 1 ]; then
    printf '%s' "${cmd[*]}"
    printf " <<'EOF'\n%s\nEOF\n" "$(remote_script "$n" "$name")"
    continue
  fi
  if remote_script "$n" "$name" | "${cmd[@]}" >"$local_dir/$name.pids" 2>"$local_dir/$name.log"; then
    echo "launch-workers: $host: $(wc -l <"$local_dir/$name.pids") workers (PIDs in $local_dir/$name.pids)" >&2
  else
    echo "launch-workers: $host: ssh failed (see $local_dir/$name.log)" >&2
    status=1
  fi
done <"$hostfile"
exit "$status"
