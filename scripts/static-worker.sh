#!/usr/bin/env bash
# Run:  scripts/static-worker.sh OUT      (e.g. scripts/static-worker.sh dist/tailsweep)
#
# Builds a `tailsweep` binary that runs on machines without the Swift toolchain: release, the
# Swift runtime and Foundation linked statically (`--static-swift-stdlib`), Haswell code like
# `make release`. Only system libraries stay dynamic (libzmq, OpenBLAS, libcrypto, libsqlite3,
# glibc, libstdc++…; docs/cluster.md, "Static worker binaries"). Copies it to OUT (only when
# it changed; the build itself is incremental, in $TAILSWEEP_STATIC_SCRATCH [.build-static]).
# Fails if `ldd OUT` still names a Swift runtime or Foundation library.
# Prints on stdout: OUT's absolute path, its size, then one line per dynamic library
# (`soname => path`, from ldd). Build output goes to stderr.
set -euo pipefail

die() { printf 'static-worker: error: %s\n' "$*" >&2; exit 1; }
[ "$#" -eq 1 ] && [ -n "$1" ] || { sed -n '2p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
out="$1"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
[ -d "$(dirname "$out")" ] || mkdir -p "$(dirname "$out")"

cd "$(dirname "$0")/.."
swift="${SWIFT:-swift}"
scratch="${TAILSWEEP_STATIC_SCRATCH:-.build-static}"
# The whole package (these development switches would drop the product), without the live web
# view (FlyingFox needs FoundationNetworking, which a static binary could only have with libcurl;
# a worker serves no web pages): `serve` and `--http` are not in this binary.
unset TAILSWEEP_ONLY TAILSWEEP_FUZZ
export TAILSWEEP_NO_SERVE=1
flags=(-c release --static-swift-stdlib -Xswiftc -target-cpu -Xswiftc haswell
  --scratch-path "$scratch" --product tailsweep)

start=$SECONDS
"$swift" build "${flags[@]}" >&2 || die "swift build failed"
bin="$("$swift" build "${flags[@]}" --show-bin-path)/tailsweep"
[ -x "$bin" ] || die "no binary at $bin"
echo "static-worker: built in $((SECONDS - start)) s: $bin" >&2

if ! cmp -s "$bin" "$out"; then
  tmp="$out.tmp.$$"
  cp "$bin" "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out"
fi

deps="$(ldd "$out")" || die "ldd $out failed"
if grep -Eq 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|not found' <<<"$deps"; then
  printf '%s\n' "$deps" >&2
  die "$out still needs the Swift runtime, Foundation, or a missing library"
fi
echo "$out"
echo "size: $(stat -c %s "$out") bytes"
# `soname => path`; the vDSO and the loader have no `=>` of their own.
awk '$2 == "=>" { print $1, "=>", $3; next } { print $1 }' <<<"$deps"
