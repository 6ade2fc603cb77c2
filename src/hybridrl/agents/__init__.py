"""One algorithm, one file. `make_agent(name, ...)` builds any of them."""
from __future__ import annotations

from typing import Any

from hybridrl.agents.balanced import BalancedReplayAgent
from hybridrl.agents.cql import CQLAgent
from hybridrl.agents.famo2o import FamO2OCQLAgent, FamO2OIQLAgent
from hybridrl.agents.fql import FQLAgent
from hybridrl.agents.ifql import IFQLAgent
from hybridrl.agents.iql import IQLAgent
from hybridrl.agents.mscp import MSCPAgent
from hybridrl.agents.qc import QCAgent
from hybridrl.agents.rebrac import ReBRACAgent
from hybridrl.agents.sac import SACAgent

AGENTS = {"sac": SACAgent, "cql": CQLAgent, "iql": IQLAgent, "balanced": BalancedReplayAgent,
          "famo2o-iql": FamO2OIQLAgent, "famo2o-cql": FamO2OCQLAgent, "mscp": MSCPAgent, "fql": FQLAgent,
          "ifql": IFQLAgent, "rebrac": ReBRACAgent, "qc": QCAgent}


def make_agent(name: str, key: Any, obs_dim: int, action_dim: int, config: Any) -> Any:
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; valid: {', '.join(sorted(AGENTS))}")
    return AGENTS[name].create(key, obs_dim, action_dim, config)


__all__ = ["AGENTS", "BalancedReplayAgent", "CQLAgent", "FQLAgent", "FamO2OCQLAgent", "FamO2OIQLAgent", "IFQLAgent",
           "IQLAgent", "MSCPAgent", "QCAgent", "ReBRACAgent", "SACAgent", "make_agent"]
