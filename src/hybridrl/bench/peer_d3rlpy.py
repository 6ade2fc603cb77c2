"""The d3rlpy side of `hybridrl bench peers`. Runs in the peers' virtual environment (d3rlpy + torch
2.13.0), never imported by hybridrl. Argument: a JSON spec (algo, obs_dim, act_dim, hidden, batch,
seconds, rows). Prints one JSON line: updates/s of d3rlpy's training step (sample a batch from its
dataset, `update`), and torch's float32 matmul peak on this machine."""
import json
import sys
import time

import d3rlpy
import numpy as np
import torch


def _peak(seconds: float = 3.0, n: int = 2048) -> float:
    a = torch.randn(n, n)
    for _ in range(2):
        a @ a
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        a @ a
        calls += 1
    return 2 * n**3 * calls / (time.perf_counter() - start)


def main() -> None:
    spec = json.loads(sys.argv[1])
    d3rlpy.seed(0)
    rng = np.random.default_rng(0)
    n, obs_dim, act_dim = spec["rows"], spec["obs_dim"], spec["act_dim"]
    timeouts = np.zeros(n, np.float32)
    timeouts[999::1000] = 1.0
    data = d3rlpy.dataset.MDPDataset(
        observations=rng.normal(size=(n, obs_dim)).astype(np.float32),
        actions=np.tanh(rng.normal(size=(n, act_dim))).astype(np.float32),
        rewards=rng.normal(size=n).astype(np.float32), terminals=np.zeros(n, np.float32), timeouts=timeouts)
    enc = d3rlpy.models.VectorEncoderFactory([spec["hidden"], spec["hidden"]])
    if spec["algo"] == "iql":
        config = d3rlpy.algos.IQLConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                        value_encoder_factory=enc, batch_size=spec["batch"], expectile=0.7,
                                        weight_temp=3.0, max_weight=100.0)
    else:
        config = d3rlpy.algos.SACConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                        batch_size=spec["batch"])
    algo = config.create(device="cpu:0")
    algo.build_with_dataset(data)

    def step() -> None:
        algo.update(data.sample_transition_batch(spec["batch"]))

    for _ in range(20):  # warm up
        step()
    calls, start = 0, time.perf_counter()
    while calls < 20 or time.perf_counter() - start < spec["seconds"]:
        step()
        calls += 1
    rate = calls / (time.perf_counter() - start)
    print(json.dumps({"updates_per_sec": rate, "timed_updates": calls, "version": d3rlpy.__version__,
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "peak_flops_per_sec": _peak()}))


if __name__ == "__main__":
    main()
