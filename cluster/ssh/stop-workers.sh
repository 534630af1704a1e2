#!/usr/bin/env bash
# Run:  cluster/ssh/stop-workers.sh HOSTFILE [--remote-dir DIR] [--ssh CMD] [--signal SIG] [--dry-run]
#
# Stops the workers that cluster/ssh/launch-workers.sh started: on each host of HOSTFILE, sends
# SIG (default TERM; a worker finishes or hands back its trial) to every PID in
# REMOTE_DIR/workers.pids that is still a tailsweep process, waits up to 10 s, then KILLs the
# rest and removes the PID file. Options as in launch-workers.sh; --dry-run prints the ssh
# commands and scripts.
set -euo pipefail

usage() { sed -n '2p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ "$#" -ge 1 ] || usage
hostfile="$1"
shift
remote_dir=".tailsweep-workers/%h"
ssh_cmd="ssh -o BatchMode=yes"
signal="TERM"
dry_run=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --remote-dir) remote_dir="${2:?--remote-dir needs a folder}"; shift 2 ;;
    --ssh) ssh_cmd="${2:?--ssh needs a command}"; shift 2 ;;
    --signal) signal="${2:?--signal needs a name}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    *) echo "stop-workers: unknown option '$1'" >&2; usage ;;
  esac
done
[ -r "$hostfile" ] || { echo "stop-workers: cannot read hostfile '$hostfile'" >&2; exit 2; }
case "$signal" in *[!A-Z0-9]*) echo "stop-workers: bad signal name '$signal'" >&2; exit 2 ;; esac

sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# remote_script HOST: kills only PIDs that still run a program named tailsweep (a PID may have
# been reused). %h in the remote folder stands for HOST, as in launch-workers.sh.
remote_script() {
  local dir="${remote_dir//%h/$1}"
  cat <<EOF
cd $(sq "$dir") 2>/dev/null || { echo "no $(sq "$dir") here"; exit 0; }
[ -f workers.pids ] || { echo "no workers.pids here"; exit 0; }
pids=""
for p in \$(cat workers.pids); do
  case "\$(cat /proc/\$p/comm 2>/dev/null)" in tailsweep*) pids="\$pids \$p" ;; esac
done
[ -z "\$pids" ] || kill -$signal \$pids 2>/dev/null || true
i=0
while [ "\$i" -lt 50 ]; do
  left=""
  for p in \$pids; do
    # Still there and not a zombie (an orphan's zombie stays until init reaps it).
    [ -r /proc/\$p/stat ] && ! grep -q ') Z ' /proc/\$p/stat 2>/dev/null && left="\$left \$p"
  done
  [ -z "\$left" ] && break
  sleep 0.2
  i=\$((i + 1))
done
[ -z "\$left" ] || kill -KILL \$left 2>/dev/null || true
rm -f workers.pids
echo "stopped:\$pids"
EOF
}

# shellcheck disable=SC2206
ssh_argv=($ssh_cmd)
status=0
while read -r host _; do
  case "$host" in '' | '#'*) continue ;; esac
  cmd=("${ssh_argv[@]}" "$host" sh -s)
  if [ "$dry_run" -eq 1 ]; then
    printf '%s' "${cmd[*]}"
    printf " <<'EOF'\n%s\nEOF\n" "$(remote_script "${host##*@}")"
    continue
  fi
  if out="$(remote_script "${host##*@}" | "${cmd[@]}" 2>&1)"; then
    echo "stop-workers: $host: $out" >&2
  else
    echo "stop-workers: $host: ssh failed: $out" >&2
    status=1
  fi
done <"$hostfile"
exit "$status"
