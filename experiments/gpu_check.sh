#!/usr/bin/env bash
# What needs a GPU, in one go (about 8 minutes on an H100/H200): the DQN tests on their CUDA
# paths (--device auto picks the GPU), one Atari 100k run of the drq_eps preset on Pong timed
# end to end, and `rl bench dqn --device cuda`. Results go to $OUT (default
# experiments/results/gpu/<date>); record what it showed in experiments/results/atari100k.md.
#   bash experiments/gpu_check.sh            (needs a CUDA build of torch: make TORCH=torch install)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-experiments/results/gpu/$(date +%Y%m%d)}
mkdir -p "$out"
rl=${RL:-rl}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print(torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt" || exit 1

echo "== tests on their CUDA paths"
timeout 240 python -m pytest -q -x tests/test_dqn.py tests/test_atari100k.py 2>&1 \
  | tail -5 | tee "$out/tests.txt"

echo "== one 100k run (drq_eps, Pong, 10 final episodes), wall time"
start=$(date +%s)
timeout 300 $rl train dqn --env Pong --preset drq_eps --device cuda --final-eval-episodes 10 \
  --run-dir /tmp/gpu-pong-100k --overwrite --no-progress > "$out/pong-100k.json" \
  2> "$out/pong-100k.log"
echo "exit $? after $(( $(date +%s) - start )) s" | tee "$out/pong-100k.time"
cp /tmp/gpu-pong-100k/metrics.csv "$out/pong-100k-metrics.csv" 2>/dev/null

echo "== rl bench dqn --device cuda"
timeout 120 $rl bench dqn --env Pong --device cuda --json | tee "$out/bench-dqn.json"
