"""What the terminal shows about a study: the status table, its per-condition summary, the leaderboard
printed at the end of `run`, and the task registry of `intertask tasks`.

Everything is read from the stage folders and results.csv; nothing here trains or evaluates, and no
torch is imported. Scores are in points (100 x the metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis.stats import mean_estimate
from .contracts import OFFLINE_MODEL
from .data import DataSource
from .jobs import job_labels, run_job_label
from .registry import ENGLISH_TASKS, POOL_TASKS, TARGET_TASKS, get_task
from .run import read_stage_record, stage_folder, stage_state
from .study import Run, expand, study_dir
from .tasks import Task, UnknownTaskError

KINDS = ("intermediate", "target", "evaluate")  # pipeline order
SCREEN_ROWS = 40  # above this many runs, `status` shows one row per condition (`--all`: every run)
BASELINE = "none"


# ---------------------------------------------------------------------------------------------
# scores read back from a stage folder


def dev_score(folder: Path) -> float | None:
    """The selected checkpoint's English dev score (points) from the stage's history.csv."""
    try:
        history = pd.read_csv(folder / "history.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    if history.empty or "dev_score" not in history:
        return None
    chosen = history[history["selected"].astype(bool)] if "selected" in history else history
    row = chosen.iloc[-1] if len(chosen) else history.iloc[-1]
    return float(row["dev_score"]) * 100 if pd.notna(row["dev_score"]) else None


def main_metric(results: pd.DataFrame, task: str) -> str:
    """The task's registry metric if the results hold it, else their first metric."""
    metrics = list(dict.fromkeys(results["metric"]))
    try:
        wanted = get_task(task).metric
    except UnknownTaskError:
        wanted = ""
    return wanted if wanted in metrics else metrics[0]


def zero_shot_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of the main metric in languages other than each task's training language."""
    keep = []
    for task, rows in results.groupby("target_task", sort=False):
        try:
            train = get_task(str(task)).train_language
        except UnknownTaskError:
            train = "en"
        metric = main_metric(rows, str(task))
        keep.append(rows[(rows["metric"] == metric) & (rows["language"] != train)])
    return pd.concat(keep) if keep else results.iloc[:0]


def zero_shot_score(folder: Path) -> float | None:
    """An evaluation stage's mean zero-shot score (points) over its non-training languages."""
    try:
        results = pd.read_csv(folder / "results.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    rows = zero_shot_rows(results)
    return float(rows["value"].mean()) * 100 if len(rows) else None


# ---------------------------------------------------------------------------------------------
# status


def _clock(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        (f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s")


def status_frame(params: dict, outputs: str | Path = "outputs", full: bool = False) -> pd.DataFrame:
    """One row per run: each stage's state, time (s) and score, in pipeline order, and the first reason.

    Stages shared by several runs are read once.
    """
    root = study_dir(params, outputs)
    seen: dict[Path, dict] = {}
    rows = []
    jobs = job_labels(root)  # {} unless stages were submitted with --executor slurm|local
    for run in expand(params):
        row: dict = {"run": run.id, "condition": run.condition, "target_task": run.target, "seed": run.seed}
        reason = ""
        for stage in run.stages:
            folder = stage_folder(root, stage)
            if folder not in seen:
                state, why = stage_state(folder, full)
                record = read_stage_record(folder) or {}
                score = None
                if state == "done":
                    score = zero_shot_score(folder) if stage.kind == "evaluate" else dev_score(folder)
                seen[folder] = {"state": state, "why": why, "seconds": record.get("seconds"), "score": score}
            info = seen[folder]
            row[stage.kind] = info["state"]
            row[f"{stage.kind}_stage"] = stage.dirname
            row[f"{stage.kind}_s"] = info["seconds"] if info["state"] in ("done", "failed") else None
            row[f"{stage.kind}_score"] = info["score"]
            if not reason and info["state"] != "done" and info["why"]:
                reason = f"{stage.kind}: {info['why']}"
        states = [row[s.kind] for s in run.stages]
        order = ("failed", "invalid", "running", "interrupted", "pending")
        row["status"] = "done" if all(s == "done" for s in states) else next(o for o in order if o in states)
        if jobs:
            row["job"] = run_job_label(jobs, [s.dirname for s in run.stages], states)
        row["reason"] = reason
        rows.append(row)
    frame = pd.DataFrame(rows)
    for kind in KINDS:  # a run without an intermediate stage (the baseline) shows "-" there
        for col, fill in ((kind, "-"), (f"{kind}_stage", "")):
            frame[col] = frame[col].fillna(fill) if col in frame else fill
        for col in (f"{kind}_s", f"{kind}_score"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    return frame


def _stage_cell(state: str, seconds: float | None) -> str:
    """'done 12s': the state with the stage's own time, where it has one."""
    time = _clock(seconds) if seconds else ""
    return f"{state} {time}" if time else state


def _points(x: float | None) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:.1f}"


def run_rows_text(frame: pd.DataFrame, width: int = 160) -> str:
    """Every run, one line each: states with times in pipeline order, dev and zero-shot scores."""
    view = pd.DataFrame({
        "run": frame["run"], "status": frame["status"],
        **{kind: [_stage_cell(s, t) for s, t in zip(frame[kind], frame[f"{kind}_s"])] for kind in KINDS},
        "dev": [_points(x) for x in frame["target_score"]],
        "zero-shot": [_points(x) for x in frame["evaluate_score"]],
        **({"job": frame["job"].fillna("-")} if "job" in frame else {}),
        "reason": [r[:60] for r in frame["reason"]],
    })
    return view.to_string(index=False, max_colwidth=width)


def condition_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: how many runs are in each state, total stage time, and the mean
    zero-shot score (points) per target over its finished runs."""
    targets = list(dict.fromkeys(frame["target_task"]))
    rows = []
    for condition, runs in frame.groupby("condition", sort=False):
        counts = runs["status"].value_counts()
        # a stage shared by several runs (one intermediate checkpoint, many targets) is counted once
        seconds = sum(float(np.nansum(runs.drop_duplicates(f"{kind}_stage")[f"{kind}_s"])) for kind in KINDS)
        row = {"condition": condition, "runs": len(runs), "done": int(counts.get("done", 0)),
               "failed": int(counts.get("failed", 0) + counts.get("invalid", 0)),
               "running": int(counts.get("running", 0) + counts.get("interrupted", 0)),
               "pending": int(counts.get("pending", 0)), "time": _clock(seconds) if seconds else ""}
        for target in targets:
            scores = runs.loc[runs["target_task"] == target, "evaluate_score"].dropna()
            row[target] = _points(scores.mean()) if len(scores) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def status_text(params: dict, outputs: str | Path = "outputs", full: bool = False, every_run: bool = False,
                screen_rows: int = SCREEN_ROWS) -> str:
    """What `intertask status` prints: every run (small studies, or `every_run`), else one row per
    condition plus the runs that need attention (failed, invalid, interrupted), at most a screenful."""
    frame = status_frame(params, outputs, full)
    counts = frame["status"].value_counts().to_dict()
    tail = ", ".join(f"{v} {k}" for k, v in counts.items()) + f" of {len(frame)} run(s)"
    if every_run or len(frame) <= screen_rows:
        return run_rows_text(frame) + "\n" + tail
    lines = [condition_summary(frame).to_string(index=False),
             "(zero-shot score per target, points, mean over finished runs; --all lists every run)"]
    trouble = frame[frame["status"].isin(["failed", "invalid", "interrupted"])]
    if len(trouble):
        shown = trouble.head(8)
        lines += ["needs attention:", *(f"  {r.run}: {r.status} ({r.reason[:90]})" for r in shown.itertuples())]
        if len(trouble) > len(shown):
            lines.append(f"  ... and {len(trouble) - len(shown)} more (--all)")
    return "\n".join(lines + [tail])


# ---------------------------------------------------------------------------------------------
# the leaderboard at the end of `run`


@dataclass
class Cell:
    mean: float
    low: float
    high: float
    n: int


def _estimate(values: np.ndarray) -> Cell:
    """Mean over seeds with a t interval (NaN bounds with a single seed)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return Cell(float(values.mean()) if values.size else np.nan, np.nan, np.nan, int(values.size))
    est = mean_estimate(values)
    low, high = est.interval()
    return Cell(float(est.estimate), float(low), float(high), int(values.size))


def _fmt(cell: Cell, signed: bool = False) -> str:
    if not np.isfinite(cell.mean):
        return ""
    mean = f"{cell.mean:+.1f}" if signed else f"{cell.mean:.1f}"
    return mean + (f" [{cell.low:.1f}, {cell.high:.1f}]" if np.isfinite(cell.low) else "")


def leaderboard(results: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Condition x target: mean zero-shot score (points) over seeds with its 95% t interval, and the
    gain over the baseline condition, paired by seed (a seed's baseline shares its data order)."""
    done = results[results["status"] == "done"] if "status" in results else results
    rows = zero_shot_rows(done)
    if rows.empty:
        return pd.DataFrame(columns=["condition", "target", "seeds", "score", "gain"])
    per_seed = (rows.groupby(["condition", "target_task", "seed"], sort=False)["value"].mean() * 100).rename("score")
    out = []
    for (condition, target), seeds in per_seed.groupby(level=["condition", "target_task"], sort=False):
        scores = seeds.droplevel(["condition", "target_task"])
        cell = _estimate(scores.to_numpy())
        gain = Cell(np.nan, np.nan, np.nan, 0)
        if condition != baseline and (baseline, target) in per_seed.droplevel("seed").index:
            base = per_seed.loc[(baseline, target)]
            paired = (scores - base).dropna()
            gain = _estimate(paired.to_numpy())
        out.append({"condition": condition, "target": target, "seeds": cell.n, "score": _fmt(cell),
                    "gain": "baseline" if condition == baseline else _fmt(gain, signed=True),
                    "_mean": cell.mean})
    table = pd.DataFrame(out)
    # the baseline first, then the best mean score per target first
    table["_base"] = table["condition"] != baseline
    table = table.sort_values(["target", "_base", "_mean"], ascending=[True, True, False])
    return table.drop(columns=["_base", "_mean"]).reset_index(drop=True)


def leaderboard_text(results: pd.DataFrame, baseline: str = BASELINE) -> str:
    table = leaderboard(results, baseline)
    if table.empty:
        return ""
    note = (f"zero-shot score (points, mean over non-English languages; 95% t interval over seeds) and gain over "
            f"'{baseline}' (paired by seed)")
    if "model" in results and (results["model"] == OFFLINE_MODEL).any():
        note += "; model: 4-bit dequantized multilingual-e5-small"
    return note + "\n" + table.to_string(index=False)


# ---------------------------------------------------------------------------------------------
# the task registry


def _offline(task: Task, source: DataSource, pool: bool) -> str:
    """Targets: how many languages have local test files ("7/15"); pool tasks: local training data (yes/no)."""
    if task.local is None:
        return "no"
    if pool:
        return "yes" if source.available(task, "train", task.train_language) else "no"
    have = sum(source.available(task, "test", lang) for lang in task.languages)
    return f"{have}/{len(task.languages)}" if have else "no"


def tasks_frame(pool: bool = False, data_dir: str | Path | None = None) -> pd.DataFrame:
    """The registry: target tasks (or, with `pool`, the intermediate tasks) with format, languages,
    metric, where the data comes from and how much of it is on this machine."""
    source = DataSource(Path(data_dir) if data_dir else None, "local")
    entries = [*ENGLISH_TASKS, *POOL_TASKS] if pool else list(TARGET_TASKS)
    rows = []
    for t in entries:
        rows.append({"task": t.name, "format": t.format, "metric": t.metric, "train_language": t.train_language,
                     "languages": len(t.languages), "offline": _offline(t, source, pool) if data_dir else "?",
                     "hub": t.hub.path if t.hub else "", "benchmarks": ",".join(t.benchmarks),
                     "language_codes": " ".join(t.languages)})
    return pd.DataFrame(rows)
