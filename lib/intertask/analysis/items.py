"""Item-level intervals: a paired bootstrap over the test items of each (condition, language) gain.

Only verifiably done evaluation stages are read (`run.stage_state`), as for `results.csv`.
Every condition scores the same items as the baseline (same seed), so the gain is a mean of
per-item differences; resampling items keeps each item's pair together, which removes the items'
shared difficulty from the noise. The mean gain over languages resamples items within each
language (stratified). These intervals describe the item sample only: they say nothing of the
draw-to-draw or seed-to-seed spread (that is `curves`).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..run import stage_state
from .curves import group_seed
from .frame import train_language

BASELINE = "none"
ITEM_KEYS = ["target_task", "metric"]


@dataclass(frozen=True)
class SkippedEvaluation:
    """An evaluation whose items were not read, and why (its stage is not verifiably done)."""

    run: str
    stage: str
    state: str
    reason: str

    def describe(self) -> str:
        return f"{self.run}: {self.stage} is {self.state}" + (f" ({self.reason})" if self.reason else "")


def load_items(study_root: str | Path, full: bool = False) -> pd.DataFrame:
    """Per-item scores of every verifiably done evaluation of a study (``items.csv`` of its stages).

    Columns: condition, seed, target_task, language, item, metric, score (fractions), baseline
    (the run has no intermediate task). Only stages that `run.stage_state` finds done are read (every
    output matches its manifest and every input stage is still done; `full` also rehashes large
    files), as `results.csv` is built: items of a damaged, interrupted or redone stage never mix with
    results. ``attrs["skipped"]`` lists the other evaluations (`SkippedEvaluation`), and a warning
    names them. Empty when no evaluation wrote items (older records, or formats whose metric is not
    a mean over items).
    """
    root = Path(study_root)
    frames, skipped = [], []
    for path in sorted((root / "runs").glob("*.json")):
        run = json.loads(path.read_text())
        stage = root / run["stages"][-1]
        state, why = stage_state(stage, full)
        if state != "done":
            skipped.append(SkippedEvaluation(run.get("run", path.stem), run["stages"][-1], state, why))
            continue
        items = stage / "items.csv"
        if not items.exists():
            continue
        df = pd.read_csv(items, dtype={"item": str}, keep_default_na=False)
        frames.append(df.assign(condition=run["condition"], seed=int(run["seed"]), target_task=run["target"],
                                baseline=not run["intermediate_tasks"]))
    cols = ["condition", "seed", "target_task", "language", "item", "metric", "score", "baseline"]
    out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    out.attrs["skipped"] = skipped
    if skipped:
        warnings.warn(skipped_note(out), ItemsSkippedWarning, stacklevel=2)
    return out


class ItemsSkippedWarning(UserWarning):
    pass


def skipped_note(items: pd.DataFrame) -> str:
    """One sentence for the report naming the evaluations `load_items` left out ('' when none)."""
    skipped = items.attrs.get("skipped", [])
    if not skipped:
        return ""
    return (f"Item-level scores of {len(skipped)} evaluation(s) were left out because their stage is not "
            f"verifiably done: " + "; ".join(s.describe() for s in skipped)
            + ". Run `intertask run` again to redo them (`intertask status` shows why).")


def paired_differences(items: pd.DataFrame) -> pd.DataFrame:
    """Condition minus baseline per item (points), averaged over the seeds both ran."""
    key = [*ITEM_KEYS, "language", "seed", "item"]
    is_base = items["baseline"].astype(bool) if "baseline" in items.columns else items["condition"] == BASELINE
    base = items[is_base][[*key, "score"]].rename(columns={"score": "base"}).drop_duplicates(key)
    other = items[~is_base].merge(base, on=key, how="inner")
    other["diff"] = 100 * (other["score"] - other["base"])
    return other.groupby([*ITEM_KEYS, "condition", "language", "item"])["diff"].mean().reset_index()


def _normal_p(est: float, se: float) -> float:
    return float(2 * _st.norm.sf(abs(est) / se)) if se > 0 else np.nan


def item_gains(items: pd.DataFrame, level: float = 0.95, n_boot: int = 1000,
               seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per_language, mean): gains in points with paired item-bootstrap intervals.

    per_language: one row per target task x metric x condition x language (``source_language``
    marks the training language). mean: one row per target task x metric x condition, the mean over
    the zero-shot languages, items resampled within each language. Both have gain, ci_low,
    ci_high (percentile), se (bootstrap SD), p (normal, from se) and n_items.
    """
    diffs = paired_differences(items)
    alpha = (1 - level) / 2
    per_lang, means = [], []
    for key, g in diffs.groupby([*ITEM_KEYS, "condition"]):
        rng = np.random.default_rng(group_seed(seed, key))
        source = train_language(key[0])
        reps_zero = []
        for lang, lg in g.groupby("language"):
            d = lg["diff"].to_numpy(float)
            reps = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
            se = float(reps.std(ddof=1))
            low, high = np.quantile(reps, [alpha, 1 - alpha])
            per_lang.append({**dict(zip([*ITEM_KEYS, "condition"], key)), "language": lang,
                             "source_language": lang == source, "gain": float(d.mean()), "ci_low": float(low),
                             "ci_high": float(high), "se": se, "p": _normal_p(float(d.mean()), se),
                             "n_items": int(d.size)})
            if lang != source:
                reps_zero.append((float(d.mean()), reps, d.size))
        if reps_zero:
            est = float(np.mean([r[0] for r in reps_zero]))
            reps = np.mean([r[1] for r in reps_zero], axis=0)
            se = float(reps.std(ddof=1))
            low, high = np.quantile(reps, [alpha, 1 - alpha])
            means.append({**dict(zip([*ITEM_KEYS, "condition"], key)), "gain": est, "ci_low": float(low),
                          "ci_high": float(high), "se": se, "p": _normal_p(est, se),
                          "n_languages": len(reps_zero), "n_items": int(sum(r[2] for r in reps_zero))})
    lang_cols = [*ITEM_KEYS, "condition", "language", "source_language", "gain", "ci_low", "ci_high", "se", "p",
                 "n_items"]
    mean_cols = [*ITEM_KEYS, "condition", "gain", "ci_low", "ci_high", "se", "p", "n_languages", "n_items"]
    return pd.DataFrame(per_lang, columns=lang_cols), pd.DataFrame(means, columns=mean_cols)


def interval_table(per_language: pd.DataFrame) -> pd.DataFrame:
    """Rows: target task x condition; columns: languages; cells 'gain [low, high]' in points."""
    if per_language.empty:
        return pd.DataFrame()
    cell = per_language.assign(text=[f"{g:+.1f} [{lo:+.1f}, {hi:+.1f}]" for g, lo, hi in
                                     zip(per_language["gain"], per_language["ci_low"], per_language["ci_high"])])
    return cell.pivot_table(index=["target_task", "condition"], columns="language", values="text", aggfunc="first")
