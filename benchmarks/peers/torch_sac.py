"""Plain PyTorch eager SAC update at 256x256, batch 256, obs 17 / act 6, E=2: a peer reference for the
throughput benchmark (same losses as hybridrl's SAC). Run it in its own venv, never with an unpinned torch:

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0
    /tmp/torchenv/bin/python benchmarks/peers/torch_sac.py
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

OBS, ACT, BATCH, HIDDEN = 17, 6, 256, 256


def mlp(inp: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, out))


def main(seconds: float = 8.0) -> float:
    torch.manual_seed(0)
    actor, q1, q2, t1, t2 = mlp(OBS, 2 * ACT), mlp(OBS + ACT, 1), mlp(OBS + ACT, 1), mlp(OBS + ACT, 1), \
        mlp(OBS + ACT, 1)
    t1.load_state_dict(q1.state_dict())
    t2.load_state_dict(q2.state_dict())
    log_alpha = torch.zeros(1, requires_grad=True)
    opt_actor = torch.optim.Adam(actor.parameters(), 3e-4)
    opt_critic = torch.optim.Adam([*q1.parameters(), *q2.parameters()], 3e-4)
    opt_temp = torch.optim.Adam([log_alpha], 3e-4)
    obs, next_obs = torch.randn(BATCH, OBS), torch.randn(BATCH, OBS)
    actions, rewards, masks = torch.rand(BATCH, ACT) * 2 - 1, torch.randn(BATCH), torch.ones(BATCH)

    def sample(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = actor(o).chunk(2, -1)
        log_std = log_std.clamp(-20, 2)
        std = log_std.exp()
        pre = mu + std * torch.randn_like(mu)
        log_prob = (-0.5 * ((pre - mu) / std) ** 2 - log_std - 0.9189385).sum(-1)
        log_prob = log_prob - (2 * (0.6931472 - pre - F.softplus(-2 * pre))).sum(-1)
        return torch.tanh(pre), log_prob

    def update() -> None:
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            next_actions, next_log_prob = sample(next_obs)
            x2 = torch.cat([next_obs, next_actions], -1)
            target = rewards + 0.99 * masks * (torch.min(t1(x2), t2(x2)).squeeze(-1) - alpha * next_log_prob)
        x = torch.cat([obs, actions], -1)
        critic_loss = ((q1(x).squeeze(-1) - target) ** 2).mean() + ((q2(x).squeeze(-1) - target) ** 2).mean()
        opt_critic.zero_grad()
        critic_loss.backward()
        opt_critic.step()
        new_actions, log_prob = sample(obs)
        xn = torch.cat([obs, new_actions], -1)
        actor_loss = (alpha * log_prob - torch.min(q1(xn), q2(xn)).squeeze(-1)).mean()
        opt_actor.zero_grad()
        actor_loss.backward()
        opt_actor.step()
        temp_loss = -(log_alpha.exp() * (log_prob.detach() - ACT / 2)).mean()
        opt_temp.zero_grad()
        temp_loss.backward()
        opt_temp.step()
        with torch.no_grad():
            for tgt, src in ((t1, q1), (t2, q2)):
                for pt, ps in zip(tgt.parameters(), src.parameters(), strict=True):
                    pt.mul_(0.995).add_(0.005 * ps)

    for _ in range(20):
        update()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        update()
        n += 1
    rate = n / (time.perf_counter() - start)
    print(f"torch {torch.__version__} eager SAC updates/s: {rate:.1f} ({torch.get_num_threads()} threads)")
    return rate


if __name__ == "__main__":
    main()
