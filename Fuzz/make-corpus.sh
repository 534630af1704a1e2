#!/usr/bin/env bash
# Regenerates the committed seed corpora Fuzz/corpus/<target>/ from the fuzz binaries' own
# seed writers (real frames from WireCodec.encode, generated and edge-case files, small cuts of
# data/ when present) plus the sweep files in sweeps/. Run after scripts/fuzz.sh has built the
# targets (or it builds them): Fuzz/make-corpus.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bin=".build-fuzz/debug"
if [ ! -x "$bin/FuzzWire" ] || [ ! -x "$bin/FuzzSweep" ] || [ ! -x "$bin/FuzzData" ]; then
  scripts/fuzz.sh --build-only
fi
for t in FuzzWire FuzzSweep FuzzData; do
  rm -rf "Fuzz/corpus/$t"
  mkdir -p "Fuzz/corpus/$t"
  TAILSWEEP_FUZZ_SEEDS="$repo/Fuzz/corpus/$t" TAILSWEEP_DATA_DIR="${TAILSWEEP_DATA:-$repo/data}" \
    SWIFT_BACKTRACE=enable=no "$bin/$t" >/dev/null
done
for f in sweeps/*.yaml; do
  cp "$f" "Fuzz/corpus/FuzzSweep/sweep-$(basename "$f" .yaml)"
done
for t in FuzzWire FuzzSweep FuzzData; do
  echo "Fuzz/corpus/$t: $(find "Fuzz/corpus/$t" -type f | wc -l) files"
done
