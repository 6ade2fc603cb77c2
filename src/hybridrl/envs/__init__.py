"""Environments: construction with the wrappers every agent expects, and score references."""
from hybridrl.envs.make import REFERENCE_SCORES, EnvError, env_spaces, make_env, normalized_score

__all__ = ["REFERENCE_SCORES", "EnvError", "env_spaces", "make_env", "normalized_score"]
