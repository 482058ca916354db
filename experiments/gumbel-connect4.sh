#!/usr/bin/env bash
# PUCT against Gumbel AlphaZero's search at few simulations (issue 24), on Connect Four: the
# same settings, 16 simulations a move, one thread each (the two runs side by side on the 2
# cores), strength against MCTSBot-200 and alpha-beta depth 4 every 5 iterations, evaluated
# at 50 simulations for both. Run again, it resumes.
#   experiments/gumbel-connect4.sh [BASE_DIR]      (default runs/gumbel-c4)
set -euo pipefail
BASE=${1:-runs/gumbel-c4}
RL=${RL:-rl}
COMMON=(--game connect_four --simulations 16 --iterations 60 --workers 1 --threads 1
        --eval-every 5 --eval-games 20 --eval-simulations 50
        --eval-opponents mcts:200,minimax:4 --seed 0 --no-progress)
for search in puct gumbel; do
  run="$BASE/$search"
  if [ -f "$run/summary.json" ]; then continue; fi
  if [ -d "$run" ]; then
    $RL train alphazero --resume "$run" > "$BASE/$search.log" 2>&1 &
  else
    mkdir -p "$BASE"
    $RL train alphazero "${COMMON[@]}" --search "$search" --run-dir "$run" \
      > "$BASE/$search.log" 2>&1 &
  fi
done
wait
$RL compare "$BASE/puct" "$BASE/gumbel" --metric vs_mcts200_win --out "$BASE/vs_mcts200.png"
