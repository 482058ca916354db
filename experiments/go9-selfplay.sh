#!/usr/bin/env bash
# Go 9x9, AlphaGo's second stage: which search learns faster per hour of the 2 cores
# (issue 24). From one supervised start, self-play runs that differ only in the search, at
# the same simulations a move (100 on a quarter of the moves, 24 on the rest) and 64 games an
# iteration, each with a strength point every 4 iterations against GNU Go level 10 (40 games,
# iteration 0 included); then the curves in one plot, per iteration and per hour of the run.
# The other settings are the seventh leg's of experiments/results/go9.md, the first half of
# the shipped network's recipe (one player per game never passes first, a quarter of the
# games against GNU Go level 8), so the PUCT run is that leg again with its strength curve.
# Run again, it resumes where it stopped.
#   experiments/go9-selfplay.sh [BASE_DIR]      (default runs/go9-selfplay)
# START: the supervised network (default experiments/agents/go9-supervised);
# DATA: GNU Go's games, for the expert anchor and the held-out figures (default data/go9,
# experiments/go9.sh's; the third run's 832 games unpack from
# experiments/results/go9/run-3/expert-games.tar.gz). RUNS="puct" runs one of them.
set -euo pipefail
BASE=${1:-runs/go9-selfplay}
DATA=${DATA:-data/go9}
START=${START:-experiments/agents/go9-supervised}
RL=${RL:-rl}
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
COMMON=(--game go9 --init-model "$START" --pretrain "$DATA" --pretrain-epochs 0
        --pass-first one --opponent-engine "$GNUGO --level 8" --opponent-share 0.25
        --iterations 24 --eval-every 4 --eval-games 40
        --eval-opponents "gtp:$GNUGO --level 10" --seed 0 --no-progress)

declare -A SEARCH=(
  [puct]=""                  # AlphaZero's PUCT, Dirichlet noise, visit counts as targets
  [gumbel]="--search gumbel"  # Gumbel AlphaZero: sequential halving, completed-Q targets
)
for name in ${RUNS:-puct gumbel}; do
  [[ -v SEARCH[$name] ]] || { echo "go9-selfplay.sh: no run '$name' (puct, gumbel)" >&2; exit 2; }
  run="$BASE/$name"
  if [ -f "$run/summary.json" ]; then continue; fi
  if [ -d "$run/checkpoints" ]; then
    $RL train alphazero --resume "$run" --no-progress
  else
    # shellcheck disable=SC2086  # the settings are words
    $RL train alphazero "${COMMON[@]}" ${SEARCH[$name]} --run-dir "$run"
  fi
done
$RL compare "$BASE"/*/ --metric vs_gnugo_level_10_win --out "$BASE/strength.png"
$RL compare "$BASE"/*/ --metric vs_gnugo_level_10_win --x hours --out "$BASE/strength-hours.png"
