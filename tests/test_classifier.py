"""Classifier: data verification, transfer between learners, and a short real training run."""
import gzip
import json
from pathlib import Path

import pytest
import torch

from conftest import SHARED, rl
from rl.backbones import load_encoder, make_backbone
from rl.datasets import load_dataset
from rl.errors import UserError
from rl.files import save_checkpoint
from rl.metrics import read_metrics

MNIST = SHARED / "data"
needs_mnist = pytest.mark.skipif(not (MNIST / "mnist" / "t10k-images-idx3-ubyte.gz").exists(),
                                 reason="../shared/data/mnist is not on this machine")


@needs_mnist
def test_mnist_10k_split():
    data = load_dataset("mnist-10k", MNIST)
    assert data.train_x.shape == (8000, 1, 28, 28) and data.test_x.shape == (2000, 1, 28, 28)
    assert data.train_x.dtype == torch.uint8 and int(data.train_y.max()) == 9


def copy_mnist_test(folder: Path, transform=lambda name, raw: raw) -> None:
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        raw = gzip.decompress((MNIST / "mnist" / name).read_bytes())
        out, data = transform(name, raw)
        (folder / out).write_bytes(data)


@needs_mnist
@pytest.mark.parametrize("how", ["other gzip headers", "uncompressed"])
def test_any_faithful_copy_is_accepted(tmp_path: Path, how: str):
    def faithful(name: str, raw: bytes) -> tuple[str, bytes]:
        if how == "uncompressed":
            return name.removesuffix(".gz"), raw
        return name, gzip.compress(raw, compresslevel=1, mtime=12345)

    copy_mnist_test(tmp_path / "mnist", faithful)
    assert torch.equal(load_dataset("mnist-10k", tmp_path).test_x,
                       load_dataset("mnist-10k", MNIST).test_x)


@needs_mnist
def test_a_file_with_other_content_is_refused_naming_it(tmp_path: Path):
    def one_pixel_off(name: str, raw: bytes) -> tuple[str, bytes]:
        if "images" in name:
            raw = raw[:-1] + bytes([raw[-1] ^ 0xFF])
        return name, gzip.compress(raw)

    copy_mnist_test(tmp_path / "mnist", one_pixel_off)
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.gz does not hold the "
                       r"canonical data .*replace it"):
        load_dataset("mnist-10k", tmp_path)


@needs_mnist
def test_data_dir_may_be_the_folder_itself(tmp_path: Path):
    copy_mnist_test(tmp_path / "digits", lambda name, raw: (name, gzip.compress(raw)))
    assert len(load_dataset("mnist-10k", tmp_path / "digits").train_x) == 8000


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed "
                    "(apt-get install dataset-fashion-mnist; .ci/run does so as root)")
def test_debian_fashion_mnist_is_found_and_accepted():
    data = load_dataset("fashion-mnist")  # no --data-dir: /usr/share/datasets is searched
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.classes[9] == "boot" and torch.bincount(data.test_y).tolist() == [1000] * 10


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
              "200", "--validation", "0", "--no-progress"]  # all 8,000 images, one epoch
    summary = json.loads(rl(*common, "--run-dir", "a", cwd=workdir, check=True).stdout)
    assert summary["test_accuracy"] > 0.8 and summary["images_per_s"] > 0
    for name in ("confusion_matrix.png", "misclassified.png", "learning_curve.png"):
        assert (workdir / "a" / name).stat().st_size > 5_000
    ev = json.loads(rl("eval", "a", "--precision", "all", "--json", cwd=workdir,
                       check=True).stdout)
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

    result = bench_classifier("mlp", "mnist-10k", MNIST, batch_size=500, epochs=1)
    assert result["ours_images_per_s"] > 0 and result["plain_images_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["ours_images_per_s"] / result["plain_images_per_s"], rel=1e-2)


@needs_mnist
def test_labels_take_a_balanced_seeded_subset():
    from agents.classifier import Config
    from rl.config import build_config

    def subset(seed: int):
        cfg = build_config(Config, {"dataset": "mnist-10k", "data_dir": str(MNIST),
                                    "labels": 105, "seed": seed})
        return cfg.data()

    a, b, c = subset(0), subset(0), subset(1)
    assert len(a.train_y) == 105 and len(a.test_y) == 2000
    assert sorted(torch.bincount(a.train_y).tolist()) == [10] * 5 + [11] * 5
    assert torch.equal(a.train_x, b.train_x) and not torch.equal(a.train_x, c.train_x)


@needs_mnist
def test_a_class_short_of_its_share_gives_all_it_has():
    from agents.classifier import Config
    from rl.config import build_config

    def counts(labels: int) -> list[int]:
        cfg = build_config(Config, {"dataset": "mnist-10k", "data_dir": str(MNIST),
                                    "labels": labels})
        return torch.bincount(cfg.data().train_y).tolist()

    everything = counts(0)  # mnist-10k's 8,000 training digits hold 773 zeros, not 800
    assert everything[0] == 773
    assert counts(8000) == everything
    partial = counts(7500)  # each class all it has, or within one of the largest share
    assert sum(partial) == 7500 and partial[5] == everything[5] == 723
    assert all(k == everything[c] or k >= max(partial) - 1 for c, k in enumerate(partial))


@needs_mnist
def test_an_ensemble_averages_its_members_probabilities(workdir: Path):
    from agents.classifier import build_model, load_network, predict
    from rl.run import Run

    fast = ["--amp", "--channels-last"]  # bf16 where the CPU has it, NHWC: the same network
    for seed, extra in (("0", []), ("1", fast)):
        rl("train", "classifier", "--data-dir", str(MNIST), "--epochs", "1", "--labels", "1000",
           "--seed", seed, "--no-progress", "--run-dir", f"s{seed}", *extra, cwd=workdir,
           check=True)
    ev = json.loads(rl("eval", "s0", "s1", "--json", cwd=workdir, check=True).stdout)
    probs = []
    for name in ("s0", "s1"):
        cfg, data, state = load_network(Run.open(workdir / name), "best")
        model = build_model(cfg, data)
        model.load_state_dict(state["model"])
        probs.append(torch.softmax(predict(model, data.test_x, torch.device("cpu")), 1))
    expected = (torch.stack(probs).mean(0).argmax(1) == data.test_y).float().mean().item()
    assert ev["ensemble"] == 2 and ev["test_images"] == 2000
    assert ev["accuracy"] == pytest.approx(expected)
    assert ev["accuracy_ci95"][0] < ev["accuracy"] < ev["accuracy_ci95"][1]
    assert [m["accuracy"] for m in ev["members"]] == [
        pytest.approx((p.argmax(1) == data.test_y).float().mean().item()) for p in probs]


def test_fashion_mnist_defaults_to_its_measured_recipe():
    from agents.classifier import Config, defaults_for
    from rl.config import build_config

    cfg = build_config(Config, defaults_for({"dataset": "fashion-mnist"}),
                       {"dataset": "fashion-mnist", "epochs": 3})
    assert (cfg.backbone, cfg.optimizer, cfg.epochs) == ("resnet20", "sgd", 3)
    assert cfg.erasing > 0 and cfg.label_smoothing > 0
    assert build_config(Config, defaults_for({}), {}).backbone == "deepcnn"  # mnist unchanged


@needs_mnist
def test_the_best_epoch_is_chosen_on_validation_and_the_test_set_is_scored_once(workdir: Path):
    common = ["train", "classifier", "--data-dir", str(MNIST), "--backbone", "mlp",
              "--epochs", "2", "--batch-size", "200", "--no-progress"]
    summary = json.loads(rl(*common, "--run-dir", "v", cwd=workdir, check=True).stdout)
    assert summary["selected_on"] == "validation" and summary["validation_images"] == 800
    assert summary["train_images"] == 7200 and "val_accuracy" in summary
    rows = read_metrics(workdir / "v" / "metrics.csv")
    assert "test_accuracy" not in rows[0] and rows[-1]["val_accuracy"] != ""
    last = json.loads(rl(*common, "--validation", "0", "--run-dir", "l", cwd=workdir,
                         check=True).stdout)
    assert last["selected_on"] == "last epoch" and last["checkpoint_epoch"] == 2

