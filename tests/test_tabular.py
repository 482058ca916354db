"""The textbook updates and value iteration, on MDPs whose answers are known by hand."""
import numpy as np
import pytest

from rl import tabular
from rl.schedules import Exponential, Linear, make_schedule

GAMMA = 0.9


def two_state_mdp() -> tabular.Model:
    """s0: a0 stays (r=0), a1 moves to s1 (r=0). s1: a0 ends the episode (r=1), a1 stays (r=0)."""
    P = {0: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, 0.0, False)]},
         1: {0: [(1.0, 1, 1.0, True)], 1: [(1.0, 1, 0.0, False)]}}
    return tabular.model_from_gym_P(P, 2, 2)


def test_value_iteration_matches_hand_solution():
    V, Q = tabular.value_iteration(two_state_mdp(), GAMMA)
    # V(s1) = 1 (end now); Q(s1, stay) = 0.9; V(s0) = 0.9 * V(s1); Q(s0, stay) = 0.9 * V(s0)
    np.testing.assert_allclose(V, [0.9, 1.0], atol=1e-9)
    np.testing.assert_allclose(Q, [[0.81, 0.9], [1.0, 0.9]], atol=1e-9)
    np.testing.assert_array_equal(tabular.greedy(Q), [1, 0])


def test_model_handles_stochastic_transitions_and_terminals():
    P = {0: {0: [(0.25, 0, 1.0, True), (0.75, 1, 2.0, False)]}, 1: {0: [(1.0, 1, 0.0, False)]}}
    model = tabular.model_from_gym_P(P, 2, 1)
    assert model.R[0, 0] == pytest.approx(0.25 * 1.0 + 0.75 * 2.0)
    np.testing.assert_allclose(model.T[0, 0], [0.0, 0.75])  # the terminal branch bootstraps nothing


def test_policy_value_is_the_fixed_point_of_its_backup():
    model = two_state_mdp()
    V = tabular.policy_value(model, np.array([1, 0]), GAMMA)
    np.testing.assert_allclose(V, [0.9, 1.0])
    V_stay = tabular.policy_value(model, np.array([0, 1]), GAMMA)
    np.testing.assert_allclose(V_stay, [0.0, 0.0])


def test_q_learning_update_by_hand():
    Q = np.array([[0.0, 0.5], [2.0, 4.0]])
    target = tabular.td_target(Q, reward=1.0, next_state=1, next_action=0, terminated=False,
                               gamma=GAMMA, method="qlearning", epsilon=0.1)
    assert target == pytest.approx(1.0 + 0.9 * 4.0)
    error = tabular.td_update(Q, 0, 1, target, lr=0.5)
    assert error == pytest.approx(4.6 - 0.5)
    assert Q[0, 1] == pytest.approx(0.5 + 0.5 * 4.1)


def test_sarsa_and_expected_sarsa_targets():
    Q = np.array([[0.0, 0.0], [2.0, 4.0]])
    sarsa = tabular.td_target(Q, 0.0, 1, 0, False, GAMMA, "sarsa", epsilon=0.2)
    assert sarsa == pytest.approx(0.9 * 2.0)
    # epsilon-greedy with eps 0.2 over 2 actions: P(a0)=0.1, P(a1)=0.9
    expected = tabular.td_target(Q, 0.0, 1, 0, False, GAMMA, "expected_sarsa", epsilon=0.2)
    assert expected == pytest.approx(0.9 * (0.1 * 2.0 + 0.9 * 4.0))


def test_terminal_transitions_do_not_bootstrap():
    Q = np.ones((2, 2)) * 100
    for method in ("qlearning", "sarsa", "expected_sarsa"):
        assert tabular.td_target(Q, 1.0, 1, 0, True, GAMMA, method, 0.1) == 1.0


def test_q_learning_converges_to_value_iteration_on_frozenlake():
    """The learner, run through its real loop, finds Q* on the optimal path of a deterministic
    lake."""
    from agents import qlearning
    from agents.qlearning import Config, evaluate_policy, make_discrete_env

    cfg = Config(env="FrozenLake-v1", env_kwargs={"is_slippery": False}, steps=40_000, lr=0.5,
                 lr_end=0.05, seed=3)
    env = make_discrete_env(cfg)
    agent = qlearning.Agent(16, 4, cfg.seed)
    obs, _ = env.reset(seed=cfg.seed)
    for step in range(cfg.steps):
        eps = max(1.0 - step / 20_000, 0.1)
        lr = 0.5 if step < 30_000 else 0.1
        action = agent.act(obs, eps)
        nxt, r, term, trunc, _ = env.step(action)
        target = tabular.td_target(agent.Q, float(r), nxt, 0, term, cfg.gamma, "qlearning", eps)
        tabular.td_update(agent.Q, obs, action, target, lr)
        obs = env.reset()[0] if term or trunc else nxt
    model = tabular.model_from_gym_P(env.unwrapped.P, 16, 4)
    V_star, Q_star = tabular.value_iteration(model, cfg.gamma)
    policy = tabular.greedy(agent.Q)
    assert evaluate_policy(env, policy, 10, seed=0)["success_rate"] == 1.0
    # along the learned (optimal) path the learned values equal V*
    s, path = 0, []
    while s != 15 and len(path) < 20:
        path.append(s)
        s = [t for _, t, _, _ in env.unwrapped.P[s][policy[s]]][0]
    assert s == 15 and len(path) == 6  # shortest path on the 4x4 map
    np.testing.assert_allclose(agent.Q.max(axis=1)[path], V_star[path], atol=1e-3)
    assert V_star[0] == pytest.approx(cfg.gamma ** 5)


def test_schedules():
    lin = Linear(1.0, 0.1, 100)
    assert lin(0) == 1.0 and lin(50) == pytest.approx(0.55) and lin(1000) == pytest.approx(0.1)
    exp = make_schedule("exponential", 1.0, 0.01, 1000, 0.5)
    assert isinstance(exp, Exponential)
    assert exp(500) == pytest.approx(0.01) and exp(0) == 1.0 and exp(10_000) == 0.01
    assert make_schedule("constant", 0.3, 0.0, 100, 0.5)(70) == 0.3
