"""The `intertask` command: run, status, report, verify, export-predictions, power, audit, prepare-model."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .analysis.power import Components, design_of, pilot_components, power_text
from .audit import audit_study
from .cluster import EXECUTORS, run_local, submit_slurm
from .data import DataSource, resolve_data_dir
from .jobs import JobsFileError
from .run import UsageError, export_predictions, make_report, run_study, status_table, study_disk_line
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
    if summary.done and not args.no_report:
        html = make_report(params, args.outputs)
        print(f"report: {html}")
    results = Path(args.outputs) / params["study"] / "results.csv"
    if results.exists():  # never point at a file that is not there
        print(f"results: {results}" + (f" ({len(summary.missing)} run(s) listed as missing)" if summary.missing else ""))
    return 1 if summary.failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    params = _params(args.params)
    try:
        table = status_table(params, args.outputs, full=args.check)
    except JobsFileError as e:
        return _usage_error(str(e))
    print(table.to_string(index=False))
    counts = table["status"].value_counts().to_dict()
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    print(study_disk_line(params, args.outputs))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intertask", description="Intermediate-task training for zero-shot "
                                     "cross-lingual transfer: run studies, see their status, make reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run (or resume) every run of a study")
    p.add_argument("params", help="study file, e.g. params/smoke.yaml")
    p.add_argument("--data", help="data folder in the XTREME download/ layout (else data_dir:, else $INTERTASK_DATA)")
    p.add_argument("--outputs", default="outputs", help="where study folders go (default: outputs)")
    p.add_argument("--only", nargs="+", metavar="RUN", help="run only these run ids")
    p.add_argument("--no-report", action="store_true", help="do not make the HTML report at the end")
    p.add_argument("--check", action="store_true", help="verify finished stages' outputs by sha256, not only sizes")
    p.add_argument("--executor", choices=EXECUTORS, default="serial",
                   help="serial: stage after stage in this process (default); local: stages as parallel local "
                        "processes (executor.max_parallel); slurm: submit stages as Slurm jobs with dependencies")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("status", help="what is done, invalid, failed and pending")
    p.add_argument("params")
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--check", action="store_true", help="verify finished stages' outputs by sha256, not only sizes")
    p.set_defaults(fn=cmd_status)

    p = sub.add_parser("report", help="execute 04_report on the results and render HTML")
    p.add_argument("params")
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--force", action="store_true", help="remake even if the results did not change")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("verify", help="re-execute a recorded notebook and check its checked outputs still hold")
    p.add_argument("notebook")
    p.set_defaults(fn=cmd_verify)

    p = sub.add_parser("export-predictions", help="write predictions in the benchmark's layout (one folder per model)")
    p.add_argument("params")
    p.add_argument("--to", required=True, help="destination folder")
    p.add_argument("--outputs", default="outputs")
    p.add_argument("--only", nargs="+", metavar="RUN", help="only these run ids")
    p.add_argument("--benchmark", choices=["xtreme", "xtreme-r"],
                   help="write only this benchmark's tasks and say, per task, which of its languages are missing")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("power", help="minimal detectable effects of a scaling design, and the draws x seeds needed")
    p.add_argument("params", help="study file with a design: section, e.g. params/scaling.yaml")
    p.add_argument("--pilot", help="a finished study folder (e.g. outputs/scaling_smoke) to take variance from")
    p.add_argument("--slope", type=float, default=0.25, help="slope to detect, points per task (default 0.25)")
    p.add_argument("--difference", type=float, default=1.0, help="arm difference to detect, points (default 1)")
    p.add_argument("--scale", choices=["k", "log2k"], default="k", help="slope per task or per doubling of k")
    p.set_defaults(fn=cmd_power)

    p = sub.add_parser("audit", help="count id and content overlaps of evaluated items with training data, before running")
    p.add_argument("params")
    p.add_argument("--data", help="data folder (else data_dir:, else $INTERTASK_DATA)")
    p.add_argument("--all", action="store_true", help="list every evaluation, not only those with overlaps")
    p.set_defaults(fn=cmd_audit)

    p = sub.add_parser("prepare-model", help="convert the offline 4-bit multilingual-e5-small once")
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
