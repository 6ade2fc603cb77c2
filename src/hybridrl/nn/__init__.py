"""Shared network pieces: MLPs, vmapped ensembles, distributions."""
from hybridrl.nn.distributions import Gaussian, TanhNormal
from hybridrl.nn.ensemble import draw_members, ensemble_apply, ensemble_init, subset
from hybridrl.nn.mlp import MLP, Critic, GaussianActor, TanhGaussianActor, ValueNet

__all__ = ["MLP", "Critic", "Gaussian", "GaussianActor", "TanhGaussianActor", "TanhNormal", "ValueNet",
           "draw_members", "ensemble_apply", "ensemble_init", "subset"]
