"""Executing a study: every stage is a papermill-executed notebook in its own folder.

A stage folder holds the executed notebook (the auditable record), `params.json`, `status.json` and
what the stage wrote (checkpoint, history, results). A stage whose status is `done` is never redone;
a failed stage keeps its executed notebook with the traceback, its run is marked failed, and the
other runs go on. No torch here: the orchestrator runs where no GPU is.
"""

from __future__ import annotations

import datetime as dt
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

from . import __version__
from .contracts import CONTRACTS
from .design import task_language_family
from .export import Evaluation, ExportReport, export
from .footprint import StageNode, disk_line, prune_checkpoints, reopen_pruned
from .progress import ENV_STATUS, read_status
from .resources import kernel_threads
from .study import Run, Stage, condition_rows, expand, stable_hash, study_dir

STATUS = "status.json"
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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)  # atomic: a killed process never leaves half a status file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stage_status(folder: Path) -> str:
    """done | failed | running | interrupted | pending."""
    try:
        st = json.loads((folder / STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return "pending"
    state = st.get("status", "pending")
    if state == "running" and (st.get("host") != socket.gethostname() or not _alive(int(st.get("pid", 0)))):
        return "interrupted"  # killed: the process that claimed it is gone
    return state


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
    """Shows the kernel's latest progress line next to the runner's bar."""

    def __init__(self, bar: Any, path: Path, prefix: str):
        self.bar, self.path, self.prefix = bar, path, prefix
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        # in a log file (no terminal) a refresh every second would only add noise
        interactive = sys.stderr.isatty()
        while not self._stop.wait(1.0 if interactive else 60.0):
            line = read_status(self.path)
            if self.bar is not None:
                self.bar.set_postfix_str(f"{self.prefix} {line}"[:100])

    def __enter__(self) -> "_StatusTicker":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def execute_stage(stage: Stage, root: Path, data_dir: str | None, bar: Any = None, prefix: str = "") -> str:
    """Run one stage's notebook with papermill unless it is done; returns its final status."""
    import papermill as pm

    folder = stage_folder(root, stage)
    state = stage_status(folder)
    if state == "done":
        return "done"
    if state == "running":
        return "busy"  # another live process (e.g. a parallel job) owns it
    folder.mkdir(parents=True, exist_ok=True)
    params = injected_parameters(stage, data_dir)
    _write_json(folder / "params.json", {"stage": stage.kind, "hash": stage.hash, "parameters": params,
                                         "code": code_version()})
    started = time.time()
    _write_json(folder / STATUS, {"status": "running", "pid": os.getpid(), "host": socket.gethostname(),
                                  "started": dt.datetime.now().isoformat(timespec="seconds")})
    status_file = folder / ".progress"
    os.environ[ENV_STATUS] = str(status_file.resolve())
    try:
        with _StatusTicker(bar, status_file, prefix), kernel_threads():
            pm.execute_notebook(str(notebooks_dir() / stage.notebook), str(folder / stage.notebook),
                                parameters=params, cwd=str(folder), progress_bar=False, log_output=False,
                                request_save_on_cell_execute=True)
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
    _write_json(folder / STATUS, {"status": "done", "seconds": round(time.time() - started, 1),
                                  "finished": dt.datetime.now().isoformat(timespec="seconds")})
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
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"{len(self.done)} run(s) done, {len(self.failed)} failed, {len(self.skipped)} skipped "
                 f"in {self.seconds:.0f} s"]
        for run, why in self.failed.items():
            lines.append(f"  FAILED {run}: {why}")
        return "\n".join(lines)


def write_plan(params: dict, runs: list[Run], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in params.items() if not k.startswith("_")}
    _write_json(root / "study.json", clean)
    conditions = pd.DataFrame(condition_rows(params))
    conditions.to_csv(root / "conditions.csv", index=False)
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


def collect_results(root: Path, runs: list[Run]) -> pd.DataFrame | None:
    """Concatenate finished evaluation stages into `<study>/results.csv` (atomically)."""
    frames = []
    for run in runs:
        ev = stage_folder(root, run.stages[-1])
        if stage_status(ev) == "done" and (ev / "results.csv").exists():
            df = pd.read_csv(ev / "results.csv")
            # two conditions that drew the same tasks share one evaluation stage: label rows per run
            df["run"] = run.id
            df["intermediate_tasks"] = "+".join(run.intermediate_tasks) or "none"
            df["condition"] = run.condition
            frames.append(df)
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True)
    tmp = root / "results.csv.tmp"
    df.to_csv(tmp, index=False)
    os.replace(tmp, root / "results.csv")
    return df


def run_study(params: dict, outputs: str | Path = "outputs", data_dir: str | None = None,
              only: list[str] | None = None) -> Summary:
    """Execute every run of a study (or `only` those run ids), reusing finished stages."""
    from tqdm.std import tqdm

    root = study_dir(params, outputs)
    every = expand(params)  # once per command: the plan, the runs and the results table share it
    runs = every
    if only:
        unknown = sorted(set(only) - {r.id for r in runs})
        if unknown:
            raise ValueError(f"unknown run id(s) {unknown}; this study's runs: {', '.join(r.id for r in runs)}")
        runs = [r for r in runs if r.id in only]
    write_plan(params, every, root)
    summary = Summary()
    start = time.time()
    bar = tqdm(total=len(runs), desc=f"{params['study']} runs", unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        for run in runs:
            bar.set_description(f"{params['study']} {run.id}")
            outcome = "done"
            reopen_needed_checkpoints(root, run)
            for stage in run.stages:
                state = execute_stage(stage, root, data_dir, bar, prefix=stage.kind)
                if state != "done":
                    outcome = state
                    folder = stage_folder(root, stage)
                    why = "another process is running it" if state == "busy" else json.loads(
                        (folder / STATUS).read_text()).get("error", state)
                    summary.failed[run.id] = f"{stage.kind} stage: {why} (record: {folder / stage.notebook})"
                    break
            if outcome == "done":
                summary.done.append(run.id)
            collect_results(root, every)
            apply_keep_checkpoints(params, root)
            bar.update(1)
    finally:
        bar.close()
        summary.seconds = time.time() - start
        _write_json(root / "last_run.json", {"done": summary.done, "failed": summary.failed,
                                             "seconds": round(summary.seconds, 1)})
    return summary


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


def status_table(params: dict, outputs: str | Path = "outputs") -> pd.DataFrame:
    root = study_dir(params, outputs)
    rows = []
    for run in expand(params):
        states = [stage_status(stage_folder(root, s)) for s in run.stages]
        overall = ("done" if all(s == "done" for s in states) else
                   "failed" if "failed" in states else
                   "running" if "running" in states else
                   "interrupted" if "interrupted" in states else "pending")
        row = {"run": run.id, "status": overall}
        row.update({s.kind: st for s, st in zip(run.stages, states)})
        rows.append(row)
    return pd.DataFrame(rows).fillna("-")


# ---------------------------------------------------------------------------------------------
# the report


def report_key(root: Path) -> str:
    results = root / "results.csv"
    nb = notebooks_dir() / "04_report.ipynb"
    conditions = root / "conditions.csv"
    return stable_hash({"results": results.read_bytes().hex() if results.exists() else None,
                        "conditions": conditions.read_bytes().hex() if conditions.exists() else None,
                        "notebook": nb.read_bytes().hex()}, 16)


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
                        cwd=str(folder), progress_bar=False)
    render_html(nb_out, html)
    _write_json(marker, {"status": "done", "key": key})
    return html


def render_html(notebook: Path, html: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
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
