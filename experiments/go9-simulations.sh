#!/usr/bin/env bash
# Go 9x9: how strength against GNU Go level 10 grows with the simulations a move, for the
# supervised network and the shipped self-play network (48 iterations, the eighth leg), each
# point at the same budget for both (issue 24; experiments/results/go9.md, "How it loses").
# Seed 2: games that chose no network (the legs compared them with seed 1, the ladder seed 3).
# One JSON per network and budget in OUT; run again, it plays only the points not there yet,
# and a point killed midway goes on from the games it saved (OUT/NAME-SIMS/, --resume).
#   experiments/go9-simulations.sh [OUT]      (default runs/go9-simulations)
# SIMS="100 200 400" (the budgets, in order), GAMES=100 (a point), NETS_PLAYED="start selfplay".
set -euo pipefail
OUT=${1:-runs/go9-simulations}
RL=${RL:-rl}
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
declare -A NETS=([start]=experiments/agents/go9-supervised
                 [selfplay]=experiments/agents/go9)
mkdir -p "$OUT"
for sims in ${SIMS:-100 200 400}; do
  for name in ${NETS_PLAYED:-start selfplay}; do
    out="$OUT/$name-$sims.json"
    if [ -s "$out" ]; then continue; fi
    $RL eval "${NETS[$name]}" --opponent "gtp:$GNUGO --level 10" --games "${GAMES:-100}" \
      --simulations "$sims" --seed 2 --save-games "$OUT/$name-$sims" --resume --json \
      > "$out.part"
    mv "$out.part" "$out"  # a point is there whole or not at all
  done
done
