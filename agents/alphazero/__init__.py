"""Self-play on board games: the AlphaGo recipe (a supervised start from expert games) and
AlphaZero's loop (search -> self-play games -> train the network that guides the search).

    config.py    options and per-game presets
    net.py       the policy-value network and its use as the search's evaluator
    selfplay.py  self-play games -> training positions (playout-cap randomisation)
    pool.py      an iteration's games from this process or worker processes, then training
    actors.py    --ray: self-play actors that stream games while the learner trains
    learner.py   losses, symmetries, the experts' positions, move accuracy
    train.py     the loop: pretrain, then self-play -> train -> gate -> strength
    watch.py     eval, record, gtp: the trained agent at work
"""
from agents.alphazero.config import NAME, Config, EvalConfig, RecordConfig, defaults_for
from agents.alphazero.train import plot, train
from agents.alphazero.watch import evaluate, record

RAY_ACTORS = True  # `--ray` makes the self-play workers Ray actors (actors.py)
# what a shipped agent keeps of a checkpoint (`rl export`): the network, not the optimiser
EXPORT_KEYS = ("meta", "best_model", "iteration", "pretrain")

__all__ = ["EXPORT_KEYS", "NAME", "RAY_ACTORS", "Config", "EvalConfig", "RecordConfig",
           "defaults_for", "evaluate", "plot", "record", "train"]
