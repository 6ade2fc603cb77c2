"""Fidelity sheets: for every recipe, each hyper-parameter and design choice with the paper's value, the
authors' code value (repository and file), ours, and why ours differs where it does.

"Ours" is read from the recipe's resolved config for a representative env of each domain whenever the row
names a config key, so the sheet cannot go stale; `docs/fidelity.md` is this module's output
(`python -m hybridrl.fidelity > docs/fidelity.md`, checked by a test).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    item: str
    paper: str
    code: str  # the authors' code value and where it is set
    key: str | None = None  # config key holding ours (read from the resolved config)
    ours: str | None = None  # ours, when no single key holds it
    note: str = ""  # why ours differs ("" when it matches)


IQL_REPO = "ikostrikov/implicit_q_learning"
CALQL_REPO = "nakamotoo/Cal-QL"
WSRL_REPO = "zhouzypaul/wsrl"
BR_REPO = "shlee94/Off2OnRL"
FAMO2O_REPO = "LeapLabTHU/FamO2O"
RLPD_REPO = "ikostrikov/rlpd"

_INIT = Row("initialisation", "—", f"orthogonal, gain √2, every layer ({IQL_REPO} common.py)", "agent.init")

_IQL_ROWS = [
    Row("expectile τ", "0.7 locomotion, 0.9 AntMaze", f"0.7 / 0.9 ({IQL_REPO} configs/mujoco_config.py, "
        "antmaze_config.py)", "agent.expectile"),
    Row("AWR inverse temperature β", "3 locomotion, 10 AntMaze", f"3 / 10 ({IQL_REPO} configs/*)",
        "agent.awr_temperature"),
    Row("AWR weight clip", "100", f"min(exp(β A), 100) ({IQL_REPO} actor.py)", "agent.awr_max_weight"),
    Row("networks", "256×2", f"256×2 ({IQL_REPO} configs/*)", "agent.hidden_dims"),
    Row("learning rates (actor, critic, value)", "3e-4", f"3e-4 ({IQL_REPO} configs/*)", "agent.actor_lr"),
    Row("actor lr schedule", "—", f"cosine over the offline steps offline; constant in the fine-tuning config "
        f"({IQL_REPO} learner.py, configs/antmaze_finetune_config.py)", "agent.actor_decay_steps",
        note="0 = constant when the run has an online phase, else the offline steps"),
    Row("reward transform (locomotion)", "normalised by the return range", f"× 1000 / (max − min episode "
        f"return) of the dataset ({IQL_REPO} train_offline.py normalize)", "train.reward_normalization",
        note="their fine-tuning script has no locomotion config and scales only the dataset; we keep the "
        "same scale for online rows, so offline and online rewards share one unit"),
    Row("reward transform (AntMaze)", "r − 1", f"r − 1 ({IQL_REPO} train_finetune.py)", "train.reward_bias"),
    Row("actor", "Gaussian, tanh mean, state-independent log-std", "log-std init 0, clip [−5, 2], not "
        f"squashed; samples clipped to [−1, 1] ({IQL_REPO} policy.py)", "agent.log_std_init"),
    Row("online data", "offline data kept", f"one buffer of offline + online rows, uniform ({IQL_REPO} "
        "train_finetune.py)", "train.mixing"),
    Row("online warm-up", "none", f"update from the first env step ({IQL_REPO} train_finetune.py)",
        "train.start_steps"),
    Row("offline updates", "1M", f"1M ({IQL_REPO} train_offline.py)", "train.offline_steps"),
    Row("batch size", "256", "256", "agent.batch_size"),
    _INIT,
]

_CQL_COMMON = [
    Row("α_cql (conservative weight)", "5 (AntMaze)", f"cql_min_q_weight 5 ({CALQL_REPO} "
        "JaxCQL/conservative_sac.py); WSRL locomotion_cql 5", "agent.cql_alpha"),
    Row("max-backup target", "—", f"cql_max_target_backup True ({CALQL_REPO} JaxCQL/conservative_sac.py)",
        "agent.max_backup"),
    Row("sampled actions, importance sampling", "10, on", f"cql_n_actions 10, importance sampling on "
        f"({CALQL_REPO} JaxCQL/conservative_sac.py)", "agent.cql_n_actions"),
    Row("Lagrange α′ (mazes)", "on, gap 0.8", f"on for AntMaze, gap 0.8, log α′ starts at 1.0 ({CALQL_REPO} "
        "scripts/run_antmaze.sh, JaxCQL/conservative_sac.py)", "agent.lagrange_init_log_alpha",
        note="same; measured on the 2-D point maze at 4×64: plain CQL with it diverges (gap and weight grow together, "
        "Q to −15,800; Cal-QL's floor holds, but its policy is lost by 50k updates, while at the fixed α 5 it solves "
        "the maze from 40k to 200k and CQL reaches 0.76 by 200k, one seed each), "
        "benchmarks/results/claim-calql-200k.md; agent.lagrange=false is JaxCQL's default fixed weight"),
    Row("learning rates", "policy 1e-4, Q 3e-4", f"policy 1e-4, Q 3e-4, temperature = policy lr ({CALQL_REPO} "
        "JaxCQL/conservative_sac.py)", ours=None, key="agent.temp_lr"),
    Row("entropy in the backup", "no", f"backup_entropy False ({CALQL_REPO} JaxCQL/conservative_sac.py)",
        "agent.backup_entropy"),
    Row("target entropy", "−|A|", "−|A|", "agent.target_entropy_scale"),
    Row("online data", "50/50", f"mixing_ratio 0.5 ({CALQL_REPO} scripts/*)", "train.offline_ratio"),
    Row("first online update", "after a trajectory", f"collects one whole trajectory with the policy, then "
        f"len(traj) updates ({CALQL_REPO} JaxCQL/conservative_sac_main.py)", "train.first_update_after_episode",
        note="after the first episode ours updates once per env step (the same number of updates, not in "
        "blocks after each trajectory: the policy improves within a 1,000-step maze episode, and an evaluation "
        "every N env steps sees the same number of updates on every seed); theirs: "
        "--set train.update_schedule=episodes"),
    Row("reward transform (AntMaze)", "×10 − 5", f"reward_scale 10, reward_bias −5 ({CALQL_REPO} "
        "scripts/run_antmaze.sh)", "train.reward_scale"),
    Row("networks (AntMaze)", "Q 256×4, policy 256×2", f"qf_arch 256-256-256-256, policy_arch 256-256 "
        f"({CALQL_REPO} scripts/run_antmaze.sh)", "agent.hidden_dims"),
    Row("policy network (AntMaze)", "256×2", f"policy_arch 256-256 ({CALQL_REPO} scripts/run_antmaze.sh)",
        "agent.actor_hidden_dims", note="None = the critic's hidden_dims (locomotion: both 256×2)"),
    Row("policy log-std", "—", f"m·raw + b, learnable m = 1, b = −1, clip [−20, 2] ({CALQL_REPO} "
        "JaxCQL/model.py)", "agent.actor_log_std_offset"),
    Row("offline updates", "1M (AntMaze)", "1M AntMaze, 250k locomotion (WSRL)", "train.offline_steps"),
    Row("initialisation", "—", f"orthogonal_init=True: orthogonal √2 hidden, 1e-2 output ({CALQL_REPO} "
        "JaxCQL/conservative_sac_main.py, model.py)", "agent.init"),
]

_CALQL_ROWS = [
    Row("calibration", "Q(s, π) floored at the MC return", f"floors Q(s, a∼π(s)) and Q(s, a′∼π(s′)) at "
        f"G_MC(s) ({CALQL_REPO} JaxCQL/conservative_sac.py)", "agent.calibrated"),
    Row("online MC returns", "finished trajectories", f"only finished trajectories enter the buffer, with "
        f"their returns ({CALQL_REPO} JaxCQL/replay_buffer.py)", ours="rows wait, unsampled, until their "
        "episode ends (ReplayBuffer.pending)"),
    Row("rewards", "sparse only", f"dense rewards refused (NotImplementedError) ({CALQL_REPO} "
        "JaxCQL/conservative_sac_main.py)", ours="any rewards",
        note="WSRL's Cal-QL computes returns-to-go on dense rewards too; we allow them"),
    Row("maze data's rewards", "the task's (AntMaze)", f"D4RL AntMaze files carry rewards for the evaluation target; "
        f"returns-to-go are summed over them ({CALQL_REPO} JaxCQL/replay_buffer.py)", "train.data_rewards",
        note="'task' recomputes a fixed-goal maze's rewards and ends for its goal from diverse data; 'recorded' "
             "keeps the collection goals' (returns-to-go then run across goal switches)"),
    *_CQL_COMMON,
]

_WSRL_ROWS = [
    Row("critics", "E = 10, Z = 2, LayerNorm", f"10, 2 (with replacement), LayerNorm ({WSRL_REPO} "
        "experiments/configs/*)", "agent.num_critics"),
    Row("target subset draw", "—", f"jax.random.randint: with replacement ({WSRL_REPO} wsrl/agents/sac.py)",
        "agent.subset_with_replacement", note="same (RLPD's code draws distinct members: false there)"),
    Row("conservative term in pre-training", "—", f"on Z = 2 members drawn with replacement each step, mean over "
        f"them; TD on all 10 ({WSRL_REPO} wsrl/agents/cql.py, --use_redq in README)", "agent.penalty_on_subset",
        note="same, weighted E/Z per draw (sum over members where theirs averages: one scale for both terms)"),
    Row("actor reads the critics as", "min", f"min over all E ({WSRL_REPO} wsrl/agents/sac.py)",
        "agent.actor_aggregation"),
    Row("policy LayerNorm", "—", f"on ({WSRL_REPO} experiments/configs/*)", "agent.actor_layer_norm"),
    Row("online max-backup", "—", f"off online on locomotion, on for AntMaze ({WSRL_REPO} "
        "experiments/configs/*)", "agent.online_max_backup"),
    Row("policy log-std", "—", f"tanh-Gaussian, no offset ({WSRL_REPO} wsrl/networks/*)",
        "agent.actor_log_std_offset"),
    Row("warm-up", "5k steps, pre-trained policy", f"--warmup_steps 5000 ({WSRL_REPO} experiments/scripts/*)",
        "train.start_steps"),
    Row("online UTD, batch", "4, 1024 actor / 256 per critic step", f"--utd 4 --batch_size 1024 ({WSRL_REPO} "
        "experiments/scripts/*)", "agent.utd"),
    Row("online data", "online only", f"offline_data_ratio 0 ({WSRL_REPO} finetune.py)", "train.mixing"),
    Row("online learner", "SAC", f"SAC, no conservative term ({WSRL_REPO} finetune.py)",
        "agent.online_conservative"),
    Row("α_cql (locomotion pre-training)", "5", f"cql_alpha 5 ({WSRL_REPO} experiments/configs/"
        "locomotion_cql)", "agent.cql_alpha"),
    Row("temperature lr", "—", f"1e-4 ({WSRL_REPO} experiments/configs/*)", "agent.temp_lr"),
    Row("initialisation", "—", f"orthogonal √2; the last hidden layer at gain 1e-2 (kernel_scale_final, "
        f"{WSRL_REPO} wsrl/networks/mlp.py, experiments/configs/train_config.py)", "agent.init"),
    Row("policy std", "—", "state-dependent (exp) on locomotion, one learned vector ('uniform') on AntMaze "
        f"({WSRL_REPO} experiments/configs/train_config.py)", "agent.actor_state_dependent_std"),
]

_BR_ROWS = [
    Row("ensemble", "5 CQL agents", f"5 ({BR_REPO} rlkit/examples/ours.py)", "agent.ensemble_size"),
    Row("ratio net w(s, a)", "MLP", f"256×2, last layer U(±3e-3) with bias 1, ReLU ({BR_REPO} "
        "rlkit/examples/ours.py, rlkit/torch/sac/ours.py)", "train.ratio_hidden_dims",
        note="same (last layer bias 1, so w ≈ 1 at the start)"),
    Row("ratio lr, priority temperature T", "—, 5", f"3e-4, 5 ({BR_REPO} rlkit/examples/ours.py)",
        "train.ratio_temperature"),
    Row("initial online fraction f", "0.5", f"argparse 0.5; README 0.75 ({BR_REPO} README.md)",
        "train.ratio_online_fraction"),
    Row("first-epoch update multiplier", "—", f"README 5, argparse 10 ({BR_REPO})",
        "train.first_epoch_multiplier"),
    Row("online start", "—", f"1,000 env steps with the policy, then updates ({BR_REPO} "
        "rlkit/core/batch_rl_algorithm.py)", "train.start_steps",
        note="ours then updates every env step, theirs 1,000 updates after each 1,000 steps (the same count; "
        "theirs: --set train.update_schedule=blocks --set train.update_every=1000)"),
    Row("online temperature", "—", f"fresh at 1, lr 3e-4 ({BR_REPO} rlkit/examples/ours.py)",
        "agent.online_temperature"),
    Row("online actor lr", "—", f"3e-4, new Adam ({BR_REPO} rlkit/examples/ours.py)", "agent.online_actor_lr",
        note="pre-training keeps CQL's actor_lr 1e-4"),
    Row("online buffer", "—", f"250k ({BR_REPO} rlkit/examples/ours.py)", "train.buffer_capacity"),
    Row("CQL pre-training α", "—", "not in the repository (it ships the checkpoints); CQL's README: 5 or 10",
        "agent.cql_alpha"),
    Row("initialisation", "—", "the Q and policy nets are loaded from CQL checkpoints made by CQL's rlkit: fanin_init "
        "hidden layers (U(±1/√size[0]) of torch's (out, in) weight) with bias 0.1, Q outputs U(±3e-3), policy mean "
        "and log-std U(±1e-3) (aviralkumar2907/CQL d4rl/rlkit/torch/networks.py, sac/policies.py)", "agent.init"),
    Row("density-ratio net init", "—", f"rlkit ConcatMlp: fanin_init hidden with bias 0, last layer U(±3e-3) with "
        f"bias 1 ({BR_REPO} rlkit/examples/ours.py, rlkit/rlkit/torch/networks/mlp.py)", ours="rlkit-zero-bias, "
        "bias 1 (fixed in the density-ratio mixer)"),
]

_FAMO2O_IQL_ROWS = [
    Row("β range", "[1, 5] locomotion, [8, 14] AntMaze", f"(1, 5) constructor default, (8, 14) "
        f"({FAMO2O_REPO} jax_iql/family_learner.py, configs/family_antmaze_finetune_config.py)",
        "agent.beta_min"),
    Row("β encoding", "6 sinusoids", f"6 sinusoids (n = 1e4, d = 6) ({FAMO2O_REPO} jax_iql/family_actor.py)",
        ours="6 sinusoids"),
    Row("balance model", "tanh-Gaussian over the range", f"state-independent log-std, clip [−10, 2] "
        f"({FAMO2O_REPO} jax_iql/family_learner.py)", ours="state-independent log-std, clip [−10, 2]"),
    Row("balance-model updates", "every step", f"every step, both phases ({FAMO2O_REPO} "
        "jax_iql/family_learner.py)", "agent.balance_every"),
    Row("balance loss action", "reparameterised", f"unclipped Gaussian sample ({FAMO2O_REPO} "
        "jax_iql/family_actor.py)", ours="unclipped sample (Gaussian.rsample)"),
    Row("balance lr, temperature", "—", "actor lr 3e-4; α_b lr 3e-4, init 1, target entropy −0.5",
        "agent.balance_lr"),
    Row("AWR weight", "exp(β_i A_i) per sample", f"A (B,) × β (B, 1) broadcasts to B×B: each sample's weight "
        f"is a mean over the batch's β ({FAMO2O_REPO} jax_iql/family_actor.py)", "agent.awr_beta_weighting",
        note="the paper's equation by default; 'batch-mean' reproduces the authors' broadcast"),
    Row("reward transform (locomotion)", "—", f"× 1000 / (max − min return) on every batch, offline and "
        f"online ({FAMO2O_REPO} jax_iql/family_train_finetune.py)", "train.reward_normalization"),
    Row("actor lr schedule", "—", "constant (AntMaze fine-tuning config)", "agent.actor_decay_steps"),
    Row("expectile (locomotion)", "—", "0.8 constructor default (no locomotion config is published)",
        "agent.expectile", note="ours keeps IQL's 0.7"),
    Row("initialisation", "—", f"orthogonal, gain √2, every layer ({FAMO2O_REPO} jax_iql/common.py)", "agent.init"),
]

_FAMO2O_CQL_ROWS = [
    Row("β range", "[0.5, 1.5]", f"samples·(hi − lo) + lo maps onto (−0.5, 1.5) ({FAMO2O_REPO} "
        "jax_cql/JaxCQL/family_conservative_sac.py)", "agent.beta_min", note="ours uses the stated range"),
    Row("balance loss", "−Q of the universal policy's action", f"−E[Q(s, a_u)] on the current critics, no "
        f"entropy term ({FAMO2O_REPO} jax_cql/JaxCQL/family_conservative_sac.py)", ours="same"),
    Row("α_cql, max-backup, Lagrange", "—", "1.0, off, off (ConservativeSAC defaults)", "agent.cql_alpha"),
    Row("critic LayerNorm", "—", f"on ({FAMO2O_REPO} jax_cql/JaxCQL/family_model.py)", "agent.critic_layer_norm"),
    Row("policy lr", "—", "3e-4", "agent.actor_lr"),
    Row("online data", "—", "one buffer, offline + online, uniform", "train.mixing"),
    Row("β in the backup and conservative term", "—", "current-state actions at the training β; next-state "
        f"actions and the backup at π_b's sampled β at s ({FAMO2O_REPO} jax_cql/JaxCQL/family_conservative_sac.py)",
        "agent.critic_beta", note="'deterministic' uses β(·) of the state acted in"),
    Row("offline updates", "—", "2M (n_epochs −400 × 5 × 1000)", "train.offline_steps"),
    Row("initialisation", "—", f"orthogonal_init=False: flax's LeCun-normal hidden, variance-scaled 1e-2 output "
        f"({FAMO2O_REPO} jax_cql/JaxCQL/family_model.py, model.py)", "agent.init"),
]

_RLPD_ROWS = [
    Row("critics", "E = 10, Z = 2, LayerNorm", f"num_qs 10, num_min_qs 2, LayerNorm ({RLPD_REPO} "
        "configs/rlpd_config.py)", "agent.num_critics"),
    Row("UTD", "20", f"--utd_ratio=20 in the README's commands (train_finetuning.py default 1) ({RLPD_REPO})",
        "agent.utd"),
    Row("random warm-up", "5k", f"--start_training 5000 in the README's commands ({RLPD_REPO})", "train.start_steps"),
    Row("offline share of each batch", "0.5", f"0.5 ({RLPD_REPO} train_finetuning.py)", "train.offline_ratio"),
    Row("actor reads the critics as", "mean", f"mean ({RLPD_REPO} rlpd/agents/sac/sac_learner.py)",
        "agent.actor_aggregation"),
    Row("entropy backup, target entropy", "on, −|A|/2", f"backup_entropy True, target −|A|/2 ({RLPD_REPO} "
        "configs/sac_config.py, rlpd/agents/sac/sac_learner.py)", "agent.target_entropy_scale"),
    Row("mazes", "256×3, Z = 1, no entropy backup, r − 1", f"the README's AntMaze command ({RLPD_REPO})",
        "agent.num_target_critics"),
    Row("networks, lr, batch", "256×2, 3e-4, 256", "256×2, 3e-4, 256", "agent.hidden_dims"),
    Row("initialisation", "—", f"Xavier uniform ({RLPD_REPO} rlpd/networks/mlp.py)", "agent.init"),
]

_SAC_ROWS = [
    Row("critics, target", "2, min", "2, min", "agent.num_critics"),
    Row("target entropy", "−|A|", "−|A|/2 in RLPD's SAC baseline", "agent.target_entropy_scale",
        note="shared with RLPD, so the demo's arms differ only in the data"),
    Row("random warm-up", "5k–10k steps", "5k (RLPD's SAC baseline)", "train.start_steps"),
]

_MSCP_ROWS = [
    Row("source", "Wu et al. 2024", "no public code; ../shared/specs/mscp.md reads the paper",
        ours="the spec's reading"),
    Row("guidance weight λ", "7 (mazes)", "—", "agent.guidance_weight"),
    Row("expectile offline / online", "0.7 / 0.5", "—", "agent.online_expectile"),
    Row("subgoal horizon k", "25", "—", "agent.subgoal_steps"),
    Row("guidance distance", "−‖s′ − (s + μ_f)‖", "—", "agent.guidance_dims",
        note="the paper's formula over the whole state. On PointMaze 99.99% of the fast planner's squared miss lies in "
        "the velocity entries (logged guide/goal_entries_share ≈ 1e-4), and at λ = 7 the guidance outweighs the "
        "progress term on about a third of online rows; with the same pre-training per seed, λ = 0 reaches a mean "
        "online success of 0.77 against 0.20 (benchmarks/results/claim-mscp-200k.md). 'normalized' (per entry / σ_f) "
        "is worse (0.01: the guidance then decides 90% of rows); 'goal' (positions only) shrinks the term to about 1% "
        "and scores 0.58, close to λ = 0"),
    Row("fast planner's goal input", "g_h", "—", "agent.fast_planner_goal",
        note="a reading; 'subgoal' = w, the input V_g sees: mean online success 0.30 against g_h's 0.20 and "
        "λ = 0's 0.77 on the same pre-trainings (claim-mscp-200k.md)"),
    Row("V_g fitted on", "—", "—", "agent.guide_value_data",
        note="a reading; 'online' only is the alternative. The bias it would remove, the mean guidance term on online "
        "rows, is −0.01 to −0.05 against a spread of about 2 in the logs"),
    Row("networks", "512×3, LayerNorm, GELU", "—", "agent.hidden_dims", note="scaled down for 2-core CPUs"),
    Row("batch size", "1024", "—", "agent.batch_size", note="scaled down for 2-core CPUs"),
]

FQL_REPO = "seohongpark/fql"
_FQL_ROWS = [
    Row("policy", "flow-matching BC policy v(s, x, t), distilled into a one-step policy μ(s, z)",
        f"ActorVectorField for both, no squashing ({FQL_REPO} agents/fql.py, utils/networks.py)", ours="the same"),
    Row("flow steps", "10 Euler steps", f"flow_steps 10 ({FQL_REPO} agents/fql.py)", "agent.flow_steps"),
    Row("distillation weight α", "per task (D4RL AntMaze 10 / 3, OGBench 300–1000)",
        f"alpha default 10; README per task: cube and scene 300, puzzle 1000; humanoidmaze 30 (100 offline-to-online), "
        f"antsoccer 10 (30), D4RL AntMaze-large 3, Adroit 3e3–3e4 (cloned offline-to-online 1e3, relocate 1e4) "
        f"({FQL_REPO} README.md)", "agent.alpha",
        note="OGBench's manipulation tasks take the README's values, the other mazes AntMaze-medium's 10, and the "
        "README's datasets (OGBench navigation, D4RL AntMaze and Adroit, matched by name) their own α, the "
        "offline-to-online one when the run has online steps (a fine-tuning from an offline-only checkpoint keeps "
        "its pre-training's). D4RL locomotion is "
        "not in the paper: its medium, medium-replay and medium-expert sets take the α tuned for the FQL baseline in "
        "Flow Actor-Critic (arXiv 2602.18015, its code's README): HalfCheetah 3 / 30 / 30, Hopper 100, Walker2d 300, "
        "matched by name as ReBRAC's pairs are; other locomotion data the code's default 10"),
    Row("TD target over the critics", "mean (min on AntMaze-large/giant, Adroit)", f"q_agg mean; README: min on "
        f"antmaze-large/giant-navigate and Adroit ({FQL_REPO} agents/fql.py, README.md); ours the same per dataset",
        "agent.q_agg"),
    Row("discount", "0.99 (0.995 on the long-horizon mazes)", f"discount 0.99; README: 0.995 on antmaze-giant, "
        f"humanoidmaze and antsoccer ({FQL_REPO} README.md); ours the same per dataset", "agent.discount"),
    Row("actor's Q", "mean of the 2 critics at clip(μ(s, z))", f"always the mean ({FQL_REPO} agents/fql.py)",
        ours="the mean"),
    Row("Q-loss normalisation", "off", f"normalize_q_loss False ({FQL_REPO} agents/fql.py)", "agent.normalize_q_loss"),
    Row("networks", "512×4, GELU; critic LayerNorm after each activation", f"value/actor_hidden_dims 512×4 "
        f"({FQL_REPO} agents/fql.py)", "agent.hidden_dims", note="the default; scale down for 2-core CPUs"),
    Row("critics", "2", f"num_ensembles 2 ({FQL_REPO} agents/fql.py)", "agent.num_critics"),
    Row("optimiser", "Adam 3e-4 over all networks", f"one Adam over the ModuleDict ({FQL_REPO} utils/flax_utils.py)",
        "agent.lr", note="one Adam per network at the same rate: the same updates, since every network gets a "
        "gradient every step"),
    Row("target update", "τ = 0.005 every step", f"from the critic's parameters before the step ({FQL_REPO} "
        "agents/fql.py target_update)", "agent.tau"),
    Row("evaluation", "the sampling policy", f"temperature ignored: clip(μ(s, z)), fresh z ({FQL_REPO} "
        "agents/fql.py sample_actions)", ours="the sampling policy (evaluates_by_sampling)"),
    Row("evaluation episodes", "50 per evaluation", f"eval_episodes 50, every 100k steps, a fresh key each time "
        f"({FQL_REPO} main.py, utils/evaluation.py)", "train.eval_episodes", note="a run-level choice (cost against "
        "noise), the same for every recipe; set train.eval_episodes=50 train.eval_interval=100000 for theirs"),
    Row("online data", "offline data kept", f"offline dataset copied into the replay buffer, online rows appended, "
        f"uniform ({FQL_REPO} main.py)", "train.mixing"),
    Row("online updates", "from the first env step, UTD 1, same α", f"no warm-up ({FQL_REPO} main.py)",
        "train.start_steps"),
    Row("reward transform (AntMaze)", "r − 1", f"r − 1 offline and online ({FQL_REPO} envs/d4rl_utils.py, main.py)",
        "train.reward_bias"),
    Row("offline updates", "1M (OGBench), 500k (D4RL offline-only)", f"1M ({FQL_REPO} main.py)",
        "train.offline_steps"),
    Row("batch size", "256", "256", "agent.batch_size"),
]

_IFQL_ROWS = [
    Row("value", "expectile 0.9 against min of the target critics at the data action", f"expectile 0.9 "
        f"({FQL_REPO} agents/ifql.py value_loss)", "agent.expectile",
        note="D4RL-style locomotion is not in the paper: there IFQL takes IDQL's expectile 0.7 (IFQL is IDQL's flow "
        "version; philippe-eecs/IDQL launcher/examples/train_ddpm_iql_offline.py). On the suite's "
        "hopper-medium-replay (300k + 100k, 3 seeds) 0.7 with the reward scale below scores 64.5 against 20.7, every "
        "seed above every seed at 0.9 in the online mean (benchmarks/results/suite-2025.md)"),
    Row("reward transform (locomotion)", "raw (OGBench)", f"none ({FQL_REPO} main.py); IDQL: IQL's × 1000 / "
        "(max − min episode return) (philippe-eecs/IDQL launcher/examples/train_ddpm_iql_offline.py)",
        "train.reward_normalization", note="IDQL's, with its expectile, on locomotion; offline and online rows "
        "share the scale"),
    Row("critic target", "r + γ m V(s′), online V; loss summed over the 2 critics", f"({FQL_REPO} agents/ifql.py "
        "critic_loss)", ours="the same"),
    Row("policy", "flow-matching BC, 10 Euler steps", f"actor_flow ({FQL_REPO} agents/ifql.py)", "agent.flow_steps"),
    Row("acting", "best of N samples under min Q", f"num_samples 32, min over the online critics ({FQL_REPO} "
        "agents/ifql.py sample_actions)", "agent.num_samples",
        note="batched over observations (the authors' version takes one at a time); the same choice per state"),
    Row("evaluation", "the sampling policy", f"temperature ignored ({FQL_REPO} agents/ifql.py)",
        ours="the sampling policy (evaluates_by_sampling)"),
    *[r for r in _FQL_ROWS if r.item in ("evaluation episodes", "discount", "networks", "critics", "optimiser",
                                           "target update", "online data",
                                           "online updates", "reward transform (AntMaze)", "offline updates",
                                           "batch size")],
]

REBRAC_REPO = "tinkoff-ai/ReBRAC"
_REBRAC_ROWS = [
    Row("BC coefficients (β_actor, β_critic)", "per dataset", f"configs/rebrac/<env>/<dataset>.yaml ({REBRAC_REPO}): "
        "e.g. hopper-medium 0.01/0.01, hopper-medium-replay 0.05/0.5, antmaze-medium-diverse 0.001/0",
        "agent.actor_bc_coef",
        note="the authors' pair on each of D4RL's 15 locomotion, 6 AntMaze and 12 Adroit datasets (Adroit also with "
        "its learning rates 3e-4 and batch 256), matched by name (the suite's sets and their -small cuts, D4RL files, "
        "Minari ids: recipes.dataset_family); data of another name takes its domain's: locomotion hopper-medium's "
        "pair, mazes AntMaze-medium-diverse's"),
    Row("critic BC penalty", "β_critic ‖a′ − a′_data‖² in the target", f"the data's next action is row i + 1 of the "
        f"file ({REBRAC_REPO} src/utils/buffer.py)", "agent.critic_bc_coef",
        note="the next action within the episode. tinkoff drops time-limit rows first (qlearning_dataset), so its "
        "row i + 1 crosses only at terminals, masked; on data that keeps an episode's cut last row (the suite, Minari) "
        "ours bootstraps that row with its own action, the data holding no next one. FQL's ReBRAC takes row i + 1 "
        "across every end. Online rows get theirs when their episode ends (FQL's at once, across the unfinished "
        "episode's boundary)"),
    Row("Q normalisation in the actor", "λ = 1 / mean |Q|", f"normalize_q True ({REBRAC_REPO} "
        "src/algorithms/rebrac.py)", "agent.normalize_q"),
    Row("target smoothing", "σ 0.2, clip 0.5", f"policy_noise 0.2, noise_clip 0.5 ({REBRAC_REPO})",
        "agent.policy_noise"),
    Row("actor and target period", "every 2 critic steps", f"policy_freq 2; the actor steps against the critic "
        f"just updated ({REBRAC_REPO} src/algorithms/rebrac.py update_td3)", "agent.policy_freq"),
    Row("networks", "256×3 ReLU, LayerNorm after each activation in the critic", f"EDAC init: U(±1/√fan_in), bias "
        f"0.1, output U(±3e-3) / U(±1e-3) ({REBRAC_REPO} src/networks.py)", "agent.hidden_dims"),
    Row("critic loss", "Σ over the 2 critics of the batch mean", f"({REBRAC_REPO} update_critic)", ours="the same"),
    Row("learning rates (actor, critic)", "1e-3 locomotion; 3e-4 / 5e-5 AntMaze; 3e-4 Adroit",
        f"({REBRAC_REPO} configs)",
        "agent.critic_lr"),
    Row("batch size", "1024 locomotion, 256 AntMaze and Adroit", f"({REBRAC_REPO} configs)", "agent.batch_size"),
    Row("evaluation episodes", "10 locomotion and Adroit, 100 AntMaze", f"eval_episodes ({REBRAC_REPO} configs)",
        "train.eval_episodes", note="a run-level choice (cost against noise), the same for every recipe; set "
        "train.eval_episodes=100 for the authors' AntMaze protocol"),
    Row("discount", "0.99 locomotion, 0.999 AntMaze", f"({REBRAC_REPO} configs)", "agent.discount"),
    Row("rewards (AntMaze)", "× 100", f"normalize_reward: ×100 ({REBRAC_REPO} src/utils/buffer.py)",
        "train.reward_scale"),
    Row("online phase", "— (offline method)", "the FQL paper's protocol: offline data kept, appended, UTD 1, "
        "exploration noise σ 0.2 clipped at 0.5 (seohongpark/fql main.py, agents/rebrac.py)", "train.mixing"),
]

QC_REPO = "ColinQiyangLi/qc"
_QC_ROWS = [
    Row("chunk length h", "5", f"horizon_length 5 ({QC_REPO} main.py)", "agent.horizon"),
    Row("critic", "Q(s_t, a_t..a_{t+h−1}), the chunk concatenated", f"actions reshaped to (B, h·|A|), time-major "
        f"({QC_REPO} agents/acfql.py critic_loss)", ours="the same (FQL's networks over h·|A| inputs)"),
    Row("backup", "Σ_k γ^k r_{t+k} + γ^h m Q̄(s_{t+h}, A′)", f"rewards summed in sample_sequence, γ^h in the target "
        f"({QC_REPO} utils/datasets.py, agents/acfql.py)", ours="the same (replay/buffer.py windows)"),
    Row("windows", "h consecutive steps", f"starts uniform over the buffer; windows that cross an episode end are "
        f"kept and weighted by `valid` (critic: its last step; BC: each step) ({QC_REPO} utils/datasets.py)",
        ours="only windows inside one episode (an end may be the window's last step)",
        note="the same critic targets for the windows QC counts; QC's BC also fits the valid prefix of a cut window "
        "(h − 1 of 1,000 rows per OGBench episode). OGBench trajectories go on after a success (mask 0): QC keeps "
        "summing rewards past it, ours ends the episode at the success row (the task's end), so windows stop there"),
    Row("acting (QC)", "best of N BC-flow chunks under the mean critic; N = 32, 64 on puzzle (appendix D)",
        f"actor_type best-of-n, actor_num_samples 32, q_agg mean ({QC_REPO} agents/acfql.py sample_actions)",
        "agent.num_samples"),
    Row("acting (QC-FQL)", "FQL's one-step policy over chunks; α 300 on scene, puzzle, cube-double, 100 on "
        "cube-triple and cube-quadruple (appendix D)", f"actor_type distill-ddpg, alpha 100 ({QC_REPO} "
        "agents/acfql.py get_config, README)", "agent.alpha",
        note="the paper's α per domain: 300 on OGBench manipulation and puzzle (cube-single, which QC does not run, "
        "takes the manipulation value), 100 elsewhere; cube-triple and cube-quadruple are not in the suite and "
        "take 300 unless set"),
    Row("TD target's A′", "the acting rule at s_{t+h}", f"sample_actions with the current critic ({QC_REPO} "
        "agents/acfql.py critic_loss)", ours="the same (sample_actions)"),
    Row("execution", "open-loop: h env steps per decision", f"an action queue, cleared on reset ({QC_REPO} main.py, "
        "evaluation.py)", ours="the same; the queue is in the checkpoint (resume mid-chunk is exact)"),
    Row("online data", "offline data kept", f"the dataset copied into the replay buffer, online rows appended, "
        f"uniform ({QC_REPO} main.py)", "train.mixing"),
    Row("online updates", "after 5,000 env steps, UTD 1, the pre-trained policy acts from the start",
        f"start_training 5000, utd_ratio 1 ({QC_REPO} main.py)", "train.start_steps"),
    Row("rewards", "OGBench's −#unsolved; sparse (−1 unless solved) on scene and puzzle (here resolved on "
        "cube-single, whose reward is already −1 / 0; the scene and puzzle presets set it)", f"--sparse for "
        f"scene/puzzle: r → −1 unless r = 0, offline and online ({QC_REPO} README.md, main.py)",
        "train.reward_sparsify"),
    Row("reward timing online", "—", "ogbench 1.1.2 (requirements.txt): the env's reward is r(s′) online, r(s) in "
        "the data", ours="ogbench 1.2.2: r(s) online as in the data (OGBench's fix)",
        note="the one-step offset of QC's pinned version is not reproduced"),
    *[r for r in _FQL_ROWS if r.item in ("networks", "critics", "optimiser", "target update", "offline updates",
                                           "batch size", "evaluation")],
]

SHEETS: dict[str, list[Row]] = {
    "sac": _SAC_ROWS, "rlpd": _RLPD_ROWS, "iql": _IQL_ROWS, "cql": _CQL_COMMON, "cal-ql": _CALQL_ROWS,
    "wsrl": _WSRL_ROWS, "balanced-replay": _BR_ROWS, "famo2o-iql": _FAMO2O_IQL_ROWS,
    "famo2o-cql": _FAMO2O_CQL_ROWS, "mscp": _MSCP_ROWS, "fql": _FQL_ROWS,
    "ifql": _IFQL_ROWS, "rebrac": _REBRAC_ROWS, "qc": _QC_ROWS,
    "qc-fql": [r for r in _QC_ROWS if r.item != "acting (QC)"],
    "hiql": [Row("guidance weight λ", "0 (the HIQL ablation)", "—", "agent.guidance_weight"),
             Row("online expectile", "0.7", "—", "agent.online_expectile"), *_MSCP_ROWS[3:]],
    "idm-label": [Row("labelling", "inverse dynamics a(s, s′) fitted on online data (SS-ORL)", "—",
                      "train.label_actions"),
                  Row("fit on", "the random warm-up", "—", "train.start_steps"), *_RLPD_ROWS],
}
DOMAIN_ENVS = {"locomotion": "Hopper-v5", "maze": "PointMaze_Medium-v3",
               "manipulation": "cube-single-singletask-v0"}
GOAL_ONLY = {"mscp", "hiql", "idm-label"}  # sheets resolved on the maze only (goal envs, action-free data)
MANIPULATION = {"fql", "ifql", "rebrac", "qc", "qc-fql"}  # sheets also resolved on OGBench's cube-single
DOMAIN_DATA = {"locomotion": "hopper-medium-small", "maze": "pointmaze-medium-diverse-small",
               "manipulation": "ogbench-cube-single-play-small"}


def _ours(recipe: str, key: str, cfgs: dict[str, Any]) -> str:
    values = []
    for domain, cfg in cfgs.items():
        section, name = key.split(".", 1)
        values.append((domain, getattr(getattr(cfg, section), name)))
    if len({repr(v) for _, v in values}) == 1:
        return _fmt(values[0][1])
    return "; ".join(f"{_fmt(v)} ({d})" for d, v in values)


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "×".join(str(x) for x in v) if len(set(v)) > 1 else f"{v[0]}×{len(v)}"
    return str(v)


def sheet(recipe: str) -> list[dict[str, str]]:
    """The recipe's rows with ours filled in from its resolved configs (one per domain)."""
    from hybridrl.config import ConfigError
    from hybridrl.recipes import RECIPES, resolve

    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    domains = {"maze": DOMAIN_ENVS["maze"]} if recipe in GOAL_ONLY else \
        {d: e for d, e in DOMAIN_ENVS.items() if d != "manipulation" or recipe in MANIPULATION}
    cfgs = {}
    for domain, env in domains.items():
        data = "pointmaze-medium-diverse-actionfree-small" if recipe in GOAL_ONLY else DOMAIN_DATA[domain]
        cfgs[domain] = resolve(recipe, env, dataset=None if recipe == "sac" else data, online_steps=1)
    rows = []
    for r in SHEETS.get(recipe, []):
        ours = _ours(recipe, r.key, cfgs) if r.key else (r.ours or "—")
        rows.append({**dataclasses.asdict(r), "ours": ours, "differs": bool(r.note)})
    return rows


def markdown(recipes: list[str] | None = None) -> str:
    from hybridrl.recipes import RECIPES

    names = recipes or list(RECIPES)
    lines = ["# Fidelity sheets", "",
             "Generated by `python -m hybridrl.fidelity` from the recipes' resolved configs (locomotion: "
             f"{DOMAIN_ENVS['locomotion']}; mazes: {DOMAIN_ENVS['maze']}; OGBench manipulation, for the flow and "
             f"chunking recipes: {DOMAIN_ENVS['manipulation']}); `hybridrl recipes NAME` prints one. "
             "*Ours* is read from the config, so it is what a run gets; *why* says why ours differs where it does.",
             ""]
    for name in names:
        lines += [f"## {name}", "", RECIPES[name].summary, "",
                  "| item | paper | authors' code | ours (config key) | why ours differs |",
                  "|---|---|---|---|---|"]
        for r in sheet(name):
            key = f" (`{r['key']}`)" if r["key"] else ""
            lines.append(f"| {r['item']} | {r['paper']} | {r['code']} | {r['ours']}{key} | {r['note']} |")
        lines.append("")
    return "\n".join(lines)


def print_sheet(recipe: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from hybridrl.recipes import RECIPES

    table = Table(title=f"{recipe}: {RECIPES[recipe].summary}", show_lines=True)
    for col in ("item", "paper", "authors' code", "ours", "why ours differs"):
        table.add_column(col, overflow="fold")
    for r in sheet(recipe):
        table.add_row(r["item"], r["paper"], r["code"], r["ours"] + (f"\n{r['key']}" if r["key"] else ""), r["note"])
    Console(width=160).print(table)


if __name__ == "__main__":
    print(markdown())
