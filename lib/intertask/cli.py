"""The `intertask` command: run, status, tasks, report, verify, export-predictions, power, audit, prepare-model."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import pandas as pd

from . import __version__
from .analysis.power import Components, design_of, pilot_components, power_text
from .audit import audit_study
from .cluster import EXECUTORS, run_local, submit_slurm
from .data import DataSource, resolve_data_dir
from .jobs import JobsFileError
from .overview import leaderboard_text, status_text, tasks_frame
from .run import UsageError, dry_run_plan, export_predictions, make_report, run_study, study_disk_line
from .study import ParamsError, load_params
from .verify import VerifyError, verify_notebook


def _params(path: str) -> dict:
    try:
        return load_params(path)
    except ParamsError as e:
        sys.exit(f"error: {e}")


def _usage_error(message: str) -> int:
    """One clear line and exit status 2 (a usage problem, not a failed run)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    params = _params(args.params)
    if args.dry_run:
        try:
            print(dry_run_plan(params, args.outputs, args.only, full=args.check))
        except UsageError as e:
            return _usage_error(str(e))
        return 0
    base = Path(args.params).resolve().parent
    data_dir = None
    if args.data or params["data_dir"]:
        data_dir = str(resolve_data_dir(args.data, params["data_dir"], base))
    try:
        if args.executor == "slurm":  # submits and returns: the jobs run on the cluster
            print(submit_slurm(params, args.outputs, data_dir, args.only, full=args.check).text())
            return 0
        runner = run_local if args.executor == "local" else run_study
        summary = runner(params, args.outputs, data_dir, args.only, full=args.check)
    except (UsageError, JobsFileError) as e:
        return _usage_error(str(e))
    except KeyboardInterrupt:
        print("\ninterrupted: finished stages are kept; run the same command again to continue.", file=sys.stderr)
        return 130
    print(summary.text())
    results = Path(args.outputs) / params["study"] / "results.csv"
    if results.exists():
        board = leaderboard_text(pd.read_csv(results))
        if board:
            print(board)
    if summary.done and not args.no_report:
        html = make_report(params, args.outputs)
        print(f"report: {html}")
    if results.exists():  # never point at a file that is not there
        print(f"results: {results} (and results.parquet)" + (f" ({len(summary.missing)} run(s) listed as missing)" if summary.missing else ""))
    return 1 if summary.failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    params = _params(args.params)
    try:
        print(status_text(params, args.outputs, full=args.check, every_run=args.all))
    except JobsFileError as e:
        return _usage_error(str(e))
    print(study_disk_line(params, args.outputs))
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    data = resolve_data_dir(args.data)
    table = tasks_frame(pool=args.pool, data_dir=data)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=1))
        return 0
    print(table.drop(columns=["language_codes"]).to_string(index=False))
    where = f"local files under {data}" if data else "no data folder set (--data DIR or $INTERTASK_DATA)"
    print(f"offline: {'training data in the task language' if args.pool else 'languages with test data'}, "
          f"from {where}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    params = _params(args.params)
    try:
        html = make_report(params, args.outputs, force=args.force)
    except FileNotFoundError as e:
        sys.exit(f"error: {e}")
    print(f"report: {html}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        ok, lines = verify_notebook(Path(args.notebook))
    except VerifyError as e:
        return _usage_error(str(e))
    print("\n".join(lines))
    return 0 if ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    params = _params(args.params)
    try:
        report = export_predictions(params, args.outputs, args.to, args.only, args.benchmark)
    except ValueError as e:  # an unknown benchmark, or a prediction file that cannot be converted
        sys.exit(f"error: {e}")
    left_out = sorted({t for m in report.models for t in m.left_out})
    if not report.files and left_out and report.benchmark:
        sys.exit(f"error: none of the evaluated tasks ({', '.join(left_out)}) is part of {report.benchmark.title}; "
                 f"its tasks: {', '.join(report.benchmark.task_names)}")
    if not report.files:
        sys.exit(f"error: no finished evaluation with predictions in {Path(args.outputs) / params['study']}; "
                 f"run `intertask run {args.params}` first")
    print(report.text())
    return 0


def cmd_power(args: argparse.Namespace) -> int:
    params = _params(args.params)
    try:
        ks, draws, seeds = design_of(params)
        comp = pilot_components(args.pilot) if args.pilot else Components()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(power_text(ks, draws, seeds, comp, slope=args.slope, difference=args.difference, scale=args.scale))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    params = _params(args.params)
    data_dir = resolve_data_dir(args.data, params["data_dir"], Path(args.params).resolve().parent)
    table = audit_study(params, DataSource(data_dir, "local"))
    shown = table if args.all else table[(table["id_overlap"] > 0) | (table["content_overlap"] > 0)]
    if len(shown):
        print(shown.to_string(index=False))
    print(f"{len(table)} (condition, target, language) evaluations: {int(table['id_overlap'].sum())} id overlaps, "
          f"{int(table['content_overlap'].sum())} of {int(table['evaluated'].sum())} evaluated items share content "
          f"with their run's training/selection inputs (left out of scoring)")
    missing = sorted({t for v in table["unavailable"] for t in v.split(", ") if t})
    if missing:
        print(f"not audited (no local data): {', '.join(missing)}")
    return 1 if table["id_overlap"].any() else 0


def cmd_prepare_model(args: argparse.Namespace) -> int:
    # lazy: offline_model pulls numpy/safetensors conversion code; `intertask status` must stay light
    from .offline_model import ensure_offline_model

    print(ensure_offline_model())
    return 0


EXAMPLES = {
    None: """examples:
  intertask run params/smoke.yaml          run (or resume) the smoke study, then print the leaderboard
  intertask status params/smoke.yaml       what is done, with stage times and scores
  intertask tasks --pool                   the intermediate tasks and which are on this machine
  intertask <command> --help               each command's options and examples""",
    "run": """examples:
  intertask run params/smoke.yaml --dry-run            the runs and stages that would execute
  intertask run params/smoke.yaml                      run, reuse finished stages, write the report
  intertask run params/scaling.yaml --only none__xnli__s1 --no-report
  intertask run params/smoke.yaml --data ../shared/data --outputs /scratch/outputs""",
    "status": """examples:
  intertask status params/smoke.yaml                   one row per run (large studies: per condition)
  intertask status params/scaling.yaml --all           every run, even in a large study
  intertask status params/smoke.yaml --check           verify finished stages by sha256""",
    "tasks": """examples:
  intertask tasks                                      the target tasks (format, metric, languages)
  intertask tasks --pool                               the intermediate-task pool
  intertask tasks --pool --json | jq '.[].task'        machine-readable""",
    "report": """examples:
  intertask report params/smoke.yaml                   outputs/smoke/report/report.html
  intertask report params/smoke.yaml --force           remake it even if the results did not change""",
    "verify": """examples:
  intertask verify outputs/tiny/stages/3-evaluate-none-xnli-f566c5a8bd/03_evaluate.ipynb""",
    "export-predictions": """examples:
  intertask export-predictions params/xtreme_r_smoke.yaml --to submissions/ --benchmark xtreme-r""",
    "power": """examples:
  intertask power params/scaling.yaml
  intertask power params/scaling.yaml --pilot outputs/scaling_smoke --slope 0.5 --scale log2k""",
    "audit": """examples:
  intertask audit params/smoke.yaml                    overlaps only
  intertask audit params/scaling.yaml --all            every (condition, target, language)""",
    "prepare-model": """examples:
  intertask prepare-model                              once, before the first offline run""",
}


def _sub(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    # RawDescription keeps the examples' line breaks
    return sub.add_parser(name, help=help, description=help, epilog=EXAMPLES[name],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intertask", description="Intermediate-task training for zero-shot "
                                     "cross-lingual transfer: run studies, see their status, make reports.",
                                     epilog=EXAMPLES[None], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _sub(sub, "run", "run (or resume) every run of a study")
    p.add_argument("params", help="study file, e.g. params/smoke.yaml")
    p.add_argument("--data", help="data folder in the XTREME download/ layout (else data_dir:, else $INTERTASK_DATA)")
    p.add_argument("--outputs", default="outputs", help="where study folders go (default: outputs)")
    p.add_argument("--only", nargs="+", metavar="RUN", help="run only these run ids")
    p.add_argument("--no-report", action="store_true", help="do not make the HTML report at the end")
    p.add_argument("--check", action="store_true", help="verify finished stages' outputs by sha256, not only sizes")
    p.add_argument("--executor", choices=EXECUTORS, default="serial",
                   help="serial: stage after stage in this process (default); local: stages as parallel local "
                        "processes (executor.max_parallel); slurm: submit stages as Slurm jobs with dependencies")
    p.add_argument("--dry-run", action="store_true", help="list the runs and stages that would execute (finished "
                   "ones marked cached) and stop; starts no kernel")
    p.set_defaults(fn=cmd_run)

    p = _sub(sub, "status", "what is done, invalid, failed and pending, with stage times and scores")
    p.add_argument("params")
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--check", action="store_true", help="verify finished stages' outputs by sha256, not only sizes")
    p.add_argument("--all", "--long", dest="all", action="store_true",
                   help="one row per run even in a large study (default: per condition above 40 runs)")
    p.set_defaults(fn=cmd_status)

    p = _sub(sub, "tasks", "the task registry: format, metric, languages, offline availability")
    p.add_argument("--pool", action="store_true", help="the intermediate tasks instead of the target tasks")
    p.add_argument("--json", action="store_true", help="print JSON (one object per task)")
    p.add_argument("--data", help="data folder to check for local files (else $INTERTASK_DATA)")
    p.set_defaults(fn=cmd_tasks)

    p = _sub(sub, "report", "execute 04_report on the results and render HTML")
    p.add_argument("params")
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--force", action="store_true", help="remake even if the results did not change")
    p.set_defaults(fn=cmd_report)

    p = _sub(sub, "verify", "re-execute a recorded notebook and check its checked outputs still hold")
    p.add_argument("notebook")
    p.set_defaults(fn=cmd_verify)

    p = _sub(sub, "export-predictions", "write predictions in the benchmark's layout (one folder per model)")
    p.add_argument("params")
    p.add_argument("--to", required=True, help="destination folder")
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--only", nargs="+", metavar="RUN", help="only these run ids")
    p.add_argument("--benchmark", choices=["xtreme", "xtreme-r"],
                   help="write only this benchmark's tasks and say, per task, which of its languages are missing")
    p.set_defaults(fn=cmd_export)

    p = _sub(sub, "power", "minimal detectable effects of a scaling design, and the draws x seeds needed")
    p.add_argument("params", help="study file with a design: section, e.g. params/scaling.yaml")
    p.add_argument("--pilot", help="a finished study folder (e.g. outputs/scaling_smoke) to take variance from")
    p.add_argument("--slope", type=float, default=0.25, help="slope to detect, points per task (default 0.25)")
    p.add_argument("--difference", type=float, default=1.0, help="arm difference to detect, points (default 1)")
    p.add_argument("--scale", choices=["k", "log2k"], default="k", help="slope per task or per doubling of k")
    p.set_defaults(fn=cmd_power)

    p = _sub(sub, "audit", "count id and content overlaps of evaluated items with training data, before running")
    p.add_argument("params")
    p.add_argument("--data", help="data folder (else data_dir:, else $INTERTASK_DATA)")
    p.add_argument("--all", action="store_true", help="list every evaluation, not only those with overlaps")
    p.set_defaults(fn=cmd_audit)

    p = _sub(sub, "prepare-model", "convert the offline 4-bit multilingual-e5-small once")
    p.set_defaults(fn=cmd_prepare_model)

    args = parser.parse_args(argv)
    # a scheduler's SIGTERM should stop as cleanly as Ctrl-C: mark the stage, keep the finished ones
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # a runner started as a background job inherits SIGINT ignored, and Python then keeps ignoring it:
    # an explicit `kill -INT` must still stop it cleanly
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
