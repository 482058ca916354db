#!/usr/bin/env bash
# Self-play on Ray against the process pool (issue 25), on Connect Four at the same settings:
# the pool in this process (1 worker) and with 2 worker processes, Ray actors (1 and 2) on a
# local Ray, and 2 actors on a two-node cluster on this host (`ray start --head` and a second
# `ray start --address` on the loopback, one CPU each). Games/hour counts iterations 2 on (the
# first pays for Ray's and the workers' start), from each run's iteration_s; every run ends
# with the same strength check. Nothing else may run meanwhile: these are timings.
#   experiments/ray-selfplay.sh [BASE_DIR]      (default runs/ray-selfplay)
# Results: experiments/results/ray-selfplay.md
set -euo pipefail
BASE=${1:-runs/ray-selfplay}
RL=${RL:-rl}
RAY=${RAY:-ray}
PORT=${PORT:-6390}
COMMON=(--game connect_four --simulations 50 --games-per-iteration 32 --iterations 8
        --train-steps 50 --threads 1 --seed 0 --eval-every 8 --eval-games 20
        --eval-simulations 50 --eval-opponents minimax:4 --no-progress --overwrite)
mkdir -p "$BASE"
run() {  # name, flags...
  local name=$1; shift
  [ -f "$BASE/$name/summary.json" ] && return
  $RL train alphazero "${COMMON[@]}" "$@" --run-dir "$BASE/$name" > "$BASE/$name.log" 2>&1
}
run pool-1 --workers 1
run pool-2 --workers 2
run ray-1 --workers 1 --ray auto
run ray-2 --workers 2 --ray auto
if [ ! -f "$BASE/ray-2-nodes/summary.json" ]; then
  export RAY_AUTH_MODE=token  # `ray start --head` turns token authentication on; nodes join with it
  $RAY start --head --port "$PORT" --num-cpus 1 --include-dashboard false > "$BASE/ray-head.log" 2>&1
  $RAY start --address "127.0.0.1:$PORT" --num-cpus 1 > "$BASE/ray-node.log" 2>&1 || true
  trap '$RAY stop --force > /dev/null 2>&1' EXIT
  run ray-2-nodes --workers 2 --ray "127.0.0.1:$PORT"
fi
python - "$BASE" <<'EOF'
import csv, json, sys
from pathlib import Path
base = Path(sys.argv[1])
print("| run | games/hour (iterations 2-8) | ratio to pool-2 | win rate vs minimax:4 | "
      "policy loss at 8 | value loss at 8 |")
print("| --- | --- | --- | --- | --- | --- |")
rate = {}
for name in ("pool-1", "pool-2", "ray-1", "ray-2", "ray-2-nodes"):
    path = base / name / "metrics.csv"
    if not path.exists():
        continue
    rows = [r for r in csv.DictReader(path.open()) if int(r["iteration"]) >= 2]
    games = 32 * len(rows)
    rate[name] = games / sum(float(r["iteration_s"]) for r in rows) * 3600
    last = rows[-1]
    ratio = rate[name] / rate["pool-2"] if "pool-2" in rate else float("nan")
    print(f"| {name} | {rate[name]:.0f} | {ratio:.2f} | {last.get('vs_minimax4_win')} | "
          f"{float(last['policy_loss']):.3f} | {float(last['value_loss']):.3f} |")
json.dump(rate, open(base / "games_per_hour.json", "w"), indent=1)
EOF
