#!/usr/bin/env bash
# Mutation testing of the estimator, update and math code of every chapter
# crate and of pg-core's policies and environments. cargo-mutants changes one
# thing at a time (an operator, a constant, a function's result) and runs the
# mutated crate's own tests (`cargo test -p <crate>`): a mutant that survives
# is a change the chapter's tests do not notice.
#
# Usage: bash scripts/mutants.sh [crate ...]   (default: every crate below)
# Installs cargo-mutants when it is missing. Each crate's results go to
# target/mutants/<crate>/mutants.out (caught.txt, missed.txt, unviable.txt,
# timeout.txt, outcomes.json). The test command does not run this: on two
# cores the whole list takes many hours.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A FILES=(
  [pg-core]="src/policy/mod.rs src/policy/tabular.rs src/policy/categorical.rs src/policy/gaussian.rs
             src/policy/bernoulli.rs src/policy/mlp.rs src/env/cartpole.rs src/env/pendulum.rs
             src/env/stay.rs src/env/tabular.rs src/dist.rs src/optim.rs src/rollout.rs src/weights.rs
             src/fastmath.rs"
  [pg-likelihood-ratio]="src/lib.rs src/exact.rs src/update.rs src/train.rs"
  [pg-causality]="src/lib.rs"
  [pg-baselines]="src/lib.rs src/value.rs"
  [pg-surrogate]="src/lib.rs src/normalize.rs"
  [pg-importance-sampling]="src/lib.rs src/reuse.rs"
  [pg-kl-constraint]="src/lib.rs src/natural.rs src/ppo.rs"
  [pg-speed]="src/cartpoles.rs src/lockstep.rs"
)
ORDER=(pg-causality pg-importance-sampling pg-surrogate pg-baselines pg-likelihood-ratio pg-kl-constraint
       pg-speed pg-core)

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked cargo-mutants --version 27.1.0
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
  mkdir -p "$out"
  echo "==> $krate" >&2
  # Status 2 (mutants survived) and 3 (some timed out) are the report, not a failure of the run.
  status=0
  cargo mutants -p "$krate" "${args[@]}" --output "$out" --no-shuffle || status=$?
  case $status in 0 | 2 | 3) ;; *) exit "$status" ;; esac
  for kind in caught missed unviable timeout; do
    printf '%s %s: %s\n' "$krate" "$kind" "$(wc -l <"$out/mutants.out/$kind.txt" 2>/dev/null || echo 0)"
  done
done
