#!/usr/bin/env bash
# Fuzzes `pg train`'s command line with many more cases than the test command
# runs (300): argument vectors from the real flag set, each parsed and built as
# given (under the harness's memory budget when it gives none) and stepped for a
# few iterations, in a process limited to that budget (see
# crates/pg-play/tests/fuzz.rs).
# Usage: bash scripts/fuzz-train.sh [CASES] (default 5000); PG_FUZZ_VERBOSE=1 prints each outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-5000}"
PG_FUZZ_CASES="$cases" cargo test --locked -p pg-play --test fuzz -- --nocapture
