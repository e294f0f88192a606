#!/usr/bin/env bash
# Mutation testing of the estimator, update and math code of every chapter
# crate and of pg-core's policies and environments (the list is
# mutants/scope.txt). cargo-mutants changes one
# thing at a time (an operator, a constant, a function's result) and runs the
# mutated crate's own tests (`cargo test -p <crate>`): a mutant that survives
# is a change the chapter's tests do not notice.
#
# Usage: bash scripts/mutants.sh [--iterate | --shard K/N] [crate ...]
#        (default: every crate of mutants/scope.txt)
# Installs cargo-mutants when it is missing. Each crate's results go to
# target/mutants/<crate>/mutants.out (caught.txt, missed.txt, unviable.txt,
# timeout.txt, outcomes.json), and scripts/mutants-record.py adds the counts
# and the survivors' names to mutants/results.json: a crate's first run is
# its "before", later runs its "after". --iterate retests only the mutants
# the crate's last run did not catch (after new tests, say). --shard K/N
# runs the K-th of N slices (round robin) of each crate's mutants, so that a
# long crate can be run in pieces; the record counts the crate once all N
# slices are in, and a later --iterate starts from all of them. The book's page
# "How we know" shows the table; mutants/equivalent.json says why each
# survivor is left. The test command does not run this: on two cores the
# whole list takes hours.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A FILES=() OPT=() SKIP=()
ORDER=()
while read -r krate words; do
  case $krate in '' | '#'*) continue ;; esac
  files=
  for w in $words; do
    case $w in
      opt-level=*) OPT[$krate]=${w#opt-level=} ;;
      skip=*) SKIP[$krate]=${w#skip=} ;;
      *) files="$files $w" ;;
    esac
  done
  FILES[$krate]=${files# }
  ORDER+=("$krate")
done <mutants/scope.txt

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked cargo-mutants --version 27.1.0
fi

# No debug info: each mutant is rebuilt and linked, and nothing here reads it.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0

iterate=()
shard=()
if [ "${1:-}" = --iterate ]; then
  iterate=(--iterate)
  shift
elif [ "${1:-}" = --shard ]; then
  if ! [[ ${2:-} =~ ^([0-9]+)/([0-9]+)$ ]] || [ "${BASH_REMATCH[1]}" -ge "${BASH_REMATCH[2]}" ]; then
    echo "mutants.sh: --shard takes K/N with 0 <= K < N, e.g. 0/4 (got '${2:-}')" >&2
    exit 2
  fi
  shard=(--shard "$2")
  shift 2
fi
crates=("$@")
[ ${#crates[@]} -eq 0 ] && crates=("${ORDER[@]}")
for krate in "${crates[@]}"; do
  if [ -z "${FILES[$krate]+x}" ]; then
    echo "mutants.sh: unknown crate $krate (one of: ${ORDER[*]})" >&2
    exit 2
  fi
  args=()
  for f in ${FILES[$krate]}; do args+=(-f "crates/$krate/$f"); done
  out="target/mutants/$krate"
  [ ${#shard[@]} -gt 0 ] && out="target/mutants/$krate/shard-${shard[1]/\//-of-}"
  mkdir -p "$out"
  if [ ${#iterate[@]} -gt 0 ]; then
    if [ ! -f "$out/mutants.out/outcomes.json" ] && compgen -G "$out/shard-*/mutants.out/outcomes.json" >/dev/null; then
      # A crate run in slices: the first --iterate starts from all of them.
      # Whatever they caught, timed out on or could not build is skipped; the
      # recorder checks the count against the crate's record.
      mkdir -p "$out/mutants.out"
      # (A slice without timeouts, say, has no such file.)
      { cat "$out"/shard-*/mutants.out/{caught,timeout,unviable,previously_caught}.txt 2>/dev/null || true; } |
        sort -u >"$out/mutants.out/previously_caught.txt"
      : >"$out/mutants.out/caught.txt"
      : >"$out/mutants.out/unviable.txt"
    elif [ ! -f "$out/mutants.out/outcomes.json" ]; then
      echo "mutants.sh: --iterate needs an earlier run of $krate in $out" >&2
      exit 2
    fi
    # Mutants are named by file, line and column: iterating on moved code would miscount.
    if ! python3 scripts/mutants-record.py --check-unchanged "$krate" ${FILES[$krate]}; then
      exit 2
    fi
  fi
  echo "==> $krate" >&2
  # Status 2 (mutants survived) and 3 (some timed out) are the report, not a failure of the run.
  status=0
  # The tree as cargo-mutants copies it now: later edits do not reach this run.
  # "+changes" marks uncommitted edits to the crate itself.
  commit=$(git rev-parse --short HEAD)
  [ -n "$(git status --porcelain --untracked-files=no -- "crates/$krate")" ] && commit="$commit+changes"
  # Tests the scope names with skip= do not run on the mutants (slow checks of the book's output).
  skip=()
  names=${SKIP[$krate]:-}
  for t in ${names//,/ }; do skip+=(--skip "$t"); done
  [ ${#skip[@]} -gt 0 ] && skip=(-- -- "${skip[@]}")
  CARGO_PROFILE_TEST_OPT_LEVEL=${OPT[$krate]:-2} cargo mutants -p "$krate" "${args[@]}" --output "$out" --no-shuffle "${iterate[@]}" "${shard[@]}" ${shard:+--sharding round-robin} "${skip[@]}" || status=$?
  case $status in 0 | 2 | 3) ;; *) exit "$status" ;; esac
  MUTANTS_COMMIT=$commit python3 scripts/mutants-record.py "${shard[@]}" "$krate" "$out/mutants.out" ${FILES[$krate]}
done
