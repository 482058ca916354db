#!/usr/bin/env bash
# Fashion-MNIST on 2 CPU cores (experiments/results/fashion.md): the defaults' 40-epoch run,
# then the book's three ways to raise accuracy (ensembles, learning-rate decay, augmentation)
# and the backbones at a 5-epoch budget, then transfer to MNIST and our loop's speed.
# Run again, it skips finished runs and resumes killed ones. Needs the full data set:
# apt-get install dataset-fashion-mnist (or --download).
#   experiments/fashion.sh [OUT]          (default runs/fashion)
set -euo pipefail
OUT=${1:-runs/fashion}
RL=${RL:-rl}
MNIST=${MNIST:-../shared/data}  # holds mnist/, whose test split is mnist-10k

run() {  # run NAME [flags]: one classifier run on Fashion-MNIST, the defaults plus flags
  local dir=$OUT/$1
  shift
  if [ -f "$dir/summary.json" ]; then return; fi
  if [ -d "$dir" ]; then
    $RL train classifier --resume "$dir" --no-progress
  else
    $RL train classifier --dataset fashion-mnist --no-progress --run-dir "$dir" "$@"
  fi
}

run resnet20-s0 --seed 0                       # the defaults: the headline figure
${PYTHON:-python} experiments/transfer.py --pretrained "$OUT/resnet20-s0" --data-dir "$MNIST" \
  --out "$OUT/transfer"
for seed in 0 1 2; do run r20-e5-s$seed --epochs 5 --seed $seed; done  # an ensemble of 3
run r20-e5-constant --epochs 5 --schedule constant   # no learning-rate decay
run r20-e5-crops --epochs 5 --erasing 0 --label-smoothing 0   # crops and flips only
run r20-e5-none --epochs 5 --no-augment --erasing 0 --label-smoothing 0
run deepcnn-e5 --epochs 5 --backbone deepcnn --optimizer adam --lr 2e-3 --weight-decay 0
run vgg11-e2 --epochs 2 --backbone vgg11 --lr 0.05
run deepcnn-e40 --backbone deepcnn --optimizer adam --lr 2e-3 --weight-decay 0  # 40 epochs
run r20-e40-none --no-augment --erasing 0 --label-smoothing 0   # 40 epochs, no augmentation
$RL eval "$OUT"/r20-e5-s{0,1,2} --checkpoint latest --json > "$OUT/ensemble.json"
$RL bench classifier --dataset fashion-mnist --json > "$OUT/bench.json"
