"""The equal-compute control (`control-k0`): what intermediate tasks add beyond extra training.

Every condition's gain is over the no-intermediate baseline, which trained less. The control trains
as much as every drawn condition (the same token budget) on the target's own English data, so an
arm's gain over the control is what its intermediate tasks add beyond more training. Points.

Units. The arm's task draws are the clusters (seeds averaged inside them, as in `curves`); the
control is one fixed condition, so its uncertainty is its seed noise: the variance of its mean over
seeds is added to the draws' (Welch df). With one seed that noise is not observed and a draw mean's
variance bounds it (the baseline's rule in `curves`). Not identified with fewer than 3 draws. Both
the comparison and the control's own gain over the baseline carry a t test and enter the report's
Holm-corrected statements (`claims.statements`). No torch here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import condition_table, keys_of
from .stats import MIN_CLUSTERS, Estimate, mean_estimate

CONTROL_ARM = "control"
COLUMNS = ["arm", "k", "gain", "control_gain", "control_se", "control_df", "control_p", "over_control", "se", "df",
           "ci_low", "ci_high", "p", "identified", "n_draws", "n_control"]


def _control_term(control: np.ndarray, draws: np.ndarray) -> tuple[float, float]:
    """Variance of the control's mean over its seeds, and its df (one seed: bounded by the draws')."""
    if control.size >= 2:
        return float(control.var(ddof=1) / control.size), float(control.size - 1)
    return (float(draws.var(ddof=1)), float(draws.size - 1)) if draws.size >= 2 else (np.nan, np.nan)


def _finite(x) -> float:
    return float(x) if np.isfinite(x) else np.nan


def control_contrast(units: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per target task, arm and k: the arm's mean gain, the control's, and their difference with its
    t interval and p (``identified`` with at least 3 draws), plus the control's own gain over the
    baseline with its SE, df and p (seeds are its units; NaN with one seed).

    Empty without control units (a design with ``control: false``, or hand-written conditions).
    """
    keys = keys_of(units)
    conds = condition_table(units)
    rows = []
    for key, g in conds.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        sel = units[(units[keys] == pd.Series(key, index=keys)).all(axis=1)]
        control = sel.loc[sel["arm"] == CONTROL_ARM, "gain"].to_numpy(float)   # one value per seed
        if not control.size:
            continue
        own = mean_estimate(control) if control.size >= 2 else Estimate(control.mean(), np.nan, np.nan)
        for (arm, k), h in g[(g["k"] > 0) & (g["arm"] != CONTROL_ARM)].groupby(["arm", "k"]):
            draws = h["gain"].to_numpy(float)
            extra, extra_df = _control_term(control, draws)
            est = mean_estimate(draws - control.mean(), extra, extra_df)
            ok = draws.size >= MIN_CLUSTERS and np.isfinite(est.se) and est.se > 0
            low, high = est.interval(level)
            rows.append({**dict(zip(keys, key)), "arm": arm, "k": int(k), "gain": float(draws.mean()),
                         "control_gain": float(control.mean()), "control_se": _finite(own.se),
                         "control_df": _finite(own.df), "control_p": _finite(own.p_value()),
                         "over_control": float(est.estimate), "se": float(est.se) if ok else np.nan,
                         "df": float(est.df) if ok else np.nan, "ci_low": float(low) if ok else np.nan,
                         "ci_high": float(high) if ok else np.nan, "p": float(est.p_value()) if ok else np.nan,
                         "identified": bool(ok), "n_draws": int(draws.size), "n_control": int(control.size)})
    return pd.DataFrame(rows, columns=[*keys, *COLUMNS])


def _num(x: float) -> str:
    return f"{x:+.1f}"


def control_sentences(contrast: pd.DataFrame, level: float = 0.95) -> str:
    """One line per target task: the control's gain, and each arm's gain over it at the largest k
    (uncorrected intervals; the Holm-corrected verdicts are among the report's statements)."""
    lines = []
    for target, g in contrast.groupby("target_task"):
        k = int(g["k"].max())
        parts = []
        for arm, r in g[g["k"] == k].set_index("arm").sort_index().iterrows():
            ci = (f", {level:.0%} CI [{_num(r.ci_low)}, {_num(r.ci_high)}]" if np.isfinite(r.ci_low)
                  else f" (interval not available: {int(r.n_draws)} task draw(s), needs {MIN_CLUSTERS})")
            parts.append(f"{arm} {_num(r.over_control)} points{ci}")
        first = g.iloc[0]
        own = (f", SE {first.control_se:.1f} over {int(first.n_control)} seeds" if np.isfinite(first.control_se)
               else " (one seed: no interval)")
        lines.append(f"- **{target}**, equal-compute control (control-k0: the same token budget spent on the "
                     f"target's own English data): {_num(first.control_gain)} points over the baseline{own}, "
                     f"i.e. what extra training alone gives. Gain over the control at k = {k} (what the "
                     f"intermediate tasks add beyond it): {'; '.join(parts)}. Intervals here are uncorrected; "
                     f"the Holm-corrected verdicts are in the statements above.")
    return "\n".join(lines)
