"""`rl bench dqn`: our DQN against stable-baselines3's, same settings, same machine, same run.

Both learn with the Nature CNN, batch 32, one gradient step every 4 env steps, the same buffer
size, learning starts and target period, classic (not double, not dueling) 1-step targets, and
the same torch thread count. Steps per second are timed over the training phase only (after
learning starts), where the gradient steps dominate.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rl.precision import use_amp


def _ours(env: str, steps: int, learning_starts: int, buffer_size: int, seed: int,
          device: str, amp: bool) -> dict[str, Any]:
    from agents import dqn
    from rl.config import build_config
    from rl.run import Run, RunOptions

    cfg = build_config(dqn.Config, dqn.defaults_for({"env": env}), {
        "env": env, "steps": learning_starts + steps, "learning_starts": learning_starts,
        "buffer_size": buffer_size, "batch_size": 32, "train_freq": 4, "gradient_steps": 1,
        "target_update": 1000, "double": False, "dueling": False, "n_step": 1, "lr": 1e-4,
        "encoder": "auto", "eval_every": 10 ** 12, "checkpoint_every": 10 ** 12,
        "log_every": 10 ** 12, "final_eval": False, "seed": seed, "amp": amp})
    clock: dict[str, float] = {}

    def tick(step: int) -> None:  # like SB3's callback below: the training phase only
        now = time.perf_counter()
        if step >= learning_starts and "t0" not in clock:
            clock["t0"], clock["step0"] = now, step
        clock["t1"], clock["step1"] = now, step

    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(Path(tmp) / "run", {"algo": "dqn"})
        summary = dqn.train(cfg, run, RunOptions(device=device, progress=False, step_hook=tick),
                            resume=False)
        run.close()
    return {"sps": (clock["step1"] - clock["step0"]) / (clock["t1"] - clock["t0"]),
            "bytes_per_transition": summary["replay_bytes_per_transition"]}


def _sb3(env: str, steps: int, learning_starts: int, buffer_size: int, seed: int,
         device: str) -> dict[str, Any]:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.dqn import Config, atari_options, is_atari
    from envs import make_single_env
    from rl.sb3 import silent_logger

    cfg = Config(env=env)
    venv = DummyVecEnv([lambda: make_single_env(env, atari_options(cfg))])

    class Clock(BaseCallback):
        t_start: float | None = None

        def _on_step(self) -> bool:
            if self.t_start is None and self.num_timesteps >= learning_starts:
                self.t_start = time.perf_counter()
            return True

    policy = "CnnPolicy" if is_atari(env) else "MlpPolicy"
    model = DQN(policy, venv, learning_rate=1e-4, buffer_size=buffer_size,
                learning_starts=learning_starts, batch_size=32, train_freq=4, gradient_steps=1,
                target_update_interval=1000, seed=seed, verbose=0, device=device,
                optimize_memory_usage=False)
    model.set_logger(silent_logger())
    clock = Clock()
    model.learn(learning_starts + steps, callback=clock)
    elapsed = time.perf_counter() - clock.t_start
    rb = model.replay_buffer
    arrays = [rb.observations, rb.next_observations, rb.actions, rb.rewards, rb.dones, rb.timeouts]
    nbytes = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
    venv.close()
    return {"sps": steps / elapsed, "bytes_per_transition": nbytes / rb.buffer_size}


def bench_dqn(env: str = "Pong", steps: int = 2_000, learning_starts: int = 1_000,
              buffer_size: int = 100_000, seed: int = 0, device: str = "cpu",
              amp: bool = False) -> dict[str, Any]:
    """`amp`: ours under bf16 autocast where the hardware computes bf16 natively (SB3 has no
    such option, so it stays in fp32; the result names both precisions)."""
    threads = torch.get_num_threads()
    amp = use_amp(amp, torch.device(device))
    ours = _ours(env, steps, learning_starts, buffer_size, seed, device, amp)
    sb3 = _sb3(env, steps, learning_starts, buffer_size, seed, device)
    return {"env": env, "train_steps": steps, "learning_starts": learning_starts,
            "buffer_size": buffer_size, "torch_threads": threads, "device": device,
            "ours_precision": "bf16" if amp else "fp32", "sb3_precision": "fp32",
            "ours_sps": round(ours["sps"], 1), "sb3_sps": round(sb3["sps"], 1),
            "sps_ratio": round(ours["sps"] / sb3["sps"], 3),
            "ours_bytes_per_transition": round(ours["bytes_per_transition"], 1),
            "sb3_bytes_per_transition": round(sb3["bytes_per_transition"], 1)}


def _plain_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                lr: float, seed: int) -> float:
    """The reference: the shortest correct PyTorch training loop, images per second."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(x), generator=gen)
    for i in range(0, len(x), batch_size):
        idx = perm[i:i + batch_size]
        loss = torch.nn.functional.cross_entropy(model(x[idx].float() / 255), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return len(x) / (time.perf_counter() - t0)


def bench_classifier(backbone: str = "deepcnn", dataset: str = "mnist-10k",
                     data_dir: Path | None = None, batch_size: int = 100,
                     epochs: int = 2, seed: int = 0) -> dict[str, Any]:
    """Our `rl train classifier` loop vs a plain loop, same model, data, batch and optimiser
    (Adam, no augmentation, constant lr), one after the other in this process."""
    from agents import classifier
    from rl.config import build_config
    from rl.datasets import load_dataset
    from rl.run import Run, RunOptions

    cfg = build_config(classifier.Config, {
        "backbone": backbone, "dataset": dataset, "batch_size": batch_size, "epochs": epochs,
        "augment": False, "schedule": "constant", "lr": 1e-3, "seed": seed,
        "data_dir": str(data_dir) if data_dir else None})
    data = load_dataset(dataset, data_dir)

    def plain_epochs() -> list[float]:
        torch.manual_seed(seed)
        model = classifier.build_model(cfg, data)
        return [_plain_loop(model, data.train_x, data.train_y, batch_size, 1e-3, seed + e)
                for e in range(epochs)]

    # the reference runs before and after ours, so drifts of a shared machine even out
    plain = plain_epochs()
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(Path(tmp) / "run", {"algo": "classifier"})
        ours = classifier.train(cfg, run, RunOptions(device="cpu", progress=False), resume=False)
        run.close()
    plain = np.mean(plain + plain_epochs())
    return {"backbone": backbone, "dataset": dataset, "batch_size": batch_size, "epochs": epochs,
            "torch_threads": torch.get_num_threads(),
            "ours_images_per_s": round(ours["images_per_s"], 1),
            "plain_images_per_s": round(float(plain), 1),
            "ratio": round(ours["images_per_s"] / float(plain), 3)}


def bench_selfplay(game_name: str = "connect_four", simulations: int = 100, games: int = 32,
                   seed: int = 0, seconds: float = 10.0, search: str = "puct",
                   precision: str = "auto") -> dict[str, Any]:
    """Self-play positions/s: our search with batched leaf evaluation (`games` games at once)
    vs the same search and network one position at a time, and open_spiel's MCTSBot (random
    rollouts, no network) at equal simulations, in this process one after the other.
    `precision`: the search's network, auto being the game's preset where bf16 pays."""
    from dataclasses import replace

    from agents.alphazero.config import Config, defaults_for
    from agents.alphazero.net import NetEvaluator, build_net, with_precision
    from agents.alphazero.selfplay import PlaySettings, self_play
    from agents.arena.players import SpielMCTSPlayer
    from envs.games import load_game
    from rl.config import build_config

    game = load_game(game_name)
    # the game's training preset (trunk, leaves per call), one process
    cfg = with_precision(build_config(Config, defaults_for({"game": game.name}),
                                      {"game": game.name, "search": search}), precision)
    torch.manual_seed(seed)
    evaluator = NetEvaluator(build_net(cfg, game), torch.device("cpu"), cfg.search_bf16)

    def ours(n_games: int, seconds: float) -> float:
        """Positions per second over whole games, playing batches of n_games until `seconds`.
        One at a time means one game and one leaf per network call."""
        play = replace(PlaySettings.of(cfg), search=cfg.search_config(simulations),
                       fast_simulations=0)
        if n_games == 1:
            play.search = replace(play.search, leaves_per_tree=1)
        positions, t0, i = 0, time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds or positions == 0:
            data, _, _ = self_play(game, evaluator, play, n_games, np.random.default_rng([seed, i]))
            positions, i = positions + len(data), i + 1
        return positions / (time.perf_counter() - t0)

    def spiel(seconds: float) -> float:
        bot, positions, t0 = SpielMCTSPlayer(game, simulations, seed), 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or positions == 0:
            state = game.new_state()
            while not state.is_terminal():
                state.apply_action(bot.move(state))
                positions += 1
        return positions / (time.perf_counter() - t0)

    batched = ours(games, seconds)
    single = ours(1, seconds)
    reference = spiel(seconds)
    return {"game": game.name, "search": search, "simulations": simulations,
            "parallel_games": games,
            "backbone": cfg.backbone, "leaves_per_tree": cfg.leaves_per_tree,
            "search_precision": cfg.search_precision,
            "torch_threads": torch.get_num_threads(),
            "batched_positions_per_s": round(batched, 1),
            "one_at_a_time_positions_per_s": round(single, 1),
            "openspiel_mcts_positions_per_s": round(reference, 1),
            "batched_vs_one_at_a_time": round(batched / single, 3),
            "batched_vs_openspiel": round(batched / reference, 3)}


def _rate(fn: Any, seconds: float) -> float:
    """Calls per second of fn over about `seconds`, after two warm-up calls."""
    fn()
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def _plain_update(obs_shape: tuple[int, ...], n_actions: int, seed: int, encoder: str) -> Any:
    """The reference: a plain PyTorch Double DQN update of the same encoder on 32 frames
    (online forward on observations and next observations, target forward, backward, Adam)."""
    import copy

    from rl.backbones import make_backbone

    torch.manual_seed(seed)
    net = torch.nn.Sequential(make_backbone(encoder, obs_shape), torch.nn.Linear(512, n_actions))
    target, opt = copy.deepcopy(net), torch.optim.Adam(net.parameters(), lr=1e-4, eps=1.5e-4)
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (32, *obs_shape), dtype=torch.uint8, generator=gen)
    actions, rewards = torch.randint(0, n_actions, (32, 1), generator=gen), torch.randn(32)

    def update() -> None:
        with torch.no_grad():
            nxt = obs.float() / 255
            best = net(nxt).argmax(1, keepdim=True)
            y = rewards + 0.99 * target(nxt).gather(1, best).squeeze(1)
        q = net(obs.float() / 255).gather(1, actions).squeeze(1)
        loss = torch.nn.functional.smooth_l1_loss(q, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return update


def bench_update(preset: str = "drq_eps", env: str = "Pong", seconds: float = 10.0,
                 seed: int = 0, amp: bool = False) -> dict[str, Any]:
    """Where a preset's training step spends its time, and its gradient updates per second
    against a plain PyTorch update and against the machine's limit: the update's FLOPs
    (counted by torch) at the rate this machine multiplies matrices (a 1024^3 GEMM) in the
    update's precision. The plain update stays in fp32, as a user's first one would."""
    from torch.utils.flop_counter import FlopCounterMode

    from agents.dqn import Learner, defaults_for
    from agents.dqn.config import Config, atari_options, encoder_name
    from agents.dqn.train import make_replay, spaces
    from envs import make_single_env
    from rl.config import build_config
    from rl.run import LossGuard

    layers = {"env": env, "preset": preset, "seed": seed, "amp": amp}
    cfg = build_config(Config, defaults_for(layers), layers)
    obs_shape, n_actions = spaces(cfg)
    rng = np.random.default_rng(seed)
    replay = make_replay(cfg, obs_shape)
    replay.start(rng.integers(0, 256, (1, *obs_shape[1:]), dtype=np.uint8))
    for _ in range(5_000):  # random frames: the cost of sampling does not depend on content
        replay.add(rng.integers(n_actions, size=1), rng.standard_normal(1).astype(np.float32),
                   rng.random(1) < 0.01, np.zeros(1, bool),
                   rng.integers(0, 256, (1, *obs_shape[1:]), dtype=np.uint8), np.zeros(1, bool))
    learner, guard = Learner(cfg, obs_shape, n_actions, "cpu"), LossGuard()
    batch = replay.sample(cfg.batch_size)
    game = make_single_env(cfg.env, atari_options(cfg))
    game.reset(seed=seed)
    stepped = lambda: game.step(int(rng.integers(n_actions)))[2] and game.reset()  # noqa: E731
    with FlopCounterMode(display=False) as counter:
        learner.update(batch, guard)
    flops = counter.get_total_flops()
    dtype = torch.bfloat16 if learner.amp else torch.float32
    a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
    gemm = _rate(lambda: torch.mm(a, b), seconds / 4) * 2 * 1024 ** 3
    parts = {"replay_sample": _rate(lambda: replay.sample(cfg.batch_size), seconds / 4),
             "augmentation": _rate(lambda: (learner.augmented(batch.obs),
                                            learner.augmented(batch.next_obs)), seconds / 4),
             "act_one_frame": _rate(lambda: learner.act(batch.obs[:1], 0.0, rng, n_actions),
                                    seconds / 4),
             "env_step": _rate(stepped, seconds / 4)}
    # ours and the reference alternate, so a drift of a shared machine hits both
    encoder = encoder_name(cfg, obs_shape)
    plain, ours = _plain_update(obs_shape, n_actions, seed, encoder), []
    update = lambda: learner.update(replay.sample(cfg.batch_size), guard)  # noqa: E731
    reference = []
    for _ in range(2):
        ours.append(_rate(update, seconds / 4))
        reference.append(_rate(plain, seconds / 4))
    game.close()
    ours_rate, plain_rate = float(np.median(ours)), float(np.median(reference))
    limit = gemm / flops
    return {"preset": preset, "env": env, "encoder": encoder,
            "precision": "bf16" if learner.amp else "fp32",
            "torch_threads": torch.get_num_threads(), "updates_per_s": round(ours_rate, 1),
            "plain_updates_per_s": round(plain_rate, 1),
            "ratio": round(ours_rate / plain_rate, 3), "gflop_per_update": round(flops / 1e9, 3),
            "gemm_gflops": round(gemm / 1e9, 1), "limit_updates_per_s": round(limit, 1),
            "of_limit": round(ours_rate / limit, 3),
            "ms": {"update_with_sampling": round(1000 / ours_rate, 2),
                   **{k: round(1000 / v, 3) for k, v in parts.items()}}}
