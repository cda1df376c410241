"""``lhcad``: the command line of the benchmark (list, fetch, generate, run, evaluate, export, leaderboard,
bundle, import-results)."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EPILOG_MAIN = """\
examples:
  lhcad list tasks
  lhcad run --suite quick                      # shipped samples, every baseline that fits
  lhcad run --scorer hlf-gmm --task top/qcd-vs-top --seeds 5
  lhcad run --scorer submissions/example_scorer.py --task top/qcd-vs-top
  lhcad evaluate --task top/qcd-vs-top --scores my_scores.csv
  lhcad leaderboard
  lhcad fetch lhco                             # real data (needs internet or --from DIR)
  lhcad generate top --events 100000 --workers 8
  lhcad import-results DarkMachines-UnsupervisedChallenge/data/*.csv   # challenge tables as reference rows

data cache: $LHCAD_DATA, else the platform cache dir; registry: datasets.yaml (or $LHCAD_REGISTRY).
"""


def _bounded(kind: type, low: float, *, strict: bool) -> Any:
    """An argparse ``type`` that parses ``kind`` and refuses values below ``low`` (or equal, ``strict``),
    so a bad option fails at once with its name and the rule instead of misbehaving later."""
    rule = f"> {low:g}" if strict else f">= {low:g}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    parse.__name__ = f"{kind.__name__} {rule}"
    return parse


POSITIVE_INT = _bounded(int, 0, strict=True)
POSITIVE = _bounded(float, 0, strict=True)
NON_NEGATIVE_INT = _bounded(int, 0, strict=False)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lhcad",
        description="Benchmark suite and leaderboard harness for anomaly detection in collider physics.",
        epilog=EPILOG_MAIN, formatter_class=_formatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list datasets, tasks, scorers or suites", formatter_class=_formatter,
                       epilog="examples:\n  lhcad list tasks\n  lhcad list scorers\n  lhcad list datasets")
    p.add_argument("what", choices=["datasets", "tasks", "scorers", "suites"])

    p = sub.add_parser("run", help="run scorers on tasks (resumes by default)", formatter_class=_formatter,
                       epilog="examples:\n"
                              "  lhcad run --suite quick\n"
                              "  lhcad run --scorer hlf-gmm --task top/qcd-vs-top --seeds 5 --source generated\n"
                              "  lhcad run --scorer cwola --task lhco/rnd --injections 0 500 1000 --seeds 3\n"
                              "  lhcad run --scorer mypkg.models:MyScorer --task darkmachines/chan1 --source real\n"
                              "  lhcad run --scorer my_model.py --task top/qcd-vs-top --param epochs=20\n"
                              "  lhcad run --suite quick --param epochs=2        # only scorers that have epochs\n"
                              "  lhcad run --scorer dense-ae --task top/qcd-vs-top --preset paper --param dense-ae.lr=1e-4\n"
                              "  lhcad run --suite quick --workers 4 --time-limit 600 --memory-limit 4000\n"
                              "  lhcad run --suite full --executor dask --scheduler tcp://10.0.0.5:8786\n"
                              "  lhcad run --suite full --executor slurm --cluster-config cluster.yaml --retries 3\n"
                              "  lhcad run --scorer my_model.py --task top/qcd-vs-top --workers 1 --no-isolation  # debug\n\n"
                              "Each scorer runs sandboxed in a child process (no labels, no network, limits);\n"
                              "--no-isolation runs it in the worker process instead.\n"
                              "Finished jobs are skipped (their result file exists); --overwrite reruns them.\n"
                              "Failures go to <results>/failures.jsonl and make the exit status 1.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--task", nargs="+", action="extend", help="task name(s) from datasets.yaml (repeatable)")
    target.add_argument("--suite", help="a named suite of datasets.yaml (e.g. quick, full)")
    p.add_argument("--scorer", nargs="+", action="extend",
                   help="registry name, module:Class, path/to/file.py[:Class] or entry point"
                        " (repeatable; default with --suite: the suite's scorers)")
    p.add_argument("--seeds", type=POSITIVE_INT, help="number of seeds 0..N-1 (default: the suite's, else 1)")
    p.add_argument("--seed-list", type=NON_NEGATIVE_INT, nargs="+", action="extend", help="explicit seeds instead of --seeds")
    p.add_argument("--injections", type=NON_NEGATIVE_INT, nargs="+", action="extend", help="resonant tasks: injected signal counts to scan")
    p.add_argument("--source", choices=["real", "generated"], help="data source (default: suite's, else generated)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default ./results)")
    p.add_argument("--param", action="append", default=[], metavar="[SCORER.]KEY=VALUE",
                   help="scorer hyper-parameter override (repeatable; value parsed as JSON if possible): "
                        "SCORER.KEY=VALUE for one scorer, a bare KEY=VALUE for every scorer that declares KEY")
    p.add_argument("--preset", metavar="NAME",
                   help="scorer size preset: smoke (seconds on 2 CPU cores) or paper (the paper's sizes and "
                        "epochs); scorers without presets ignore it (default: the suite's, else each "
                        "scorer's defaults)")
    p.add_argument("--train-size", type=POSITIVE, help="override training size (count, or fraction < 1)")
    p.add_argument("--test-size", type=POSITIVE, help="override test size (count, or fraction < 1)")
    p.add_argument("--bootstrap", type=NON_NEGATIVE_INT, default=200, help="bootstrap resamples per job (0 = none)")
    p.add_argument("--overwrite", action="store_true", help="rerun jobs whose results exist")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing job and show its traceback")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--leaderboard", type=Path, help="after the run, build the leaderboard into this folder")
    p.add_argument("--executor", choices=["local", "dask", "slurm", "htcondor", "pbs"], default="local",
                   help="where jobs run: local process pool (default), dask.distributed, or a batch system "
                        "through dask-jobqueue")
    p.add_argument("--workers", type=POSITIVE_INT,
                   help="parallel workers (local pool / LocalCluster / batch jobs); default: the local pool uses "
                        "one per available CPU, each with its share of math threads; other executors 1")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask: join this scheduler instead of a LocalCluster")
    p.add_argument("--cluster-config", type=Path, metavar="FILE",
                   help="slurm/htcondor/pbs: resources (cores, memory, walltime, gpus, queue, directives); "
                        "see cluster.example.yaml")
    p.add_argument("--retries", type=NON_NEGATIVE_INT, default=2, help="times a job lost with its worker is retried (default 2)")
    p.add_argument("--time-limit", type=POSITIVE, metavar="S", help="scorer wall-time limit per job in seconds "
                                                                  "(default: the task's, else 7200)")
    p.add_argument("--memory-limit", type=POSITIVE_INT, metavar="MB", help="scorer memory limit per job in MB "
                                                                   "(default: the task's, else 8192)")
    p.add_argument("--no-isolation", action="store_true", help="run scorers in the worker process (debugging)")

    p = sub.add_parser("evaluate", help="evaluate precomputed per-event scores of a task", formatter_class=_formatter,
                       epilog="examples:\n"
                              "  lhcad export --task top/qcd-vs-top --out test_events.h5   # events to score\n"
                              "  lhcad evaluate --task top/qcd-vs-top --scores scores.csv --name mymodel\n\n"
                              "Scores: .npy (one per test event, in exported order), .csv with columns\n"
                              "event_id,score, or .h5 with datasets event_id and score.")
    p.add_argument("--task", required=True)
    p.add_argument("--scores", type=Path, required=True)
    p.add_argument("--name", default="external", help="scorer name for the result (default external)")
    p.add_argument("--seed", type=NON_NEGATIVE_INT, default=0, help="the task seed the scores were made for (default 0)")
    p.add_argument("--injection", type=NON_NEGATIVE_INT)
    p.add_argument("--source", choices=["real", "generated"], default="generated")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--train-size", type=POSITIVE)
    p.add_argument("--test-size", type=POSITIVE)
    p.add_argument("--overwrite", action="store_true", help="replace an existing result of this name and seed")

    p = sub.add_parser("export", help="write a task's training and unlabelled test events for external scoring",
                       formatter_class=_formatter,
                       epilog="example:\n  lhcad export --task top/qcd-vs-top --seed 0 --out top_seed0.h5")
    p.add_argument("--task", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=NON_NEGATIVE_INT, default=0)
    p.add_argument("--injection", type=NON_NEGATIVE_INT)
    p.add_argument("--source", choices=["real", "generated"], default="generated")
    p.add_argument("--train-size", type=POSITIVE)
    p.add_argument("--test-size", type=POSITIVE)

    p = sub.add_parser("leaderboard", help="build tables and plots from result files", formatter_class=_formatter,
                       epilog="examples:\n  lhcad leaderboard\n  lhcad leaderboard --results results --out leaderboard\n"
                              "  lhcad leaderboard --html                      # static site in leaderboard/site\n"
                              "  lhcad leaderboard --merge alice.tar.gz bob.tar.gz --html\n"
                              "  lhcad leaderboard --results new-runs --update --html   # rebuild only new-runs' tasks\n\n"
                              "--update rebuilds the tasks --results holds and keeps every other task of --out as\n"
                              "published (page, plots, summary column, index section); Dark Machines channels are\n"
                              "rebuilt all together (the total improvement spans them).\n"
                              "--merge verifies each bundle (hashes, dataset checksums, the maintainer's rebuild\n"
                              "of the test set, every metric recomputed from the bundled scores) and merges\n"
                              "only accepted ones into <out>/results; rejected bundles are listed with the reason.")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--out", type=Path, default=Path("leaderboard"))
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--merge", nargs="+", type=Path, metavar="BUNDLE", help="verify and merge result bundles")
    p.add_argument("--html", action="store_true", help="also write a static HTML site (opens from file://)")
    p.add_argument("--update", action="store_true",
                   help="rebuild only the tasks of --results; keep the other published tasks of --out")

    p = sub.add_parser("reproduce", help="rerun one leaderboard entry from its result records and compare",
                       formatter_class=_formatter,
                       epilog="examples:\n  lhcad reproduce results/lhco/rnd/cwola/generated/inj1000\n"
                              "  lhcad reproduce results/top/qcd-vs-top/jet-mass/generated/seed0.json\n"
                              "  lhcad reproduce 1214077745db            # identity_hash from leaderboard/<task>.json\n\n"
                              "Everything is taken from the records (task version, class-file sha256, sizes, injection,\n"
                              "seeds, scorer, configuration, preset, bootstrap count); differences from this installation\n"
                              "(package versions, scorer version, data files, an edited record) are named first. Prints\n"
                              "'reproduced' (exit 0) when every metric's rerun median lies in the published 16-84 % band\n"
                              "over seeds, else by how much each differs (exit 1).")
    p.add_argument("entry", help="result file, entry folder or identity hash")
    p.add_argument("--results", type=Path, default=Path("results"), help="where to look up an identity hash")
    p.add_argument("--work", type=Path, help="folder for the rerun's results (default: a new temporary folder)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--no-isolation", action="store_true", help="run the scorer in this process (debugging)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("bundle", help="pack results, scores and provenance into one verifiable archive",
                       formatter_class=_formatter,
                       epilog="examples:\n  lhcad bundle --out my-results.tar.gz\n"
                              "  lhcad bundle --results results --out alice-2024-06.tar.gz")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--out", type=Path, required=True, help="archive to write (.tar.gz)")

    p = sub.add_parser("import-results", help="import Dark Machines challenge result tables as reference rows",
                       formatter_class=_formatter,
                       epilog="examples:\n  lhcad import-results DarkMachines-UnsupervisedChallenge/data/Flow.csv\n"
                              "  lhcad import-results my_model.csv --results results\n\n"
                              "Files in the challenge's format (Signal,Model,Chan,AUC,1e-2,1e-3,1e-4; plain or .gz) are\n"
                              "validated, stored under <results>/imported/darkmachines/ and shown by `lhcad leaderboard`\n"
                              "on the Dark Machines page, labelled imported (numbers, not scores: never merged with\n"
                              "runs). The challenge's published tables already ship with lhcad. Prints each model's\n"
                              "total improvement (min/median/max over signals), recomputed from the rows.")
    p.add_argument("files", nargs="+", type=Path, metavar="CSV")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--top", type=int, default=20, help="models to print, best median TI first (default 20)")

    p = sub.add_parser("fetch", help="download and convert a real dataset", formatter_class=_formatter,
                       epilog="examples:\n  lhcad fetch top\n  lhcad fetch lhco --mirror https://mirror.example.org/lhcad\n"
                              "  lhcad fetch darkmachines --from /scratch/downloads\n  lhcad fetch lhco --offline")
    p.add_argument("dataset")
    p.add_argument("--data-dir", type=Path, help="cache root (default $LHCAD_DATA or the platform cache dir)")
    p.add_argument("--mirror", help="site mirror tried first (also $LHCAD_MIRROR)")
    p.add_argument("--from", dest="from_dir", type=Path, help="take files from this folder instead of downloading "
                   "(darkmachines: the training_files.tar or the challenge's loose CSV files, in any sub-folders)")
    p.add_argument("--offline", action="store_true", help="never touch the network; never delete cached files")
    p.add_argument("--no-convert", action="store_true", help="download and verify only")

    p = sub.add_parser("generate", help="generate look-alike events with Pythia 8 (needs lhcad[generate])",
                       formatter_class=_formatter,
                       epilog="examples:\n  lhcad generate top --events 100000 --workers 8\n"
                              "  lhcad generate lhco --events 500000 --workers 16 --seed 7\n"
                              "  lhcad generate lhco --classes signal --events 10000   # more signal only (injection scans)\n"
                              "  lhcad generate top --validate                 # plots comparing classes\n"
                              "  lhcad generate lhco --validate --against real --out benchmark/samples/lhco \\\n"
                              "      --real events_anomalydetection_tiny.h5   # look-alike vs real: table + plots\n"
                              "  lhcad generate darkmachines --channel chan1 --events 20000 --signal-events 5000 --workers 8\n"
                              "  lhcad generate darkmachines --channel chan3 --events 2000 --signal-events 500\n"
                              "  lhcad generate darkmachines --channel chan1 --validate --against real --real DIR")
    p.add_argument("dataset")
    p.add_argument("--events", type=POSITIVE_INT, help="events per class (default 10000; with --validate alone: none); "
                   "darkmachines: background events of the channel (its SM processes mixed by cross section)")
    p.add_argument("--classes", nargs="+", metavar="CLASS",
                   help="generate only these classes of the dataset (default: all); the first chunks of a class "
                        "are those of the shipped sample at the same seed, so a larger file extends it")
    p.add_argument("--channel", help="darkmachines only: the channel to generate (chan1, chan2a, chan2b, chan3)")
    p.add_argument("--signal-events", type=POSITIVE_INT, help="darkmachines only: events per signal (default: --events)")
    p.add_argument("--workers", type=POSITIVE_INT, default=1)
    p.add_argument("--seed", type=int, help="override the recipe seed")
    p.add_argument("--out", type=Path, help="output folder (default: the cache)")
    p.add_argument("--validate", action="store_true", help="write validation plots of the generated classes")
    p.add_argument("--plots", type=Path, default=Path("validation"), help="folder for --validate plots")
    p.add_argument("--against", choices=["real"],
                   help="with --validate: compare the look-alike with the real dataset (per-variable quantiles, "
                        "KS and its 5%% statistical floor; a Markdown table, JSON and plots in --plots)")
    p.add_argument("--real", type=Path,
                   help="real samples for --against real: a raw LHCO event file or a folder of converted "
                        "<class>.h5 files (default: the cache of 'lhcad fetch DATASET'); darkmachines: a folder of "
                        "the channel's real challenge CSV files (KS distance per observable)")
    return parser


# -- commands --------------------------------------------------------------------------------------
def _print_table(rows: list[list[Any]], header: list[str]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=header, tablefmt="simple"))


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.contract import available_scorers, resolve_scorer
    from benchmark.data import available_sources
    from benchmark.registry import load_registry

    reg = load_registry()
    if args.what == "datasets":
        rows = []
        for d in reg.datasets.values():
            have = available_sources(d.name)
            srcs = ", ".join(f"{s}{'' if have.get(s) else ' (missing)'}" for s in d.sources)
            rows.append([d.name, d.kind, len(d.classes), srcs, d.title])
        _print_table(rows, ["dataset", "kind", "classes", "sources", "title"])
    elif args.what == "tasks":
        rows = [[t.name, f"v{t.version}", t.protocol, ", ".join(map(str, t.background)),
                 ", ".join(map(str, t.signal)) if len(t.signal) <= 2 else f"{len(t.signal)} signals",
                 t.representation] for t in reg.tasks.values()]
        _print_table(rows, ["task", "version", "protocol", "background", "signal", "representation"])
    elif args.what == "suites":
        rows = [[s.name, len(s.tasks), s.source or "-", s.seeds, s.description] for s in reg.suites.values()]
        _print_table(rows, ["suite", "tasks", "source", "seeds", "description"])
    else:
        rows = []
        for name, target in available_scorers().items():
            try:
                info = resolve_scorer(name).info
                rows.append([name, info.version, ", ".join(info.protocols), info.representation,
                             "yes" if info.needs_gpu else "no", ", ".join(info.presets) or "-",
                             info.paper or "-", info.description or target])
            except Exception as exc:  # a broken plugin must not hide the others
                rows.append([name, "?", "?", "?", "?", "?", "?", f"cannot load {target}: {exc}"])
        _print_table(rows, ["scorer", "version", "protocols", "representation", "gpu", "presets", "paper",
                            "description"])
    return 0


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"lhcad: --param expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _sizes(args: argparse.Namespace) -> dict[str, float]:
    sizes = {}
    if getattr(args, "train_size", None) is not None:
        sizes["train"] = args.train_size
    if getattr(args, "test_size", None) is not None:
        sizes["test"] = args.test_size
    return sizes


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.registry import load_registry
    from benchmark.runner import check_device, plan_jobs, suite_scorers

    reg = load_registry()
    device = check_device(args.device)  # resolved on the worker that runs each job
    params = _parse_params(args.param)
    if args.suite:
        suite = reg.suite(args.suite)
        tasks, source = list(suite.tasks), args.source or suite.source or "generated"
        seeds: Any = args.seed_list or (args.seeds if args.seeds is not None else suite.seeds)
        sizes = {**suite.sizes, **_sizes(args)}
        task_sizes = {} if _sizes(args) else suite.task_sizes  # explicit --train/--test-size win
        injections = args.injections or list(suite.injections) or None
        scorers = args.scorer or suite_scorers(suite)
        preset = args.preset or suite.preset
        scorer_tasks = suite.scorer_tasks
    else:
        if not args.scorer:
            raise SystemExit("lhcad run: --scorer is required with --task")
        tasks, source = args.task, args.source or "generated"
        seeds = args.seed_list or (args.seeds if args.seeds is not None else 1)
        sizes, injections, scorers = _sizes(args), args.injections, args.scorer
        task_sizes = {}
        preset, scorer_tasks = args.preset, {}
        for t in tasks:
            reg.task(t)
    _check_scorers(scorers)
    skipped: list[str] = []
    jobs = plan_jobs(tasks=tasks, scorers=scorers, seeds=seeds, source=source, results_dir=args.results,
                     injections=injections, params=params, device=device, sizes=sizes, n_boot=args.bootstrap,
                     skipped=skipped, preset=preset, task_sizes=task_sizes, scorer_tasks=scorer_tasks)
    for line in _skip_summary(skipped):
        print(f"skip: {line}", file=sys.stderr)
    if not jobs:
        why = "no scorer supports these tasks' protocols" if skipped else "nothing was requested"
        print(f"lhcad run: no job to run ({why})", file=sys.stderr)
        return 2
    print(f"lhcad run: {len(jobs)} jobs on {source} data, device {device}, results in {args.results}", file=sys.stderr)
    from benchmark.runner import RunInterrupted

    try:
        summary = _execute(args, jobs)
    except RunInterrupted as stop:
        print(stop.report(), file=sys.stderr)
        return 130
    print(f"done: {len(summary.done)} run, {len(summary.skipped_existing)} already finished, "
          f"{len(summary.failed)} failed", file=sys.stderr)
    if args.leaderboard:
        from benchmark.leaderboard import build_leaderboard

        from benchmark.site import build_site

        build_leaderboard(args.results, args.leaderboard)
        index = build_site(args.results, args.leaderboard / "site", plots_dir=args.leaderboard / "plots")
        print(f"leaderboard written to {args.leaderboard} (site: {index})", file=sys.stderr)
    if summary.failed:
        print(f"failures recorded in {args.results / 'failures.jsonl'}:", file=sys.stderr)
        for job, msg in summary.failed:
            print(f"  {job.key}: {msg}", file=sys.stderr)
        return 1
    return 0


def _check_scorers(specs: Sequence[str]) -> None:
    """Fail early on a scorer name that is neither registered nor importable, pointing at a file of
    that name (e.g. ``example`` -> ``submissions/example_scorer.py``) when there is one."""
    from benchmark.contract import resolve_scorer

    for spec in specs:
        if spec.endswith(".py") or ".py:" in spec or ":" in spec:
            continue
        try:
            resolve_scorer(spec)
        except KeyError as exc:
            roots = dict.fromkeys([Path.cwd(), Path(__file__).resolve().parent.parent])
            files = [f for root in roots for pattern in (f"{spec}.py", f"{spec}_scorer.py", f"submissions/{spec}*.py")
                     for f in sorted(root.glob(pattern))]
            message = exc.args[0] if exc.args else str(exc)
            if files:
                shown = [str(f.relative_to(Path.cwd())) if f.is_relative_to(Path.cwd()) else str(f) for f in files]
                message += f"; {spec!r} is not a registered scorer but a file: give the file path, e.g. --scorer {shown[0]}"
            raise KeyError(message) from None


def _skip_summary(skipped: list[str]) -> list[str]:
    """One line per scorer for the task/scorer pairs skipped because the scorer lacks the task's
    protocol or the task lacks the scorer's event arrays (a suite pairs every scorer with every
    task; 48 lines would bury the run's output)."""
    import re

    by_scorer: dict[str, list[str]] = {}
    by_arrays: dict[str, list[str]] = {}
    other = []
    for msg in skipped:
        m = re.match(r"(?P<scorer>.+?) does not support the (?P<protocol>\S+) protocol of (?P<task>\S+)$", msg)
        n = re.match(r"(?P<scorer>.+?) needs the event arrays (?P<arrays>.+) that (?P<task>\S+) lacks$", msg)
        if m:
            by_scorer.setdefault(m["scorer"], []).append(f"{m['task']} ({m['protocol']})")
        elif n:
            by_arrays.setdefault(f"{n['scorer']}: not run on tasks without {n['arrays']}", []).append(n["task"])
        else:
            other.append(msg)
    lines = [f"{scorer}: not run on {', '.join(tasks)}: another protocol" if len(tasks) <= 2 else
             f"{scorer}: not run on {len(tasks)} tasks of protocols it does not support" for scorer, tasks in by_scorer.items()]
    lines += [f"{head} ({len(tasks)} task{'s' if len(tasks) > 1 else ''})" for head, tasks in by_arrays.items()]
    return lines + list(dict.fromkeys(other))  # e.g. one 'runs only on ...' line per scorer


def _execute(args: argparse.Namespace, jobs: list[Any]) -> Any:
    """Run the planned jobs with the chosen executor and sandbox limits."""
    import dataclasses

    from benchmark.executors import ExecutorOptions, run_with
    from benchmark.isolation import Limits
    from benchmark.runner import default_workers

    isolation = None
    if not args.no_isolation:
        # each job applies its task's limits (Limits.for_task); command-line values win over them
        isolation = Limits(override_time_s=args.time_limit, override_memory_mb=args.memory_limit)
    jobs = [dataclasses.replace(j, results_dir=str(Path(j.results_dir).resolve())) for j in jobs]
    workers = args.workers or (default_workers() if args.executor == "local" else 1)
    options = ExecutorOptions(workers=workers, retries=args.retries, overwrite=args.overwrite,
                              progress=not args.no_progress, fail_fast=args.fail_fast, isolation=isolation)
    return run_with(args.executor, jobs, options, scheduler=args.scheduler, cluster_config=args.cluster_config)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from benchmark.evaluate import evaluate_file
    from benchmark.store import read_json

    path = evaluate_file(task=args.task, scores=args.scores, name=args.name, seed=args.seed,
                         injection=args.injection, source=args.source, results_dir=args.results,
                         sizes=_sizes(args), overwrite=args.overwrite)
    record = read_json(path)
    m = record["metrics"]
    print(f"{args.task} [{args.name}]: AUC {m['auc']:.4f}, max SIC {m['max_sic']}, result {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from benchmark.evaluate import export_task

    path = export_task(task=args.task, out=args.out, seed=args.seed, injection=args.injection, source=args.source,
                       sizes=_sizes(args))
    print(f"wrote {path}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from benchmark.leaderboard import build_leaderboard

    if args.merge:
        from benchmark.bundles import merge_bundles

        report = merge_bundles(args.merge, args.out, plots=not args.no_plots, html=args.html)
        for bundle, verdict in report.items():
            print(f"{bundle}: {verdict}")
        return 0 if all(v.startswith("accepted") for v in report.values()) else 1
    written = build_leaderboard(args.results, args.out, plots=not args.no_plots, update=args.update)
    print(f"wrote {len(written)} files to {args.out}")
    if args.html:
        from benchmark.site import build_site

        index = build_site(args.results, args.out / "site", plots_dir=None if args.no_plots else args.out / "plots",
                           updated_board=args.out if args.update else None)
        print(f"site: {index}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from benchmark.isolation import Limits
    from benchmark.reproduce import reproduce

    report = reproduce(args.entry, results_dir=args.results, work_dir=args.work, device=args.device,
                       progress=not args.no_progress, isolation=None if args.no_isolation else Limits())
    print(report.text())
    print(f"rerun results: {report.rerun_dir}")
    return 0 if report.reproduced else 1


def cmd_bundle(args: argparse.Namespace) -> int:
    from benchmark.bundles import make_bundle

    path = make_bundle(args.results, args.out)
    print(f"wrote {path}")
    return 0


def cmd_import_results(args: argparse.Namespace) -> int:
    from benchmark.imported import import_tables, ranking

    report = import_tables(args.files, args.results)
    for path in report["written"]:
        print(f"wrote {path}")
    rows = ranking({}, report["models"], complete_only=False)
    print(f"{len(rows)} models; total improvement min / median / max over signals (* = lacks a channel):")
    _print_table([[r["rank"], r["model"] + ("" if r["complete"] else " *"), f"{r['min']:.4g}", f"{r['median']:.4g}",
                   f"{r['max']:.4g}", r["n_signals"]] for r in rows[:max(args.top, 0)]],
                 ["rank", "model", "TI min", "TI median", "TI max", "signals"])
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from benchmark.sources import fetch_dataset

    paths = fetch_dataset(args.dataset, data_dir=args.data_dir, mirror=args.mirror, from_dir=args.from_dir,
                          offline=args.offline, convert=not args.no_convert)
    for cls, path in paths.items():
        print(f"{args.dataset}:{cls} -> {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from benchmark.generate import generate_dataset, validate_dataset

    if (args.channel or args.signal_events) and args.dataset != "darkmachines":
        raise SystemExit("--channel and --signal-events are for `lhcad generate darkmachines` only")
    if args.classes and args.dataset == "darkmachines":
        raise SystemExit("--classes is not for darkmachines: a channel's classes are generated together (--channel)")
    if (args.against or args.real) and not args.validate:
        raise SystemExit("lhcad generate: --against/--real only go with --validate")
    if args.dataset == "darkmachines" and (args.events is not None or not args.validate):
        from benchmark.generate.dm_samples import generate_channel

        if not args.channel:
            raise SystemExit("lhcad generate darkmachines needs --channel (chan1, chan2a, chan2b or chan3)")
        paths = generate_channel(args.channel, args.events or 10000, signal_events=args.signal_events,
                                 out_dir=args.out, workers=args.workers, seed=args.seed)
        for cls, path in paths.items():
            print(f"{args.dataset}:{cls} -> {path}")
    elif args.events is not None or not args.validate:
        paths = generate_dataset(args.dataset, args.events or 10000, out_dir=args.out, workers=args.workers,
                                 seed=args.seed, classes=args.classes)
        for cls, path in paths.items():
            print(f"{args.dataset}:{cls} -> {path}")
    if args.validate and args.dataset == "darkmachines":
        from benchmark.generate.dm_validate import format_report, validate_channel
        from benchmark.store import dataset_dir

        if not (args.channel and args.real):
            raise SystemExit("lhcad generate darkmachines --validate needs --channel and --real DIR (real CSV files)")
        report = validate_channel(args.out or dataset_dir(args.dataset, "generated"), args.real, args.plots, args.channel)
        print(format_report(report) or f"no generated class of {args.channel} has a real counterpart in {args.real}")
        return 0
    if args.validate:
        from benchmark.store import dataset_dir

        in_dir = args.out or dataset_dir(args.dataset, "generated")
        if args.against == "real":
            from benchmark.generate.fidelity import fidelity_report

            real = args.real or dataset_dir(args.dataset, "real")
            report = fidelity_report(args.dataset, in_dir, real, args.plots)
            print(Path(report["table"]).read_text())
            for plot in report["plots"]:
                print(f"plot: {plot}")
            return 0
        for plot in validate_dataset(args.dataset, in_dir, args.plots):
            print(f"plot: {plot}")
    return 0


COMMANDS = {"list": cmd_list, "run": cmd_run, "evaluate": cmd_evaluate, "export": cmd_export,
            "leaderboard": cmd_leaderboard, "fetch": cmd_fetch, "generate": cmd_generate,
            "bundle": cmd_bundle, "reproduce": cmd_reproduce, "import-results": cmd_import_results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from benchmark import __version__

        print(f"lhcad {__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"lhcad {args.command}: interrupted", file=sys.stderr)
        return 130
    except (KeyError, OSError, ValueError, TypeError, ImportError, RuntimeError) as exc:
        if getattr(args, "fail_fast", False) or _debug():
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"lhcad {args.command}: error: {message}", file=sys.stderr)
        return 1


def _debug() -> bool:
    import os

    return bool(os.environ.get("LHCAD_DEBUG"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
