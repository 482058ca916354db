#!/usr/bin/env bash
# Go 9x9, AlphaGo's recipe against GNU Go: expert games -> supervised pretraining -> self-play
# -> a ladder of matches. Run again, it skips the finished steps, keeps the expert games already
# written and resumes training (`--resume`).
# Needs GNU Go: apt-get install gnugo.
#   experiments/go9.sh [RUN_DIR]          (default runs/go9)
set -euo pipefail
RUN=${1:-runs/go9}
DATA=${DATA:-data/go9}
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
RL=${RL:-rl}
# each step's wall time, a JSON line per leg that ran (a resumed step adds a line): the
# pipeline's time is their sum
# (a leg killed midway logs nothing here; the run's own metrics keep its times)
TIMES=${RUN%/}-times.jsonl
timed() {  # timed STEP COMMAND...
  local step=$1 t0=$SECONDS
  mkdir -p "$(dirname "$TIMES")"
  shift
  "$@"
  printf '{"step": "%s", "seconds": %d, "ended": "%s", "cpu": "%s", "cores": %d}\n' "$step" \
    $((SECONDS - t0)) "$(date -u +%FT%TZ)" "$(lscpu | sed -n 's/^Model name: *//p')" \
    "$(nproc)" >> "$TIMES"
}

# 1. expert games as SGF: GNU Go against itself at levels 10, 8 and 6, a seed per game; GNU Go
#    repeats about half of its games all the same, so a second set opens with 0-4 random moves
if [ ! -f "$DATA/gnugo/.done" ]; then
  timed expert-games-1 $RL games generate --game go9 --games 2500 --parallel 4 \
    --out "$DATA/gnugo" \
    --expert "gtp:$GNUGO --level 10" --expert "gtp:$GNUGO --level 8" \
    --expert "gtp:$GNUGO --level 6" --expert "gtp:$GNUGO --level 6"
  touch "$DATA/gnugo/.done"
fi
if [ ! -f "$DATA/gnugo-random/.done" ]; then
  timed expert-games-2 $RL games generate --game go9 --games 1500 --parallel 4 \
    --out "$DATA/gnugo-random" \
    --random-moves 4 --seed 1 --expert "gtp:$GNUGO --level 10" \
    --expert "gtp:$GNUGO --level 8" --expert "gtp:$GNUGO --level 6"
  touch "$DATA/gnugo-random/.done"
fi

# 2 + 3. pretraining on them (AlphaGo's supervised stage), then self-play (the go9 preset)
if [ -d "$RUN" ]; then
  timed train $RL train alphazero --resume "$RUN"
else
  timed train $RL train alphazero --game go9 --pretrain "$DATA" --seed 0 --run-dir "$RUN"
fi

# 4. the ladder: both stages against random and GNU Go levels 1, 5 and 10 (GNU Go referees),
#    200 games where the issue's figures are read (levels 1 and 10)
mkdir -p "$RUN/ladder"
for stage in pretrained best; do
  for pair in random:100 1:200 5:50 10:200; do
    level=${pair%%:*} games=${pair##*:}
    if [ "$level" = random ]; then opponent=random name=random
    else opponent="gtp:$GNUGO --level $level" name=gnugo-level$level; fi
    out="$RUN/ladder/$stage-vs-$name.json"
    [ -f "$out" ] && continue
    timed "$stage-vs-$name" $RL eval "$RUN" --checkpoint "$stage" --opponent "$opponent" \
      --games "$games" --save-games "$RUN/ladder/$stage-vs-$name" --json > "$out.part"
    mv "$out.part" "$out"
  done
done

# 5. head to head: the self-play network against the supervised one it started from, each
#    with the run's evaluation simulations, colours alternating, GNU Go as referee
out="$RUN/ladder/best-vs-pretrained.json"
if [ ! -f "$out" ]; then
  [ -d "$RUN/pretrained-agent" ] || $RL export "$RUN" --checkpoint pretrained \
    --out "$RUN/pretrained-agent"
  timed best-vs-pretrained $RL eval "$RUN" --checkpoint best --opponent "$RUN/pretrained-agent" \
    --games 200 --referee "$GNUGO" --save-games "$RUN/ladder/best-vs-pretrained" --json \
    > "$out.part"
  mv "$out.part" "$out"
fi
# the shipped agent, the stronger of the two against GNU Go level 10:
#   rl export "$RUN" --checkpoint best|pretrained --out experiments/agents/go9 --overwrite
