#!/usr/bin/env bash
# Run:  cluster/slurm/submit.sh tcp://COORDINATOR_HOST:5555 N [-- EXTRA_WORKER_ARGS…]
#
# Submits cluster/slurm/tailsweep-workers.sbatch as an array of N tasks (one worker each) and
# prints the job id on stdout. Stop the workers with `scancel JOBID`.
#
# Environment (all optional):
#   TAILSWEEP_BIN, TAILSWEEP_DATA, TAILSWEEP_SERVER_KEY, TAILSWEEP_WORKER_KEYS
#                         read by every task (see tailsweep-workers.sbatch)
#   TAILSWEEP_LOG_DIR     folder for one log per task, worker-JOBID_TASK.log   [./logs]
#   TAILSWEEP_SBATCH_ARGS more sbatch options, split on spaces, e.g. "--partition=cpu --time=4:00:00"
#   TAILSWEEP_DRY_RUN=1   print the sbatch command instead of running it
set -euo pipefail

usage() { sed -n '2p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ "$#" -ge 2 ] || usage
address="$1"
count="$2"
shift 2
[ "${1:-}" = "--" ] && shift
case "$address" in tcp://*:*) ;; *) echo "submit: address must look like tcp://HOST:PORT, got '$address'" >&2; exit 2 ;; esac
case "$count" in '' | *[!0-9]* | 0) echo "submit: N must be a positive integer, got '$count'" >&2; exit 2 ;; esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log_dir="${TAILSWEEP_LOG_DIR:-$PWD/logs}"
# shellcheck disable=SC2206
extra_sbatch=(${TAILSWEEP_SBATCH_ARGS:-})
cmd=(sbatch --parsable --array="0-$((count - 1))" --output="$log_dir/worker-%A_%a.log"
  "${extra_sbatch[@]}" "$here/tailsweep-workers.sbatch" "$address" "$@")
if [ "${TAILSWEEP_DRY_RUN:-0}" = 1 ]; then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
mkdir -p "$log_dir"
job="$("${cmd[@]}")"
job="${job%%;*}"
echo "submit: job $job, $count workers for $address, logs in $log_dir" >&2
echo "$job"
