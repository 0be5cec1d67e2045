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
from .stats import MIN_CLUSTERS, welch_estimate

CONTROL_ARM = "control"
COLUMNS = ["arm", "k", "gain", "control_gain", "control_se", "control_df", "control_p", "over_control", "se", "df",
           "ci_low", "ci_high", "p", "identified", "n_draws", "n_control"]


def control_contrast(units: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per target task, arm and k: the arm's mean gain, the control's, and their difference with its
    t interval and p (``identified`` with at least 3 draws), plus the control's own gain over the
    baseline with its SE, df and p (seeds are its units; NaN with one seed).

    Empty without control units (a design with ``control: false``, or hand-written conditions).
    """
    keys = keys_of(units)
    # summaries by groupby, then arithmetic on columns: the calibration test runs hundreds of studies
    control = (units[units["arm"] == CONTROL_ARM].groupby(keys)["gain"]
               .agg(control_gain="mean", control_var="var", n_control="count"))
    conds = condition_table(units[(units["k"] > 0) & (units["arm"] != CONTROL_ARM)])
    cells = conds.groupby([*keys, "arm", "k"])["gain"].agg(gain="mean", draw_var="var", n_draws="count")
    t = cells.reset_index().merge(control.reset_index(), on=keys, how="inner")
    if t.empty:
        return pd.DataFrame(columns=[*keys, *COLUMNS])
    n_c, n_d = t["n_control"].to_numpy(float), t["n_draws"].to_numpy(float)
    own = welch_estimate(t["control_gain"], t["control_var"], n_c)
    # the control's seed noise: observed with 2+ seeds; with one, a draw mean's variance bounds it (as the
    # baseline's in `curves`)
    extra = np.where(n_c >= 2, t["control_var"] / n_c, t["draw_var"])
    extra_df = np.where(n_c >= 2, n_c - 1, n_d - 1)
    est = welch_estimate(t["gain"] - t["control_gain"], t["draw_var"], n_d, extra, extra_df)
    ok = (n_d >= MIN_CLUSTERS) & np.isfinite(est.se) & (est.se > 0)
    low, high = est.interval(level)
    out = t[[*keys, "arm", "k", "gain", "control_gain"]].assign(
        k=t["k"].astype(int), control_se=own.se, control_df=own.df, control_p=own.p_value(),
        over_control=est.estimate, se=np.where(ok, est.se, np.nan), df=np.where(ok, est.df, np.nan),
        ci_low=np.where(ok, low, np.nan), ci_high=np.where(ok, high, np.nan), p=np.where(ok, est.p_value(), np.nan),
        identified=ok, n_draws=t["n_draws"].astype(int), n_control=t["n_control"].astype(int))
    return out[[*keys, *COLUMNS]]


def _num(x: float) -> str:
    return f"{x:+.1f}"


def control_sentences(contrast: pd.DataFrame, level: float = 0.95) -> str:
    """One line per target task: the control's gain, and each arm's gain over it at the largest k
    (uncorrected intervals; the Holm-corrected verdicts are among the report's statements)."""
    lines = []
    keys = keys_of(contrast)
    for key, g in contrast.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        target = key[0] + (f" ({key[1]})" if len(key) > 1 and key[1] else "")
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
