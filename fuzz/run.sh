#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on stable
# Rust (no cargo-fuzz, no nightly) and runs one of them on its corpus.
#
#   fuzz/run.sh build                 # build every target
#   fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]
#
# A run fuzzes fuzz/corpus/TARGET (kept small in git; new inputs go to a
# scratch directory under the target dir) for SECONDS (default 60) and leaves
# any crash in fuzz/artifacts/TARGET/. The same targets also build with
# `cargo fuzz run TARGET` where cargo-fuzz is installed.
set -euo pipefail
cd "$(dirname "$0")"
triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
flags=(--cfg fuzzing -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares)
# RUSTFLAGS reach only the target crates because --target is given: build
# scripts and proc macros stay uninstrumented, as with cargo-fuzz.
RUSTFLAGS="${flags[*]}" cargo build --release --locked --target "$triple" --bins
[ "${1:-build}" = build ] && exit 0
target=$1 seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
scratch="$CARGO_TARGET_DIR/fuzz-corpus/$target"
mkdir -p "$scratch" "artifacts/$target"
exec "$CARGO_TARGET_DIR/$triple/release/$target" "$scratch" "corpus/$target" \
  -max_total_time="$seconds" -artifact_prefix="artifacts/$target/" -print_final_stats=1 "$@"
