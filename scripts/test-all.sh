#!/usr/bin/env bash
# The one test command. On a fresh machine it first installs what is missing
# (rust-src, the wasm32-unknown-unknown target, the evcxr Jupyter kernel,
# Python's nbclient and websocket-client, Debian's chromium), then runs
# formatting, clippy, every test (unit, integration, property, doc), a check
# that the library crates build for WebAssembly, the book build (which also
# compiles the Play page's module), the browser test of the built book, the
# browser test of the Play page, and every notebook, and closes with one
# summary line.
# Usage: bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261126}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*" >&2; }
START=$(date +%s)

step "installing what is missing"
for component in rust-src rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi
if ! command -v evcxr_jupyter >/dev/null 2>&1; then
  cargo install --locked evcxr_jupyter --version 0.22.0
fi
# Python packages live in a virtual environment under target/, so a system
# Python that refuses `pip install` cannot break the run.
VENV="$ROOT/target/venv"
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p target
  python3 -m venv "$VENV" || {
    python3 -m pip install --user --quiet virtualenv && python3 -m virtualenv "$VENV"
  }
fi
PY="$VENV/bin/python"
if ! "$PY" -c 'import nbclient, nbformat, jupyter_client, websocket' >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check nbclient nbformat jupyter_client websocket-client
fi
# Chromium for the browser test of the book (CI runs as root; elsewhere sudo if
# there is one). A failed install is not fatal: the browser test then fails.
if ! command -v chromium >/dev/null 2>&1; then
  as_root=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then as_root=(sudo); fi
  { "${as_root[@]}" apt-get update && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } ||
    echo "could not install chromium: the browser test of the book will fail" >&2
fi
if ! "$PY" -c 'import jupyter_client.kernelspec as k, sys; sys.exit("rust" not in k.find_kernel_specs())' 2>/dev/null; then
  evcxr_jupyter --install
fi

step "formatting"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (unit, integration, property and doc tests)"
mkdir -p target
set +e
cargo test --workspace --locked --no-fail-fast >target/test-output.txt 2>&1
test_status=$?
set -e
grep -E '^(     Running|   Doc-tests|test result)' target/test-output.txt || true
if [ "$test_status" -ne 0 ]; then
  grep -E -A40 '^failures:' target/test-output.txt | head -150 || tail -60 target/test-output.txt
fi

step "the library crates build for WebAssembly (cargo check --target wasm32-unknown-unknown)"
wasm_status=0
cargo check --locked --target wasm32-unknown-unknown -p pg-core -p pg-likelihood-ratio -p pg-causality \
  -p pg-baselines -p pg-surrogate -p pg-importance-sampling -p pg-kl-constraint -p pg-speed -p pg-play || wasm_status=$?

step "building the book (cargo run --release -p pg-lab -- book)"
book_status=0
cargo run --release --locked -p pg-lab -- book || book_status=$?

step "browser test of the built book (negative controls, then every page)"
selftest_status=0
PY="$PY" bash scripts/book-browser-selftest.sh || selftest_status=$?
browser_status=none
if [ "$book_status" -eq 0 ]; then
  browser_status=0
  "$PY" scripts/book-browser-test.py --shots target/book-shots || browser_status=$?
else
  echo "the book did not build: no browser test of it" >&2
fi

step "browser test of the Play page (training in the page against pg train, bit for bit)"
play_status=none
if [ "$book_status" -eq 0 ]; then
  play_status=0
  "$PY" scripts/play-browser-test.py || play_status=$?
else
  echo "the book did not build: no browser test of the Play page" >&2
fi

step "notebooks (evcxr kernel, headless)"
mkdir -p target/evcxr-config
printf 'preserve_vars_on_panic = false\n' >target/evcxr-config/evcxr.toml
nb_status=0
EVCXR_CONFIG_DIR="$ROOT/target/evcxr-config" "$PY" scripts/run-notebooks.py || nb_status=$?

count() { grep -E '^test result' target/test-output.txt | grep -oE "[0-9]+ $1" | awk '{n += $1} END {print n + 0}'; }
passed=$(count passed)
failed=$(count failed)
[ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1  # a build failure runs no test
[ "$wasm_status" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
[ "$book_status" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
[ "$nb_status" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
[ "$selftest_status" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
for status in "$browser_status" "$play_status"; do
  if [ "$status" != none ]; then
    [ "$status" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
  fi
done
echo "total wall time: $(($(date +%s) - START)) s" >&2
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
