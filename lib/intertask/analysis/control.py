"""The equal-compute control (`control-k0`): what intermediate tasks add beyond extra training.

Every condition's gain is over the no-intermediate baseline, which trained less. The control trains
as much as every drawn condition (the same token budget) on the target's own English data, so an
arm's gain over the control is what its intermediate tasks add beyond more training. Points; t
intervals on the (condition, seed) units, as `curves.arm_difference`. No torch here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import keys_of
from .stats import difference_estimate

CONTROL_ARM = "control"
COLUMNS = ["arm", "k", "gain", "control_gain", "over_control", "ci_low", "ci_high", "n_units", "n_control"]


def control_contrast(units: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per target task, arm and k: mean unit gain, the control's, and their difference with its interval.

    Empty without control units (a design with ``control: false``, or hand-written conditions).
    """
    keys = keys_of(units)
    rows = []
    for key, g in units.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        control = g.loc[g["arm"] == CONTROL_ARM, "gain"].to_numpy(float)
        if not control.size:
            continue
        for (arm, k), h in g[(g["k"] > 0) & (g["arm"] != CONTROL_ARM)].groupby(["arm", "k"]):
            y = h["gain"].to_numpy(float)
            est = difference_estimate(y, control)
            low, high = est.interval(level)
            rows.append({**dict(zip(keys, key)), "arm": arm, "k": int(k), "gain": float(y.mean()),
                         "control_gain": float(control.mean()), "over_control": float(est.estimate),
                         "ci_low": float(low), "ci_high": float(high), "n_units": y.size, "n_control": control.size})
    return pd.DataFrame(rows, columns=[*keys, *COLUMNS])


def _num(x: float) -> str:
    return f"{x:+.1f}"


def control_sentences(contrast: pd.DataFrame, level: float = 0.95) -> str:
    """One line per target task: the control's gain, and each arm's gain over it at the largest k."""
    lines = []
    for target, g in contrast.groupby("target_task"):
        k = int(g["k"].max())
        parts = []
        for arm, r in g[g["k"] == k].set_index("arm").sort_index().iterrows():
            ci = (f", {level:.0%} CI [{_num(r.ci_low)}, {_num(r.ci_high)}]" if np.isfinite(r.ci_low)
                  else " (interval not available: too few units)")
            parts.append(f"{arm} {_num(r.over_control)} points{ci}")
        lines.append(f"- **{target}**, equal-compute control (control-k0: the same token budget spent on the "
                     f"target's own English data): {_num(g['control_gain'].iloc[0])} points over the baseline, "
                     f"i.e. what extra training alone gives. Gain over the control at k = {k} (what the "
                     f"intermediate tasks add beyond it): {'; '.join(parts)}.")
    return "\n".join(lines)
