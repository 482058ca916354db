#!/usr/bin/env bash
# Go 9x9, AlphaGo's second stage: which search learns faster per hour of the 2 cores
# (issue 24). From one supervised start, self-play runs that differ only in the search, at
# the same simulations a move (100 on a quarter of the moves, 24 on the rest) and 64 games an
# iteration, each with a strength point every 4 iterations against GNU Go level 10 (40 games,
# iteration 0 included); then the curves in one plot, per iteration and per hour of the run.
# The other settings are the seventh leg's of experiments/results/go9.md, the first half of
# the shipped network's recipe (one player per game never passes first, a quarter of the
# games against GNU Go level 8), so the PUCT run is that leg again with its strength curve.
# Run again, it resumes where it stopped; with KEEP=DIR on any machine (experiments/keep.sh):
# a leg stopped with SIGTERM or Ctrl-C packs the runs there (the one under way as --resume
# needs it, about 13 MB; the finished one's figures), unpacked where BASE_DIR is missing; the
# plots and each leg's time go there too. Commit DIR after each leg.
#   experiments/go9-selfplay.sh [BASE_DIR]      (default runs/go9-selfplay)
# START: the supervised network (default experiments/agents/go9-supervised);
# DATA: GNU Go's games, for the expert anchor and the held-out figures (default data/go9,
# experiments/go9.sh's; the third run's 4,000 games unpack from
# experiments/results/go9/run-3/expert-games.tar.gz). RUNS="puct" runs one of them.
set -euo pipefail
BASE=${1:-runs/go9-selfplay}
DATA=${DATA:-data/go9}
START=${START:-experiments/agents/go9-supervised}
RL=${RL:-rl}
KEEP=${KEEP:-}
OUT=${KEEP:-$BASE}  # the plots and the legs' times
TIMES=$OUT/times.jsonl
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
# fp32 search on every machine: its legs may run on CPUs with and without AMX (where the
# preset would switch bf16 on), and the seventh leg searched in fp32
COMMON=(--game go9 --init-model "$START" --pretrain "$DATA" --pretrain-epochs 0
        --no-search-bf16 --pass-first one --opponent-engine "$GNUGO --level 8" --opponent-share 0.25
        --iterations 24 --eval-every 4 --eval-games 40
        --eval-opponents "gtp:$GNUGO --level 10" --seed 0 --no-progress)

declare -A SEARCH=(
  [puct]=""                  # AlphaZero's PUCT, Dirichlet noise, visit counts as targets
  [gumbel]="--search gumbel"  # Gumbel AlphaZero: sequential halving, completed-Q targets
)
. "$(dirname "$0")/keep.sh"
pack_runs() {  # a run under way as its --resume needs it (best.pt aside: no gate rewrites it
  # each iteration); a finished one's figures, not its networks
  local skip=('--exclude=./*/checkpoints/best.pt') name
  for name in "${!SEARCH[@]}"; do
    if [ -f "$BASE/$name/summary.json" ]; then
      skip+=(--exclude="./$name/checkpoints" --exclude="./$name/window")
    fi
  done
  keep_pack selfplay-runs "$BASE" "${skip[@]}" .
}
keep_unpack selfplay-runs "$BASE"
ON_STOP=pack_runs
for name in ${RUNS:-puct gumbel}; do
  [[ -v SEARCH[$name] ]] || { echo "go9-selfplay.sh: no run '$name' (puct, gumbel)" >&2; exit 2; }
  run="$BASE/$name"
  if [ -f "$run/summary.json" ]; then continue; fi
  if [ -f "$run/config.yaml" ]; then
    timed "$name" $RL train alphazero --resume "$run" --no-progress
  else
    # shellcheck disable=SC2086  # the settings are words
    timed "$name" $RL train alphazero "${COMMON[@]}" ${SEARCH[$name]} --run-dir "$run"
  fi
  pack_runs
done
$RL compare "$BASE"/*/ --metric vs_gnugo_level_10_win --out "$OUT/strength.png"
$RL compare "$BASE"/*/ --metric vs_gnugo_level_10_win --x hours --out "$OUT/strength-hours.png"
