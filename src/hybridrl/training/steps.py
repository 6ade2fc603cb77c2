"""The jitted programs of a run: one env step's updates and next action, one buffer insert, a chunk of
offline updates, the write of an episode's columns. Pure functions of the carry (agent, buffer, RNG key, the
mixer's state), donated to each call so the device buffer is updated in place.

Performance shape:
- online: two jitted calls per env step: one inserts the transition into the device buffer (in place), the
  other samples the mixed minibatches, runs every update of that step and returns the next action (one fused
  call made XLA copy buffer columns every step, so its cost grew with the capacity);
- offline: one jitted call per `offline_chunk` updates (`lax.scan`).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from hybridrl.replay import ReplayBuffer


def _guard(new: Any, old: Any, info: dict[str, jax.Array], bound: float, skip: bool
           ) -> tuple[Any, jax.Array, jax.Array]:
    """Inside jit: whether this update diverged (any metric non-finite or past ±bound) and the index
    (in sorted metric order) of the first such metric, -1 if none. With `skip`, a diverged update is
    undone (the state before it is kept). A handful of scalar tests: no measurable cost."""
    names = sorted(info)
    if not names:
        return new, jnp.zeros((), bool), jnp.full((), -1, jnp.int32)
    vals = jnp.stack([jnp.asarray(info[n], jnp.float32) for n in names])
    bad_each = ~jnp.isfinite(vals) | (jnp.abs(vals) > bound)
    bad = bad_each.any()
    which = jnp.where(bad, jnp.argmax(bad_each), -1).astype(jnp.int32)
    if skip:
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(bad, o, n), new, old)
    return new, bad, which


class Carry(flax.struct.PyTreeNode):
    agent: Any
    buffer: ReplayBuffer
    rng: jax.Array
    mix: Any = None  # the data-mixing strategy's own state (density-ratio: network and priorities)


def _insert(carry: Carry, transition: dict[str, jax.Array], hold: jax.Array, step_in_episode: jax.Array = 0, *,
            mixer: Any) -> Carry:
    """Store one transition (its own jitted call, the buffer donated and written in place). With `hold` the row is
    withheld from sampling until its episode ends (returns-to-go need the end). Kept apart from `_online_step`:
    in one program XLA fused the write into the minibatch gathers and then copied whole buffer columns every
    step to keep the old values readable (1M rows ran 4x slower than 4k rows). `step_in_episode`: the row's index in
    its episode (a windowed buffer marks the windows it completes)."""
    return carry.replace(buffer=carry.buffer.insert(mixer.on_insert(transition, carry.mix), hold, step_in_episode))


def _online_step(carry: Carry, offline: ReplayBuffer | None, policy_obs: jax.Array, *, mixer: Any, batch_size: int,
                 utd: int, train: bool, act: str = "random", repeats: int = 1, bound: float = 1e8,
                 skip_diverged: bool = False, count: jax.Array | None = None
                 ) -> tuple[Carry, jax.Array, dict[str, jax.Array]]:
    """After the step's transition is stored (`_insert`): if training, run all of this env step's updates; pick
    the next action (without updates, `act`: uniform during warm-up, or the agent's policy — WSRL's warm-up with
    the pre-trained policy, or a step between updates when training every few steps; "none" while a chunk of
    actions is being executed: no action is computed). `repeats` whole updates
    (each with its `utd` critic steps) run when training, e.g. in Balanced Replay's first epoch; `repeats=0` runs
    `count` of them, a traced number (a block of updates after a block or an episode of env steps: one program
    whatever the count). When training, info carries `diverged` / `diverged_metric` (see `_guard`)."""
    buffer = carry.buffer
    rng, key_batch, key_update, key_act = jax.random.split(carry.rng, 4)
    mix = carry.mix
    if train:
        def one_update(c: tuple, keys: jax.Array) -> tuple[tuple, dict]:
            agent, buffer, mix = c
            batches, buffer, new_mix, mix_info = mixer.step(keys[0], buffer, offline, batch_size, utd, mix)
            new_agent, info = agent.update(batches, keys[1])
            info = {**info, **mix_info}
            (new_agent, new_mix), bad, which = _guard((new_agent, new_mix), (agent, mix), info, bound, skip_diverged)
            return (new_agent, buffer, new_mix), {**info, "diverged": bad, "diverged_metric": which}

        if repeats == 1:
            (agent, buffer, mix), info = one_update((carry.agent, buffer, mix), jnp.stack([key_batch, key_update]))
        elif repeats == 0:  # `count` updates, a traced number: a loop whose metrics are averaged as it goes
            def body(i: jax.Array, c: tuple) -> tuple:
                state, sums, bad_any, which = c
                keys = jnp.stack([jax.random.fold_in(key_batch, i), jax.random.fold_in(key_update, i)])
                state, step = one_update(state, keys)
                bad, metric = step.pop("diverged"), step.pop("diverged_metric")
                which = jnp.where(bad_any, which, metric)
                return state, jax.tree_util.tree_map(jnp.add, sums, step), bad_any | bad, which

            state = (carry.agent, buffer, mix)
            shapes = jax.eval_shape(one_update, state, jnp.stack([key_batch, key_update]))[1]
            sums = {k: jnp.zeros(v.shape, v.dtype) for k, v in shapes.items() if not k.startswith("diverged")}
            (agent, buffer, mix), sums, bad, which = jax.lax.fori_loop(
                0, count, body, (state, sums, jnp.zeros((), bool), jnp.full((), -1, jnp.int32)))
            n = jnp.maximum(count, 1).astype(jnp.float32)
            info = {**{k: v / n for k, v in sums.items()}, "diverged": bad, "diverged_metric": which}
        else:  # Balanced Replay's first online epoch: several whole updates per env step, fused
            keys = jnp.stack([jax.random.split(key_batch, repeats), jax.random.split(key_update, repeats)], axis=1)
            (agent, buffer, mix), infos = jax.lax.scan(one_update, (carry.agent, buffer, mix), keys)
            bad, which = infos.pop("diverged"), infos.pop("diverged_metric")
            info = {**jax.tree_util.tree_map(jnp.mean, infos), "diverged": bad.any(),
                    "diverged_metric": which[jnp.argmax(bad)]}
        action = agent.sample_actions(policy_obs, key_act) if act != "none" else jnp.zeros(())
    else:
        agent, info = carry.agent, {}
        if act == "none":
            action = jnp.zeros(())
        elif act == "agent":
            action = agent.sample_actions(policy_obs, key_act)
        else:
            action = jax.random.uniform(key_act, buffer.data["actions"].shape[1:], minval=-1.0, maxval=1.0)
    return Carry(agent=agent, buffer=buffer, rng=rng, mix=mix), action, info


def _set_rows(carry: Carry, rows: jax.Array, values: dict[str, jax.Array]) -> Carry:
    """Write each column of `values` at `rows` (rows past the capacity are padding, dropped) and release the
    withheld rows: their episode has ended."""
    data = dict(carry.buffer.data)
    for name, column in values.items():
        data[name] = data[name].at[rows].set(column, mode="drop")
    return carry.replace(buffer=carry.buffer.replace(data=data).release())


def _offline_chunk(carry: Carry, offline: ReplayBuffer, *, mixer: Any, batch_size: int, utd: int, num_updates: int,
                   bound: float = 1e8, skip_diverged: bool = False) -> tuple[Carry, dict[str, jax.Array]]:
    """`num_updates` updates on minibatches drawn from the offline data (uniformly, or relabelled for a
    goal-conditioned agent: the mixer's `offline_batches`), fused with `lax.scan`; returns mean metrics.
    An agent that trains several members on separate minibatches (Balanced Replay's ensemble) asks for
    `batch_multiplier` times the rows."""

    def body(c: Carry, _: None) -> tuple[Carry, dict]:
        rng, key_batch, key_update = jax.random.split(c.rng, 3)
        batches = mixer.offline_batches(key_batch, offline, batch_size * c.agent.batch_multiplier, utd)
        agent, info = c.agent.update(batches, key_update)
        agent, bad, which = _guard(agent, c.agent, info, bound, skip_diverged)
        return c.replace(agent=agent, rng=rng), {**info, "diverged": bad, "diverged_metric": which}

    carry, infos = jax.lax.scan(body, carry, None, length=num_updates)
    bad = infos.pop("diverged")
    which = infos.pop("diverged_metric")
    first = jnp.argmax(bad)  # the chunk's first diverged update (0 if none)
    summary = jax.tree_util.tree_map(jnp.mean, infos)
    return carry, {**summary, "diverged": bad.sum(), "diverged_metric": which[first],
                   "diverged_at": first, "diverged_value": jnp.stack([infos[n][first] for n in sorted(infos)])
                   if infos else jnp.zeros(0)}


def _commit(tree: Any) -> Any:
    """Place every leaf on the default device, committed, so the first jitted call sees the same
    argument placement as every later one (otherwise jit keeps a second cache entry)."""
    return jax.device_put(tree, jax.devices()[0])


class Steps:
    """The run's jitted entry points, compiled once per run (the mixer and batch sizes are static)."""

    def __init__(self, mixer: Any, batch_size: int, utd: int, bound: float, skip_diverged: bool) -> None:
        guard = {"bound": bound, "skip_diverged": skip_diverged}
        self.insert = jax.jit(partial(_insert, mixer=mixer), donate_argnums=0)
        self.online = jax.jit(partial(_online_step, mixer=mixer, batch_size=batch_size, utd=utd, **guard),
                              static_argnames=("train", "act", "repeats"), donate_argnums=0)
        # The offline phase takes one critic step per update (UTD 1), as every offline method does.
        self.offline = jax.jit(partial(_offline_chunk, mixer=mixer, batch_size=batch_size, utd=1, **guard),
                               static_argnames=("num_updates",), donate_argnums=0)
        self.set_rows = jax.jit(_set_rows, donate_argnums=0)
        self.policy = jax.jit(lambda agent, obs: agent.eval_actions(obs))
        self.sample = jax.jit(lambda agent, obs, key: agent.sample_actions(obs, key))
