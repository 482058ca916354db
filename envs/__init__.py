"""Environments: name resolution and construction on top of gymnasium (and, later, ALE, open_spiel)."""
from envs.make import make_env, make_single_env, make_vector_env, resolve_env_id

__all__ = ["make_env", "make_single_env", "make_vector_env", "resolve_env_id"]
