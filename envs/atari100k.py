"""The Atari 100k benchmark (Kaiser et al. 2019): its 26 games and the reference scores that
human-normalised scores are computed from, (score - random) / (human - random).

Random and human scores: Dopamine, dopamine/labs/atari_100k/normalization_utils.py (the same
table as rliable's and every Atari 100k paper since DER), for the 57 games of the ALE suite, so
any of them can be scored, not only the 26.
"""
from __future__ import annotations

from rl.errors import UserError, did_you_mean

GAMES = ["Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing",
         "Breakout", "ChopperCommand", "CrazyClimber", "DemonAttack", "Freeway", "Frostbite",
         "Gopher", "Hero", "Jamesbond", "Kangaroo", "Krull", "KungFuMaster", "MsPacman", "Pong",
         "PrivateEye", "Qbert", "RoadRunner", "Seaquest", "UpNDown"]

RANDOM = {
    "Alien": 227.8, "Amidar": 5.8, "Assault": 222.4, "Asterix": 210.0, "Asteroids": 719.1,
    "Atlantis": 12850.0, "BankHeist": 14.2, "BattleZone": 2360.0, "BeamRider": 363.9,
    "Berzerk": 123.7, "Bowling": 23.1, "Boxing": 0.1, "Breakout": 1.7, "Centipede": 2090.9,
    "ChopperCommand": 811.0, "CrazyClimber": 10780.5, "DemonAttack": 152.1,
    "DoubleDunk": -18.6, "Enduro": 0.0, "FishingDerby": -91.7, "Freeway": 0.0,
    "Frostbite": 65.2, "Gopher": 257.6, "Gravitar": 173.0, "Hero": 1027.0, "IceHockey": -11.2,
    "Jamesbond": 29.0, "Kangaroo": 52.0, "Krull": 1598.0, "KungFuMaster": 258.5,
    "MontezumaRevenge": 0.0, "MsPacman": 307.3, "NameThisGame": 2292.3, "Phoenix": 761.4,
    "Pitfall": -229.4, "Pong": -20.7, "PrivateEye": 24.9, "Qbert": 163.9, "Riverraid": 1338.5,
    "RoadRunner": 11.5, "Robotank": 2.2, "Seaquest": 68.4, "Skiing": -17098.1,
    "Solaris": 1236.3, "SpaceInvaders": 148.0, "StarGunner": 664.0, "Tennis": -23.8,
    "TimePilot": 3568.0, "Tutankham": 11.4, "UpNDown": 533.4, "Venture": 0.0,
    "VideoPinball": 0.0, "WizardOfWor": 563.5, "YarsRevenge": 3092.9, "Zaxxon": 32.5,
}
HUMAN = {
    "Alien": 7127.7, "Amidar": 1719.5, "Assault": 742.0, "Asterix": 8503.3,
    "Asteroids": 47388.7, "Atlantis": 29028.1, "BankHeist": 753.1, "BattleZone": 37187.5,
    "BeamRider": 16926.5, "Berzerk": 2630.4, "Bowling": 160.7, "Boxing": 12.1, "Breakout": 30.5,
    "Centipede": 12017.0, "ChopperCommand": 7387.8, "CrazyClimber": 35829.4,
    "DemonAttack": 1971.0, "DoubleDunk": -16.4, "Enduro": 860.5, "FishingDerby": -38.7,
    "Freeway": 29.6, "Frostbite": 4334.7, "Gopher": 2412.5, "Gravitar": 3351.4, "Hero": 30826.4,
    "IceHockey": 0.9, "Jamesbond": 302.8, "Kangaroo": 3035.0, "Krull": 2665.5,
    "KungFuMaster": 22736.3, "MontezumaRevenge": 4753.3, "MsPacman": 6951.6,
    "NameThisGame": 8049.0, "Phoenix": 7242.6, "Pitfall": 6463.7, "Pong": 14.6,
    "PrivateEye": 69571.3, "Qbert": 13455.0, "Riverraid": 17118.0, "RoadRunner": 7845.0,
    "Robotank": 11.9, "Seaquest": 42054.7, "Skiing": -4336.9, "Solaris": 12326.7,
    "SpaceInvaders": 1668.7, "StarGunner": 10250.0, "Tennis": -8.3, "TimePilot": 5229.2,
    "Tutankham": 167.6, "UpNDown": 11693.2, "Venture": 1187.5, "VideoPinball": 17667.9,
    "WizardOfWor": 4756.5, "YarsRevenge": 54576.9, "Zaxxon": 9173.3,
}

# Published aggregates over the 26 games (human-normalised), beside which ours is printed.
# IQMs are approximate, read from Agarwal et al., "Deep RL at the Edge of the Statistical
# Precipice", NeurIPS 2021, Figure 1 (DER 100 runs; DrQ(eps), SPR 50 runs); medians are the
# values the same paper and the agents' papers report; BBF: Schwarzer et al., ICML 2023.
PUBLISHED = {
    "DER": {"iqm": 0.18, "median": 0.189, "source": "Agarwal et al. 2021, Fig. 1"},
    "DrQ(eps)": {"iqm": 0.28, "median": 0.313, "source": "Agarwal et al. 2021, Fig. 1"},
    "SPR": {"iqm": 0.34, "median": 0.396, "source": "Agarwal et al. 2021, Fig. 1"},
    "BBF": {"iqm": 1.05, "median": None,
            "source": "Schwarzer et al. 2023 (far more compute per step)"},
}

# Published per-game scores: the mean over 100 runs per game of each agent, from the runs
# Agarwal et al. 2021 released, as github.com/eloialonso/iris ships them
# (results/data/DrQ(eps).json and SPR.json, commit 75e5ab5). DER's runs are not there.
PER_GAME_SOURCE = "mean of 100 runs per game, eloialonso/iris results/data/*.json"
PER_GAME = {
    "DrQ(eps)": {
        "Alien": 865.2, "Amidar": 137.8, "Assault": 579.6, "Asterix": 763.6, "BankHeist": 232.9,
        "BattleZone": 10165.3, "Boxing": 9.0, "Breakout": 19.8, "ChopperCommand": 844.6,
        "CrazyClimber": 21539.0, "DemonAttack": 1321.5, "Freeway": 20.3, "Frostbite": 1014.2,
        "Gopher": 621.6, "Hero": 4167.9, "Jamesbond": 349.1, "Kangaroo": 1088.4,
        "Krull": 4402.1, "KungFuMaster": 11467.4, "MsPacman": 1218.1, "Pong": -9.1,
        "PrivateEye": 3.5, "Qbert": 1810.7, "RoadRunner": 11211.4, "Seaquest": 352.3,
        "UpNDown": 4324.5},
    "SPR": {
        "Alien": 841.9, "Amidar": 179.7, "Assault": 565.6, "Asterix": 962.5, "BankHeist": 345.4,
        "BattleZone": 14834.1, "Boxing": 35.7, "Breakout": 19.6, "ChopperCommand": 946.3,
        "CrazyClimber": 36700.5, "DemonAttack": 517.6, "Freeway": 19.3, "Frostbite": 1170.7,
        "Gopher": 660.6, "Hero": 5858.6, "Jamesbond": 366.5, "Kangaroo": 3617.4,
        "Krull": 3681.6, "KungFuMaster": 14783.2, "MsPacman": 1318.4, "Pong": -5.4,
        "PrivateEye": 86.0, "Qbert": 866.3, "RoadRunner": 12213.1, "Seaquest": 558.1,
        "UpNDown": 10859.2},
}


def resolve_games(spec: str | None) -> list[str]:
    """'atari100k' (the 26) or a comma-separated list of ALE game names, checked."""
    from envs.atari import atari_games

    if not spec or spec == "atari100k":
        return list(GAMES)
    names = [g.strip() for g in spec.split(",") if g.strip()]
    known = atari_games()
    for name in names:
        if name not in known:
            raise UserError(f"unknown Atari game {name!r}{did_you_mean(name, known)} "
                            "(`rl envs` lists them)")
    if not names:
        raise UserError("--games names no game")
    return names


def normalized(game: str, score: float) -> float | None:
    """Human-normalised score, or None for a game without reference scores."""
    if game not in RANDOM or game not in HUMAN:
        return None
    return (score - RANDOM[game]) / (HUMAN[game] - RANDOM[game])
