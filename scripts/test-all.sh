#!/usr/bin/env bash
# The one test command: installs what is missing, then runs formatting, lints,
# every test (unit, integration, property, doc), the book build and every notebook.
# Usage: bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261126}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*" >&2; }

step "formatting"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
mkdir -p target
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt | grep -E '^(test result|error|failures:|---- )' || true
# Close with the runner's own summary lines.
if grep -q -E '^test result: FAILED|^error' target/test-output.txt; then
  grep -E -B2 -A20 '^failures:' target/test-output.txt | tail -80
  echo "tests failed" >&2
  exit 1
fi
passed=$(grep -E '^test result' target/test-output.txt | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/' | awk '{p+=$1; f+=$2} END {print p" "f}')
echo "test result: ok. ${passed% *} passed; ${passed#* } failed"
