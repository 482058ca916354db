"""DQN: target math by hand, then tiny-budget runs of the real command on CartPole and Pong."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from agents.dqn import Config, Learner, q_targets, td_loss
from conftest import rl
from rl.files import load_checkpoint, save_checkpoint
from rl.metrics import read_metrics


def test_double_dqn_targets_by_hand():
    q_next_target = torch.tensor([[1.0, 5.0, 2.0], [0.5, 0.0, 3.0]])
    q_next_online = torch.tensor([[9.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # picks a=0, then a=2
    returns = torch.tensor([1.0, -1.0])
    discounts = torch.tensor([0.9 ** 3, 0.0])  # second transition terminated within n steps
    y = q_targets(q_next_target, q_next_online, returns, discounts)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.729 * 1.0, -1.0]))
    # classic DQN: the target net both picks and evaluates (max = 5)
    y = q_targets(q_next_target, None, returns, discounts)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.729 * 5.0, -1.0]))


def test_td_loss_is_weighted_huber_on_taken_actions():
    q = torch.tensor([[0.0, 2.0], [1.0, 0.0]], requires_grad=True)
    loss, td = td_loss(q, torch.tensor([1, 0]), torch.tensor([4.5, 1.5]),
                       torch.tensor([1.0, 0.5]), "huber")
    torch.testing.assert_close(td, torch.tensor([2.5, 0.5]))
    # huber: |2.5| -> 2.5 - 0.5 = 2.0; |0.5| -> 0.5 * 0.25 = 0.125, weighted by 0.5
    assert loss.item() == pytest.approx((2.0 + 0.5 * 0.125) / 2)


def test_epsilon_greedy_asks_the_network_only_for_greedy_envs():
    learner = Learner(Config(env="CartPole-v1"), (4,), 2, "cpu")
    seen: list[int] = []
    learner.q.backbone.register_forward_hook(lambda m, inputs, out: seen.append(len(inputs[0])))
    obs = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    with torch.no_grad():
        greedy = learner.q(torch.from_numpy(obs)).argmax(1).numpy()
    seen.clear()

    assert (learner.act(obs, 0.0, np.random.default_rng(1), 2) == greedy).all()
    assert seen == [8]
    seen.clear()
    actions = learner.act(obs, 1.0, np.random.default_rng(1), 2)  # all explore: no forward
    assert seen == [] and set(actions) == {0, 1}
    # a mix: the network sees only the greedy envs, and the same seed gives the same actions
    mixed = learner.act(obs, 0.5, np.random.default_rng(2), 2)
    assert 0 < seen[0] < 8
    assert (mixed == learner.act(obs, 0.5, np.random.default_rng(2), 2)).all()


CARTPOLE = ["train", "dqn", "--env", "CartPole-v1", "--no-progress", "--steps", "3000",
            "--learning-starts", "500", "--train-freq", "50", "--gradient-steps", "10",
            "--eval-every", "1500", "--eval-episodes", "2", "--log-every", "500",
            "--checkpoint-every", "1000"]


def test_cartpole_train_eval_resume(workdir: Path):
    out = rl(*CARTPOLE, "--run-dir", "run", "--save-replay", cwd=workdir, check=True)
    summary = json.loads(out.stdout)
    assert summary["steps"] == 3000 and summary["mean_return"] > 0
    run = workdir / "run"
    steps = [int(r["step"]) for r in read_metrics(run / "metrics.csv")]
    assert steps == list(range(500, 3001, 500))
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["step"] == 3000 and state["replay"]["written"] > 3000
    assert (run / "learning_curve.png").stat().st_size > 10_000

    ev = json.loads(rl("eval", "run", "--episodes", "3", "--json", cwd=workdir, check=True).stdout)
    assert ev["episodes"] == 3 and {"mean_return", "std_return"} <= set(ev)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert ev["epsilon"] == saved["eval_epsilon"]  # the run's own unless asked otherwise
    ev = json.loads(rl("eval", "run", "--episodes", "3", "--epsilon", "0.05", "--json",
                       cwd=workdir, check=True).stdout)
    assert ev["epsilon"] == 0.05

    more = rl("train", "dqn", "--resume", "run", "--steps", "4000", "--no-progress", cwd=workdir,
              check=True)
    assert json.loads(more.stdout)["steps"] == 4000
    steps = [int(r["step"]) for r in read_metrics(run / "metrics.csv")]
    assert steps == list(range(500, 4001, 500))


def test_same_seed_same_cartpole_run(workdir: Path):
    for name in ("a", "b"):
        rl(*CARTPOLE, "--steps", "1500", "--run-dir", name, "--threads", "1", cwd=workdir,
           check=True)
    keep = ("step", "episodes", "episode_return", "loss", "q_mean", "eval_return")
    rows = [[{k: r[k] for k in keep} for r in read_metrics(workdir / n / "metrics.csv")]
            for n in ("a", "b")]
    assert rows[0] == rows[1] and rows[0][-1]["loss"] != ""


def test_pong_smoke(workdir: Path):
    """The headline job's code path on real Atari frames, with a tiny budget."""
    out = rl("train", "dqn", "--env", "Pong", "--no-progress", "--steps", "400",
             "--learning-starts", "200", "--buffer-size", "1000", "--eval-every", "400",
             "--eval-episodes", "1", "--max-episode-steps", "300", "--log-every", "200",
             "--final-eval-episodes", "1",
             "--run-dir", "pong", cwd=workdir, check=True, timeout=600)
    summary = json.loads(out.stdout)
    assert summary["steps"] == 400 and summary["replay_bytes_per_transition"] <= 7_200
    assert -21 <= summary["mean_return"] <= 21
    videos = list((workdir / "pong" / "videos").glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000
    meta = load_checkpoint(workdir / "pong" / "checkpoints" / "latest.pt")["meta"]
    assert meta["obs_shape"] == [4, 84, 84] and meta["encoder"] == "nature"


def test_encoder_transfer_between_runs(workdir: Path):
    rl(*CARTPOLE, "--steps", "1000", "--run-dir", "a", cwd=workdir, check=True)
    rl(*CARTPOLE, "--steps", "1500", "--run-dir", "b", "--init-encoder", "a/checkpoints/latest.pt",
       "--freeze-encoder", cwd=workdir, check=True)
    a = load_checkpoint(workdir / "a/checkpoints/latest.pt")["model"]
    b = load_checkpoint(workdir / "b/checkpoints/latest.pt")["model"]
    shared = [k for k in a if k.startswith("backbone.")]
    assert shared and all(torch.equal(a[k], b[k]) for k in shared)
    assert not torch.equal(a["head.advantage.weight"], b["head.advantage.weight"])
    bad = rl(*CARTPOLE, "--run-dir", "c", "--encoder", "nature", "--init-encoder",
             "a/checkpoints/latest.pt", cwd=workdir)
    assert bad.returncode == 2 and "image-shaped" in bad.stderr


def test_divergence_stops_with_a_message_and_keeps_the_checkpoint(workdir: Path):
    proc = rl(*CARTPOLE, "--run-dir", "run", "--lr", "1e30", "--lr-end", "1e30", "--loss", "mse",
              "--max-grad-norm", "0", "--checkpoint-every", "100", cwd=workdir)
    assert proc.returncode == 3 and "training diverged" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "the last good checkpoint is run/checkpoints/latest.pt" in proc.stderr
    assert load_checkpoint(workdir / "run" / "checkpoints" / "latest.pt")["step"] <= 500


def test_sb3_backend_with_our_encoder(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    """`--impl sb3`: SB3's DQN learns with our encoder; its weights come back in our format, so
    `rl eval` and --init-encoder read them like our own."""
    (workdir / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(workdir / "tmp"))
    out = rl(*CARTPOLE, "--impl", "sb3", "--run-dir", "sb3", cwd=workdir, check=True)
    assert not list((workdir / "tmp").glob("SB3-*")), "SB3's default logger left a folder behind"
    summary = json.loads(out.stdout)
    assert summary["impl"] == "sb3" and summary["encoder"] == "mlp"
    assert summary["steps"] >= 3000 and summary["mean_return"] > 0
    ev = json.loads(rl("eval", "sb3", "--episodes", "2", "--json", cwd=workdir, check=True).stdout)
    assert ev["episodes"] == 2
    rl(*CARTPOLE, "--steps", "600", "--run-dir", "ours", "--init-encoder",
       "sb3/checkpoints/latest.pt", "--freeze-encoder", "--no-dueling", cwd=workdir, check=True)
    a = load_checkpoint(workdir / "sb3/checkpoints/latest.pt")["model"]
    b = load_checkpoint(workdir / "ours/checkpoints/latest.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("backbone."))
    resumed = rl("train", "dqn", "--resume", "sb3", cwd=workdir)
    assert resumed.returncode == 2 and "not supported with --impl sb3" in resumed.stderr


def test_an_agent_that_never_serves_still_finishes_breakout():
    """FIRE after a lost life: evaluation episodes of a stuck agent end in hundreds of steps,
    not at the 27,000-step cap (the same rule for every Atari game)."""
    from agents.dqn import Config, atari_options
    from envs import make_single_env

    env = make_single_env("Breakout", atari_options(Config(env="Breakout")))
    env.reset(seed=0)
    steps, terminated = 0, False
    while not terminated and steps < 27_000:
        _, _, terminated, _, _ = env.step(0)  # NOOP, forever
        steps += 1
    env.close()
    assert terminated and steps < 2_000


def test_bench_dqn_reports_both_implementations(workdir: Path):
    """`rl bench dqn`: ours and SB3's DQN, same settings, one after the other; timings are
    reported, never asserted (shared machines are noisy)."""
    out = rl("bench", "dqn", "--env", "Pong", "--steps", "40", "--learning-starts", "40",
             "--buffer-size", "1000", "--json", cwd=workdir, check=True)
    r = json.loads(out.stdout)
    assert r["device"] == "cpu" and r["train_steps"] == 40
    assert r["ours_sps"] > 0 and r["sb3_sps"] > 0
    assert r["sps_ratio"] == pytest.approx(r["ours_sps"] / r["sb3_sps"], rel=0.01)
    # frames stored once: one 84x84 frame plus a few bytes, against SB3's obs + next_obs stacks
    assert 84 * 84 <= r["ours_bytes_per_transition"] <= 7200
    assert r["sb3_bytes_per_transition"] >= 2 * 4 * 84 * 84


def test_bench_dqn_amp_names_each_side_s_precision(workdir: Path):
    """`--amp` runs ours in bf16 where the CPU computes it natively; SB3 has no such option."""
    from rl.precision import bf16_native

    out = rl("bench", "dqn", "--env", "Pong", "--steps", "40", "--learning-starts", "40",
             "--buffer-size", "1000", "--amp", "--json", cwd=workdir, check=True)
    r = json.loads(out.stdout)  # one JSON object, even where --amp is declined
    expected = "bf16" if bf16_native(torch.device("cpu")) else "fp32"
    assert (r["ours_precision"], r["sb3_precision"]) == (expected, "fp32")


def test_bench_update_amp_times_the_preset_in_bf16_where_the_cpu_has_it(workdir: Path):
    """`rl bench update --amp` names the precision it timed; JSON even where it is declined."""
    from rl.precision import bf16_native

    out = rl("bench", "update", "--seconds", "0.4", "--amp", "--json", cwd=workdir, check=True)
    expected = "bf16" if bf16_native(torch.device("cpu")) else "fp32"
    assert json.loads(out.stdout)["precision"] == expected


def batch_norm_learner(tmp_path: Path, freeze: bool):
    """A Q-network on a batch-norm backbone (resnet-small), its encoder from a checkpoint whose
    running statistics are not the defaults, and a replay of random 12x12 frames."""
    from rl.backbones import make_backbone

    torch.manual_seed(0)
    source = make_backbone("resnet-small", (4, 12, 12))
    source.train()(torch.rand(16, 4, 12, 12))  # running statistics of their own
    save_checkpoint(tmp_path / "enc.pt", {"meta": {"encoder": "resnet-small",
                                                   "obs_shape": [4, 12, 12]},
                                          "model": {f"backbone.{k}": v for k, v in
                                                    source.state_dict().items()}})
    cfg = Config(env="Pong", encoder="resnet-small", init_encoder=str(tmp_path / "enc.pt"),
                 freeze_encoder=freeze, batch_size=8, buffer_size=200, n_step=1)
    learner = Learner(cfg, (4, 12, 12), 3, "cpu")
    rng = np.random.default_rng(0)
    return learner, random_frames_replay(rng, 12), rng


def random_frames_replay(rng: np.random.Generator, size: int, steps: int = 60):
    """A one-env replay of random size x size frames, random actions and rewards."""
    from rl.replay import FrameReplay

    replay = FrameReplay(200, 1, (size, size), np.uint8, stack=4, n_step=1, gamma=0.99, seed=0)
    replay.start(rng.integers(0, 255, (1, size, size), dtype=np.uint8))
    for _ in range(steps):
        replay.add(rng.integers(3, size=1), rng.normal(size=1).astype(np.float32),
                   np.zeros(1, bool), np.zeros(1, bool),
                   rng.integers(0, 255, (1, size, size), dtype=np.uint8), np.zeros(1, bool))
    return replay


def test_a_frozen_batch_norm_encoder_stays_bit_identical_through_dqn_training(tmp_path: Path):
    from rl.run import LossGuard

    learner, replay, rng = batch_norm_learner(tmp_path, freeze=True)
    before = {k: v.clone() for k, v in learner.q.state_dict().items()}
    for _ in range(5):
        learner.act(rng.integers(0, 255, (2, 4, 12, 12), dtype=np.uint8), 0.0, rng, 3)
        learner.update(replay.sample(8, 0.4), LossGuard())
        learner.sync_target()
    after = learner.q.state_dict()
    encoder = [k for k in before if k.startswith("backbone.")]
    assert any("running_mean" in k for k in encoder)
    assert all(torch.equal(before[k], after[k]) for k in encoder)  # weights and statistics
    assert not torch.equal(before["head.advantage.weight"], after["head.advantage.weight"])


def test_acting_never_moves_batch_norm_statistics(tmp_path: Path):
    learner, _, rng = batch_norm_learner(tmp_path, freeze=False)
    before = {k: v.clone() for k, v in learner.q.state_dict().items()}
    for _ in range(3):
        learner.act(rng.integers(0, 255, (4, 4, 12, 12), dtype=np.uint8), 0.0, rng, 3)
    assert all(torch.equal(before[k], v) for k, v in learner.q.state_dict().items())


def test_amp_trains_in_bfloat16_where_the_hardware_has_it_and_in_float32_elsewhere():
    from rl.precision import bf16_native
    from rl.run import LossGuard

    cfg = Config(env="Pong", encoder="nature", amp=True, batch_size=8, buffer_size=200, n_step=1)
    learner = Learner(cfg, (4, 84, 84), 3, "cpu")
    assert learner.amp == bf16_native(torch.device("cpu"))
    replay = random_frames_replay(np.random.default_rng(0), 84, steps=20)
    before = learner.q.head.advantage.weight.clone()
    loss, _, _ = learner.update(replay.sample(8, 0.4), LossGuard())
    assert np.isfinite(loss)
    assert not torch.equal(before, learner.q.head.advantage.weight)


def test_dopamine_s_network_the_same_layers_padded_same_and_xavier_initialised():
    from agents.dqn.network import build_network

    q = build_network(Config(env="Pong", encoder="nature-same", init="xavier"), (4, 84, 84), 6)
    layers = [m for m in q.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 6 and all((m.bias == 0).all() for m in layers)  # 3 convs, 512, heads
    assert q(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)
    plain = build_network(Config(env="Pong"), (4, 84, 84), 6)
    assert plain.head.advantage.bias.abs().sum() > 0  # PyTorch's defaults otherwise
