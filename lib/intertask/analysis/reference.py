"""The published reference (Phang et al. 2020), compared like for like: same task, same metric.

F1 is set against F1 and exact match against exact match, never (F1 + EM) / 2 against F1; each
row names both sides' split (theirs: the XTREME test sets; ours: the held-out split our results
were scored on). What the reference rows are, and what could not be verified, is in
reference/README.md.
"""

from __future__ import annotations

import io
from importlib.resources import files

import pandas as pd

# Phang et al. 2020 task names (and the variants other papers print) -> this project's task names.
PHANG_TASK_NAMES: dict[str, str] = {
    "XNLI": "xnli", "PAWS-X": "pawsx", "POS": "udpos", "UD-POS": "udpos", "NER": "panx",
    "WikiAnn-NER": "panx", "PAN-X": "panx", "XQuAD": "xquad", "MLQA": "mlqa", "TyDiQA": "tydiqa",
    "TyDiQA-GoldP": "tydiqa", "BUCC": "bucc", "Tatoeba": "tatoeba",
}
# the reference's metric labels -> the metric names of our results table
METRIC_NAMES: dict[str, str] = {"accuracy": "accuracy", "F1": "f1", "EM": "exact_match"}


def phang2020_reference() -> pd.DataFrame:
    """The reference rows (points) in reference/phang2020.csv, with ``target_task`` and ``our_metric``."""
    text = files("intertask").joinpath("reference").joinpath("phang2020.csv").read_text(encoding="utf-8")
    ref = pd.read_csv(io.StringIO(text))
    ref["target_task"] = ref["task"].map(PHANG_TASK_NAMES)
    ref["our_metric"] = ref["metric"].map(METRIC_NAMES)
    return ref


def compare_with_phang(results: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our score per (condition, target task, metric) next to Phang et al.'s number for the same metric.

    `results` is the tidy results table (values as fractions): each metric is averaged over
    languages per seed, then over seeds (``n_seeds``), in points. Rows are matched on task AND
    metric, so QA F1 meets their F1 and EM their EM; a metric they did not publish (or that could
    not be verified) gets NaN there. Their setup differs (XLM-R Large, full training sets): read
    it for orientation only.
    """
    ref = phang2020_reference() if reference is None else reference
    per_seed = (results.groupby(["condition", "target_task", "metric", "split", "seed"])["value"].mean() * 100)
    ours = (per_seed.groupby(["condition", "target_task", "metric", "split"]).agg(["mean", "count"]).reset_index()
            .rename(columns={"mean": "score", "count": "n_seeds", "split": "our_split"}))
    wide = []
    for (task, metric), g in ref.groupby(["target_task", "our_metric"]):
        row = {"target_task": task, "metric": metric, "phang_task": g["task"].iloc[0],
               "phang_metric": g["metric"].iloc[0],
               "phang_split": g["split"].iloc[0] if "split" in g.columns else "test"}
        for setting in ("baseline", "best_intermediate"):
            s = g[g["setting"] == setting]
            row[f"phang_{setting}"] = float(s["value"].iloc[0]) if len(s) else float("nan")
            row[f"phang_{setting}_source"] = s["source"].iloc[0] if len(s) else ""
        wide.append(row)
    theirs = pd.DataFrame(wide)
    if theirs.empty:
        return ours
    out = ours.merge(theirs, on=["target_task", "metric"], how="left")
    out["minus_phang_baseline"] = out["score"] - out["phang_baseline"]
    out["minus_phang_best"] = out["score"] - out["phang_best_intermediate"]
    return out
