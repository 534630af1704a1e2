#!/usr/bin/env bash
# Run:  cluster/netns/ssh-hosts.sh start DIR HOST… | stop DIR
#
# Real OpenSSH servers on namespace hosts (cluster/netns/hosts.sh, root only), so that the ssh
# launcher (cluster/ssh/launch-workers.sh) can be tried through real sshd on one machine.
#
#   start DIR HOST…  makes, in DIR (created, mode 0700): a client key `id_ed25519`, one host
#                    key, `authorized_keys`, `sshd_config`; starts Debian's /usr/sbin/sshd on
#                    port 22 inside each HOST (w1, w2, …; key login as root only, no password,
#                    no PAM); writes `ssh_config` (names the hosts, pins their host key, batch
#                    mode) and `hostfile` (one `HOST 1` line per host). Ssh from the coordinator
#                    host: `hosts.sh exec coordinator ssh -F DIR/ssh_config w1 true`.
#   stop DIR         stops the sshd of every host started with DIR (by the PIDs in DIR) and
#                    removes nothing else; `hosts.sh down` kills them too.
#
# Environment as hosts.sh: TSW_PREFIX, TSW_SUBNET. Needs the Debian packages openssh-server and
# openssh-client (`scripts/setup.sh test` installs them). Logs: DIR/sshd-HOST.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
hosts="$here/hosts.sh"

die() { printf 'ssh-hosts: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ "$#" -ge 2 ] || usage
command="$1"
dir="$2"
shift 2
[ "$(id -u)" -eq 0 ] || die "sshd on namespace hosts needs root"
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac

cmd_start() {
  [ "$#" -ge 1 ] || usage
  [ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing (apt-get install openssh-server)"
  command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen is missing (apt-get install openssh-client)"
  local host
  for host in "$@"; do
    [[ "$host" =~ ^w[1-9][0-9]{0,2}$ ]] || die "hosts are w1, w2, …, got '$host'"
    "$hosts" addr "$host" >/dev/null || die "no namespace host '$host' (run: hosts.sh up N)"
  done
  mkdir -p "$dir"
  chmod 0700 "$dir"
  # sshd's privilege separation folder (root-owned, not writable by others).
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
  [ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C tailsweep-test -f "$dir/id_ed25519"
  [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C tailsweep-host -f "$dir/host_ed25519"
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
  chmod 0600 "$dir/authorized_keys"
  : >"$dir/ssh_config"
  : >"$dir/known_hosts"
  : >"$dir/hostfile"
  local address pub
  pub="$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")"
  for host in "$@"; do
    address="$("$hosts" addr "$host")"
    cat >"$dir/sshd_config-$host" <<EOF
Port 22
ListenAddress $address
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $dir/sshd-$host.pid
LogLevel VERBOSE
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
EOF
    /usr/sbin/sshd -t -f "$dir/sshd_config-$host" || die "sshd refuses $dir/sshd_config-$host"
    rm -f "$dir/sshd-$host.pid"
    # sshd forks into the background inside the namespace and writes its PID file when ready.
    "$hosts" exec "$host" /usr/sbin/sshd -f "$dir/sshd_config-$host" -E "$dir/sshd-$host.log"
    local i
    for i in $(seq 50); do [ -s "$dir/sshd-$host.pid" ] && break; sleep 0.1; done
    [ -s "$dir/sshd-$host.pid" ] || die "sshd on $host did not start (see $dir/sshd-$host.log)"
    cat >>"$dir/ssh_config" <<EOF
Host $host
  HostName $address
  HostKeyAlias $host
EOF
    echo "$host $pub" >>"$dir/known_hosts"
    echo "$host 1" >>"$dir/hostfile"
  done
  cat >>"$dir/ssh_config" <<EOF
Host *
  User root
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
EOF
  echo "ssh-hosts: sshd on $* (ssh -F $dir/ssh_config HOST, from a namespace host)" >&2
}

cmd_stop() {
  local pidfile pid
  for pidfile in "$dir"/sshd-*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    # Only a process that is still an sshd (the PID may have been reused).
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
  done
  echo "ssh-hosts: stopped" >&2
}

case "$command" in
  start) cmd_start "$@" ;;
  stop) [ "$#" -eq 0 ] || usage; cmd_stop ;;
  *) usage ;;
esac
