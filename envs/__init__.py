"""Environments: name resolution and construction on top of gymnasium (and, later, ALE, open_spiel)."""
from envs.make import make_env, resolve_env_id

__all__ = ["make_env", "resolve_env_id"]
