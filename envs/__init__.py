"""Environments: gymnasium and ALE construction by name; board games (games.py, go.py) and their
records (records.py, sgf.py) on open_spiel."""
from envs.make import make_env, make_single_env, make_vector_env, resolve_env_id

__all__ = ["make_env", "make_single_env", "make_vector_env", "resolve_env_id"]
