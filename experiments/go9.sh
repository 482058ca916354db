#!/usr/bin/env bash
# Go 9x9, AlphaGo's recipe against GNU Go: expert games -> supervised pretraining -> self-play
# -> a ladder of matches. Run again, it skips the finished steps, keeps the expert games already
# written and resumes training (`--resume`).
# Needs GNU Go: apt-get install gnugo.
#   experiments/go9.sh [RUN_DIR]          (default runs/go9)
# KEEP=DIR (a folder outside RUN) keeps what must outlive the machine, since a checkout that
# moves to another machine keeps only committed files: the expert games packed once generated
# or when their leg is stopped with SIGTERM (unpacked from there when DATA is missing), both
# networks exported after training, the matches' JSON and each step's time; a training leg
# stopped with SIGTERM packs what its --resume needs there too (about 15 MB), removed once both
# networks are exported. Commit DIR after each leg and a later leg goes on from it, on any
# machine (experiments/keep.sh). Without KEEP they stay in RUN (the times beside it).
set -euo pipefail
RUN=${1:-runs/go9}
DATA=${DATA:-data/go9}
KEEP=${KEEP:-}
NETS=${KEEP:-$RUN}  # where the exported networks and the matches' JSON go
GNUGO="gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
RL=${RL:-rl}
# each step's wall time, a JSON line per leg that ran (a resumed step adds a line): the
# pipeline's time is their sum
if [ -n "$KEEP" ]; then TIMES=$KEEP/times.jsonl; else TIMES=${RUN%/}-times.jsonl; fi
. "$(dirname "$0")/keep.sh"
pack_expert_games() {  # the SGF files there are (the next leg plays only the rest)
  keep_pack expert-games "$DATA" $(cd "$DATA" && ls -d gnugo gnugo-random 2>/dev/null)
}
pack_training_run() {  # RUN as its --resume needs it: the last iteration's checkpoint
  # (network, optimiser, accepted network), the pretrained one, the window's files, the
  # metrics; best.pt stays out (10 MB: without a gate every iteration rewrites it)
  keep_pack training-run "$RUN" --exclude=./checkpoints/best.pt --exclude=./ladder .
}
keep_unpack expert-games "$DATA"
keep_unpack training-run "$RUN"  # a stopped training leg's
# 1. expert games as SGF: GNU Go against itself at levels 10, 8 and 6, a seed per game; GNU Go
#    repeats about half of its games all the same, so a second set opens with 0-4 random moves
ON_STOP=pack_expert_games
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
# 4,000 SGF files, packed once both sets are done (a leg stopped midway with SIGTERM or
# Ctrl-C packs what is there: the next leg plays only the missing games)
if [ "$DATA/gnugo-random/.done" -nt "$KEEP/expert-games.tar.gz" ]; then pack_expert_games; fi
ON_STOP=:

# 2 + 3. pretraining on them (AlphaGo's supervised stage), then self-play (the go9 preset) as
#    the shipped network learnt it (experiments/results/go9.md, seventh and eighth legs): 48
#    iterations, a quarter of the games against GNU Go level 8 (AlphaGo's opponent pool with a
#    player that is not the network), one player per game never passing first
ON_STOP=pack_training_run
if [ -f "$RUN/summary.json" ] || [ -d "$NETS/selfplay-agent" ]; then
  :  # trained to the end
elif [ -d "$RUN" ]; then
  timed train $RL train alphazero --resume "$RUN"
else
  timed train $RL train alphazero --game go9 --pretrain "$DATA" --seed 0 --run-dir "$RUN" \
    --iterations 48 --eval-every 12 --pass-first one \
    --opponent-engine "$GNUGO --level 8" --opponent-share 0.25
fi

# both networks as agents (2.4 MB each): the matches play them, so they go on without RUN
for pair in pretrained:pretrained best:selfplay; do  # CHECKPOINT:AGENT
  agent="$NETS/${pair#*:}-agent"
  [ -d "$agent" ] || $RL export "$RUN" --checkpoint "${pair%%:*}" --out "$agent"
done
ON_STOP=:
[ -z "$KEEP" ] || rm -f "$KEEP/training-run.tar.gz"  # the agents are what outlives RUN now

# 4. the matches, GNU Go as referee of each, colours alternating, a file of JSON per match
#    (a match killed midway goes on from the games it saved: --resume): the figures the
#    pipeline is for first
mkdir -p "$NETS/ladder" "$RUN/ladder"
ladder() {  # ladder STAGE LEVEL|random GAMES: a network against GNU Go at a level, or random
  local stage=$1 level=$2 games=$3 opponent name
  if [ "$level" = random ]; then opponent=random name=random
  else opponent="gtp:$GNUGO --level $level" name=gnugo-level$level; fi
  local out="$NETS/ladder/$stage-vs-$name.json"
  [ -f "$out" ] && return
  timed "$stage-vs-$name" $RL eval "$NETS/$stage-agent" --opponent "$opponent" \
    --games "$games" --save-games "$RUN/ladder/$stage-vs-$name" --resume --json > "$out.part"
  mv "$out.part" "$out"
}
head_to_head() {  # the self-play network against the supervised one it started from, each
  # with the run's evaluation simulations, each pair of games from the same 0-4 random moves
  # (the two networks alone repeat a few games: 39 distinct of 200)
  local out="$NETS/ladder/selfplay-vs-pretrained.json"
  [ -f "$out" ] && return
  timed selfplay-vs-pretrained $RL eval "$NETS/selfplay-agent" \
    --opponent "$NETS/pretrained-agent" --games 200 --random-moves 4 --referee "$GNUGO" \
    --save-games "$RUN/ladder/selfplay-vs-pretrained" --resume --json > "$out.part"
  mv "$out.part" "$out"
}
ladder selfplay 10 200
head_to_head
ladder pretrained 10 200
# the rest of the README's ladder: random and GNU Go levels 1 (200 games) and 5
for stage in selfplay pretrained; do
  ladder $stage 1 200
  ladder $stage 5 200
  ladder $stage random 100
done
# the shipped agent, the stronger of the two against GNU Go level 10:
#   cp -r "$NETS/selfplay-agent" or "$NETS/pretrained-agent" to experiments/agents/go9
