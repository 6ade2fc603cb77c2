"""A tanh-squashed diagonal Gaussian, written out so the log-density correction is visible."""
from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

_LOG_2PI = jnp.log(2.0 * jnp.pi)


@flax.struct.dataclass
class TanhNormal:
    loc: jnp.ndarray
    scale: jnp.ndarray

    def sample_and_log_prob(self, key: jax.Array, sample_shape: tuple[int, ...] = ()
                            ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Reparameterised sample in (-1, 1) and its log-density (summed over action dims);
        `sample_shape` prepends independent draws (CQL's N actions per state)."""
        eps = jax.random.normal(key, sample_shape + self.loc.shape)
        pre = self.loc + self.scale * eps
        log_prob = self._gaussian_log_prob_from_eps(eps) - self._log_det(pre)
        return jnp.tanh(pre), log_prob

    def sample(self, key: jax.Array) -> jnp.ndarray:
        return jnp.tanh(self.loc + self.scale * jax.random.normal(key, self.loc.shape))

    def rsample(self, key: jax.Array) -> jnp.ndarray:
        """A reparameterised sample for gradients through the action (tanh is already smooth)."""
        return self.sample(key)

    def log_prob(self, action: jnp.ndarray) -> jnp.ndarray:
        """Log-density of an action in (-1, 1); callers clip dataset actions to +-(1-1e-5) first."""
        pre = jnp.arctanh(action)
        eps = (pre - self.loc) / self.scale
        return self._gaussian_log_prob_from_eps(eps) - self._log_det(pre)

    def mode(self) -> jnp.ndarray:
        return jnp.tanh(self.loc)

    def _gaussian_log_prob_from_eps(self, eps: jnp.ndarray) -> jnp.ndarray:
        return jnp.sum(-0.5 * eps**2 - jnp.log(self.scale) - 0.5 * _LOG_2PI, axis=-1)

    @staticmethod
    def _log_det(pre: jnp.ndarray) -> jnp.ndarray:
        # log |d tanh(x)/dx| = 2 (log 2 - x - softplus(-2x)), numerically stable for large |x|.
        return jnp.sum(2.0 * (jnp.log(2.0) - pre - jax.nn.softplus(-2.0 * pre)), axis=-1)


@flax.struct.dataclass
class Gaussian:
    """A diagonal Gaussian whose samples are clipped to [-1, 1] when acting (IQL's actor: tanh-bounded
    mean, state-independent std). Log-densities are of the unclipped Gaussian, as AWR needs."""

    loc: jnp.ndarray
    scale: jnp.ndarray

    def log_prob(self, action: jnp.ndarray) -> jnp.ndarray:
        eps = (action - self.loc) / self.scale
        return jnp.sum(-0.5 * eps**2 - jnp.log(self.scale) - 0.5 * _LOG_2PI, axis=-1)

    def sample(self, key: jax.Array) -> jnp.ndarray:
        return jnp.clip(self.loc + self.scale * jax.random.normal(key, self.loc.shape), -1.0, 1.0)

    def rsample(self, key: jax.Array) -> jnp.ndarray:
        """The unclipped reparameterised sample: a gradient through the action reaches loc (and what loc
        depends on) on every dimension, which clipping would zero wherever the sample leaves [-1, 1]."""
        return self.loc + self.scale * jax.random.normal(key, self.loc.shape)

    def mode(self) -> jnp.ndarray:
        return self.loc
