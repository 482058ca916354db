#!/usr/bin/env bash
# PUCT against Gumbel AlphaZero's search at few simulations (issue 24), on Connect Four: the
# preset's settings, 4 or 16 simulations a move, one thread a run (two runs side by side on
# the 2 cores), strength against MCTSBot-200 and alpha-beta depth 4 every 5 iterations (20
# games each), evaluated at 50 simulations for all. Run again, finished runs are skipped.
#   experiments/gumbel-connect4.sh [BASE_DIR]      (default runs/gumbel-c4)
# Results: experiments/results/alphazero.md ("Gumbel against PUCT").
set -euo pipefail
BASE=${1:-runs/gumbel-c4}
RL=${RL:-rl}
COMMON=(--game connect_four --iterations 60 --workers 1 --threads 1 --eval-every 5
        --eval-games 20 --eval-simulations 50 --eval-opponents mcts:200,minimax:4 --seed 0
        --no-progress)
declare -A RUNS=(
  [puct]="--simulations 16"
  [gumbel]="--simulations 16 --search gumbel --c-scale 1.0"
  [gumbel-cscale0.1]="--simulations 16 --search gumbel --c-scale 0.1"
  [puct-sims4]="--simulations 4"
  [gumbel-sims4]="--simulations 4 --search gumbel --c-scale 1.0"
)
mkdir -p "$BASE"
n=0
for name in puct gumbel gumbel-cscale0.1 puct-sims4 gumbel-sims4; do
  [ -f "$BASE/$name/summary.json" ] && continue
  # shellcheck disable=SC2086  # the settings are words
  $RL train alphazero "${COMMON[@]}" ${RUNS[$name]} --run-dir "$BASE/$name" --overwrite \
    > "$BASE/$name.log" 2>&1 &
  n=$((n + 1))
  if [ $((n % 2)) = 0 ]; then wait; fi
done
wait
$RL compare "$BASE"/puct "$BASE"/gumbel "$BASE"/gumbel-cscale0.1 --metric vs_mcts200_win \
  --out "$BASE/vs_mcts200.png"
