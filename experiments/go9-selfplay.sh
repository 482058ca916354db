#!/usr/bin/env bash
# Go 9x9, AlphaGo's second stage measured one change at a time (issue 24): from one supervised
# start (experiments/go9.sh's pretraining), self-play runs that differ in one setting each,
# all at the same simulations and games per iteration, with a strength point every 5
# iterations against GNU Go level 10 (40 games, GNU Go as referee). Run again, it resumes.
#   experiments/go9-selfplay.sh [BASE_DIR]      (default runs/go9-selfplay)
# Needs experiments/go9.sh's expert games (data/go9) and its run (runs/go9: the pretrained
# network), or START=<a run, shipped agent or checkpoint> and DATA=<the expert games>.
set -euo pipefail
BASE=${1:-runs/go9-selfplay}
DATA=${DATA:-data/go9}
START=${START:-runs/go9/checkpoints/pretrained.pt}
RL=${RL:-rl}
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
COMMON=(--game go9 --init-model "$START" --pretrain "$DATA" --pretrain-epochs 0
        --iterations 20 --eval-every 5 --eval-games 40
        --eval-opponents "gtp:$GNUGO --level 10" --seed 0)

declare -A RUNS=(
  [puct]="--expert-share 0"                           # the loop that weakened: no anchor
  [gumbel]="--search gumbel --expert-share 0"         # Gumbel AlphaZero's search and targets
  [gumbel-anchor]="--search gumbel --expert-share 0.25"  # + GNU Go's positions in every batch
  [gumbel-anchor-lr]="--search gumbel --expert-share 0.25 --lr 2e-4"  # + a lower rate
  [puct-anchor]="--expert-share 0.25"                 # the anchor alone, with PUCT (the preset)
)
for name in puct gumbel gumbel-anchor gumbel-anchor-lr puct-anchor; do
  run="$BASE/$name"
  if [ -f "$run/summary.json" ]; then continue; fi
  if [ -d "$run" ]; then
    $RL train alphazero --resume "$run"
  else
    # shellcheck disable=SC2086  # the settings are words
    $RL train alphazero "${COMMON[@]}" ${RUNS[$name]} --run-dir "$run"
  fi
done
# the strength curves side by side: vs GNU Go level 10 per iteration and per hour of
# self-play and training (which search learns faster on the same cores), one line per run
$RL compare "$BASE"/*/ --metric vs_gnugo_level_10_win --out "$BASE/strength.png"
$RL compare "$BASE"/*/ --metric vs_gnugo_level_10_win --x hours --out "$BASE/strength-hours.png"
