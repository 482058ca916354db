"""Tabular Q-learning (and SARSA, expected SARSA) for gymnasium envs with discrete spaces.

The loop reads top to bottom: act epsilon-greedily, step, TD update, log, evaluate, checkpoint.
Envs that expose their model (`env.unwrapped.P`) are also solved exactly by value iteration,
and the summary compares the learned greedy policy with the optimal one.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from envs import make_env, resolve_env_id
from rl import tabular
from rl.config import opt, saved_config
from rl.errors import UserError
from rl.files import check_checkpoint_meta
from rl.loop import Loop
from rl.plots import plot_learning_curve
from rl.run import Run, RunOptions
from rl.schedules import make_schedule
from rl.stats import summarise_returns, wilson

NAME = "qlearning"
EXPORT_KEYS = ("meta", "Q", "step")  # a shipped agent: the table alone
COLUMNS = ["step", "episodes", "episode_return", "episode_length", "epsilon", "lr", "td_error",
           "eval_return", "eval_success", "steps_per_s"]
PANELS = [("episode_return", "eval_return"), ("eval_success",), ("td_error",), ("epsilon", "lr")]
Schedule = Literal["constant", "linear", "exponential"]


@dataclass
class Config:
    env: str = opt("FrozenLake-v1", "gymnasium env id with Discrete observations and actions")
    env_kwargs: dict = opt({}, "extra gymnasium.make arguments, e.g. map_name=8x8 "
                           "is_slippery=false")
    max_episode_steps: int | None = opt(None, "time limit per episode (default: the env's own, "
                                        "or 1000 where it has none)", min=1)
    seed: int = opt(0, "seed for the agent and the env", min=0)
    steps: int = opt(500_000, "environment steps to train for", min=1, resumable=True)
    method: tabular.Method = opt("qlearning", "TD target: qlearning (max), sarsa, expected_sarsa")
    gamma: float = opt(0.99, "discount factor", min=0.0, max=1.0)
    lr: float = opt(0.1, "learning rate (step size) at the start", min=0.0, max=1.0,
                    min_exclusive=True)
    lr_end: float = opt(0.01, "learning rate at the end of its schedule", min=0.0, max=1.0)
    lr_schedule: Schedule = opt("linear", "how the learning rate moves from lr to lr_end")
    epsilon: float = opt(1.0, "exploration rate at the start", min=0.0, max=1.0)
    epsilon_end: float = opt(0.05, "exploration rate at the end of its schedule", min=0.0, max=1.0)
    epsilon_schedule: Schedule = opt("linear", "how epsilon moves from epsilon to epsilon_end")
    schedule_fraction: float = opt(0.8, "fraction of the steps over which both schedules run",
                                   min=0.0, max=1.0, min_exclusive=True)
    log_every: int = opt(5_000, "steps between metrics rows", min=1, resumable=True)
    eval_every: int = opt(50_000, "steps between greedy evaluations", min=1, resumable=True)
    eval_episodes: int = opt(200, "episodes per evaluation during training", min=1,
                             resumable=True)
    final_eval_episodes: int = opt(2000, "episodes of the final evaluation in summary.json",
                                   min=1, resumable=True)
    checkpoint_every: int = opt(50_000, "steps between checkpoints", min=1, resumable=True)

    def check(self) -> None:
        if self.lr_schedule != "constant" and self.lr_end > self.lr:
            raise UserError(f"--lr-end ({self.lr_end}) must not exceed --lr ({self.lr})")

    def run_name(self) -> str:
        return f"{NAME}-{resolve_env_id(self.env)}"


def make_discrete_env(cfg: Config) -> gym.Env:
    env = make_env(cfg.env, max_episode_steps=cfg.max_episode_steps, **cfg.env_kwargs)
    for space, what in ((env.observation_space, "observations"), (env.action_space, "actions")):
        if not isinstance(space, gym.spaces.Discrete):
            raise UserError(f"{cfg.env} has {type(space).__name__} {what}: tabular Q-learning "
                            "needs Discrete ones (try `rl train dqn` instead)")
    return env


def has_success(env: gym.Env) -> bool:
    """Goal-reaching envs where 'terminated with positive reward' means success."""
    return env.spec is not None and env.spec.id.split("-")[0] in ("FrozenLake", "FrozenLake8x8",
                                                                  "Taxi")


def evaluate_policy(env: gym.Env, policy: np.ndarray, episodes: int, seed: int) -> dict[str, Any]:
    """Run a deterministic tabular policy; the same seed gives the same episodes for any policy."""
    returns = np.empty(episodes)
    successes = 0
    obs, _ = env.reset(seed=seed)
    for i in range(episodes):
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(policy[obs]))
            total += float(reward)
            done = terminated or truncated
        successes += bool(terminated and reward > 0)
        returns[i] = total
        obs, _ = env.reset()
    out: dict[str, Any] = {**summarise_returns(returns), "episodes": episodes}
    if has_success(env):
        out["success_rate"] = successes / episodes
        out["success_rate_ci95"] = [round(x, 4) for x in wilson(successes, episodes)]
    return out


def optimality_ratio(ours: dict[str, Any], best: dict[str, Any]) -> float | None:
    """1.0 is as good as the optimal policy, lower is worse (success rate where defined)."""
    if "success_rate" in ours and best["success_rate"] > 0:
        return ours["success_rate"] / best["success_rate"]
    mine, opt_ = ours["mean_return"], best["mean_return"]
    if opt_ > 0:
        return mine / opt_
    if opt_ < 0 and mine < 0:
        return opt_ / mine
    return None


class Agent:
    """Q table plus the epsilon-greedy behaviour policy and its random generator."""

    def __init__(self, n_states: int, n_actions: int, seed: int):
        self.Q = np.zeros((n_states, n_actions))
        self.rng = np.random.default_rng(seed)

    def act(self, state: int, epsilon: float) -> int:
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.Q.shape[1]))
        row = self.Q[state]
        best = np.flatnonzero(row == row.max())
        return int(best[0]) if best.size == 1 else int(self.rng.choice(best))


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    env = make_discrete_env(cfg)
    eval_env = make_discrete_env(cfg)
    n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
    loop = Loop(run, opts, seed=cfg.seed, meta={"algo": NAME, "env": env.spec.id,
                                                 "n_states": n_states, "n_actions": n_actions})
    agent = Agent(n_states, n_actions, cfg.seed)
    step, episodes = 0, 0
    recent_returns: deque[float] = deque(maxlen=100)
    recent_lengths: deque[int] = deque(maxlen=100)
    obs, _ = env.reset(seed=cfg.seed)
    if state := loop.restore(resume):
        step, episodes = restore(state, agent, env, recent_returns, recent_lengths)
        obs, _ = env.reset()  # a resumed run starts a fresh episode
    loop.begin(COLUMNS, total=cfg.steps, done=step, label=f"{NAME} {env.spec.id}", plot=plot)
    epsilon_at = make_schedule(cfg.epsilon_schedule, cfg.epsilon, cfg.epsilon_end, cfg.steps,
                               cfg.schedule_fraction)
    lr_at = make_schedule(cfg.lr_schedule, cfg.lr, cfg.lr_end, cfg.steps, cfg.schedule_fraction)

    def snapshot() -> dict[str, Any]:
        import torch

        return {"meta": loop.meta, "Q": torch.from_numpy(agent.Q.copy()), "step": step,
                "episodes": episodes, "agent_rng": agent.rng.bit_generator.state,
                "env_rng": env.unwrapped.np_random.bit_generator.state,
                "recent_returns": list(recent_returns), "recent_lengths": list(recent_lengths)}

    step0 = step
    ep_return, ep_length, td_sum, td_n = 0.0, 0, 0.0, 0
    last_eval: dict[str, Any] = {}
    unlogged_eval: dict[str, Any] = {}
    epsilon = epsilon_at(step)
    action = agent.act(obs, epsilon)
    while loop.running(step):
        epsilon, lr = epsilon_at(step), lr_at(step)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        next_action = agent.act(next_obs, epsilon)  # SARSA bootstraps from the action it takes
        target = tabular.td_target(agent.Q, float(reward), next_obs, next_action, terminated,
                                   cfg.gamma, cfg.method, epsilon)
        td = tabular.td_update(agent.Q, obs, action, target, lr)
        if cfg.method == "qlearning" and next_obs == obs:
            next_action = agent.act(next_obs, epsilon)  # textbook order: act after the update
        obs, action = next_obs, next_action
        step += 1
        ep_return += float(reward)
        ep_length += 1
        td_sum += abs(td)
        td_n += 1
        if terminated or truncated:
            episodes += 1
            recent_returns.append(ep_return)
            recent_lengths.append(ep_length)
            ep_return, ep_length = 0.0, 0
            obs, _ = env.reset()
            action = agent.act(obs, epsilon)

        new_best = False
        if step % cfg.eval_every == 0 or step == cfg.steps:
            last_eval = unlogged_eval = evaluate_policy(
                eval_env, tabular.greedy(agent.Q), cfg.eval_episodes, seed=cfg.seed + 10_000)
            new_best = loop.offer(step, last_eval["mean_return"])
        if step % cfg.log_every == 0 or step == cfg.steps:
            loop.log(step, {"step": step, "episodes": episodes,
                            "episode_return": np.mean(recent_returns) if recent_returns else None,
                            "episode_length": np.mean(recent_lengths) if recent_lengths else None,
                            "epsilon": epsilon, "lr": lr, "td_error": td_sum / max(td_n, 1),
                            "eval_return": unlogged_eval.get("mean_return"),
                            "eval_success": unlogged_eval.get("success_rate"),
                            "steps_per_s": (step - step0) / loop.leg_time()})
            td_sum, td_n, unlogged_eval = 0.0, 0, {}
        if step % cfg.checkpoint_every == 0 or new_best:
            loop.save(snapshot(), best=new_best)
        loop.progress(step, ret=np.mean(recent_returns) if recent_returns else None,
                      eval=last_eval.get("mean_return"), eps=epsilon)
    loop.close(snapshot())
    if loop.stopped:
        return {}
    return final_summary(cfg, loop, agent.Q, eval_env, snapshot(), loop.train_time(),
                         step, episodes)


def restore(state: dict[str, Any], agent: Agent, env: gym.Env, recent_returns: deque[float],
            recent_lengths: deque[int]) -> tuple[int, int]:
    """A resumed run's table, generators and recent episodes; its step and episode count."""
    agent.Q = state["Q"].numpy().copy()
    agent.rng.bit_generator.state = state["agent_rng"]
    env.unwrapped.np_random.bit_generator.state = state["env_rng"]
    recent_returns.extend(state["recent_returns"])
    recent_lengths.extend(state["recent_lengths"])
    return state["step"], state["episodes"]


def final_summary(cfg: Config, loop: Loop, Q: np.ndarray, eval_env: gym.Env, state: dict,
                  train_time_s: float, step: int, episodes: int) -> dict[str, Any]:
    """The final table and the best checkpoint's, on the same fresh episodes: the better one
    becomes best.pt and the summary's figures; beside them the optimal policy's."""
    def figures(table: np.ndarray) -> dict[str, Any]:
        return evaluate_policy(eval_env, tabular.greedy(table), cfg.final_eval_episodes,
                               seed=cfg.seed + 20_000)

    chosen = loop.settle(step, figures(Q), lambda: figures(loop.run.load("best")["Q"].numpy()),
                         state)
    summary: dict[str, Any] = {"algo": NAME, "env": eval_env.spec.id, "method": cfg.method,
                               "steps": step, "train_episodes": episodes,
                               "train_time_s": round(train_time_s, 2), **chosen}
    P = getattr(eval_env.unwrapped, "P", None)
    if P is not None:
        model = tabular.model_from_gym_P(P, *Q.shape)
        _, Q_star = tabular.value_iteration(model, cfg.gamma)
        best = figures(Q_star)
        summary.update({f"optimal_{k}": v for k, v in best.items() if k != "episodes"})
        summary["optimality_ratio"] = optimality_ratio(chosen, best)
    return summary


def plot(run: Run) -> None:
    plot_learning_curve(run.path / "metrics.csv", run.path / "learning_curve.png", PANELS,
                        title=f"{run.config.get('algo')} on {run.config.get('env')}")


@dataclass
class EvalConfig:
    """`rl eval DIR` of a Q-learning run: its greedy policy over fresh episodes."""

    episodes: int = opt(100, "episodes to play", min=1)
    seed: int | None = opt(None, "seed of the episodes (default: the run's seed + 30000)")


def evaluate(run: Run, checkpoint: str, ev: EvalConfig, progress: bool = False
             ) -> dict[str, Any]:
    """`rl eval DIR`: the greedy policy of a checkpoint over `ev.episodes` fresh episodes."""
    cfg = saved_config(Config, run.config)
    episodes, seed = ev.episodes, ev.seed
    env = make_discrete_env(cfg)
    state = run.load(checkpoint)
    meta = {"algo": NAME, "env": env.spec.id, "n_states": int(env.observation_space.n),
            "n_actions": int(env.action_space.n)}
    check_checkpoint_meta(run.checkpoint_path(checkpoint), state["meta"], meta)
    policy = tabular.greedy(state["Q"].numpy())
    result = evaluate_policy(env, policy, episodes,
                             seed=cfg.seed + 30_000 if seed is None else seed)
    return {"algo": NAME, "env": env.spec.id, "checkpoint": checkpoint, "step": state["step"],
            **result}
