"""The self-play learner's options, and the per-game presets that fit a 2-core CPU."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agents.arena.gtp import engine_argv
from agents.mcts import SearchConfig
from envs.games import resolve_game
from rl.backbones import check_backbone
from rl.config import opt
from rl.errors import UserError
from rl.precision import native_here

NAME = "alphazero"
OPPONENT_KINDS = ("random", "minimax", "mcts", "gtp")


@dataclass
class Config:
    game: str = opt("tic_tac_toe", "tic_tac_toe, connect_four, go5 ... go9")
    seed: int = opt(0, "seed for networks, self-play and evaluation games", min=0)
    iterations: int = opt(30, "self-play -> train iterations", min=1, resumable=True)
    games_per_iteration: int = opt(64, "self-play games per iteration (played in parallel)", min=1)
    simulations: int = opt(50, "MCTS simulations per move (a full search)", min=1)
    search: Literal["puct", "gumbel"] = opt(
        "puct", "the tree search: puct (AlphaZero: PUCT, Dirichlet root noise, visit-count "
        "targets) or gumbel (Gumbel AlphaZero: Gumbel-top-k root moves, sequential halving, "
        "targets from completed Q values; improves the policy with few simulations)")
    gumbel_moves: int = opt(16, "gumbel: most root moves considered (then halved)", min=1)
    c_visit: float = opt(50.0, "gumbel: sigma(q) = (c_visit + max visits) * c_scale * q",
                         min=0.0)
    c_scale: float = opt(0.1, "gumbel: scale of the completed Q values against the prior's "
                         "logits (mctx's default; 1.0 learned worse on Connect Four, "
                         "experiments/results/alphazero.md)", min=0.0, min_exclusive=True)
    fast_simulations: int = opt(0, "playout-cap randomisation (KataGo): moves not drawn for a "
                                "full search get this many simulations, no noise, and train the "
                                "value alone (0: every move is a full search)", min=0)
    full_search_share: float = opt(0.25, "share of moves given a full search when "
                                   "--fast-simulations is on", min=0.0, max=1.0,
                                   min_exclusive=True)
    leaves_per_tree: int = opt(1, "leaves per tree per network call (virtual loss)", min=1)
    c_puct: float = opt(1.5, "exploration constant of PUCT", min=0.0)
    dirichlet_alpha: float = opt(10.0, "root noise concentration x legal moves (0.3 in chess "
                                 "~ 10/35)", min=0.0, min_exclusive=True)
    noise_eps: float = opt(0.25, "weight of the root noise", min=0.0, max=1.0)
    target_pruning: bool = opt(False, "puct: policy targets keep only the visits the search's "
                               "final values justify, dropping those root noise or early "
                               "exploration bought (after KataGo's policy target pruning)")
    temperature_moves: int = opt(4, "moves sampled from visit counts before playing greedily",
                                 min=0)
    resign_rate: float = opt(0.0, "self-play resignation: the false-resignation rate allowed "
                             "(AlphaGo Zero: 0.05); the threshold is set each iteration from "
                             "games played out with resignation off (0: nobody resigns)",
                             min=0.0, max=0.5)
    resign_off_share: float = opt(0.2, "share of self-play games played out with resignation "
                                  "off, which measure the false-resignation rate", min=0.0,
                                  max=1.0, min_exclusive=True)
    pass_first: Literal["both", "one"] = opt(
        "both", "Go self-play: who may pass while other moves are left: both players "
        "(AlphaZero), or one, the other (drawn per game) playing as rl eval and rl gtp do, "
        "passing only to answer a pass, so that a premature pass is punished in self-play as "
        "GNU Go punishes it")
    workers: int = opt(1, "self-play processes (1 = in this process); with --ray, Ray actors",
                       min=1)
    max_staleness: int = opt(4, "--ray: most network versions an actor's games may lag behind "
                             "the learner's; older games are discarded", min=0)
    window: int = opt(10, "iterations of games kept for training", min=1)
    backbone: str = opt("resnet-small", "trunk of the policy-value network (any shared backbone)")
    batch_size: int = opt(128, "positions per gradient step", min=1)
    train_steps: int = opt(100, "gradient steps per iteration", min=1)
    lr: float = opt(1e-3, "Adam learning rate", min=0.0, min_exclusive=True)
    lr_end: float = opt(1.0, "learning rate at the last iteration as a share of --lr (cosine "
                        "decay; 1 = constant)", min=0.0, max=1.0)
    value_target_q: float = opt(0.0, "share of the search's root value in the value target "
                                "(0: the game's result alone, as AlphaZero)", min=0.0, max=1.0)
    ownership_weight: float = opt(1.0, "Go: weight of the ownership loss (KataGo's auxiliary "
                                  "target: who owns each point at the end)", min=0.0)
    score_weight: float = opt(0.0, "Go: weight of the score loss (KataGo's score target: the "
                              "final area score for the side to move, komi included, over the "
                              "board's points; 0: no score head)", min=0.0)
    weight_decay: float = opt(1e-4, "L2 weight decay (AdamW)", min=0.0)
    gate_games: int = opt(0, "games new vs best to accept a network (0: always accept, AlphaZero)",
                          min=0)
    gate_threshold: float = opt(0.55, "score the new network needs in the gate", min=0.0, max=1.0)
    eval_every: int = opt(1, "iterations between strength evaluations (0 = never)", min=0)
    eval_games: int = opt(20, "games per fixed opponent in each evaluation", min=2)
    eval_opponents: str = opt("random,minimax", "comma-separated: random, minimax[:DEPTH], "
                              "mcts:N, gtp:COMMAND")
    search_bf16: bool = opt(False, "network evaluations of the search in bfloat16 (2-3x faster "
                            "on CPUs with AMX and on recent GPUs; training "
                            "stays fp32)", resumable=True)
    eval_simulations: int = opt(0, "agent simulations in evaluations (0: --simulations)", min=0)
    pretrain: str | None = opt(None, "expert game records to learn from before self-play "
                               "(AlphaGo): an SGF file or folder for Go, a records file otherwise")
    pretrain_epochs: int = opt(10, "passes over the expert positions (0: none, e.g. after "
                               "--init-model; they still give the held-out figures and "
                               "--expert-share)", min=0)
    expert_share: float = opt(0.0, "share of each self-play training batch drawn from the "
                              "expert positions of --pretrain: an anchor that keeps the "
                              "supervised start from being forgotten", min=0.0, max=1.0)
    selfplay_value_weight: float = opt(1.0, "weight of the value loss on self-play positions "
                                       "beside the experts' (1); 0: the value learns from "
                                       "the experts' games of --expert-share alone, self-play "
                                       "teaching only the policy", min=0.0, max=1.0)
    policy_kl: float = opt(0.0, "weight of KL(supervised start || network) on the policy of "
                           "every training position: self-play's policy kept near the network "
                           "it began from (needs --pretrain; 0: none)", min=0.0)
    opponent_engine: str = opt("", "Go: a GTP engine (e.g. \"gnugo --mode gtp --level 8\") "
                               "seated at one side of --opponent-share of the self-play games, "
                               "a player other than the network itself (AlphaGo's opponent "
                               "pool); its moves are learnt as policy targets and those games' "
                               "results always teach the value")
    opponent_share: float = opt(0.0, "share of each iteration's games against "
                                "--opponent-engine", min=0.0, max=1.0)
    save_games: bool = opt(False, "Go: write every self-play game as SGF to games/", resumable=True)
    init_encoder: str | None = opt(None, "checkpoint whose backbone weights start the trunk")
    init_model: str | None = opt(None, "a self-play run directory, shipped agent or checkpoint "
                                 "whose whole network starts this run (e.g. "
                                 "experiments/agents/go9-supervised: the supervised stage "
                                 "done); a score head it lacks starts fresh")
    freeze_encoder: bool = opt(False, "train the heads only")
    threads: int = opt(0, "CPU threads for torch (0 = all cores)", min=0,
                       resumable=True)

    def check(self) -> None:
        self.game = resolve_game(self.game)
        check_backbone(self.backbone)
        for spec in self.opponents():
            if spec.split(":")[0] not in OPPONENT_KINDS:
                raise UserError(f"--eval-opponents: unknown opponent {spec!r} (random, minimax, "
                                "minimax:DEPTH, mcts:N, gtp:COMMAND)")
        if self.pretrain and not Path(self.pretrain).exists():
            raise UserError(f"--pretrain: {self.pretrain} not found (make one with `rl games "
                            f"generate --game {self.game} --out PATH`)")
        if self.freeze_encoder and not self.init_encoder:
            raise UserError("--freeze-encoder needs --init-encoder CKPT")
        if self.expert_share and not self.pretrain:
            raise UserError("--expert-share needs --pretrain GAMES (the positions it mixes in)")
        if self.selfplay_value_weight < 1 and not self.expert_share:
            raise UserError("--selfplay-value-weight below 1 needs --expert-share (the experts' "
                            "positions then teach the value)")
        if self.policy_kl and not self.pretrain:
            raise UserError("--policy-kl needs --pretrain GAMES (its anchor is the supervised "
                            "start, kept as checkpoints/pretrained.pt)")
        if self.target_pruning and self.search != "puct":
            raise UserError("--target-pruning prunes PUCT's visit counts; --search gumbel's "
                            "targets are already its completed-Q policy")
        if bool(self.opponent_engine) != bool(self.opponent_share):
            raise UserError("--opponent-engine COMMAND and --opponent-share S go together")
        if self.opponent_engine:
            if not self.game.startswith("go"):
                raise UserError(f"--opponent-engine: GTP engines play Go, not {self.game}")
            engine_argv(self.opponent_engine)  # a missing program: one line now
        if self.init_model and not Path(self.init_model).exists():
            raise UserError(f"--init-model: {self.init_model} not found")

    def run_name(self) -> str:
        return f"{NAME}-{self.game}"

    def opponents(self) -> list[str]:
        return [s.strip() for s in self.eval_opponents.split(",") if s.strip()]

    def lr_at(self, iteration: int) -> float:
        """Cosine from lr at iteration 0 to lr * lr_end at the last iteration."""
        progress = min(iteration / self.iterations, 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.lr_end + (1 - self.lr_end) * cosine)

    @property
    def search_precision(self) -> str:
        return "bf16" if self.search_bf16 else "fp32"

    def search_config(self, simulations: int | None = None) -> SearchConfig:
        return SearchConfig(simulations or self.simulations, self.c_puct, self.dirichlet_alpha,
                            self.noise_eps, self.leaves_per_tree, self.search,
                            self.gumbel_moves, self.c_visit, self.c_scale)


@dataclass
class EvalConfig:
    """`rl eval DIR` of a self-play run: a match against an opponent, alternating colours."""

    opponent: str = opt("random", "random, minimax, minimax:DEPTH, mcts:N (open_spiel's "
                        "MCTSBot), gtp:COMMAND (a GTP engine such as GNU Go) or another run "
                        "directory")
    games: int = opt(100, "games, alternating who moves first", min=1)
    simulations: int | None = opt(None, "search simulations per move (default: the run's "
                                  "evaluation setting)", min=1)
    precision: Literal["auto", "fp32", "bf16"] = opt(
        "auto", "the search's network precision; auto: the run's where it pays on this machine "
        "(CUDA, AMX) (an emulated one asked for is run, with a note)")
    referee: str | None = opt(None, "Go: engine command whose final_score decides each game, or "
                              "'none' for open_spiel's Tromp-Taylor (default: GNU Go when the "
                              "opponent is GNU Go)")
    save_games: str | None = opt(None, "Go: a folder to write each game to as SGF as it ends")
    resume: bool = opt(False, "Go: continue the killed match whose games are in --save-games "
                       "(same settings), playing only the games not there")
    parallel: int | None = opt(None, "games played at once (default: all; 32 against a GTP "
                               "engine)", min=1)
    timeout: float = opt(60.0, "seconds a GTP engine may take to answer with a core to itself "
                         "(times the games sharing each core)", min=0.0, min_exclusive=True)
    seed: int | None = opt(None, "seed of the agent's and the opponent's choices (default: the "
                           "run's seed + 50000)")
    random_moves: int = opt(0, "open each pair of games with the same 0-N random moves, once "
                            "with each colour (two nearly deterministic players repeat whole "
                            "games otherwise)", min=0)
    prior_temperature: float = opt(1.0, "the search's priors are softmax(logits / T): above 1 "
                                   "flatter, below 1 sharper (lc0's PolicyTemperature)",
                                   min=0.0, min_exclusive=True)


@dataclass
class RecordConfig:
    """`rl record DIR` of a self-play run: GIFs of its games, one frame per move (and SGF)."""

    episodes: int = opt(1, "games to record", min=1)
    opponent: str | None = opt(None, "random, minimax, mcts:N or gtp:COMMAND (default: itself)")
    seed: int | None = opt(None, "seed of the recorded games (default: the run's seed + 60000)")


BOARD = {"backbone": "resnet-board", "leaves_per_tree": 4}
GNUGO = "gnugo --mode gtp --chinese-rules --capture-all-dead --positional-superko"
PRESETS: dict[str, dict[str, Any]] = {  # per game: what fits the board and a 2-core CPU
    # measured on 2 cores: resnet-board + 4 leaves per call + 2 workers ~ 110 positions/s
    # 180 iterations took 85 minutes and won 89 of 100 games against MCTSBot-1000; a constant
    # rate and results-only value targets had flattened at 66 (experiments/results/alphazero.md)
    "connect_four": {**BOARD, "simulations": 100, "workers": 2, "temperature_moves": 10,
                     "games_per_iteration": 64, "train_steps": 100, "window": 10,
                     "iterations": 180, "lr_end": 0.1, "value_target_q": 0.5,
                     "eval_every": 10, "eval_games": 20,
                     "eval_simulations": 200, "eval_opponents": "random,minimax:4,mcts:200"},
    **{f"go{n}": {**BOARD, "temperature_moves": 8, "eval_every": 5,
                  "eval_opponents": "random,mcts:200"} for n in range(5, 9)},
    # 9x9 after AlphaGo's supervised stage on GNU Go's games (experiments/results/go9.md):
    # a wider trunk, KataGo's playout-cap randomisation, ownership and score targets, GNU Go
    # itself as the yardstick; a quarter of every batch from GNU Go's games, because without
    # that anchor 20 iterations of self-play forgot the supervised start (49% -> 20% against
    # GNU Go level 10), and resignation calibrated at AlphaGo Zero's 5% false resignations;
    # 80 iterations (5,120 games, about 2 hours here) of the 8-hour pipeline's budget
    "go9": {"backbone": "resnet-go", "leaves_per_tree": 4, "simulations": 100,
            "fast_simulations": 24, "full_search_share": 0.25, "temperature_moves": 12,
            "workers": 2, "games_per_iteration": 64, "train_steps": 100, "batch_size": 256,
            "window": 12, "lr": 5e-4, "lr_end": 0.1, "value_target_q": 0.3,
            "pretrain_epochs": 6, "iterations": 80, "eval_every": 10, "eval_games": 40,
            "search_bf16": True, "score_weight": 0.5, "expert_share": 0.25,
            "resign_rate": 0.05,
            # the strength curve against the opponent the results are read against (best.pt
            # stays the accepted network, here the latest: nothing is picked on these games)
            "eval_simulations": 100, "eval_opponents": f"gtp:{GNUGO} --level 10"},
}


def defaults_for(layers: dict[str, Any]) -> dict[str, Any]:
    """The game's preset; its bf16 search only where bf16 pays on this machine, its
    expert anchor only where there are expert games to draw from (--pretrain)."""
    preset = PRESETS.get(resolve_game(layers.get("game", Config.game)), {})
    if not layers.get("pretrain"):
        preset = {k: v for k, v in preset.items() if k != "expert_share"}
    return native_here(preset, "search_bf16")
