"""Published DQN settings, each value with its source. A preset is the layer under YAML and
flags (`rl train dqn --env GAME --preset NAME`), as RL Zoo's per-env hyperparameters are.

The Atari 100k protocol (Kaiser et al. 2019, as run by Dopamine's labs/atari_100k): 100k agent
steps (400k frames at frame skip 4), no sticky actions, the minimal action set, an episode cap
of 27,000 agent steps (108k frames), a lost life is terminal for learning only (scores are
whole games), and the final network is scored over 100 episodes with epsilon 0.001.
Dopamine: github.com/google/dopamine, dopamine/labs/atari_100k/configs/{DER,DrQ_eps}.gin.

Where ours differs from Dopamine's agents (said again on experiments/results/atari100k.md):
- no-op starts: up to 30 random no-ops at reset (gymnasium's AtariPreprocessing); Dopamine has
  none. FIRE is pressed at reset and after a lost life in games that need it to serve.
- replay capacity 100k (all a 100k run sees; Dopamine's 1M is "a proxy for unbounded").
- DER's noisy layers are the Q head's (value and advantage streams); Dopamine's network also
  makes its 512-unit hidden layer noisy, which is our encoder's and stays plain, so the same
  encoder serves every learner.
- target updates count agent steps; with one update per step after learning starts they
  match Dopamine's count of updates, shifted by learning_starts.
"""
from __future__ import annotations

from typing import Any

from rl.errors import UserError

# Classic control: RL Zoo's tuned CartPole-v1 DQN (batch 64, 128 gradient steps every 256 env
# steps, target every 10 steps, epsilon to 0.04 over 16% of 100k steps), made steady by three
# changes measured here (experiments/results/dqn-cartpole.md): lr 1e-3 annealed to 0 instead of
# a constant 2.3e-3, a dueling head and 3-step returns. Without them the greedy policy swings
# between 500 and ~50 late in training.
CLASSIC: dict[str, Any] = {
    "buffer_size": 100_000, "batch_size": 64, "lr": 1e-3, "lr_end": 0.0, "adam_eps": 1e-8,
    "n_step": 3, "dueling": True, "learning_starts": 1_000, "train_freq": 256,
    "gradient_steps": 128, "target_update": 10, "epsilon_end": 0.04, "epsilon_steps": 16_000,
    "reward_clip": False, "eval_every": 10_000, "eval_episodes": 10, "log_every": 1_000,
    "checkpoint_every": 10_000, "steps": 100_000, "eval_epsilon": 0.0, "record_every": 3,
    "final_eval_episodes": 20,
}

# The protocol and what DER and DrQ(eps) share. Source lines are from the two .gin files.
ATARI_100K: dict[str, Any] = {
    "steps": 100_000,               # Runner.training_steps = 100000, one iteration (DrQ_eps)
    "sticky_actions": 0.0,          # create_atari_environment.sticky_actions = False
    "learn_life_loss": True,        # AtariPreprocessing.terminal_on_life_loss = True, while the
                                    # runner sums rewards over the whole game
    "max_episode_steps": 27_000,    # Runner.max_steps_per_episode = 27000
    "buffer_size": 100_000,         # (Dopamine: 1M, never filled in 100k steps)
    "batch_size": 32,               # OutOfGraphPrioritizedReplayBuffer.batch_size = 32
    "gamma": 0.99,                  # JaxDQNAgent.gamma = 0.99
    "n_step": 10,                   # JaxDQNAgent.update_horizon = 10
    "learning_starts": 1_600,       # JaxDQNAgent.min_replay_history = 1600
    "train_freq": 1,                # JaxDQNAgent.update_period = 1
    "gradient_steps": 1,            # num_updates_per_train_step = 1
    "lr": 1e-4,                     # create_optimizer.learning_rate = 0.0001
    "adam_eps": 1.5e-4,             # create_optimizer.eps = 0.00015
    "max_grad_norm": 0.0,           # (Dopamine does not clip gradients)
    "double": True,                 # JaxFullRainbowAgent.double_dqn = True
    "dueling": True,                # JaxFullRainbowAgent.dueling = True
    "epsilon": 1.0,
    "epsilon_end": 0.01,            # JaxDQNAgent.epsilon_train = 0.01
    "epsilon_from_learning_starts": True,  # linearly_decaying_epsilon decays after warm-up
    "eval_epsilon": 0.001,          # JaxDQNAgent.epsilon_eval = 0.001
    "reward_clip": True,            # rewards clipped to [-1, 1] (Atari rewards are integers)
    # the network of both: dopamine/jax/networks.py FullRainbowNetwork, the Nature CNN's layers
    # with Flax's default 'SAME' padding (7,744 features into the 512 layer, not 3,136) and
    # nn.initializers.xavier_uniform() weights, zero biases. Measured here: with the Nature
    # CNN's padding and PyTorch's init instead, the agent fell far below DrQ(eps)'s published
    # scores (experiments/results/atari100k.md, the A/B)
    "encoder": "nature-same",
    "init": "xavier",
    # evaluation: the final network alone, over 100 episodes (MaxEpisodeEvalRunner)
    "eval_every": 100_000, "final_eval_episodes": 100, "eval_envs": 10, "record_every": 1,
    "log_every": 1_000, "checkpoint_every": 10_000,
}

PRESETS: dict[str, dict[str, Any]] = {
    # Data-efficient Rainbow (van Hasselt et al. 2019), configs/DER.gin
    "der": {**ATARI_100K,
            "target_update": 2_000,      # JaxDQNAgent.target_update_period = 2000
            "epsilon_steps": 2_000,      # JaxDQNAgent.epsilon_decay_period = 2000
            "atoms": 51, "v_max": 10.0,  # num_atoms = 51, vmax = 10.
            "noisy": True,               # JaxFullRainbowAgent.noisy = True
            "prioritized": True,         # replay_scheme = 'prioritized'; Dopamine samples in
            "per_alpha": 0.5,            # proportion to sqrt(loss) and weights by
            "per_beta": 0.5, "per_beta_end": 0.5,  # 1/sqrt(probability), beta fixed at 0.5
            "augment": "none"},          # Atari100kRainbowAgent.data_augmentation = False
    # DrQ(eps) (Kostrikov et al. 2020; Agarwal et al. 2021's epsilon), configs/DrQ_eps.gin
    "drq_eps": {**ATARI_100K,
                "target_update": 1,        # JaxDQNAgent.target_update_period = 1
                "epsilon_steps": 5_000,    # JaxDQNAgent.epsilon_decay_period = 5000
                "atoms": 1,                # distributional = False, num_atoms = 1
                "noisy": False,            # noisy = False
                "prioritized": False,      # replay_scheme = 'uniform'
                "loss": "huber",           # mse_loss = False: Dopamine's DQN loss is Huber
                "augment": "shift_intensity"},  # data_augmentation = True: pad 4 + random crop,
                                                # then intensity (drq_image_augmentation)
}


def preset_values(name: str, *, atari: bool) -> dict[str, Any]:
    """The values of preset `name`; auto: the Config's own defaults for Atari, CLASSIC else."""
    if name == "auto":
        return {} if atari else CLASSIC
    if not atari:
        raise UserError(f"--preset {name} is an Atari 100k preset: use it with an Atari game")
    return PRESETS[name]
