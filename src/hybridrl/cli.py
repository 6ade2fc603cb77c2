"""The `hybridrl` command."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMANDS = {
    "train": "train (or --resume) one run: offline phase, then online phase, into a run directory",
    "eval": "evaluate a run's latest checkpoint with a deterministic policy",
    "recipes": "list the recipes (algorithms); `recipes NAME`: its fidelity sheet against the paper and code",
    "data": "list, build and inspect datasets (built-in suite and files)",
    "bench": "benchmarks: `bench throughput` (updates/s, fraction of peak FLOP/s), `bench peers` (vs d3rlpy)",
    "plot": "plot learning curves of one or more run directories to a PNG",
    "demo": "the offline→online demo: RLPD with prior data vs SAC from scratch on Hopper-v5",
    "sweep": "run a grid of recipes x tasks x seeds x overrides (local process pool or a Ray cluster)",
    "report": "aggregate runs across seeds and tasks with rliable: IQM, CIs, profiles, improvement, curves",
}


BOUNDS_HELP = ("where a bare file's actions live, mapped to [-1, 1] on load: LOW,HIGH or A lows then A highs; "
               "write it with '=' (--action-bounds=-2,2). Minari datasets declare their own action space")


def _bounds(text: str | None) -> list[float] | None:
    from hybridrl.config import ConfigError

    if text is None:
        return None
    try:
        return [float(v) for v in text.replace("[", "").replace("]", "").split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--action-bounds expects numbers LOW,HIGH (e.g. --action-bounds=-2,2), got {text!r}") \
            from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hybridrl",
        description="Reinforcement learning from offline data plus online interaction (JAX).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help=COMMANDS["train"], description=COMMANDS["train"])
    t.add_argument("--recipe", default=None, help="algorithm recipe (see `hybridrl recipes`); default rlpd (with "
                   "--from-checkpoint: the pre-training run's, or another recipe of the same agent)")
    t.add_argument("--env", default=None, help="gymnasium env id, e.g. Hopper-v5 (default: the env a built-in or "
                   "Minari dataset was recorded on)")
    t.add_argument("--dataset", default=None, help="prior data: a .npz/.hdf5 file or a built-in dataset name")
    t.add_argument("--online-steps", type=int, default=None, help="environment steps in the online phase")
    t.add_argument("--offline-steps", type=int, default=None, help="updates in the offline phase")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--out", default=None, help="run directory (config, metrics, checkpoints); required unless "
                   "--dry-run")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set agent.utd=10 (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue --out from its checkpoint to the step counts given")
    t.add_argument("--from-checkpoint", default=None, metavar="RUN_DIR",
                   help="start online fine-tuning from a run's pre-trained agent (its checkpoints/offline.npz); "
                        "recipe, env, dataset and agent config are taken from that run")
    t.add_argument("--dry-run", action="store_true", help="print the config this command would train with (the "
                   "recipe's presets for the env's domain and the dataset, then --set) as JSON, and exit")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--drop-invalid", action="store_true",
                   help="repair the dataset (drop NaN rows, clip actions, mark missing episode ends) and report it")
    t.add_argument("--action-bounds", default=None, metavar="LOW,HIGH", help=BOUNDS_HELP)

    e = sub.add_parser("eval", help=COMMANDS["eval"], description=COMMANDS["eval"])
    e.add_argument("--run", required=True, help="run directory")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--seed", type=int, default=12345)

    rc = sub.add_parser("recipes", help=COMMANDS["recipes"], description=COMMANDS["recipes"])
    rc.add_argument("name", nargs="?", help="print this recipe's fidelity sheet: every hyper-parameter and design "
                    "choice with the paper's value, the authors' code value, ours and why ours differs")
    rc.add_argument("--markdown", action="store_true", help="the sheet(s) as Markdown (docs/fidelity.md)")

    d = sub.add_parser("data", help=COMMANDS["data"], description=COMMANDS["data"])
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    dsub.add_parser("list", help="built-in datasets and whether they are built")
    db = dsub.add_parser("build", help="build built-in datasets into the cache (rollouts of shipped policies)")
    db.add_argument("names", nargs="*", help="dataset names (see `hybridrl data list`)")
    db.add_argument("--all-small", action="store_true", help="every -small dataset")
    db.add_argument("--jobs", type=int, default=1, help="rollouts in this many processes at once")
    db.add_argument("--force", action="store_true", help="rebuild even if cached")
    di = dsub.add_parser("info", help="episodes, steps, returns and fields of a dataset")
    di.add_argument("name_or_path")
    di.add_argument("--download", action="store_true", help="fetch a remote Minari dataset if not local")
    di.add_argument("--drop-invalid", action="store_true", help="repair instead of refusing, and report")
    di.add_argument("--action-bounds", default=None, metavar="LOW,HIGH", help=BOUNDS_HELP)
    dc = dsub.add_parser("convert", help="convert between .npz, D4RL-style .hdf5 and Minari datasets")
    dc.add_argument("src", help="file, Minari id or directory, or built-in name")
    dc.add_argument("dst", help="a .npz or .hdf5/.h5 path, or a Minari id such as mydata/hopper-medium-v0")
    dc.add_argument("--env", default=None, help="gymnasium env id recorded in a Minari dataset's metadata")
    dc.add_argument("--download", action="store_true", help="fetch a remote Minari source if not local")
    dc.add_argument("--drop-invalid", action="store_true", help="repair the source instead of refusing it")
    dc.add_argument("--action-bounds", default=None, metavar="LOW,HIGH", help=BOUNDS_HELP)

    b = sub.add_parser("bench", help=COMMANDS["bench"], description=COMMANDS["bench"])
    bsub = b.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    bt = bsub.add_parser("throughput", help="updates/s of SAC and RLPD, online-step overhead, fraction of peak")
    bt.add_argument("--json", default=None, help="also write the figures to this JSON file")
    bt.add_argument("--seconds", type=float, default=10.0, help="timing budget per measurement")
    bp = bsub.add_parser("peers", help="training updates/s of hybridrl vs d3rlpy (SAC, IQL; 256x256, batch 256) "
                                       "and the fraction of peak FLOP/s each reaches")
    bp.add_argument("--venv", default=None, help="d3rlpy's virtual environment (created with torch==2.13.0 if "
                                                 "missing; default ~/.cache/hybridrl/peers-venv)")
    bp.add_argument("--python", default=None, help="use this interpreter (d3rlpy and torch 2.13.0 installed) as is")
    bp.add_argument("--json", default=None, help="also write the figures to this JSON file")
    bp.add_argument("--seconds", type=float, default=10.0, help="timing budget per measurement")

    pl = sub.add_parser("plot", help=COMMANDS["plot"], description=COMMANDS["plot"])
    pl.add_argument("runs", nargs="+", help="run directories")
    pl.add_argument("--metric", default="eval_return")
    pl.add_argument("--beta", action="store_true",
                    help="FamO2O: draw β(s) along an evaluation episode (and over a 2-D slice on mazes) for one run")
    pl.add_argument("--subgoals", action="store_true",
                    help="MSCP/HIQL: draw the slow planner's subgoals along an evaluation episode over the maze "
                         "(one run)")
    pl.add_argument("--out", required=True, help="PNG path")

    sw = sub.add_parser("sweep", help=COMMANDS["sweep"], description=COMMANDS["sweep"])
    sw.add_argument("spec", help="sweep spec (YAML): recipes, tasks, seeds, offline/online steps, set, grid, out")
    sw.add_argument("--backend", default="local", choices=["local", "ray"])
    sw.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    sw.add_argument("--workers", type=int, default=None, help="runs at once (default: cores // threads)")
    sw.add_argument("--threads", type=int, default=1, help="CPU threads per run (XLA/BLAS are limited to it)")
    sw.add_argument("--dry-run", action="store_true", help="list the runs and their status, run nothing")
    sw.add_argument("--only", action="append", default=None, metavar="GLOB",
                    help="run only the runs whose name (task/label/seedN) matches; repeatable, e.g. "
                         "--only 'hopper-medium-replay/rebrac/*' --only '*/rlpd/seed0'")

    rp = sub.add_parser("report", help=COMMANDS["report"], description=COMMANDS["report"])
    rp.add_argument("runs_dir", help="a directory of run directories (e.g. a sweep's out)")
    rp.add_argument("--out", default=None, help="report directory (default RUNS_DIR/report)")
    rp.add_argument("--metric", default=None, help="default: normalized_score, else success_rate, else eval_return")
    rp.add_argument("--gap-threshold", type=float, default=None,
                    help="optimality-gap target (default 100 for normalised scores, 1 for success rates)")
    rp.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    rp.add_argument("--last", type=int, default=1,
                    help="score each run by the mean of its last K evaluations of its final phase (default 1)")
    rp.add_argument("--include-unfinished", action="store_true",
                    help="also report runs still in progress (at their latest evaluation); left out by default")

    dm = sub.add_parser("demo", help=COMMANDS["demo"], description=COMMANDS["demo"])
    dm.add_argument("--out", default="demo_out")
    dm.add_argument("--online-steps", type=int, default=None, help="override the demo's online budget")
    dm.add_argument("--seeds", type=int, default=1)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    from hybridrl.checkpoint import CheckpointError, StorageError
    from hybridrl.config import ConfigError
    from hybridrl.data import DataError
    from hybridrl.envs import EnvError
    from hybridrl.training.loop import DivergenceError

    try:
        return _dispatch(args)
    except (ConfigError, DataError, EnvError, CheckpointError, StorageError, DivergenceError) as exc:
        print(f"hybridrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with --resume", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "train":
        return _train(args)
    if args.command == "eval":
        from hybridrl.training.loop import evaluate_run

        print(json.dumps(evaluate_run(args.run, episodes=args.episodes, seed=args.seed), indent=2))
        return 0
    if args.command == "recipes":
        from hybridrl.recipes import RECIPES

        if args.markdown:
            from hybridrl.fidelity import markdown

            print(markdown([args.name] if args.name else None))
        elif args.name:
            from hybridrl.fidelity import print_sheet, sheet

            sheet(args.name)  # an unknown name: the error lists the recipes
            print_sheet(args.name)
        else:
            for r in RECIPES.values():
                print(f"{r.name:<16} {r.summary}")
            print("\nhybridrl recipes NAME prints a recipe's fidelity sheet (paper, authors' code, ours, why).")
        return 0
    if args.command == "data":
        return _data(args)
    if args.command == "bench" and args.bench_command == "peers":
        from hybridrl.bench.peers import run_peers

        run_peers(venv=args.venv, python=args.python, seconds=args.seconds, json_path=args.json)
        return 0
    if args.command == "bench":
        from hybridrl.bench.throughput import run_throughput

        run_throughput(json_path=args.json, seconds=args.seconds)
        return 0
    if args.command == "plot":
        from hybridrl.analysis.plots import plot_beta, plot_runs, plot_subgoals
        from hybridrl.config import ConfigError

        if args.beta or args.subgoals:
            if len(args.runs) != 1:
                raise ConfigError("hybridrl plot --beta/--subgoals draws one run: pass a single run directory")
            info = (plot_beta if args.beta else plot_subgoals)(Path(args.runs[0]), Path(args.out))
            print(json.dumps(info))
        else:
            plot_runs([Path(r) for r in args.runs], args.metric, Path(args.out))
        print(f"wrote {args.out}")
        return 0
    if args.command == "sweep":
        from hybridrl.analysis.sweep import (
            config_error,
            expand,
            load_spec,
            run_status,
            run_sweep,
            select,
            source_problems,
        )

        spec = load_spec(args.spec)
        if args.dry_run:
            invalid, tasks = 0, expand(spec)
            chosen = select(tasks, spec["out"], args.only)
            stuck = dict((t.run_dir, why) for t, why in
                         source_problems([t for t in chosen if run_status(t.run_dir) != "done"], tasks))
            for task in chosen:
                err = config_error(task) if run_status(task.run_dir) != "done" else None
                err = err or stuck.get(task.run_dir)
                invalid += err is not None
                print(f"{'invalid' if err else run_status(task.run_dir):<12} {task.run_dir}"
                      + (f"  ({err[:200]})" if err else "")
                      + (f"  (fine-tunes from {task.from_run})" if task.from_run and not err else ""))
            return 2 if invalid else 0
        summary = run_sweep(spec, backend=args.backend, workers=args.workers, address=args.address,
                            threads=args.threads, only=args.only)
        for row in summary["rows"]:
            print(f"{row['status']:<8} {row['run_dir']}" + (f"  ({row['error']})" if row.get("error") else ""))
        print(f"{summary['runs']} runs, {summary['ran']} run now, {summary['failed']} failed; "
              f"{Path(spec['out']) / 'sweep.json'}")
        return 1 if summary["failed"] else 0
    if args.command == "report":
        from hybridrl.analysis.report import write_report

        info = write_report(args.runs_dir, args.out, args.metric, args.gap_threshold, args.reps,
                            args.include_unfinished, args.last)
        if info["unfinished"]:
            print(f"left out {len(info['unfinished'])} unfinished run(s): {', '.join(info['unfinished'])}")
        if info["mixed"]:
            print(f"warning: runs pooled as seeds differ in their configs: {'; '.join(info['mixed'])}",
                  file=sys.stderr)
        print(f"wrote {info['report']}")
        return 0
    if args.command == "demo":
        from hybridrl.demo import run_demo

        run_demo(Path(args.out), online_steps=args.online_steps, seeds=args.seeds)
        return 0
    raise AssertionError(args.command)


def _train(args: argparse.Namespace) -> int:
    from hybridrl.config import ConfigError
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    for name in ("online_steps", "offline_steps"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    overrides = list(args.overrides) + (["train.progress=false"] if args.no_progress else []) \
        + (["train.drop_invalid=true"] if args.drop_invalid else []) \
        + ([f"train.action_bounds={json.dumps(_bounds(args.action_bounds))}"] if args.action_bounds else [])
    if args.dry_run:
        if args.resume or args.from_checkpoint:
            raise ConfigError("--dry-run resolves a new run's config; it does not combine with --resume or "
                              "--from-checkpoint (their config is the run directory's config.json)")
        cfg = resolve(args.recipe or "rlpd", args.env, overrides, dataset=args.dataset, online_steps=args.online_steps,
                      offline_steps=args.offline_steps, seed=args.seed)
        print(json.dumps(cfg.to_dict(), indent=2))
        for line in cfg.notices():
            print(f"hybridrl: note: {line}", file=sys.stderr)
        return 0
    if not args.out:
        raise ConfigError("--out is required: the run directory for config, metrics and checkpoints "
                          "(or pass --dry-run to print the resolved config only)")
    if args.resume:
        trainer = Trainer.resume(args.out, online_steps=args.online_steps, offline_steps=args.offline_steps)
        t, h = trainer.cfg.train, trainer.host
        if h.offline_step >= t.offline_steps and h.online_step >= t.online_steps:
            print(f"hybridrl: note: {args.out} already finished ({t.offline_steps:,} offline updates, "
                  f"{t.online_steps:,} online steps); its last evaluation follows. Pass a larger --online-steps "
                  "to go on", file=sys.stderr)
    elif args.from_checkpoint:
        trainer = Trainer.from_pretrained(args.from_checkpoint, args.out, overrides, recipe=args.recipe,
                                          online_steps=args.online_steps, seed=args.seed, env=args.env,
                                          **({"dataset": args.dataset} if args.dataset else {}))
    else:
        cfg = resolve(args.recipe or "rlpd", args.env, overrides, dataset=args.dataset, online_steps=args.online_steps,
                      offline_steps=args.offline_steps, seed=args.seed)
        trainer = Trainer(cfg, args.out)
    result = trainer.run()
    print(json.dumps({"run": str(args.out), **result}, indent=2))
    return 0


def _data(args: argparse.Namespace) -> int:
    from hybridrl.data import DataError, load_dataset
    from hybridrl.data.suite import SUITE, built_info, dataset_path, is_built, is_stale
    from hybridrl.envs import normalized_score

    if args.data_command == "list":
        print(f"{'name':<42} {'env':<20} {'transitions':>11} {'behaviour return':>17} {'normalised':>10}  built")
        for name, spec in SUITE.items():
            info = built_info(name) if is_built(name) else None
            ret = f"{info['behaviour_return']:.1f}" if info and "behaviour_return" in info else "-"
            score = normalized_score(spec.env, info["behaviour_return"]) if ret != "-" else None
            norm = f"{score:.1f}" if score is not None else "-"
            built = "yes" if is_built(name) else "stale (rebuilt on use)" if is_stale(name) else "no"
            print(f"{name:<42} {spec.env:<20} {spec.transitions:>11} {ret:>17} {norm:>10}  {built}")
        return 0
    if args.data_command == "build":
        from hybridrl.data.suite import build_many

        names = list(args.names) + ([n for n in SUITE if n.endswith("-small")] if args.all_small else [])
        if not names:
            raise DataError("name at least one dataset (see `hybridrl data list`) or pass --all-small")
        already = {n for n in SUITE if is_built(n)}  # dependencies too, which --force does not rebuild
        for name, seconds in build_many(names, jobs=args.jobs, force=args.force).items():
            rebuilt = args.force and name in names
            verb = "already built" if name in already and not rebuilt else f"built in {seconds:.1f} s"
            print(f"{name}: {built_info(name)['transitions']} transitions ({verb}; {dataset_path(name)})")
        return 0
    if args.data_command == "convert":
        from hybridrl.data.dataset import check_destination, save_dataset

        check_destination(args.dst)  # before a long read, and before anything is written
        ds = load_dataset(args.src, download=args.download, drop_invalid=args.drop_invalid,
                          action_bounds=_bounds(args.action_bounds))
        if ds.metadata.get("repairs"):
            print(f"repaired {args.src}: {ds.metadata['repairs']}")
        where = save_dataset(ds, args.dst, env_id=args.env)
        print(f"wrote {len(ds)} transitions ({int(ds.episode_ends.sum())} episodes) to {where}")
        return 0
    ds = load_dataset(args.name_or_path, download=args.download, drop_invalid=args.drop_invalid,
                      action_bounds=_bounds(args.action_bounds))
    info = ds.summary()
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
