"""The analysis frame: gains joined with their condition's design metadata, and the units of replication.

Units. A condition (arm, k, draw) is one draw of intermediate tasks: draws are the independent
clusters. Seeds are nested in a draw; languages share the trained model, so they are averaged
inside a (condition, seed) unit and never counted as replicates. The source language (each target
task's ``train_language``, en) is not zero-shot: it is kept in the frame (``source_language``) and
shown as its own row, but left out of zero-shot means and of the seen-language terms.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..languages import get_language
from ..registry import REGISTRY
from ..tasks import UnknownLanguageError

ARM_ORDER = ("diverse", "english", "custom", "baseline")


def arm_rank(arm: str) -> tuple[int, str]:
    return (ARM_ORDER.index(arm) if arm in ARM_ORDER else len(ARM_ORDER), arm)


def language_family(code: str) -> str:
    try:
        return get_language(code).family
    except UnknownLanguageError:
        return "unknown"


def seen(task_languages: str, target: str) -> tuple[bool, bool]:
    """(seen_language, seen_family), as `design.seen_flags`, tolerating unknown codes."""
    langs = [lg for lg in str(task_languages).split("+") if lg]
    families = {language_family(lg) for lg in langs} - {"unknown"}
    return target in langs, language_family(target) in families


def train_language(target_task: str) -> str:
    """The language a target task is fine-tuned in (its zero-shot source); en for unknown tasks."""
    task = REGISTRY.get(target_task)
    return getattr(task, "train_language", "en") if task is not None else "en"


def keys_of(frame: pd.DataFrame) -> list[str]:
    return ["target_task", "metric"] if "metric" in frame.columns else ["target_task"]


def scaling_frame(gains: pd.DataFrame, conditions: pd.DataFrame | Iterable[dict]) -> pd.DataFrame:
    """Gains joined with their condition's metadata, plus the target language's relation to it.

    Adds arm, k, draw, n_families, n_languages (and tasks, task_languages, task_families),
    seen_language / seen_family (the target language, or its family, is among the intermediate
    tasks' languages), target_family and source_language (the target's training language: not
    zero-shot). Gains of conditions missing from `conditions` are dropped.
    """
    cond = pd.DataFrame(conditions).copy()
    missing = [c for c in ("condition", "arm", "k", "draw", "task_languages", "n_families", "n_languages")
               if c not in cond.columns]
    if missing:
        raise ValueError(f"scaling_frame: condition metadata lacks columns {missing} "
                         f"(conditions.csv is written by `intertask run`)")
    cond["task_languages"] = cond["task_languages"].fillna("").astype(str)
    cond = cond.drop_duplicates("condition")
    keep = [c for c in cond.columns if c not in gains.columns or c == "condition"]
    frame = gains.merge(cond[keep], on="condition", how="inner")
    if frame.empty and not gains.empty:
        raise ValueError("scaling_frame: no gain row matches a condition of the design "
                         f"(gains have {sorted(gains['condition'].unique())[:5]}...)")
    for col in ("k", "draw", "n_families", "n_languages"):
        frame[col] = frame[col].astype(int)
    pairs = {(tl, lg): seen(tl, lg) for tl, lg in frame[["task_languages", "language"]].drop_duplicates()
             .itertuples(index=False)}
    flags = [pairs[(tl, lg)] for tl, lg in zip(frame["task_languages"], frame["language"])]
    frame["seen_language"] = np.array([f[0] for f in flags], dtype=bool)
    frame["seen_family"] = np.array([f[1] for f in flags], dtype=bool)
    frame["target_family"] = frame["language"].map({lg: language_family(lg) for lg in frame["language"].unique()})
    source = {t: train_language(t) for t in frame["target_task"].unique()}
    frame["source_language"] = frame["language"] == frame["target_task"].map(source)
    return frame.reset_index(drop=True)


def zero_shot(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of languages other than the target's training language."""
    if "source_language" not in frame.columns:
        return frame
    return frame[~frame["source_language"].astype(bool)]


def unit_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (target task, condition, seed): the zero-shot gain in points, averaged over languages.

    The source language is left out (it is not zero-shot). Hand-listed ('custom') conditions that
    share arm, k and draw stay separate units.
    """
    keys = [*keys_of(frame), "arm", "k", "draw", "condition", "seed"]
    agg = zero_shot(frame).groupby(keys).agg(gain=("gain", "mean"), n_languages=("language", "nunique")).reset_index()
    agg["gain"] = 100 * agg["gain"]
    return agg


def condition_table(units: pd.DataFrame) -> pd.DataFrame:
    """One row per (target task, condition): the unit gains averaged over seeds (the cluster means)."""
    keys = [c for c in ("target_task", "metric") if c in units.columns]
    return (units.groupby([*keys, "arm", "k", "draw", "condition"])
            .agg(gain=("gain", "mean"), n_seeds=("seed", "nunique")).reset_index())


def baseline_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """The baseline's zero-shot score (points) per target task and seed, averaged over languages.

    Every gain of one seed subtracts the same baseline run, so the baseline's seed noise is common
    to all conditions: it cancels in slopes and arm differences but not in a gain's level.
    """
    keys = keys_of(frame)
    if "baseline" not in frame.columns:
        return pd.DataFrame(columns=[*keys, "seed", "baseline"])
    one = zero_shot(frame).drop_duplicates([*keys, "language", "seed"])
    out = one.groupby([*keys, "seed"])["baseline"].mean().reset_index()
    out["baseline"] = 100 * out["baseline"]
    return out


def source_language_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The source-language (not zero-shot) gain in points per target task, arm and k, as its own row."""
    src = frame[frame["source_language"].astype(bool)] if "source_language" in frame.columns else frame.iloc[:0]
    if src.empty:
        return pd.DataFrame()
    out = src.groupby([*keys_of(frame), "language", "arm", "k"])["gain"].agg(["mean", "count"]).reset_index()
    return out.rename(columns={"mean": "gain", "count": "n_runs"}).assign(gain=lambda d: 100 * d["gain"])
