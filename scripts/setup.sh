#!/usr/bin/env bash
# Prepare a machine for TailSweep: system packages, then verified data.
#
#   scripts/setup.sh                 everything to run sweeps (apt packages when missing, all data)
#   scripts/setup.sh test            the same plus what the test suite needs (SLURM, munge, iproute2, rsvg, sshd, chromium)
#   scripts/setup.sh data [NAME]     only data: all (default), mnist, fashion-mnist, ucr, ucr/<Name>
#
# Idempotent and safe to rerun: apt-get runs (with one `apt-get update`) only when a package is
# missing; data already present is only checked against its SHA-256 (a few seconds). Data goes to
# $TAILSWEEP_DATA or <repo>/data. Exit status: 0 ok, 1 refused data (hash mismatch), 2 bad usage,
# 3 a package or registry could not be reached (the message says how to provide files by hand).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
data_dir="${TAILSWEEP_DATA:-$repo/data}"

APT_PACKAGES=(libzmq3-dev libssl-dev libopenblas-dev libsqlite3-dev pkg-config dataset-fashion-mnist python3)
# The tests also start a real one-node SLURM, build network-namespace hosts (with real sshd),
# render figures and drive headless Chromium against the live view and the static report
# (LiveViewTests).
TEST_PACKAGES=(slurmctld slurmd slurm-client munge iproute2 librsvg2-bin openssh-server openssh-client
  chromium fonts-dejavu-core)

log() { printf 'setup: %s\n' "$*"; }
die() { local code="$1"; shift; printf 'setup: error: %s\n' "$*" >&2; exit "$code"; }

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
  done
  # pip is needed for `pip download`; Debian's python3 does not include it.
  if ! python3 -m pip --version >/dev/null 2>&1; then
    installed python3-pip || missing+=(python3-pip)
  fi
  if [ "${#missing[@]}" -eq 0 ]; then
    log "system packages present"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die 3 "missing packages (${missing[*]}) and no apt-get on this machine; install them by hand"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die 3 "missing packages (${missing[*]}); run as root or install them by hand"
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get update -qq; then
    die 3 "apt-get update failed: the Debian archive cannot be reached; could not get: ${missing[*]}"
  fi
  local p2
  for p2 in "${missing[@]}"; do
    if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p2" >/dev/null; then
      case "$p2" in
        dataset-fashion-mnist)
          die 3 "could not get the Debian package dataset-fashion-mnist; provide Fashion-MNIST by hand: put the four official IDX files (or .gz) into $data_dir/fashion-mnist/ and run 'scripts/setup.sh data fashion-mnist'" ;;
        *)
          die 3 "could not install the Debian package $p2 (is the Debian archive reachable?)" ;;
      esac
    fi
  done
}

fetch_data() {
  command -v python3 >/dev/null 2>&1 || die 3 "python3 is missing; run 'scripts/setup.sh' (without 'data') as root to install it"
  mkdir -p "$data_dir"
  log "data folder $data_dir"
  local rc=0
  python3 "$here/fetch_data.py" --data "$data_dir" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    die "$rc" "data setup failed (see above)"
  fi
}

case "${1:-all}" in
  all)
    [ "$#" -le 1 ] || { usage >&2; exit 2; }
    install_packages
    fetch_data all
    ;;
  data)
    shift
    [ "$#" -le 1 ] || { usage >&2; exit 2; }
    fetch_data "${1:-all}"
    ;;
  test)
    [ "$#" -le 1 ] || { usage >&2; exit 2; }
    APT_PACKAGES+=("${TEST_PACKAGES[@]}")
    install_packages
    fetch_data all
    ;;
  -h|--help|help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
log "done"
