#!/usr/bin/env bash
# Benchmarks on a release build. Run: scripts/bench.sh   (or: make bench)
# Prints tables and the commands that reproduce them. Numbers depend on the machine and on
# what else runs on it: run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -target-cpu -Xswiftc haswell >/dev/null
BIN=.build/release/tailsweep
export OPENBLAS_NUM_THREADS=1
echo "== time per SGD iteration (one thread) =="
"$BIN" bench train --shapes 100:784:1000,5000:784:5000 --noise-types 1,2 --iterations 50
echo
echo "== VGG-11-wide SGD step against its sgemm calls (one thread) =="
"$BIN" bench conv --channels 0.03125,0.0625,0.125,0.25 --images 1:28:28,3:32:32 --batch 100 --iterations 3
echo
echo "== dispatch: null trials through the coordinator, 2 local workers, group commit =="
"$BIN" bench dispatch --workers 2 --trials 1000,10000,100000
echo
echo "== a coordinator under 1000 heartbeating workers (2 s null trials) =="
"$BIN" bench fleet --workers 1000 --trial-ms 2000 --seconds 30
echo
echo "== α-stable noise sampler: draws per second, one thread =="
"$BIN" bench noise
