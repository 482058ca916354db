"""Run-directory machinery: configs, atomic files, safe checkpoints, metrics truncation."""
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import torch

from rl.config import build_config, load_yaml, opt
from rl.errors import UserError
from rl.files import load_checkpoint, save_checkpoint
from rl.metrics import read_metrics, truncate_metrics
from rl.run import Run


@dataclass
class Cfg:
    lr: float = opt(0.1, "learning rate", min=0.0, min_exclusive=True)
    steps: int = opt(100, "steps", min=1)
    mode: Literal["a", "b"] = opt("a", "mode")
    kwargs: dict = opt({}, "extra")


def test_layers_later_wins_and_yaml_strings_become_numbers():
    cfg = build_config(Cfg, {"lr": "1e-4", "steps": 5}, {"steps": 7})
    assert cfg.lr == 1e-4 and cfg.steps == 7 and cfg.mode == "a"


@pytest.mark.parametrize("layer, message", [
    ({"lr": -0.1}, "--lr must be > 0.0"),
    ({"lr": 0.0}, "--lr must be > 0.0"),
    ({"steps": 0}, "--steps must be >= 1"),
    ({"steps": 1.5}, "--steps expects int"),
    ({"mode": "c"}, "--mode must be one of a, b"),
    ({"lrr": 0.1}, "unknown option 'lrr' (did you mean 'lr'?)"),
    ({"lr": float("nan")}, "finite"),
])
def test_bad_values_name_the_option(layer, message):
    with pytest.raises(UserError, match=None) as err:
        build_config(Cfg, layer)
    assert message in str(err.value)


def test_yaml_errors_are_user_errors(tmp_path: Path):
    with pytest.raises(UserError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_yaml(bad)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="mapping"):
        load_yaml(tmp_path / "list.yaml")


def test_checkpoint_round_trip(tmp_path: Path):
    state = {"meta": {"algo": "x"}, "Q": torch.arange(6.0).reshape(2, 3), "step": 7,
             "rng": {"state": 2**100 + 3, "inc": 5}}
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(loaded["Q"], state["Q"]) and loaded["rng"] == state["rng"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_is_refused_without_running(tmp_path: Path):
    marker = tmp_path / "pwned"
    Exploit.marker = marker
    path = tmp_path / "evil.pt"
    # torch.save pickles the object: a plain torch.load(weights_only=False) would run os.system
    torch.save({"meta": {}, "payload": Exploit()}, path)
    with pytest.raises(UserError, match="refusing checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(UserError):
        load_checkpoint(raw)
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path: Path):
    save_checkpoint(tmp_path / "c.pt", {"meta": {}, "w": torch.ones(1000)})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "c.pt")


def test_resume_truncates_metrics_logged_after_the_checkpoint(tmp_path: Path):
    run = Run.create(tmp_path / "r", {"algo": "x"})
    metrics = run.open_metrics(["step", "loss"])
    for step in range(3):
        metrics.write({"step": step, "loss": 1.0})
    run.save({"meta": {}})
    metrics.write({"step": 3, "loss": 1.0})  # logged, then the process is killed
    run.close()
    rows = load_checkpoint(run.checkpoint_path())["meta"]["metrics_rows"]
    truncate_metrics(run.path / "metrics.csv", rows)
    assert [r["step"] for r in read_metrics(run.path / "metrics.csv")] == ["0", "1", "2"]


def test_existing_run_dir_needs_resume_or_overwrite(tmp_path: Path):
    Run.create(tmp_path / "r", {"algo": "x"}).close()
    with pytest.raises(UserError, match="already exists"):
        Run.create(tmp_path / "r", {"algo": "x"})
    Run.create(tmp_path / "r", {"algo": "y"}, overwrite=True).close()
    (tmp_path / "notarun").mkdir()
    (tmp_path / "notarun" / "precious.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a run directory"):
        Run.create(tmp_path / "notarun", {"algo": "x"}, overwrite=True)
    assert (tmp_path / "notarun" / "precious.txt").exists()


def test_a_resumed_run_with_a_new_metrics_column_keeps_its_rows_aligned(tmp_path: Path):
    from rl.metrics import MetricsWriter

    path = tmp_path / "metrics.csv"
    old = MetricsWriter(path, ["step", "loss"])
    old.write({"step": 1, "loss": 0.5})
    old.close()
    new = MetricsWriter(path, ["step", "loss", "score_loss"])  # the code gained a column
    new.write({"step": 2, "loss": 0.4, "score_loss": 0.1})
    new.close()
    assert read_metrics(path) == [{"step": "1", "loss": "0.5", "score_loss": ""},
                                  {"step": "2", "loss": "0.4", "score_loss": "0.1"}]
