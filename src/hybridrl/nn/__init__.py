"""Shared network pieces: MLPs, vmapped ensembles, distributions."""
from hybridrl.nn.distributions import TanhNormal
from hybridrl.nn.ensemble import ensemble_apply, ensemble_init, subset
from hybridrl.nn.mlp import MLP, Critic, TanhGaussianActor

__all__ = ["MLP", "Critic", "TanhGaussianActor", "TanhNormal", "ensemble_apply", "ensemble_init", "subset"]
