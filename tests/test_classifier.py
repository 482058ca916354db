"""Classifier: data verification, transfer between learners, and a short real training run."""
import json
from pathlib import Path

import pytest
import torch

from conftest import SHARED, rl
from rl.backbones import load_encoder, make_backbone
from rl.datasets import load_dataset
from rl.errors import UserError
from rl.run import save_checkpoint

MNIST = SHARED / "data"
needs_mnist = pytest.mark.skipif(not (MNIST / "mnist" / "t10k-images-idx3-ubyte.gz").exists(),
                                 reason="../shared/data/mnist is not on this machine")


@needs_mnist
def test_mnist_10k_split():
    data = load_dataset("mnist-10k", MNIST)
    assert data.train_x.shape == (8000, 1, 28, 28) and data.test_x.shape == (2000, 1, 28, 28)
    assert data.train_x.dtype == torch.uint8 and int(data.train_y.max()) == 9


@needs_mnist
def test_corrupted_file_is_rejected_by_md5(tmp_path: Path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes((MNIST / "mnist" / name).read_bytes())
    raw = bytearray((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw[-5] ^= 0xFF  # one flipped byte
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(raw))
    with pytest.raises(UserError, match="is corrupt .*md5"):
        load_dataset("mnist-10k", tmp_path)


def test_missing_files_say_where_to_put_them(tmp_path: Path):
    with pytest.raises(UserError, match=r"not found in .*mnist.*--download"):
        load_dataset("mnist-10k", tmp_path)


def test_transfer_copies_backbone_weights_exactly(tmp_path: Path):
    torch.manual_seed(0)
    source = make_backbone("nature", (4, 84, 84))
    model = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    model["head.advantage.weight"] = torch.zeros(6, 512)
    save_checkpoint(tmp_path / "dqn.pt", {"meta": {"algo": "dqn", "encoder": "nature",
                                                   "obs_shape": [4, 84, 84]}, "model": model})
    torch.manual_seed(1)
    target = make_backbone("nature", (4, 84, 84))
    load_encoder(target, tmp_path / "dqn.pt")
    for (k, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(a, b), k
    other = make_backbone("nature", (1, 28, 28))
    with pytest.raises(UserError, match=r"\(4, 84, 84\).*\(1, 28, 28\)"):
        load_encoder(other, tmp_path / "dqn.pt")
    with pytest.raises(UserError, match="'nature' backbone.*'deepcnn'"):
        load_encoder(make_backbone("deepcnn", (4, 84, 84)), tmp_path / "dqn.pt")


@needs_mnist
def test_train_eval_and_transfer_through_the_command(workdir: Path):
    common = ["train", "classifier", "--data-dir", str(MNIST), "--epochs", "1", "--batch-size",
              "200", "--no-progress"]
    summary = json.loads(rl(*common, "--run-dir", "a", cwd=workdir, check=True).stdout)
    assert summary["test_accuracy"] > 0.8 and summary["images_per_s"] > 0
    for name in ("confusion_matrix.png", "misclassified.png", "learning_curve.png"):
        assert (workdir / "a" / name).stat().st_size > 5_000
    ev = json.loads(rl("eval", "a", "--json", cwd=workdir, check=True).stdout)
    assert abs(ev["accuracy_fp32"] - summary["test_accuracy"]) < 1e-6
    assert abs(ev["accuracy_bf16"] - ev["accuracy_fp32"]) < 0.01
    # fine-tune the head only, from the first run's encoder
    out = rl(*common, "--run-dir", "b", "--init-encoder", "a/checkpoints/best.pt",
             "--freeze-encoder", cwd=workdir, check=True)
    assert json.loads(out.stdout)["test_accuracy"] > 0.8
    first = torch.load(workdir / "a/checkpoints/best.pt", weights_only=True)["model"]
    second = torch.load(workdir / "b/checkpoints/best.pt", weights_only=True)["model"]
    frozen = [k for k in first if k.startswith("backbone.")]
    assert frozen and all(torch.equal(first[k], second[k]) for k in frozen)


@needs_mnist
def test_bench_classifier_reports_both_loops():
    from agents.bench import bench_classifier

    result = bench_classifier("deepcnn", "mnist-10k", MNIST, batch_size=500, epochs=1)
    assert result["ours_images_per_s"] > 0 and result["plain_images_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["ours_images_per_s"] / result["plain_images_per_s"], rel=1e-2)
