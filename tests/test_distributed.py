"""Data-parallel classifier training: 2 CPU processes under torchrun (gloo) take the same steps
as one process with the same global batch."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_classifier import needs_mnist

from conftest import SHARED, rl

COMMON = ["train", "classifier", "--data-dir", str(SHARED / "data"), "--backbone", "mlp",
          "--epochs", "1", "--batch-size", "200", "--no-progress"]  # mlp: no dropout draws


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    launcher = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([launcher, "--standalone", "--nproc-per-node", "2", "-m", "rl.cli",
                           *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@needs_mnist
def test_two_gloo_processes_match_one_process(workdir: Path):
    single = json.loads(rl(*COMMON, "--run-dir", "one", cwd=workdir, check=True).stdout)
    proc = torchrun(*COMMON, "--run-dir", "two", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    parallel = json.loads(proc.stdout)  # rank 0 alone prints and writes
    assert parallel["test_accuracy"] == pytest.approx(single["test_accuracy"], abs=1e-3)
    a = torch.load(workdir / "one/checkpoints/latest.pt", weights_only=True)["model"]
    b = torch.load(workdir / "two/checkpoints/latest.pt", weights_only=True)["model"]
    # the same 40 steps, up to float summation order, which Adam magnifies where a weight's
    # gradients are near zero (dividing by their root mean square): up to 1.04e-4 in 186 of
    # the first layer's 200,704 weights on an AVX-512 Xeon, under 1e-5 on AMD's EPYCs; a step
    # on other samples moves a weight by up to the learning rate (2e-3)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=5e-4, rtol=1e-4)
    assert "world_size: 2" in (workdir / "two/config.yaml").read_text()

    # resuming under torchrun continues rank 0's run directory
    proc = torchrun("train", "classifier", "--resume", "two", "--epochs", "2", "--no-progress",
                    cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["epochs"] == 2
    assert len((workdir / "two/metrics.csv").read_text().splitlines()) == 3


def test_algorithms_without_data_parallel_refuse_torchrun(workdir: Path):
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "0"}
    proc = subprocess.run([sys.executable, "-m", "rl.cli", "train", "qlearning"], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("rl: error: qlearning does not train data-parallel: run it "
                                   "without torchrun")
