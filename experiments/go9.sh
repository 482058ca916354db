#!/usr/bin/env bash
# Go 9x9, AlphaGo's recipe against GNU Go: expert games -> supervised pretraining -> self-play
# -> a ladder of matches. Run again, it skips the finished steps and resumes training (`--resume`).
# Needs GNU Go: apt-get install gnugo.
#   experiments/go9.sh [RUN_DIR]          (default runs/go9)
set -euo pipefail
RUN=${1:-runs/go9}
DATA=${DATA:-data/go9}
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
RL=${RL:-rl}

# 1. expert games as SGF: GNU Go against itself at levels 10, 8 and 6, a seed per game; GNU Go
#    repeats about half of its games all the same, so a second set opens with 0-4 random moves
if [ ! -f "$DATA/gnugo/.done" ]; then
  $RL games generate --game go9 --games 2500 --parallel 4 --out "$DATA/gnugo" \
    --expert "gtp:$GNUGO --level 10" --expert "gtp:$GNUGO --level 8" \
    --expert "gtp:$GNUGO --level 6" --expert "gtp:$GNUGO --level 6"
  touch "$DATA/gnugo/.done"
fi
if [ ! -f "$DATA/gnugo-random/.done" ]; then
  $RL games generate --game go9 --games 1500 --parallel 4 --out "$DATA/gnugo-random" \
    --random-moves 4 --seed 1 --expert "gtp:$GNUGO --level 10" \
    --expert "gtp:$GNUGO --level 8" --expert "gtp:$GNUGO --level 6"
  touch "$DATA/gnugo-random/.done"
fi

# 2 + 3. pretraining on them (AlphaGo's supervised stage), then self-play (the go9 preset)
if [ -d "$RUN" ]; then
  $RL train alphazero --resume "$RUN"
else
  $RL train alphazero --game go9 --pretrain "$DATA" --seed 0 --run-dir "$RUN"
fi

# 4. the ladder: both stages against random and GNU Go levels 1, 5 and 10 (GNU Go referees).
#    The shipped agent is the pretrained network (the stronger against level 1): 200 games
#    against levels 1 and 10; the self-play network 200 against level 1.
mkdir -p "$RUN/ladder"
for stage in pretrained best; do
  for pair in random:100 1:200 5:50 10:200; do
    level=${pair%%:*} games=${pair##*:}
    [ "$stage" = best ] && [ "$level" = 10 ] && games=50
    if [ "$level" = random ]; then opponent=random name=random
    else opponent="gtp:$GNUGO --level $level" name=gnugo-level$level; fi
    out="$RUN/ladder/$stage-vs-$name.json"
    [ -f "$out" ] && continue
    $RL eval "$RUN" --checkpoint "$stage" --opponent "$opponent" --games "$games" \
      --save-games "$RUN/ladder/$stage-vs-$name" --json > "$out.part" && mv "$out.part" "$out"
  done
done
# the shipped agent: rl export "$RUN" --checkpoint pretrained --out experiments/agents/go9
