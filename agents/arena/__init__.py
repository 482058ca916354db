"""The arena: games between players. protocol.py (the lifecycle every player follows),
players.py (ours), gtp.py (GTP engines both ways), match.py (many games at once, expert
games), terminal.py (a person at the keyboard: typed moves), pictures.py (positions drawn for
recordings), registry.py (players by name)."""
