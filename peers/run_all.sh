#!/usr/bin/env bash
# Measures every peer and writes peers/peers.json (the runs' seconds in it add up to the time it takes).
# Run it with nothing else busy: the figures are seconds.
#   PEERS_VENV   the virtual environment to use or create (default target/peers-venv)
#   PEERS_SMOKE=1  one short run of each script into target/peers-smoke.json, to check the set-up
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PEERS_VENV:-target/peers-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -r peers/requirements.txt
fi
py="$venv/bin/python"
cores="$(nproc)"
if [ "${PEERS_SMOKE:-0}" = 1 ]; then
  mkdir -p target
  out=target/peers-smoke.json
  rm -f "$out"
  "$py" peers/reinforce_torch.py --seeds 1 --max-steps 20000 --out "$out"
  "$py" peers/ppo_sb3.py --seeds 1 --max-steps 5000 --out "$out"
  "$py" peers/ppo_sb3_pendulum.py --seeds 1 --budgets 4096 8192 --out "$out"
  exit
fi
"$py" peers/reinforce_torch.py --threads 1
[ "$cores" -gt 1 ] && "$py" peers/reinforce_torch.py --threads "$cores"
"$py" peers/ppo_sb3.py
"$py" peers/ppo_sb3_pendulum.py
echo "wrote peers/peers.json; the next pg book shows it in chapters 6 and 7"
