"""Named recipes: an agent, a data-mixing strategy, a phase plan and per-domain presets.

A recipe is data, not code. Adding a method means an agent file (or none) and an entry here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridrl.agents import AGENTS
from hybridrl.config import RunConfig, apply_overrides
from hybridrl.errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    name: str
    agent: str
    summary: str
    base: dict[str, Any] = field(default_factory=dict)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    # presets for one dataset, keyed by its D4RL-style name (`dataset_family`), for methods whose authors tuned
    # per dataset; applied over the domain's
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # where the authors ran offline-to-online with other values than offline (FQL's α on some tasks): applied over
    # the dataset's presets when the run has online steps
    online_datasets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def presets(self, env: str, dataset: str | None = None, online: bool = False) -> dict[str, Any]:
        """The recipe's own values for a run: its base, then its env domain's, then its dataset's (and its dataset's
        offline-to-online values, for a run with online steps)."""
        family = dataset_family(dataset)
        return {**self.base, **self.domains.get(domain_of(env), {}), **self.datasets.get(family, {}),
                **(self.online_datasets.get(family, {}) if online else {})}


# CQL / Cal-QL as nakamotoo/Cal-QL's JaxCQL: α_cql 5, max-backup, temperature lr = policy lr 1e-4; online the
# policy collects a whole first trajectory before any update, then one update per env step, 50/50 data.
_CQL_BASE: dict[str, Any] = {
    "train.offline_steps": 1_000_000, "train.mixing": "symmetric", "train.offline_ratio": 0.5,
    "train.start_steps": 0, "train.warmup_policy": "agent", "train.first_update_after_episode": True,
    "agent.num_critics": 2, "agent.num_target_critics": 2, "agent.utd": 1, "agent.cql_alpha": 5.0,
    "agent.max_backup": True, "agent.temp_lr": 1e-4, "agent.actor_log_std_offset": -1.0,
}
_CQL_MAZE: dict[str, Any] = {  # sparse goal reaching: Cal-QL's AntMaze settings (critic 256×4, policy 256×2)
    "agent.cql_alpha": 5.0, "agent.lagrange": True, "agent.target_action_gap": 0.8, "agent.max_backup": True,
    "agent.hidden_dims": [256, 256, 256, 256], "agent.actor_hidden_dims": [256, 256], "train.reward_scale": 10.0,
    "train.reward_bias": -5.0, "train.sparse_reward": True,
}

# IQL as ikostrikov/implicit_q_learning: locomotion rewards × 1000 / (max − min episode return) of the data
# (kept online, so one scale throughout); AntMaze-style mazes r − 1 instead.
_IQL_BASE: dict[str, Any] = {"train.offline_steps": 1_000_000, "train.mixing": "append", "train.start_steps": 0,
                             "train.reward_normalization": "return-range"}
_IQL_MAZE: dict[str, Any] = {"agent.expectile": 0.9, "train.reward_bias": -1.0, "train.reward_normalization": "none"}

_RLPD_BASE: dict[str, Any] = {
    "train.offline_ratio": 0.5, "train.offline_steps": 0, "agent.num_critics": 10, "agent.num_target_critics": 2,
    "agent.critic_layer_norm": True, "agent.actor_aggregation": "mean", "agent.utd": 20, "agent.backup_entropy": True,
    "agent.target_entropy_scale": 0.5,
}
_RLPD_DOMAINS: dict[str, dict[str, Any]] = {
    "maze": {"agent.num_target_critics": 1, "agent.backup_entropy": False, "agent.hidden_dims": [256, 256, 256],
             "train.reward_bias": -1.0},
    "sparse": {"agent.backup_entropy": False, "agent.hidden_dims": [256, 256, 256]},
}
# MSCP: pre-training on action-free data, then 0.25 updates per env step (update_every 4) after a short
# random warm-up, each on one online and one offline relabelled batch.
_MSCP_BASE: dict[str, Any] = {"train.mixing": "goal-relabel", "train.offline_steps": 1_000_000,
                              "train.start_steps": 2_000, "train.update_every": 4, "train.offline_ratio": 0.5}

# FQL as seohongpark/fql main.py: offline, then online with the offline data kept in one buffer (appended, uniform),
# one update per env step from the first one, the same α; D4RL AntMaze's r − 1 on the mazes (α 10, mean over critics).
_FLOW_PROTOCOL: dict[str, Any] = {"train.offline_steps": 1_000_000, "train.mixing": "append", "train.start_steps": 0,
                                  "train.warmup_policy": "agent"}
_FQL_BASE: dict[str, Any] = {**_FLOW_PROTOCOL, "agent.alpha": 10.0, "agent.q_agg": "mean"}
_FLOW_MAZE: dict[str, Any] = {"train.reward_bias": -1.0}  # FQL's and IFQL's AntMaze rewards
# FQL's README on OGBench's manipulation tasks (the same α offline and online): cube and scene 300, puzzle 1000.
_FQL_MANIPULATION: dict[str, dict[str, Any]] = {"manipulation": {"agent.alpha": 300.0}, "scene": {"agent.alpha": 300.0},
                                                "puzzle": {"agent.alpha": 1000.0}}
# QC as ColinQiyangLi/qc main.py: 1M offline updates; online, the offline data stays in the one buffer (append),
# the pre-trained policy acts from the first step and updates (one per env step) start after 5,000 steps.
# FQL on D4RL locomotion, which the FQL paper does not run: the per-dataset α of the FQL baseline tuned in Flow
# Actor-Critic (arXiv 2602.18015; its code's README lists them): HalfCheetah medium 3, medium-replay and medium-expert
# 30; Hopper 100; Walker2d 300. Other locomotion data keep the code's default 10.
_FQL_LOCOMOTION_ALPHA: dict[str, float] = {
    "halfcheetah-medium": 3.0, "halfcheetah-medium-replay": 30.0, "halfcheetah-medium-expert": 30.0,
    "hopper-medium": 100.0, "hopper-medium-replay": 100.0, "hopper-medium-expert": 100.0,
    "walker2d-medium": 300.0, "walker2d-medium-replay": 300.0, "walker2d-medium-expert": 300.0,
}
# FQL's README, the flags of the paper's runs per dataset (matched by `dataset_family`, as ReBRAC's pairs):
# OGBench's navigation (q_agg min on the large and giant AntMazes, γ 0.995 on the long-horizon mazes) and D4RL's
# AntMaze-large and Adroit (α 3; q_agg min with α 1e3–3e4). Where the README's offline-to-online command takes
# another α, `_FQL_DATASETS_ONLINE` holds it: applied when the run has online steps.
_GAMMA_LONG: dict[str, Any] = {"agent.discount": 0.995}
_FQL_DATASETS: dict[str, dict[str, Any]] = {
    "antmaze-large-navigate": {"agent.q_agg": "min"},
    "antmaze-giant-navigate": {**_GAMMA_LONG, "agent.q_agg": "min"},
    "humanoidmaze-medium-navigate": {**_GAMMA_LONG, "agent.alpha": 30.0},
    "humanoidmaze-large-navigate": {**_GAMMA_LONG, "agent.alpha": 30.0},
    "antsoccer-arena-navigate": {**_GAMMA_LONG},
    "antmaze-large-play": {"agent.alpha": 3.0}, "antmaze-large-diverse": {"agent.alpha": 3.0},
    **{f"{task}-{data}": {"agent.q_agg": "min", "agent.alpha": a} for (task, data), a in {
        ("pen", "human"): 1e4, ("pen", "cloned"): 1e4, ("pen", "expert"): 3e3,
        ("door", "human"): 3e4, ("door", "cloned"): 3e4, ("door", "expert"): 3e4,
        ("hammer", "human"): 3e4, ("hammer", "cloned"): 1e4, ("hammer", "expert"): 3e4,
        ("relocate", "human"): 1e4, ("relocate", "cloned"): 3e4, ("relocate", "expert"): 3e4}.items()},
}
_FQL_DATASETS_ONLINE: dict[str, dict[str, Any]] = {
    "humanoidmaze-medium-navigate": {"agent.alpha": 100.0}, "antsoccer-arena-navigate": {"agent.alpha": 30.0},
    "pen-cloned": {"agent.alpha": 1e3}, "door-cloned": {"agent.alpha": 1e3}, "hammer-cloned": {"agent.alpha": 1e3},
    "relocate-cloned": {"agent.alpha": 1e4},
}
# IFQL on D4RL-style locomotion, which the FQL paper does not run: IDQL's settings there (IFQL is its flow version;
# philippe-eecs/IDQL launcher/examples/train_ddpm_iql_offline.py): expectile 0.7 and IQL's rewards × 1000 / return
# range. On the suite's hopper-medium-replay (300k + 100k, 3 seeds) they lift IFQL from 20.7 to 64.5 (suite-2025.md).
_IFQL_LOCOMOTION: dict[str, Any] = {"agent.expectile": 0.7, "train.reward_normalization": "return-range"}
_QC_BASE: dict[str, Any] = {"train.offline_steps": 1_000_000, "train.mixing": "append", "train.start_steps": 5_000,
                            "train.warmup_policy": "agent", "agent.horizon": 5}
_QC_SPARSE: dict[str, Any] = {"train.reward_sparsify": True}  # QC's scene-sparse and puzzle-3x3-sparse

# ReBRAC's (β_actor, β_critic) per D4RL locomotion dataset, from tinkoff-ai/ReBRAC configs/rebrac/<env>/*.yaml
_REBRAC_BC: dict[str, tuple[float, float]] = {
    "hopper-random": (0.001, 0.01), "hopper-medium": (0.01, 0.01), "hopper-medium-replay": (0.05, 0.5),
    "hopper-medium-expert": (0.1, 0.01), "hopper-expert": (0.1, 0.1),
    "halfcheetah-random": (0.001, 0.1), "halfcheetah-medium": (0.001, 0.01), "halfcheetah-medium-replay": (0.01, 0.001),
    "halfcheetah-medium-expert": (0.01, 0.1), "halfcheetah-expert": (0.01, 0.01),
    "walker2d-random": (0.01, 0.0), "walker2d-medium": (0.05, 0.1), "walker2d-medium-replay": (0.05, 0.01),
    "walker2d-medium-expert": (0.01, 0.01), "walker2d-expert": (0.01, 0.5),
    # AntMaze (the rest of the authors' AntMaze settings come with the maze domain)
    "antmaze-umaze": (0.003, 0.002), "antmaze-umaze-diverse": (0.003, 0.001), "antmaze-medium-play": (0.001, 0.0005),
    "antmaze-medium-diverse": (0.001, 0.0), "antmaze-large-play": (0.002, 0.001),
    "antmaze-large-diverse": (0.002, 0.002),
}
# Adroit, configs/rebrac/{pen,door,hammer,relocate}/*.yaml: its own pair, both learning rates 3e-4, batch 256
_REBRAC_ADROIT: dict[str, tuple[float, float]] = {
    "pen-human": (0.1, 0.5), "pen-cloned": (0.05, 0.5), "pen-expert": (0.01, 0.01),
    "door-human": (0.1, 0.1), "door-cloned": (0.01, 0.1), "door-expert": (0.05, 0.01),
    "hammer-human": (0.01, 0.5), "hammer-cloned": (0.1, 0.5), "hammer-expert": (0.01, 0.01),
    "relocate-human": (0.1, 0.01), "relocate-cloned": (0.1, 0.01), "relocate-expert": (0.05, 0.01),
}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            name="sac",
            agent="sac",
            summary="SAC from scratch: online data only, no prior dataset",
            base={"train.offline_ratio": 0.0, "train.dataset": None, "train.offline_steps": 0},
            domains={"maze": {"agent.hidden_dims": [256, 256, 256], "agent.backup_entropy": False,
                              "train.reward_bias": -1.0}},
        ),
        Recipe(
            name="rlpd",
            agent="sac",
            summary="RLPD (Ball et al. 2023): SAC, 50/50 prior data, LayerNorm ensemble E=10 Z=2, UTD 20",
            base=_RLPD_BASE,
            domains=_RLPD_DOMAINS,
        ),
        Recipe(
            name="iql",
            agent="iql",
            summary="IQL (Kostrikov et al. 2022): expectile value + AWR actor; offline, then online with the "
                    "offline data kept (append, uniform), UTD 1",
            base=_IQL_BASE,
            domains={"maze": {**_IQL_MAZE, "agent.awr_temperature": 10.0}},
        ),
        Recipe(
            name="cql",
            agent="cql",
            summary="CQL: conservative twin critics offline, fine-tuned online with the term kept, 50/50 data",
            base=_CQL_BASE,
            domains={"maze": _CQL_MAZE},
        ),
        Recipe(
            name="cal-ql",
            agent="cql",
            summary="Cal-QL (Nakamoto et al. 2023): CQL with policy-action Q-values floored at Monte-Carlo "
                    "returns-to-go (offline and online episodes)",
            base={**_CQL_BASE, "agent.calibrated": True},
            domains={"maze": _CQL_MAZE},
        ),
        Recipe(
            name="wsrl",
            agent="cql",
            summary="WSRL (Zhou et al. 2025): pre-train CQL/Cal-QL with a 10-critic LayerNorm ensemble, then "
                    "SAC from it: 5k warm-up steps with the pre-trained policy, online data only, UTD 4",
            base={**_CQL_BASE, "agent.num_critics": 10, "agent.num_target_critics": 2, "agent.critic_layer_norm": True,
                  "agent.actor_aggregation": "min", "agent.online_conservative": False, "agent.utd": 4,
                  "agent.actor_full_batch": True, "train.mixing": "online-only", "train.offline_ratio": 0.0,
                  "train.warmup_policy": "agent", "train.start_steps": 5_000,
                  "train.first_update_after_episode": False, "agent.actor_layer_norm": True, "agent.init": "wsrl",
                  "agent.online_max_backup": False, "agent.actor_log_std_offset": None,
                  # the authors' ensemble code: Z members drawn with replacement, the conservative term on such a draw
                  "agent.subset_with_replacement": True, "agent.penalty_on_subset": True},
            # the AntMaze config: a state-independent policy std ("uniform") and a 256×4 critic
            domains={"maze": {**_CQL_MAZE, "agent.calibrated": True, "agent.online_max_backup": True,
                              "agent.actor_state_dependent_std": False, "agent.init": "wsrl"}},
        ),
        Recipe(
            name="balanced-replay",
            agent="balanced",
            summary="Balanced Replay (Lee et al. 2022): 5 CQL agents pre-trained, merged into one pessimistic "
                    "Q-ensemble SAC online; density-ratio prioritised replay over offline + online data (new rows "
                    "enter at a priority making the first 1k half of the draws); 5x updates in the first 1k steps",
            base={**_CQL_BASE, "agent.ensemble_size": 5, "train.mixing": "density-ratio",
                  "train.first_epoch_multiplier": 5, "agent.temp_lr": 3e-4, "agent.actor_log_std_offset": None,
                  "agent.init": "rlkit", "train.buffer_capacity": 250_000,
                  "train.start_steps": 1_000,
                  "train.warmup_policy": "agent", "train.first_update_after_episode": False},
            domains={"maze": _CQL_MAZE},
        ),
        Recipe(
            name="famo2o-iql",
            agent="famo2o-iql",
            summary="FamO2O (Wang et al. 2023) on IQL: a universal policy over AWR temperatures β and a balance "
                    "model choosing β per state; offline data kept online (append), UTD 1",
            base={**_IQL_BASE, "agent.beta_min": 1.0, "agent.beta_max": 5.0, "agent.balance_every": 1},
            domains={"maze": {**_IQL_MAZE, "agent.beta_min": 8.0, "agent.beta_max": 14.0}},
        ),
        Recipe(
            name="famo2o-cql",
            agent="famo2o-cql",
            summary="FamO2O on CQL: a universal policy over the actor's weight β on Q, with a balance model",
            # the authors' FamO2O-CQL (jax_cql): α_cql 1, no max-backup, LayerNorm critics, lrs 3e-4, one buffer of
            # offline + online rows sampled uniformly
            base={**_CQL_BASE, "agent.beta_min": 0.5, "agent.beta_max": 1.5, "agent.balance_every": 1,
                  "agent.cql_alpha": 1.0, "agent.max_backup": False, "agent.critic_layer_norm": True,
                  "agent.actor_lr": 3e-4, "agent.temp_lr": 3e-4, "train.mixing": "append",
                  "agent.init": "lecun-small-output"},
            domains={"maze": _CQL_MAZE},
        ),
        Recipe(
            name="mscp",
            agent="mscp",
            summary="MSCP (Wu et al. 2024): goal-conditioned value + slow/fast state planners pre-trained on "
                    "action-free data; a low-level policy learned online toward subgoals, guided by the fast "
                    "planner (λ = 7)",
            base=_MSCP_BASE,
        ),
        Recipe(
            name="hiql",
            agent="mscp",
            summary="HIQL-style ablation of MSCP: no fast-planner guidance (λ = 0), expectile 0.7 online",
            base={**_MSCP_BASE, "agent.guidance_weight": 0.0, "agent.online_expectile": 0.7},
        ),
        Recipe(
            name="fql",
            agent="fql",
            summary="FQL (Park et al. 2025): a flow-matching BC policy distilled into a one-step policy that maximises "
                    "Q; offline, then online with the offline data kept (append), UTD 1",
            base=_FQL_BASE,
            domains={"maze": _FLOW_MAZE, **_FQL_MANIPULATION},
            datasets={**{name: {"agent.alpha": a} for name, a in _FQL_LOCOMOTION_ALPHA.items()}, **_FQL_DATASETS},
            online_datasets=_FQL_DATASETS_ONLINE,
        ),
        Recipe(
            name="qc",
            agent="qc",
            summary="QC (Li et al. 2025, Q-chunking): TD over chunks of 5 actions with 5-step backups, executed "
                    "open-loop; acting by the best of 32 chunks of a BC flow under Q; offline data kept online",
            base={**_QC_BASE, "agent.actor_type": "best-of-n", "agent.num_samples": 32},
            # QC paper, appendix D and README: N = 64 on puzzle; scene and puzzle with --sparse rewards
            domains={"scene": _QC_SPARSE, "puzzle": {**_QC_SPARSE, "agent.num_samples": 64}},
        ),
        Recipe(
            name="qc-fql",
            agent="qc",
            summary="QC-FQL: Q-chunking with FQL's one-step policy over chunks (distillation α 100) instead of "
                    "best-of-N",
            base={**_QC_BASE, "agent.actor_type": "distill", "agent.alpha": 100.0},
            # QC paper, appendix D: α 300 on scene, puzzle and cube-double (100, the code's default, on cube-triple
            # and cube-quadruple)
            domains={"manipulation": {"agent.alpha": 300.0}, "scene": {**_QC_SPARSE, "agent.alpha": 300.0},
                     "puzzle": {**_QC_SPARSE, "agent.alpha": 300.0}},
        ),
        Recipe(
            name="ifql",
            agent="ifql",
            summary="IFQL (the FQL paper's flow IDQL): IQL's expectile value and critics, a flow-matching BC policy, "
                    "acting by the best of 32 flow samples under Q; the FQL protocol online",
            base=_FLOW_PROTOCOL,
            domains={"maze": _FLOW_MAZE, "locomotion": _IFQL_LOCOMOTION},
            # γ 0.995 where FQL's commands take it (the README's IFQL example on humanoidmaze-medium does too)
            datasets={name: _GAMMA_LONG for name, p in _FQL_DATASETS.items() if "agent.discount" in p},
        ),
        Recipe(
            name="rebrac",
            agent="rebrac",
            summary="ReBRAC (Tarasov et al. 2023): TD3 with BC penalties in the actor and the critic's target, "
                    "LayerNorm critics, actor every 2 steps; online with the FQL paper's protocol (append, UTD 1)",
            base=_FLOW_PROTOCOL,
            # the authors' AntMaze settings (medium-diverse): γ 0.999, actor lr 3e-4, critic lr 5e-5, batch 256,
            # rewards × 100
            domains={"maze": {"agent.actor_bc_coef": 0.001, "agent.critic_bc_coef": 0.0, "agent.discount": 0.999,
                              "agent.actor_lr": 3e-4, "agent.critic_lr": 5e-5, "agent.batch_size": 256,
                              "train.reward_scale": 100.0}},
            datasets={name: {"agent.actor_bc_coef": a, "agent.critic_bc_coef": c}
                      for name, (a, c) in _REBRAC_BC.items()}
            | {name: {"agent.actor_bc_coef": a, "agent.critic_bc_coef": c, "agent.actor_lr": 3e-4,
                      "agent.critic_lr": 3e-4, "agent.batch_size": 256} for name, (a, c) in _REBRAC_ADROIT.items()},
        ),
        Recipe(
            name="idm-label",
            agent="sac",
            summary="Inverse-dynamics labelling (SS-ORL style): fit p(a|s,s') on the warm-up's online data, label "
                    "the action-free dataset (rewards from the goal env), then RLPD on it",
            base={**_RLPD_BASE, "train.label_actions": "idm", "train.start_steps": 5_000},
            domains=_RLPD_DOMAINS,
        ),
    ]
}


def agent_config_class(recipe: str) -> type:
    """The config class of the recipe's agent (declared by the agent: one registry, `agents.AGENTS`)."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    return AGENTS[RECIPES[recipe].agent].config_class


def run_config_from_dict(d: dict[str, Any]) -> RunConfig:
    """A RunConfig from its dict form (a run's config.json), its agent section read by the recipe's agent config."""
    if not isinstance(d, dict) or "recipe" not in d:
        raise ConfigError("a run config needs a 'recipe' key")
    return RunConfig.from_dict(d, agent_config_class(d["recipe"]))


def domain_of(env_id: str) -> str:
    """The preset family an environment belongs to: sparse-reward mazes, sparse (binary) manipulation,
    or dense locomotion-style tasks (the default, which also covers dense maze variants)."""
    name = env_id.lower()
    if name.startswith(("cube-", "visual-cube-")):  # OGBench's manipulation tasks
        return "manipulation"
    if name.startswith(("scene-", "visual-scene-")):  # manipulation too; QC makes its rewards sparse
        return "scene"
    if name.startswith(("puzzle-", "visual-puzzle-")):
        return "puzzle"
    if "singletask" in name and ("maze" in name or "soccer" in name):  # OGBench's navigation: rewards 0 / −1 already
        return "navigation"
    if "dense" in name:
        return "locomotion"
    if "maze" in name:
        return "maze"
    if "binary" in name:
        return "sparse"
    return "locomotion"


def dataset_family(dataset: str | None) -> str | None:
    """The D4RL-style name a dataset stands for, however it is spelt: `hopper-medium-replay` for the suite's set and
    its `-small` cut, a D4RL file (`/data/hopper_medium_replay-v2.hdf5`) or a Minari id (`mujoco/hopper/medium-v0`
    -> `hopper-medium`). Per-dataset presets are looked up by it."""
    if not dataset:
        return None
    import re
    from pathlib import PurePath

    name = dataset.strip().lower().replace("\\", "/")
    parts = [p for p in name.split("/") if p]
    path = PurePath(name)
    if path.suffix in (".hdf5", ".h5", ".npz") or name.startswith(("/", ".", "~")) or len(parts) != 3:
        name = path.stem if path.suffix in (".hdf5", ".h5", ".npz") else path.name
    else:  # a Minari id: namespace/env/dataset-vN
        name = f"{parts[1]}-{parts[2]}"
    name = re.sub(r"-v\d+$", "", name.replace("_", "-"))
    return name.removesuffix("-small")


def env_for_dataset(dataset: str | None) -> str | None:
    """The env a dataset was recorded on, when it says: a built-in dataset's env, a Minari dataset's recorded
    env id (read from its metadata, without loading its episodes or importing the env), an OGBench file's default
    singletask env (from OGBench's file name); else None."""
    if not dataset:
        return None
    from pathlib import Path

    from hybridrl.data.suite import SUITE

    if dataset in SUITE:
        return SUITE[dataset].env
    path = Path(dataset).expanduser()
    if path.suffix.lower() == ".npz" and not path.name.startswith("visual-"):
        from hybridrl.data.ogbench_data import env_from_name

        base = env_from_name(path.name)  # OGBench's file names say their env: cube-single-play-v0.npz
        if base is not None:
            return base.replace("-v0", "-singletask-v0")
    if path.suffix.lower() in (".npz", ".hdf5", ".h5"):
        return None
    from hybridrl.data.minari_io import recorded_env

    return recorded_env(dataset)


def resolve_env(env: str | None, dataset: str | None) -> tuple[str, str | None]:
    """The run's (env, dataset): `--env` if given (checked against the data's env when the data names one), else the
    data's env. OGBench's own task names (cube-single-play-singletask-task2-v0, as its README and FQL's commands
    spell them) name the data too: the env becomes the registered id and, without --dataset, the data is that one."""
    from hybridrl.envs.make import same_task

    if env is not None:
        from hybridrl.data.ogbench_data import dataset_for_task_name, split_task_name

        given, split = env, split_task_name(env)
        if split is not None:
            env, named = split
        _check_ogbench_id(env, given)
        if split is not None:
            if dataset is None:
                dataset = dataset_for_task_name(named)
            elif (dataset_family(dataset) or "").removeprefix("ogbench-") != dataset_family(named):
                raise ConfigError(f"--env names OGBench's dataset {named!r} but --dataset is {dataset!r}; "
                                  f"drop --dataset to use {named}, or pass the env as {env}")
    data_env = env_for_dataset(dataset)
    if env is None:
        if data_env is None:
            if dataset:  # a typo or a missing file is that, not a missing --env
                from hybridrl.data.dataset import check_reference

                check_reference(dataset)
            raise ConfigError("--env is required, e.g. --env Hopper-v5" + (
                f" (dataset {dataset!r} does not name the env it was recorded on)" if dataset else ""))
        return data_env, dataset
    if data_env is not None and not same_task(data_env, env):
        raise ConfigError(f"--env {env} contradicts the data: dataset {dataset!r} was recorded on {data_env} "
                          f"(drop --env to use {data_env}, or pass the dataset of {env})")
    return env, dataset


def _check_ogbench_id(env_id: str, given: str) -> None:
    """An OGBench id that OGBench does not register (task9 of five tasks) is an error here, before a long data
    build or a dry run that looks fine; without the ogbench package nothing is checked (make_env says what to
    install)."""
    import difflib

    import gymnasium as gym

    from hybridrl.envs import EnvError
    from hybridrl.envs.make import ogbench_base, register_envs

    base = ogbench_base(env_id)
    if base is None:
        return
    try:
        register_envs(env_id)
    except EnvError:
        return
    if env_id not in gym.registry:
        from hybridrl.envs.make import OGBENCH_PREFIXES

        stem = base.removesuffix("-v0")
        same = sorted(k for k in gym.registry if k.startswith(stem + "-"))
        close = difflib.get_close_matches(env_id, [k for k in gym.registry if k.startswith(OGBENCH_PREFIXES)], n=3,
                                          cutoff=0.6)
        raise ConfigError(f"--env {given}: OGBench registers no env {env_id}" + (
            f"; did you mean {' or '.join(close)}?" if close else "") + (f" Its {stem} envs: {', '.join(same)}"
                                                                         if same else ""))


def goal_env_for(env_id: str) -> str:
    """For a goal-conditioned agent on data whose default env is one of OGBench's singletask mazes, the same maze's
    goal-conditioned env (pointmaze-medium-singletask-v0 -> pointmaze-medium-v0); any other env unchanged."""
    from hybridrl.envs.make import ogbench_base
    from hybridrl.envs.ogbench_env import is_goal_maze

    base = ogbench_base(env_id)
    return base if base is not None and base != env_id and is_goal_maze(base) else env_id


def resolve(recipe: str, env: str | None, overrides: list[str] | dict[str, Any] | None = None,
            **train_fields: Any) -> RunConfig:
    """Recipe defaults, then the env's domain preset, then explicit train fields, then overrides. `env` may
    be None when the dataset names its env (built-in and Minari datasets)."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    env, train_fields["dataset"] = resolve_env(env, train_fields.get("dataset"))
    if getattr(agent_config_class(recipe), "goal_conditioned", False) and env == env_for_dataset(
            train_fields.get("dataset")):
        env = goal_env_for(env)
    r = RECIPES[recipe]
    cfg = RunConfig(recipe=recipe, agent=agent_config_class(recipe)())
    cfg = apply_overrides(cfg, {"train.env": env, **r.presets(env, train_fields.get("dataset"))})
    explicit = {f"train.{k}": v for k, v in train_fields.items() if v is not None}
    cfg = apply_overrides(cfg, explicit)
    online = r.online_datasets.get(dataset_family(train_fields.get("dataset"))) if cfg.train.online_steps else None
    if online:  # known only once the run's steps are: the authors' offline-to-online values for this dataset
        cfg = apply_overrides(cfg, online)
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    derived = cfg.agent.run_fields(cfg.train) if hasattr(cfg.agent, "run_fields") else {}
    if derived:  # fields an agent's config derives from the run (the env's goal size, the run's steps)
        cfg = apply_overrides(cfg, {f"agent.{k}": v for k, v in derived.items()})
    return cfg.validate()
