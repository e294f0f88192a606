#!/usr/bin/env bash
# Negative controls for scripts/book-browser-test.py: shows the browser test can fail, and for
# the right reason. Copies book/ (sources with src/generated, not build/) into a temporary
# directory beside a symlink to crates/ (the chapters include ../../crates/...), then builds
# and tests one page three times with `pg book` (the copied generated files and their cache
# stamps make each build only the HTML when the book was built before):
#   control  the page unmodified: the browser test must pass it;
#   (a)      a figure include moved into a list item and indented by 4 more spaces than the
#            item's text, so it turns into an indented code block: the test must report the
#            figure's source inside code;
#   (b)      the closing fence of a code block before a `## ` heading deleted, so the block
#            runs on and swallows the heading: the test must report the heading missing
#            (not an h2 / not in the sidebar) or markdown inside code.
# Exits 0 only if all three behave so.
# Usage: bash scripts/book-browser-selftest.sh [PAGE]   (default 02-causality; needs
# target/release/pg, built by `cargo build --release -p pg-lab`, and target/venv)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PAGE="${1:-02-causality}"
PY="${PY:-$ROOT/target/venv/bin/python}"
PG="$ROOT/target/release/pg"
[ -x "$PG" ] || { echo "book-browser-selftest: no $PG (cargo build --release -p pg-lab)"; exit 2; }
[ -f "book/src/$PAGE.md" ] || { echo "book-browser-selftest: no book/src/$PAGE.md"; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/book-selftest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ln -s "$ROOT/crates" "$WORK/crates"
mkdir "$WORK/book"
tar -C book --exclude=./build -cf - . | tar -C "$WORK/book" -xf -
MD="$WORK/book/src/$PAGE.md"
cp "$MD" "$WORK/original.md"

# Builds the copy with the page's markdown taken from file $1 and runs the browser test on
# the page; prints the test's output and leaves its exit status in $test_status.
run() {
  cp "$1" "$MD"
  if ! "$PG" book --book-dir "$WORK/book" >"$WORK/pg-book.log" 2>&1; then
    tail -20 "$WORK/pg-book.log"
    echo "book-browser-selftest: pg book failed on the copy"
    exit 2
  fi
  test_status=0
  "$PY" scripts/book-browser-test.py --book "$WORK/book" --page "$PAGE" --shots "$WORK/shots" \
    >"$WORK/out.txt" 2>&1 || test_status=$?
  sed 's/^/    | /' "$WORK/out.txt"
}

failures=0
# expect NAME STATUS [REGEX]: the test exited with STATUS and (if given) printed REGEX.
expect() {
  if [ "$test_status" -eq "$2" ] && { [ -z "${3:-}" ] || grep -Eq "$3" "$WORK/out.txt"; }; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected exit status $2${3:+ and a line matching /$3/}, got $test_status"
    failures=$((failures + 1))
  fi
}

echo "control: $PAGE unmodified"
run "$WORK/original.md"
expect "control: the unmodified page passes" 0

echo "(a) a figure include indented inside a list item"
python3 - "$WORK/original.md" >"$WORK/variant.md" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
include = re.search(r"^\{\{#include generated/[^}]+\.html\}\}$", text, re.M)
if not include:
    sys.exit("the page includes no figure")
sys.stdout.write(text[:include.start()] + "- The figure:\n\n      " + text[include.start():])
EOF
run "$WORK/variant.md"
expect "(a) fails" 1
expect "(a) names the figure's source inside code" 1 "figure source inside code"

echo "(b) an unclosed code fence before a ## heading"
python3 - "$WORK/original.md" >"$WORK/variant.md" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
in_code, last_close = False, None
for i, line in enumerate(lines):
    if line.startswith("```"):
        if in_code and line.strip() == "```":
            last_close = i
        in_code = not in_code
    elif line.startswith("## ") and not in_code and last_close is not None:
        del lines[last_close]  # the block before this heading now runs on through it
        break
else:
    sys.exit("no code block before a ## heading")
sys.stdout.write("\n".join(lines))
EOF
run "$WORK/variant.md"
expect "(b) fails" 1
expect "(b) names the swallowed heading" 1 "is not an h2|missing from the sidebar|markdown inside code"

[ "$failures" -eq 0 ] && echo "self-test passed" || echo "self-test FAILED ($failures)"
[ "$failures" -eq 0 ]
