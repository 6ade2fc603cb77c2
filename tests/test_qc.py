"""Action chunking: windows of h steps that never cross an episode end (offline and online, through a wrapping ring),
h-step targets by hand, open-loop execution in order, exact resume in the middle of a chunk, and QC's acting rules."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY, TOY, read_rows

from hybridrl.agents.qc import QCAgent, QCConfig
from hybridrl.nn import ensemble_apply
from hybridrl.recipes import resolve
from hybridrl.replay import ReplayBuffer
from hybridrl.replay.buffer import window_starts
from hybridrl.replay.mixing import Append, Symmetric
from hybridrl.training.loop import Trainer, load_run_agent

H, GAMMA = 4, 0.9


def _episodes(rng, lengths):
    """Rows of consecutive episodes; observation = (episode id, step in episode), reward = a random number."""
    rows = {"observations": [], "actions": [], "rewards": [], "next_observations": [], "masks": []}
    ends = []
    for e, n in enumerate(lengths):
        terminal = rng.random() < 0.5
        for t in range(n):
            rows["observations"].append([e, t])
            rows["next_observations"].append([e, t + 1])
            rows["actions"].append([e / 100, t / 100])
            rows["rewards"].append(rng.normal())
            rows["masks"].append(0.0 if terminal and t == n - 1 else 1.0)
            ends.append(t == n - 1)
    return {k: np.asarray(v, np.float32) for k, v in rows.items()}, np.asarray(ends)


def _check_windows(batch, rows, starts):
    """Each sampled window: h steps of one episode in order, and its h-step quantities by hand."""
    obs = np.asarray(batch["observations"]).reshape(-1, 2)
    acts = np.asarray(batch["actions"]).reshape(len(obs), H, 2)
    for i, (episode, step) in enumerate(obs):
        np.testing.assert_allclose(acts[i], np.stack([[episode / 100, (step + k) / 100] for k in range(H)]),
                                   atol=1e-6)
        assert np.asarray(batch["next_observations"]).reshape(-1, 2)[i].tolist() == [episode, step + H]
    # the h-step reward, the last step's mask: by hand from the window's first row
    for i, s in enumerate(np.asarray(starts).reshape(-1)[:50]):
        s = int(s)
        expect = sum(GAMMA ** k * rows["rewards"][s + k] for k in range(H))
        assert np.isclose(np.asarray(batch["rewards"]).reshape(-1)[i], expect, atol=1e-5)
        assert np.asarray(batch["masks"]).reshape(-1)[i] == rows["masks"][s + H - 1]


def test_offline_windows_stay_inside_episodes_with_h_step_rewards():
    rng = np.random.default_rng(0)
    rows, ends = _episodes(rng, rng.integers(1, 12, size=60))
    ok = window_starts(ends, H)
    for i in range(len(ends)):  # by hand: H rows left and no end before the window's last row
        assert ok[i] == (i + H <= len(ends) and not ends[i:i + H - 1].any())
    buf = ReplayBuffer.from_arrays(rows, H, GAMMA, ends)
    starts = buf.sample_indices(jax.random.PRNGKey(0), (4, 256))
    assert ok[np.asarray(starts)].all()
    assert len(np.unique(np.asarray(starts))) > 0.6 * ok.sum()  # spread over the valid starts, not a fallback
    _check_windows(buf.gather(starts), rows, starts)


def test_online_windows_are_marked_as_episodes_arrive_and_survive_the_ring_wrapping():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 10, size=80)
    rows, ends = _episodes(rng, lengths)
    capacity = 97  # less than the rows inserted: the ring overwrites its oldest rows
    buf = ReplayBuffer.create({k: v[0] for k, v in rows.items()}, capacity, H, GAMMA)
    insert = jax.jit(lambda b, tr, step: b.insert(tr, False, step))
    step_in_episode = np.concatenate([np.arange(n) for n in lengths])
    for i in range(len(ends)):
        buf = insert(buf, {k: v[i] for k, v in rows.items()}, step_in_episode[i])
        if i in (30, len(ends) - 1):
            starts = buf.sample_indices(jax.random.PRNGKey(i), (512,))
            batch = buf.gather(starts)
            obs = np.asarray(batch["observations"])
            assert (obs[:, 1] + H <= lengths[obs[:, 0].astype(int)]).all()  # the whole window in its episode
            assert int(buf.last_start) in np.asarray(starts)
            flat_rows = {k: np.asarray(buf.data[k]) for k in rows}  # the ring's own rows, for the by-hand sums
            for j, s in enumerate(np.asarray(starts)[:50]):
                idx = (s + np.arange(H)) % capacity
                assert np.isclose(np.asarray(batch["rewards"])[j], (GAMMA ** np.arange(H) *
                                                                     flat_rows["rewards"][idx]).sum(), atol=1e-5)
    # a restored buffer (rows oldest first) finds the same windows
    restored = ReplayBuffer.create({k: v[0] for k, v in rows.items()}, capacity, H, GAMMA).with_rows(buf.filled())
    assert np.asarray(restored.data["window_start"]).sum() == np.asarray(buf.data["window_start"]).sum()
    obs = np.asarray(restored.gather(restored.sample_indices(jax.random.PRNGKey(5), (256,)))["observations"])
    assert (obs[:, 1] + H <= lengths[obs[:, 0].astype(int)]).all()


@pytest.mark.parametrize("mixer", [Append(), Symmetric(0.5)])
def test_mixers_draw_whole_windows_from_both_sides(mixer):
    rng = np.random.default_rng(2)
    off_rows, off_ends = _episodes(rng, rng.integers(1, 12, size=40))
    offline = ReplayBuffer.from_arrays(off_rows, H, GAMMA, off_ends)
    on_rows, on_ends = _episodes(rng, [7, 3, 9])
    on_rows["observations"][:, 0] += 1000  # online episodes are told apart by id
    on_rows["next_observations"][:, 0] += 1000
    online = ReplayBuffer.create({k: v[0] for k, v in on_rows.items()}, 64, H, GAMMA)
    steps = np.concatenate([np.arange(n) for n in (7, 3, 9)])
    for i in range(len(on_ends)):
        online = online.insert({k: v[i] for k, v in on_rows.items()}, False, steps[i])
    batch = mixer.sample(jax.random.PRNGKey(0), online, offline, 256, 2)
    obs = np.asarray(batch["observations"]).reshape(-1, 2)
    lengths = {1000: 7, 1001: 3, 1002: 9, **{e: int((off_rows["observations"][:, 0] == e).sum()) for e in range(40)}}
    assert all(t + H <= lengths[int(e)] for e, t in obs)
    assert (obs[:, 0] >= 1000).any() and (obs[:, 0] < 1000).any()


def _agent(actor_type="best-of-n", **kw):
    cfg = QCConfig(hidden_dims=(16, 16), horizon=3, num_samples=8, actor_type=actor_type, **kw)
    return QCAgent.create(jax.random.PRNGKey(0), 2, 2, cfg)


def test_critic_target_bootstraps_with_gamma_to_the_h_from_the_acting_rule():
    agent = _agent()
    n = 16
    obs = jax.random.normal(jax.random.PRNGKey(1), (n, 2))
    batch = {"observations": obs, "actions": jnp.zeros((n, 6)), "rewards": jnp.arange(n, dtype=jnp.float32),
             "next_observations": obs + 1, "masks": (jnp.arange(n) % 2).astype(jnp.float32)}
    key = jax.random.PRNGKey(2)
    _, info = agent.critic_loss(agent.critic.params, batch, key)
    a_next = agent.sample_actions(batch["next_observations"], key)
    assert a_next.shape == (n, 6)
    q_next = ensemble_apply(agent.critic.apply_fn, agent.target_critic_params, obs + 1, a_next).mean(0)
    y = batch["rewards"] + 0.99 ** 3 * batch["masks"] * q_next
    qs = ensemble_apply(agent.critic.apply_fn, agent.critic.params, obs, batch["actions"])
    np.testing.assert_allclose(float(info["critic_loss"]), float(((qs - y[None]) ** 2).mean()), rtol=1e-5)


def test_qc_acts_by_the_best_chunk_under_the_mean_critic_and_qc_fql_by_its_one_step_policy():
    agent = _agent()
    agent = agent.replace(flow=agent.flow.replace(apply_fn=lambda p, o, x, t: jnp.zeros_like(x)),
                          critic=agent.critic.replace(apply_fn=lambda p, o, a: -((a - 0.3) ** 2).sum(-1)))
    obs, key = jnp.zeros((5, 2)), jax.random.PRNGKey(4)
    out = np.asarray(agent.sample_actions(obs, key))
    noise = np.clip(np.asarray(jax.random.normal(key, (8, 5, 6))), -1, 1)
    best = noise[np.argmin(((noise - 0.3) ** 2).sum(-1), axis=0), np.arange(5)]
    np.testing.assert_allclose(out, best, rtol=1e-6)
    fql = _agent("distill")
    np.testing.assert_allclose(np.asarray(fql.sample_actions(obs, key)),
                               np.clip(np.asarray(fql.one_step(fql.actor.params, obs, fql.noise(key, obs))), -1, 1))
    loss, _ = agent.actor_loss(agent.actor.params, {"observations": obs}, key)
    assert float(loss) == 0.0  # best-of-n trains no one-step policy


OVER = {**TINY, "agent.hidden_dims": [32, 32], "agent.num_samples": 4, "agent.horizon": 3, "train.start_steps": 50,
        "train.checkpoint_interval": 1000, "train.offline_chunk": 50}


def test_chunks_run_open_loop_in_order_and_a_new_episode_starts_a_new_chunk(tmp_path, toy_npz):
    trainer = Trainer(resolve("qc", TOY, OVER, dataset=str(toy_npz), offline_steps=50, online_steps=120, seed=0),
                      tmp_path / "run")
    queued, executed, asked = [], [], []
    step_fn, env_step, queue_chunk = trainer._step_fn, trainer.train_env.step, trainer._queue_chunk

    def spy_step(carry, offline, obs, **kw):
        asked.append(kw["act"] != "none")
        return step_fn(carry, offline, obs, **kw)

    def spy_env(action):
        out = env_step(action)
        executed.append((np.asarray(action).copy(), out[2] or out[3]))
        return out

    def spy_queue(action):
        queued.append(np.asarray(action).reshape(-1, 2))
        queue_chunk(action)

    trainer._step_fn, trainer.train_env.step, trainer._queue_chunk = spy_step, spy_env, spy_queue
    trainer.run()
    assert all(len(c) == 3 for c in queued) and len(queued) == 1 + sum(asked)
    # by hand: each chunk's actions in order, a new chunk when the last ran out or an episode ended
    chunks, queue, expected = iter(queued), [], []
    for i, (_action, done) in enumerate(executed):
        if not queue:
            queue = list(next(chunks))
        expected.append(queue.pop(0))
        if done:
            queue = []
        assert asked[i] == (not queue)  # the policy is asked only when the chunk has run out
    np.testing.assert_array_equal(np.stack([a for a, _ in executed]), np.stack(expected))
    assert any(done and (i + 1) % 3 for i, (_, done) in enumerate(executed))  # some chunk was cut by an episode end


def test_resume_in_the_middle_of_a_chunk_gives_the_straight_run(tmp_path, toy_npz):
    fields = {"dataset": str(toy_npz), "offline_steps": 100, "seed": 0}
    Trainer(resolve("qc-fql", TOY, OVER, **fields, online_steps=260), tmp_path / "straight").run()
    Trainer(resolve("qc-fql", TOY, OVER, **fields, online_steps=131), tmp_path / "resumed").run()
    assert len(Trainer.resume(tmp_path / "resumed").action_queue) > 0  # stopped with a chunk still running
    Trainer.resume(tmp_path / "resumed", online_steps=260).run()
    rows = read_rows(tmp_path / "straight")
    assert rows == read_rows(tmp_path / "resumed")
    online = [r for r in rows if r["phase"] == "online" and r.get("critic/critic_loss")]
    assert online and all(np.isfinite(float(r["critic/critic_loss"])) for r in online)


def test_qc_offline_learning_signal_on_the_toy_task(tmp_path, toy_npz):
    over = {**OVER, "train.offline_chunk": 100, "agent.batch_size": 64}
    Trainer(resolve("qc", TOY, over, dataset=str(toy_npz), offline_steps=600, online_steps=0, seed=0),
            tmp_path / "qc").run()
    rows = [r for r in read_rows(tmp_path / "qc") if r["phase"] == "offline"]
    assert float(rows[-1]["actor/bc_flow_loss"]) < 0.7 * float(rows[0]["actor/bc_flow_loss"])
    # the chunk's first action heads for the origin, as the data's controller does
    _, agent, _ = load_run_agent(tmp_path / "qc")
    obs = jax.random.uniform(jax.random.PRNGKey(7), (256, 2), minval=-1, maxval=1)
    first = np.asarray(agent.sample_actions(obs, jax.random.PRNGKey(8)))[:, :2]
    cosine = (first * -np.asarray(obs)).sum(1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(obs, axis=1) + 1e-8)
    assert cosine.mean() > 0.5, cosine.mean()


def test_sparse_rewards_offline_and_online_and_the_qc_presets_that_set_them(tmp_path, toy_npz):
    from hybridrl.data import load_dataset
    from hybridrl.data.dataset import sparsify

    np.testing.assert_array_equal(sparsify(np.array([-2.0, -1.0, 0.0, 0.5])), [-1.0, -1.0, 0.0, -1.0])
    scene, cube = "scene-singletask-task2-v0", "cube-single-singletask-task2-v0"
    assert resolve("qc", scene).train.reward_sparsify and resolve("qc-fql", scene).train.reward_sparsify
    assert not resolve("qc", cube).train.reward_sparsify and not resolve("fql", scene).train.reward_sparsify
    assert resolve("qc-fql", cube).agent.alpha == 300.0
    assert resolve("qc", "puzzle-3x3-singletask-v0").agent.num_samples == 64
    arrays = dict(np.load(toy_npz))
    arrays["rewards"] = np.where(np.arange(len(arrays["rewards"])) % 3 == 0, 0.0, arrays["rewards"])  # some solved
    np.savez(tmp_path / "toy.npz", **arrays)
    cfg = resolve("qc-fql", TOY, {**OVER, "train.reward_sparsify": True, "train.reward_scale": 2.0,
                                  "train.reward_bias": 0.5}, dataset=str(tmp_path / "toy.npz"), offline_steps=20,
                  online_steps=40)
    trainer = Trainer(cfg, tmp_path / "run")
    raw, env_step = [], trainer.train_env.step

    def spy_env(action):
        out = env_step(action)
        raw.append(out[1])
        return out

    trainer.train_env.step = spy_env
    trainer.run()
    stored = np.concatenate([np.asarray(trainer.offline.filled()["rewards"]),
                             np.asarray(trainer.carry.buffer.filled()["rewards"])])
    data = load_dataset(str(tmp_path / "toy.npz")).rewards
    assert len(raw) == 40 and np.any(data != 0) and np.any(data == 0)  # both kinds of row are in the toy data
    np.testing.assert_allclose(stored, np.concatenate([sparsify(data), sparsify(np.array(raw))]) * 2.0 + 0.5)
