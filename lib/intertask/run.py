"""Executing a study: every stage is a papermill-executed notebook in its own folder.

A stage folder holds the executed notebook (the auditable record), `params.json`, `status.json` and
what the stage wrote (checkpoint, history, results). `status.json` of a finished stage lists every
output with its size and sha256, and the digest of each input stage: a stage counts as done only while
its outputs and inputs still match (else it is `invalid`, named with the reason, and redone with its
dependants). A failed stage keeps its executed notebook with the traceback, its run is marked failed,
and the other runs go on. Stages are claimed atomically (`claims.py`), so runners can share a study.
No torch here: the orchestrator runs where no GPU is.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.std import tqdm

from . import __version__
from .budget import add_trained_compute
from .claims import Claim, job_id, read_claim, stale_reason
from .contracts import CONTRACTS
from .design import task_language_family
from .export import Evaluation, ExportReport, export
from .footprint import StageNode, disk_line, prune_checkpoints, reopen_pruned
from .integrity import build_manifest, check_manifest, manifest_digest
from .jobs import job_labels, run_job_label
from .kernels import TiedKernelManager
from .progress import ENV_STATUS, read_progress
from .provenance import environment
from .resources import kernel_threads
from .results import OUTPUT_COLUMNS
from .study import Run, Stage, condition_rows, expand, stable_hash, study_dir
from .values import VALUES_MIME

STATUS = "status.json"
ATTEMPTS = "attempts.jsonl"
WAIT_POLL = float(os.environ.get("INTERTASK_WAIT_POLL", "2"))  # seconds between looks at stages others hold
FEATURE_CACHE = "../../cache/features"  # from a stage folder: <study>/cache/features


def notebooks_dir() -> Path:
    """The stage notebook templates: $INTERTASK_NOTEBOOKS, the checkout's notebooks/, or ./notebooks."""
    env = os.environ.get("INTERTASK_NOTEBOOKS")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / "notebooks", Path.cwd() / "notebooks"]
    for c in candidates:
        if (c / "01_intermediate.ipynb").exists():
            return c
    raise FileNotFoundError(f"cannot find the stage notebooks (looked in {', '.join(map(str, candidates))}); "
                            f"set INTERTASK_NOTEBOOKS to the folder holding 01_intermediate.ipynb")


def _write_json(path: Path, obj: Any) -> None:
    # one temporary name per process: two runners may write the same file at once
    tmp = path.with_name(f"{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)  # atomic: a killed process never leaves half a status file


def read_stage_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def stage_state(folder: Path, full: bool = False) -> tuple[str, str]:
    """(state, reason): done | invalid | failed | running | interrupted | pending.

    `done` only while every recorded output is there with its size (`full`: and its sha256) and every
    input stage is still done with the outputs this stage was computed from.
    """
    st = read_stage_record(folder)
    claim = read_claim(folder)
    if claim is not None and stale_reason(folder) is None:
        return "running", claim.describe()
    if st is None:
        return "pending", ""
    state = st.get("status", "pending")
    if state == "running":
        why = stale_reason(folder) if claim else None
        return "interrupted", why or "its runner ended before finishing it"
    if state != "done":
        return state, str(st.get("error", ""))
    if "outputs" not in st:
        return "invalid", "no output manifest (recorded by an older version); it will be redone"
    why = check_manifest(folder, st["outputs"], full)
    if why:
        return "invalid", why
    for name, digest in st.get("inputs", {}).items():
        parent = folder.parent / name
        pstate, preason = stage_state(parent, full)
        if pstate != "done":
            return "invalid", f"its input stage {name} is {pstate}" + (f" ({preason})" if preason else "")
        if (read_stage_record(parent) or {}).get("digest") != digest:
            return "invalid", f"its input stage {name} was redone since; its outputs changed"
    return "done", ""


def stage_status(folder: Path, full: bool = False) -> str:
    """done | invalid | failed | running | interrupted | pending."""
    return stage_state(folder, full)[0]


def stage_folder(root: Path, stage: Stage) -> Path:
    return root / "stages" / stage.dirname


def injected_parameters(stage: Stage, data_dir: str | None) -> dict:
    """The notebook's parameters, checked against the stage's contract (`intertask.contracts`).

    Paths are relative to the stage folder, so records are portable.
    """
    p = dict(stage.parameters)
    p["output_dir"] = "."
    p["data_dir"] = data_dir
    if stage.kind == "target":
        p["init"] = f"../{stage.parent.dirname}/checkpoint" if stage.parent else stage.parameters["model"]
        del p["model"]  # the notebook starts from `init`; the model id stays in the stage hash
    if stage.kind == "evaluate":
        # retrieval without intermediate training reads the pretrained model itself
        p["checkpoint"] = f"../{stage.parent.dirname}/checkpoint" if stage.parent else stage.parameters["model"]
        p["feature_cache"] = FEATURE_CACHE  # one per study: every run evaluates the same items
    return CONTRACTS[stage.kind].checked(p, stage.kind).as_dict()


class _StatusTicker:
    """Shows the kernel's outermost loop (read from its status file) under the runner's bar.

    In a terminal: a second bar for the current stage's steps or languages, with the kernel's own
    count, rate and ETA. In a log file (no terminal): the latest line as the run bar's postfix, once a
    minute, since a refresh every second would only add noise.
    """

    def __init__(self, bar: Any, path: Path, prefix: str, interval: float | None = None,
                 nested: bool | None = None):
        self.bar, self.path, self.prefix = bar, path, prefix
        interactive = sys.stderr.isatty()
        self.interval = interval if interval is not None else (1.0 if interactive else 60.0)
        self.nested = (interactive if nested is None else nested) and bar is not None
        self.inner: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        status = read_progress(self.path)
        if self.bar is None or status is None:
            return
        if not self.nested:
            self.bar.set_postfix_str(f"{self.prefix} {status.line()}"[:100])
            return
        desc = f"  {self.prefix}: {status.desc}"
        if self.inner is None:
            self.inner = tqdm(total=status.total, desc=desc, position=1, leave=False, file=self.bar.fp,
                              dynamic_ncols=True, unit="")
        elif self.inner.desc != desc or self.inner.n > status.n:  # the kernel moved on to its next loop
            self.inner.reset(total=status.total)
            self.inner.set_description_str(desc, refresh=False)
        self.inner.set_postfix_str(status.postfix[:40], refresh=False)
        self.inner.update(status.n - self.inner.n)

    def __enter__(self) -> "_StatusTicker":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        if self.inner is not None:
            self.inner.close()


def execute_stage(stage: Stage, root: Path, data_dir: str | None, bar: Any = None, prefix: str = "",
                  full: bool = False) -> str:
    """Run one stage's notebook with papermill unless it is verifiably done; returns its final status
    (`busy` when another live runner holds its claim)."""
    folder = stage_folder(root, stage)
    state, _ = stage_state(folder, full)
    if state == "done":
        return "done"
    if state == "running":
        return "busy"
    claim = Claim(folder)
    if not claim.acquire():
        return "busy"
    try:
        if stage_state(folder, full)[0] == "done":  # another runner finished it just before our claim
            return "done"
        return _execute_claimed(stage, folder, data_dir, bar, prefix)
    finally:
        claim.release()


def _input_digests(stage: Stage, folder: Path) -> dict[str, str]:
    if stage.parent is None:
        return {}
    record = read_stage_record(folder.parent / stage.parent.dirname) or {}
    return {stage.parent.dirname: record.get("digest", "")}


def _execute_claimed(stage: Stage, folder: Path, data_dir: str | None, bar: Any, prefix: str) -> str:
    import papermill as pm

    params = injected_parameters(stage, data_dir)
    _write_json(folder / "params.json", {"stage": stage.kind, "hash": stage.hash, "parameters": params,
                                         "code": code_version(), "environment": environment()})
    inputs = _input_digests(stage, folder)
    started = time.time()
    who = {"pid": os.getpid(), "host": socket.gethostname(), "job": job_id(),
           "started": dt.datetime.now().isoformat(timespec="seconds")}
    with open(folder / ATTEMPTS, "a") as log:  # every execution is counted, for audits (and tests)
        log.write(json.dumps(who) + "\n")
    _write_json(folder / STATUS, {"status": "running", **who})
    status_file = folder / ".progress"
    os.environ[ENV_STATUS] = str(status_file.resolve())
    try:
        with _StatusTicker(bar, status_file, prefix), kernel_threads():
            pm.execute_notebook(str(notebooks_dir() / stage.notebook), str(folder / stage.notebook),
                                parameters=params, cwd=str(folder), progress_bar=False, log_output=False,
                                request_save_on_cell_execute=True, kernel_manager_class=TiedKernelManager)
    except KeyboardInterrupt:
        _write_json(folder / STATUS, {"status": "interrupted", "seconds": round(time.time() - started, 1)})
        raise
    except Exception as e:  # a failed notebook keeps its record; the study goes on
        err = {"status": "failed", "seconds": round(time.time() - started, 1), "error": _describe(e),
               "notebook": str(folder / stage.notebook)}
        _write_json(folder / STATUS, err)
        return "failed"
    finally:
        os.environ.pop(ENV_STATUS, None)
        status_file.unlink(missing_ok=True)
    outputs = build_manifest(folder)
    _write_json(folder / STATUS, {"status": "done", "seconds": round(time.time() - started, 1),
                                  "finished": dt.datetime.now().isoformat(timespec="seconds"),
                                  "outputs": outputs, "digest": manifest_digest(outputs), "inputs": inputs})
    return "done"


def code_version() -> dict:
    """The package version and, in a git checkout, the commit: which code produced a record."""
    import subprocess

    out = {"intertask": __version__}
    try:
        root = Path(__file__).resolve().parents[2]
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "lib", "notebooks"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if sha:
            out["git"] = sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _describe(e: Exception) -> str:
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return "".join(traceback.format_exception_only(type(e), e)).strip()


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    redone: dict[str, str] = field(default_factory=dict)  # stage folder -> why its old record was not trusted
    missing: dict[str, str] = field(default_factory=dict)  # run -> why it has no rows in results.csv
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"{len(self.done)} run(s) done, {len(self.failed)} failed, {len(self.skipped)} skipped "
                 f"in {self.seconds:.0f} s"]
        for stage, why in self.redone.items():
            lines.append(f"  REDONE {stage}: {why}")
        for run, why in self.failed.items():
            lines.append(f"  FAILED {run}: {why}")
        for run, why in self.missing.items():
            if run not in self.failed:
                lines.append(f"  MISSING from results.csv: {run}: {why}")
        return "\n".join(lines)


def write_plan(params: dict, runs: list[Run], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in params.items() if not k.startswith("_")}
    _write_json(root / "study.json", clean)
    write_conditions(params, runs, root)
    runs_dir = root / "runs"
    runs_dir.mkdir(exist_ok=True)
    for run in runs:
        langs = sorted({task_language_family(t)[0] for t in run.intermediate_tasks})
        _write_json(runs_dir / f"{run.id}.json", {
            "run": run.id, "condition": run.condition, "intermediate_tasks": run.intermediate_tasks,
            "intermediate_languages": langs,
            "intermediate_families": sorted({task_language_family(t)[1] for t in run.intermediate_tasks}),
            "target": run.target, "seed": run.seed,
            "stages": [f"stages/{s.dirname}" for s in run.stages]})


def write_conditions(params: dict, runs: list[Run], root: Path) -> pd.DataFrame:
    """`conditions.csv`: every condition's tasks, formats, languages, families, planned compute and,
    once its intermediate stages are done, the tokens and steps they actually trained (per task)."""
    folders: dict[str, list[Path]] = {}
    for run in runs:
        for stage in run.stages:
            if stage.kind == "intermediate":
                path = stage_folder(root, stage)
                if path not in folders.setdefault(run.condition, []) and stage_state(path)[0] == "done":
                    folders[run.condition].append(path)
    conditions = add_trained_compute(pd.DataFrame(condition_rows(params)), folders)
    tmp = root / f"conditions.csv.{os.getpid()}.tmp"
    conditions.to_csv(tmp, index=False)
    os.replace(tmp, root / "conditions.csv")
    return conditions


def run_state(root: Path, run: Run, full: bool = False) -> tuple[str, str]:
    """The run's first stage that is not verifiably done, as (state, 'kind stage: reason'); done otherwise."""
    for stage in run.stages:
        state, why = stage_state(stage_folder(root, stage), full)
        if state != "done":
            return state, f"{stage.kind} stage is {state}" + (f": {why}" if why else "")
    return "done", ""


def collect_results(root: Path, runs: list[Run], full: bool = False) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rebuild `<study>/results.csv` from verifiably done evaluation stages only, atomically.

    A run without a verifiably done evaluation gets one row with `status` = missing and the reason,
    so no run ever drops out of the table silently. Returns the table and {missing run: reason}.
    """
    frames, missing = [], {}
    for run in runs:
        state, why = run_state(root, run, full)
        ident = {"run": run.id, "intermediate_tasks": "+".join(run.intermediate_tasks) or "none",
                 "condition": run.condition}
        if state == "done":
            df = pd.read_csv(stage_folder(root, run.stages[-1]) / "results.csv")
            # two conditions that drew the same tasks share one evaluation stage: label rows per run
            df = df.assign(**ident, status="done", reason="")
        else:
            missing[run.id] = why
            df = pd.DataFrame([{**ident, "seed": run.seed, "target_task": run.target, "status": "missing",
                                "reason": why}])
        frames.append(df)
    columns = [*OUTPUT_COLUMNS, "condition", "status", "reason"]
    df = pd.concat(frames, ignore_index=True).reindex(columns=columns) if frames else pd.DataFrame(columns=columns)
    with open(root / "results.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several runners may finish at once: last writer sees all
        tmp = root / f"results.csv.{socket.gethostname()}.{os.getpid()}.tmp"
        df.to_csv(tmp, index=False)
        # the same table as Parquet (typed columns for pandas/polars/duckdb users), with the types the
        # CSV reads back as, so both files always hold one table
        ptmp = root / f"results.parquet.{socket.gethostname()}.{os.getpid()}.tmp"
        pd.read_csv(tmp).to_parquet(ptmp, index=False)
        os.replace(tmp, root / "results.csv")
        os.replace(ptmp, root / "results.parquet")
    return df, missing


def _advance(run: Run, root: Path, data_dir: str | None, bar: Any, full: bool, seen_busy: set[str],
             summary: Summary) -> str:
    """Execute the run's stages in order: done | failed | busy (a stage is held by another runner)."""
    for stage in run.stages:
        folder = stage_folder(root, stage)
        before, why = stage_state(folder, full)
        if before == "failed" and stage.dirname in seen_busy:
            state = "failed"  # another runner just tried it in this session; do not try again
        else:
            state = execute_stage(stage, root, data_dir, bar, prefix=stage.kind, full=full)
        if state == "busy":
            seen_busy.add(stage.dirname)
            return "busy"
        if before in ("invalid", "interrupted") and state == "done" and stage.dirname not in seen_busy:
            summary.redone[stage.dirname] = f"was {before}: {why}"
        if state != "done":
            error = (read_stage_record(folder) or {}).get("error", state)
            summary.failed[run.id] = f"{stage.kind} stage: {error} (record: {folder / stage.notebook})"
            return "failed"
    return "done"


class UsageError(ValueError):
    """A command that cannot start (unknown run id, unwritable outputs): one line, exit status 2."""


def select_runs(every: list[Run], only: list[str] | None) -> list[Run]:
    runs = every
    if only:
        unknown = sorted(set(only) - {r.id for r in runs})
        if unknown:
            raise UsageError(f"--only: unknown run id(s) {unknown}; this study's runs: "
                             f"{', '.join(r.id for r in runs)}")
        runs = [r for r in runs if r.id in only]
    return runs


def check_writable(root: Path) -> None:
    """Refuse, before any stage runs, a study folder that cannot be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to the outputs folder {root} ({e.strerror or type(e).__name__}); "
                         f"choose another with --outputs DIR or make it writable") from None


def run_study(params: dict, outputs: str | Path = "outputs", data_dir: str | None = None,
              only: list[str] | None = None, full: bool = False) -> Summary:
    """Execute every run of a study (or `only` those run ids), reusing verifiably done stages.

    Stages another runner holds are left to it: their runs are retried after the others, until
    they are done or failed, so any number of runners can share one study. `full`: verify hashes.
    """
    root = study_dir(params, outputs)
    every = expand(params)
    runs = select_runs(every, only)
    check_writable(root)
    write_plan(params, every, root)
    summary = Summary()
    start = time.time()
    seen_busy: set[str] = set()
    bar = tqdm(total=len(runs), desc=f"{params['study']} runs", unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        pending = list(runs)
        while pending:
            waiting = []
            for run in pending:
                bar.set_description(f"{params['study']} {run.id}")
                reopen_needed_checkpoints(root, run)
                outcome = _advance(run, root, data_dir, bar, full, seen_busy, summary)
                if outcome == "busy":
                    waiting.append(run)
                    continue
                if outcome == "done":
                    summary.done.append(run.id)
                collect_results(root, every, full)
                write_conditions(params, every, root)
                apply_keep_checkpoints(params, root)
                bar.update(1)
            if waiting and len(waiting) == len(pending):
                time.sleep(WAIT_POLL)  # everything left is held by other runners: wait for them
            pending = waiting
    finally:
        bar.close()
        summary.seconds = time.time() - start
        if root.exists():
            _, summary.missing = collect_results(root, every, full)
            _write_json(root / "last_run.json", {"done": summary.done, "failed": summary.failed,
                                                 "missing": summary.missing, "seconds": round(summary.seconds, 1)})
    return summary


def dry_run_plan(params: dict, outputs: str | Path = "outputs", only: list[str] | None = None,
                 full: bool = False) -> str:
    """What `run` would do, without doing it: each run's stages, marked cached (verifiably done, reused),
    run (with why: pending, invalid, failed, interrupted) or held (another live runner has it).
    Reads stage folders only; no kernel starts and nothing is written."""
    root = study_dir(params, outputs)
    runs = select_runs(expand(params), only)
    verdicts: dict[str, str] = {}
    lines = []
    for run in runs:
        marks = []
        for stage in run.stages:
            if stage.dirname not in verdicts:
                state, why = stage_state(stage_folder(root, stage), full)
                verdicts[stage.dirname] = {"done": "cached", "running": "held"}.get(state, "run") + \
                    ("" if state in ("done", "running", "pending") else f" ({state})")
            marks.append(f"{stage.kind} {verdicts[stage.dirname]}")
        lines.append(f"{run.id}: " + ", ".join(marks))
    to_run = sorted(d for d, v in verdicts.items() if v.startswith("run"))
    cached = sum(v == "cached" for v in verdicts.values())
    lines.append(f"dry run: {len(runs)} run(s), {len(verdicts)} stage(s): {len(to_run)} would execute, "
                 f"{cached} cached, {len(verdicts) - len(to_run) - cached} held by another runner; "
                 f"outputs in {root}")
    return "\n".join(lines)


def reopen_needed_checkpoints(root: Path, run: Run) -> list[Path]:
    """Stages whose checkpoint keep_checkpoints deleted, but which an unfinished stage of `run` needs."""
    return reopen_pruned([stage_folder(root, s) for s in run.stages], stage_status)


def apply_keep_checkpoints(params: dict, root: Path) -> list[Path]:
    """Delete the checkpoints the study's keep_checkpoints policy lets go (all their readers are done)."""
    children: dict[str, list[Stage]] = {}
    stages: dict[str, Stage] = {}
    for run in expand(params):
        for s in run.stages:
            stages[s.hash] = s
    for s in stages.values():
        if s.parent is not None:
            children.setdefault(s.parent.hash, []).append(s)
    nodes = [StageNode(stage_folder(root, s), s.kind, [(stage_folder(root, c), c.kind) for c in children.get(h, [])])
             for h, s in stages.items()]
    return prune_checkpoints(nodes, params.get("keep_checkpoints", "intermediate"), stage_status)


def study_disk_line(params: dict, outputs: str | Path = "outputs") -> str:
    return disk_line(study_dir(params, outputs) / "stages", params.get("keep_checkpoints", "intermediate"))


def status_table(params: dict, outputs: str | Path = "outputs", full: bool = False) -> pd.DataFrame:
    """One row per run: its overall state, each stage's state, and why it is not done."""
    root = study_dir(params, outputs)
    rows = []
    order = ("failed", "invalid", "running", "interrupted", "pending")
    jobs = job_labels(root)  # {} unless stages were submitted with --executor slurm|local
    for run in expand(params):
        states = [stage_state(stage_folder(root, s), full) for s in run.stages]
        names = [st for st, _ in states]
        overall = "done" if all(n == "done" for n in names) else next(o for o in order if o in names)
        row = {"run": run.id, "status": overall}
        row.update({s.kind: st for s, (st, _) in zip(run.stages, states)})
        if jobs:
            row["job"] = run_job_label(jobs, [s.dirname for s in run.stages], names)
        row["reason"] = next((f"{s.kind}: {why}" for s, (st, why) in zip(run.stages, states)
                              if st != "done" and why), "")
        rows.append(row)
    table = pd.DataFrame(rows).fillna("-")
    kinds = [k for k in ("intermediate", "target", "evaluate") if k in table.columns]
    return table[["run", "status", *kinds, *(["job"] if jobs else []), "reason"]] if rows else table


# ---------------------------------------------------------------------------------------------
# the report


def code_digest(package: Path = Path(__file__).resolve().parent) -> str:
    """A digest of the package's Python sources: the analysis a report shows is code as much as data."""
    return stable_hash({str(f.relative_to(package)): f.read_bytes().hex() for f in sorted(package.rglob("*.py"))}, 16)


def report_key(root: Path, package: Path = Path(__file__).resolve().parent) -> str:
    """What a rendered report depends on: the results, the conditions, the notebook and the code that
    analyses them (an upgraded intertask re-renders an old study's report)."""
    results = root / "results.csv"
    nb = notebooks_dir() / "04_report.ipynb"
    conditions = root / "conditions.csv"
    return stable_hash({"results": results.read_bytes().hex() if results.exists() else None,
                        "conditions": conditions.read_bytes().hex() if conditions.exists() else None,
                        "notebook": nb.read_bytes().hex(), "code": code_digest(package)}, 16)


def make_report(params: dict, outputs: str | Path = "outputs", force: bool = False) -> Path:
    """Execute 04_report on the study's results and render it to HTML (cached on the inputs)."""
    import papermill as pm

    root = study_dir(params, outputs)
    results = root / "results.csv"
    if not results.exists():
        raise FileNotFoundError(f"{results} does not exist yet: run `intertask run {params.get('_path', 'PARAMS')}` first")
    folder = root / "report"
    folder.mkdir(parents=True, exist_ok=True)
    key = report_key(root)
    marker = folder / STATUS
    html = folder / "report.html"
    if not force and html.exists() and marker.exists() and json.loads(marker.read_text()).get("key") == key:
        return html
    nb_out = folder / "04_report.ipynb"
    pm.execute_notebook(str(notebooks_dir() / "04_report.ipynb"), str(nb_out),
                        parameters={"results_path": "../results.csv", "conditions_path": "../conditions.csv",
                                    "study": params["study"],
                                    "description": params.get("description", ""), "figures_dir": "figures"},
                        cwd=str(folder), progress_bar=False, kernel_manager_class=TiedKernelManager)
    render_html(nb_out, html, title=f"{params['study']}: intertask study report")
    _write_json(marker, {"status": "done", "key": key})
    return html


def render_html(notebook: Path, html: Path, title: str | None = None) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    if title:  # the page's <title> (nbconvert's default is "Notebook")
        nb.metadata["title"] = title
    for cell in nb.cells:  # recorded values are for nbval, not for readers
        cell["outputs"] = [o for o in cell.get("outputs", []) if VALUES_MIME not in o.get("data", {})]
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# predictions in the benchmark's own layout


def finished_evaluations(params: dict, outputs: str | Path, only: list[str] | None = None) -> list[Evaluation]:
    """Every done evaluation stage that wrote predictions, labelled with its model folder name."""
    root = study_dir(params, outputs)
    found = []
    for run in expand(params):
        if only and run.id not in only:
            continue
        stage = run.stages[-1]
        src = stage_folder(root, stage) / "predictions" / run.target
        if stage_status(stage_folder(root, stage)) == "done" and src.exists():
            found.append(Evaluation(f"{run.condition}__s{run.seed}", run.target, src,
                                    stage.parameters.get("examples_per_language")))
    return found


def export_predictions(params: dict, outputs: str | Path, dest: str | Path, only: list[str] | None = None,
                       benchmark: str | None = None) -> ExportReport:
    """Each model's predictions in the benchmark's submission layout (`export.export` does the work)."""
    return export(finished_evaluations(params, outputs, only), dest, benchmark)
