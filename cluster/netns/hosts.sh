#!/usr/bin/env bash
# Run:  cluster/netns/hosts.sh up N | down | list | addr HOST | pids HOST | exec HOST CMD… | cut HOST | heal HOST
#
# Hosts made of Linux network namespaces, for testing the distributed path on one machine
# (root only; docs/cluster.md; facts in shared/docs/cluster-notes.md). `up N` makes a "switch"
# namespace holding a bridge and N+1 hosts, `coordinator` and `w1`…`wN`, each a namespace joined
# to the bridge by a veth pair, with `lo` up and one address in a private /24 that exists only
# inside these namespaces (no default route; the root namespace is not touched):
#   coordinator  SUBNET.10        wK  SUBNET.(10+K)
#
#   up N          create the switch and the hosts (refuses when hosts with this prefix exist)
#   down          for every namespace with the prefix: cut its link, SIGKILL every PID in it
#                 (by PID, from `ip netns pids`), wait for them to die, delete link and namespace
#   list          one line per host: name, namespace, address, link state (up/cut)
#   addr HOST     the host's address
#   pids HOST     PIDs running in the host
#   exec HOST CMD…  run CMD in the host (`ip netns exec`, which keeps the PID: exec is used)
#   cut HOST      partition HOST: its switch-side veth goes down (its processes keep running)
#   heal HOST     bring the link back
#
# Environment: TSW_PREFIX name prefix of namespaces [tsw-]; TSW_SUBNET first three octets of the
# private /24 [10.231.7]. Use another prefix and subnet to run two harnesses side by side.
set -euo pipefail

prefix="${TSW_PREFIX:-tsw-}"
subnet="${TSW_SUBNET:-10.231.7}"
switch="${prefix}sw"

die() { printf 'hosts: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

case "$prefix" in '' | *[!a-z0-9-]*) die "TSW_PREFIX must be lower-case letters, digits and '-'" ;; esac
[ "${#prefix}" -le 6 ] || die "TSW_PREFIX is at most 6 characters (interface names are short)"
[[ "$subnet" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "TSW_SUBNET must be three octets, e.g. 10.231.7"
[ "$(id -u)" -eq 0 ] || die "network namespaces need root"
command -v ip >/dev/null 2>&1 || {
  echo "hosts: installing iproute2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 >&2 ||
    die "iproute2 (the ip command) is missing"
}

# Host namespaces of this harness (not the switch).
namespaces() { ip netns list | awk '{print $1}' | grep -E "^${prefix}(coordinator|w[0-9]+)$" || true; }
host_ns() { printf '%s%s' "$prefix" "$1"; }
link_name() { printf 'h-%s' "$1"; } # switch-side veth of a host (<= 15 characters)

check_host() {
  [[ "$1" =~ ^(coordinator|w[1-9][0-9]{0,2})$ ]] || die "host must be coordinator or wK, got '$1'"
  ip netns list | awk '{print $1}' | grep -qxF "$(host_ns "$1")" || die "no host '$1' (run: hosts.sh up N)"
}

address() {
  case "$1" in
    coordinator) echo "$subnet.10" ;;
    w*) echo "$subnet.$((10 + ${1#w}))" ;;
  esac
}

cmd_up() {
  local n="${1:-}"
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]] || [ "$n" -gt 200 ]; then die "up needs a worker count in 1…200"; fi
  if [ -n "$(namespaces)" ] || ip netns list | awk '{print $1}' | grep -qxF "$switch"; then
    die "namespaces with prefix '$prefix' exist already (run: hosts.sh down)"
  fi
  ip netns add "$switch"
  ip -n "$switch" link set lo up
  ip -n "$switch" link add br0 type bridge
  ip -n "$switch" link set br0 up
  local host hosts=(coordinator)
  for ((k = 1; k <= n; k++)); do hosts+=("w$k"); done
  for host in "${hosts[@]}"; do
    local ns link
    ns="$(host_ns "$host")"
    link="$(link_name "$host")"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Both ends are created inside namespaces: nothing appears in the root namespace.
    ip -n "$switch" link add "$link" type veth peer name eth0 netns "$ns"
    ip -n "$switch" link set "$link" master br0
    ip -n "$switch" link set "$link" up
    ip -n "$ns" addr add "$(address "$host")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  echo "hosts: up: ${hosts[*]} on $subnet.0/24 (prefix $prefix)" >&2
}

# kill_ns NS: SIGKILL every process in NS by PID, until none is left (at most ~5 s).
kill_ns() {
  local ns="$1" _ pids
  for _ in $(seq 50); do
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  echo "hosts: warning: processes still in $ns: $(ip netns pids "$ns" | tr '\n' ' ')" >&2
}

cmd_down() {
  local ns host
  # Cut every link first, so that no peer learns of the kills through FIN/RST.
  for ns in $(namespaces); do
    host="${ns#"$prefix"}"
    ip -n "$switch" link set "$(link_name "$host")" down 2>/dev/null || true
  done
  for ns in $(namespaces); do
    host="${ns#"$prefix"}"
    kill_ns "$ns"
    ip -n "$switch" link del "$(link_name "$host")" 2>/dev/null || true
    ip netns del "$ns"
  done
  if ip netns list | awk '{print $1}' | grep -qxF "$switch"; then
    kill_ns "$switch"
    ip netns del "$switch"
  fi
  echo "hosts: down (prefix $prefix)" >&2
}

cmd_list() {
  local ns host state
  for ns in $(namespaces); do
    host="${ns#"$prefix"}"
    if ip -n "$switch" -o link show "$(link_name "$host")" 2>/dev/null | grep -q '[<,]UP[,>]'; then
      state='up'
    else
      state='cut'
    fi
    printf '%s\t%s\t%s\t%s\n' "$host" "$ns" "$(address "$host")" "$state"
  done
}

case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) cmd_down ;;
  list) cmd_list ;;
  addr) check_host "${2:-}"; address "$2" ;;
  pids) check_host "${2:-}"; ip netns pids "$(host_ns "$2")" ;;
  exec)
    check_host "${2:-}"
    ns="$(host_ns "$2")"
    shift 2
    [ "$#" -gt 0 ] || usage
    exec ip netns exec "$ns" "$@"
    ;;
  cut) check_host "${2:-}"; ip -n "$switch" link set "$(link_name "$2")" down ;;
  heal) check_host "${2:-}"; ip -n "$switch" link set "$(link_name "$2")" up ;;
  *) usage ;;
esac
