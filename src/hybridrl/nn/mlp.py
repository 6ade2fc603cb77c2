"""Multi-layer perceptrons used by every agent."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from hybridrl.nn.distributions import Gaussian, TanhNormal

default_init = nn.initializers.xavier_uniform

def _uniform(bound: float) -> nn.initializers.Initializer:
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


def _rlkit_fanin() -> nn.initializers.Initializer:
    """rlkit's `fanin_init`: U(±1/√size[0]) of torch's (out, in) weight, i.e. of the layer's *output* width (flax's
    kernel is (in, out), so its last axis)."""
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -1.0, 1.0) / jnp.sqrt(
        jnp.asarray(shape[-1], dtype))


@dataclass(frozen=True)
class InitScheme:
    """Initialisers of one authors' codebase: hidden layers, value/Q outputs, and policy heads (mean, log-std)."""

    hidden: Callable[[], nn.initializers.Initializer]
    output: Callable[[], nn.initializers.Initializer]
    hidden_bias: Callable[[], nn.initializers.Initializer] = lambda: nn.initializers.zeros
    output_bias: Callable[[], nn.initializers.Initializer] = lambda: nn.initializers.zeros
    policy_output: Callable[[], nn.initializers.Initializer] | None = None  # None: as `output`
    policy_output_bias: Callable[[], nn.initializers.Initializer] | None = None
    last_hidden: Callable[[], nn.initializers.Initializer] | None = None  # the last hidden layer, when it differs


# By name, as the authors' code sets them:
# - xavier: Xavier uniform (RLPD's code);
# - orthogonal: gain √2 on every layer (IQL's and FamO2O's common.py, WSRL);
# - orthogonal-small-output: √2 hidden, 1e-2 output (Cal-QL's JaxCQL model.py, orthogonal_init=True);
# - lecun-small-output: flax's default LeCun normal hidden, variance scaling 1e-2 (fan-in, uniform) output
#   (JaxCQL with orthogonal_init=False: FamO2O-CQL's jax_cql model.py / family_model.py);
# - rlkit: CQL's rlkit (aviralkumar2907/CQL d4rl/rlkit/torch/networks.py, sac/policies.py), whose checkpoints Balanced
#   Replay fine-tunes: fanin_init hidden with bias 0.1, Q outputs U(±3e-3), policy mean and log-std U(±1e-3),
#   biases included;
# - rlkit-zero-bias: the rlkit copy in shlee94/Off2OnRL (hidden bias 0; its density-ratio net);
# - wsrl: orthogonal √2, but the MLP's last hidden layer at gain 1e-2 (zhouzypaul/wsrl networks/mlp.py
#   `kernel_scale_final`, set for critics and policy in experiments/configs/train_config.py).
INITS = {
    "xavier": InitScheme(nn.initializers.xavier_uniform, nn.initializers.xavier_uniform),
    "orthogonal": InitScheme(lambda: nn.initializers.orthogonal(2 ** 0.5),
                             lambda: nn.initializers.orthogonal(2 ** 0.5)),
    "orthogonal-small-output": InitScheme(lambda: nn.initializers.orthogonal(2 ** 0.5),
                                          lambda: nn.initializers.orthogonal(1e-2)),
    "lecun-small-output": InitScheme(nn.initializers.lecun_normal,
                                     lambda: nn.initializers.variance_scaling(1e-2, "fan_in", "uniform")),
    "rlkit": InitScheme(_rlkit_fanin, lambda: _uniform(3e-3), hidden_bias=lambda: nn.initializers.constant(0.1),
                        output_bias=lambda: _uniform(3e-3), policy_output=lambda: _uniform(1e-3),
                        policy_output_bias=lambda: _uniform(1e-3)),
    "rlkit-zero-bias": InitScheme(_rlkit_fanin, lambda: _uniform(3e-3), policy_output=lambda: _uniform(1e-3)),
    "wsrl": InitScheme(lambda: nn.initializers.orthogonal(2 ** 0.5), lambda: nn.initializers.orthogonal(2 ** 0.5),
                       last_hidden=lambda: nn.initializers.orthogonal(1e-2)),
}


def hidden_init(name: str, last: bool = False) -> nn.initializers.Initializer:
    scheme = INITS[name]
    return (scheme.last_hidden if last and scheme.last_hidden else scheme.hidden)()


def hidden_bias_init(name: str) -> nn.initializers.Initializer:
    return INITS[name].hidden_bias()


def output_init(name: str, policy: bool = False) -> nn.initializers.Initializer:
    scheme = INITS[name]
    return (scheme.policy_output if policy and scheme.policy_output else scheme.output)()


def output_bias_init(name: str, policy: bool = False) -> nn.initializers.Initializer:
    scheme = INITS[name]
    return (scheme.policy_output_bias if policy and scheme.policy_output_bias else scheme.output_bias)()


def dense_out(features: int, scheme: str, policy: bool = False) -> nn.Dense:
    """The output layer of a value (policy=False) or a policy head under an initialisation scheme."""
    return nn.Dense(features, kernel_init=output_init(scheme, policy), bias_init=output_bias_init(scheme, policy))


ACTIVATIONS = {"relu": nn.relu, "gelu": nn.gelu}


class MLP(nn.Module):
    """Dense -> [LayerNorm] -> ReLU (or GELU) blocks; LayerNorm is what keeps RLPD's critics from
    over-estimating."""

    hidden_dims: Sequence[int]
    layer_norm: bool = False
    activate_final: bool = False
    activation: str = "relu"
    init_scheme: str = "xavier"  # a key of INITS (a field named `init` would hide Module.init)
    norm_after_activation: bool = False  # Dense -> act -> LayerNorm (FQL's and OGBench's networks)

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for i, size in enumerate(self.hidden_dims):
            last = i + 1 == len(self.hidden_dims)
            x = nn.Dense(size, kernel_init=hidden_init(self.init_scheme, last),
                         bias_init=hidden_bias_init(self.init_scheme))(x)
            if i + 1 < len(self.hidden_dims) or self.activate_final:
                if self.layer_norm and not self.norm_after_activation:
                    x = nn.LayerNorm()(x)
                x = ACTIVATIONS[self.activation](x)
                if self.layer_norm and self.norm_after_activation:
                    x = nn.LayerNorm()(x)
        return x


class Critic(nn.Module):
    """Q(s, a) -> scalar. Ensembles are made by vmapping its parameters (see ensemble.py)."""

    hidden_dims: Sequence[int]
    layer_norm: bool = False
    final_bias: float = 0.0  # the output's initial bias (Balanced Replay's ratio net: 1, so w ≈ 1 at the start)
    final_init_scale: float | None = None  # the output kernel ~ U(±scale) instead of Xavier (with final_bias)
    init_scheme: str = "xavier"  # a key of INITS (a field named `init` would hide Module.init)
    activation: str = "relu"
    norm_after_activation: bool = False

    @nn.compact
    def __call__(self, obs: jnp.ndarray, actions: jnp.ndarray) -> jnp.ndarray:
        x = jnp.concatenate([obs, actions], axis=-1)
        x = MLP(tuple(self.hidden_dims), layer_norm=self.layer_norm, activate_final=True,
                init_scheme=self.init_scheme, activation=self.activation,
                norm_after_activation=self.norm_after_activation)(x)
        if self.final_init_scale is None and self.final_bias == 0.0:
            return dense_out(1, self.init_scheme)(x).squeeze(-1)
        scale = self.final_init_scale
        kernel = output_init(self.init_scheme) if scale is None else (
            lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -scale, scale))
        return nn.Dense(1, kernel_init=kernel, bias_init=nn.initializers.constant(self.final_bias))(x).squeeze(-1)


class ValueNet(nn.Module):
    """V(s) -> scalar (IQL-style agents; goal-conditioned ones pass [s, g])."""

    hidden_dims: Sequence[int]
    layer_norm: bool = False
    activation: str = "relu"
    init_scheme: str = "xavier"  # a key of INITS (a field named `init` would hide Module.init)
    norm_after_activation: bool = False

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> jnp.ndarray:
        x = MLP(tuple(self.hidden_dims), layer_norm=self.layer_norm, activate_final=True,
                activation=self.activation, init_scheme=self.init_scheme,
                norm_after_activation=self.norm_after_activation)(obs)
        return dense_out(1, self.init_scheme)(x).squeeze(-1)


class TanhGaussianActor(nn.Module):
    """Gaussian squashed by tanh; log-std clipped to [log_std_min, log_std_max]. The log-std is a function of
    the state by default, or one learned vector (`state_dependent_std=False`, FamO2O's balance model)."""

    hidden_dims: Sequence[int]
    action_dim: int
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    state_dependent_std: bool = True
    layer_norm: bool = False
    log_std_offset: float | None = None  # log-std = m·raw + b with learned scalars m (from 1) and b (from this):
    # Cal-QL's policy (b = −1 starts it near std 0.37); None: the raw output
    init_scheme: str = "xavier"  # a key of INITS (a field named `init` would hide Module.init)

    @nn.compact
    def __call__(self, obs: jnp.ndarray, temperature: float = 1.0) -> TanhNormal:
        x = MLP(tuple(self.hidden_dims), activate_final=True, layer_norm=self.layer_norm,
                init_scheme=self.init_scheme)(obs)
        mean = dense_out(self.action_dim, self.init_scheme, policy=True)(x)
        if self.state_dependent_std:
            log_std = dense_out(self.action_dim, self.init_scheme, policy=True)(x)
        else:
            log_std = jnp.broadcast_to(self.param("log_std", nn.initializers.zeros, (self.action_dim,)), mean.shape)
        if self.log_std_offset is not None:
            m = self.param("log_std_multiplier", nn.initializers.ones, ())
            b = self.param("log_std_offset", nn.initializers.constant(self.log_std_offset), ())
            log_std = m * log_std + b
        log_std = jnp.clip(log_std, self.log_std_min, self.log_std_max)
        return TanhNormal(mean, jnp.exp(log_std) * temperature)


class GaussianActor(nn.Module):
    """Gaussian with a tanh-bounded mean and a learned state-independent log-std (IQL's policy);
    `tanh_mean=False` for an unbounded output (MSCP's planners predict state displacements).
    `log_std_init` is the log-std before training (IQL's code: 0, i.e. std 1)."""

    hidden_dims: Sequence[int]
    action_dim: int
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    tanh_mean: bool = True
    layer_norm: bool = False
    activation: str = "relu"
    log_std_init: float = 0.0
    init_scheme: str = "xavier"  # a key of INITS (a field named `init` would hide Module.init)

    @nn.compact
    def __call__(self, obs: jnp.ndarray, temperature: float = 1.0) -> Gaussian:
        x = MLP(tuple(self.hidden_dims), activate_final=True, layer_norm=self.layer_norm,
                activation=self.activation, init_scheme=self.init_scheme)(obs)
        mean = dense_out(self.action_dim, self.init_scheme, policy=True)(x)
        mean = jnp.tanh(mean) if self.tanh_mean else mean
        log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,))
        scale = jnp.exp(jnp.clip(log_std, self.log_std_min, self.log_std_max)) * temperature
        return Gaussian(mean, jnp.broadcast_to(scale, mean.shape))
