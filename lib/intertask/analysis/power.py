"""Power before compute: what a scaling design can detect, and the draws x seeds a given effect needs.

A draw mean's variance is draw_sd^2 + seed_sd^2 / seeds, where seed_sd is the spread of one
(condition, seed) unit's language-averaged gain around its draw (training seed plus item noise).
The slope on k is an OLS over draws*|k| cluster means (df = n - 2); the arm difference at the
largest k a pooled t over 2 x draws means (df = 2 draws - 2). The minimal detectable effect at
two-sided alpha and power 1 - beta is (t_{1-alpha/2} + t_{power}) x SE. Variance components come
from a pilot study's results, or the stated defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import report
from .curves import k_scale
from .frame import condition_table, scaling_frame, unit_table
from .stats import MIN_CLUSTERS, minimal_detectable

# stated defaults (points): the spreads the simulation used; replace them with a pilot's
DEFAULT_DRAW_SD = 1.5
DEFAULT_SEED_SD = 0.5
SEED_OPTIONS = (1, 2, 3, 5)


@dataclass
class Components:
    """Variance components of the zero-shot gain (points) and where they come from."""

    draw_sd: float = DEFAULT_DRAW_SD
    seed_sd: float = DEFAULT_SEED_SD
    source: str = "stated defaults (no pilot)"

    def cluster_var(self, seeds: int) -> float:
        return self.draw_sd ** 2 + self.seed_sd ** 2 / seeds


def estimate_components(frame: pd.DataFrame) -> Components:
    """Draw and seed SDs from a study's scaling frame (method of moments on the unit table).

    seed_sd: pooled within-draw SD over seeds; draw_sd: the within-(arm, k) spread of draw means
    minus the seeds' share. With one seed the two cannot be told apart: all of it is put on draws
    (conservative for every seed count).
    """
    units = unit_table(frame[frame["k"] > 0])
    if units.empty:
        raise ValueError("no (condition, seed) units with k >= 1 to estimate variance components from")
    within = units.groupby(["target_task", "condition"])["gain"].agg(["var", "count"]).dropna()
    within = within[within["count"] > 1]
    seed_var = float((within["var"] * (within["count"] - 1)).sum() / (within["count"] - 1).sum()) \
        if len(within) else np.nan
    conds = condition_table(units)
    cells = conds.groupby(["target_task", "arm", "k"])["gain"].agg(["var", "count"]).dropna()
    cells = cells[cells["count"] > 1]
    if cells.empty:
        raise ValueError("the pilot has one draw per (arm, k): the draw-to-draw spread cannot be estimated")
    between = float((cells["var"] * (cells["count"] - 1)).sum() / (cells["count"] - 1).sum())
    seeds = float(conds["n_seeds"].mean())
    n_units, n_conds = len(units), len(conds)
    if np.isnan(seed_var):
        return Components(float(np.sqrt(between)), 0.0,
                          f"pilot ({n_conds} draws x 1 seed: seed and draw spread not separable, all put on draws)")
    draw_var = max(between - seed_var / seeds, 0.0)
    return Components(float(np.sqrt(draw_var)), float(np.sqrt(seed_var)),
                      f"pilot ({n_conds} draws, {n_units} draw x seed units)")


def pilot_components(study_root: str | Path) -> Components:
    """Components from a finished study folder (its results.csv and conditions.csv)."""
    root = Path(study_root)
    for name in ("results.csv", "conditions.csv"):
        if not (root / name).exists():
            raise FileNotFoundError(f"{root / name}: no pilot results here; run the pilot study first "
                                    f"(`intertask run params/<pilot>.yaml`) or leave out --pilot for the defaults")
    results = report.load_results(root / "results.csv")
    gains = report.gains(report.main_metric(results))
    return estimate_components(scaling_frame(gains, report.load_conditions(root / "conditions.csv")))


def slope_se(ks: list[int], draws: int, seeds: int, comp: Components, scale: str = "k") -> tuple[float, float]:
    """(SE, df) of an arm's slope with `draws` draws at each k >= 1."""
    x = k_scale(np.repeat([k for k in ks if k > 0], draws), scale)
    sxx = float(((x - x.mean()) ** 2).sum())
    return float(np.sqrt(comp.cluster_var(seeds) / sxx)) if sxx > 0 else np.inf, float(x.size - 2)


def difference_se(draws: int, seeds: int, comp: Components) -> tuple[float, float]:
    """(SE, df) of the difference of two arms' means at one k."""
    return float(np.sqrt(2 * comp.cluster_var(seeds) / draws)), float(2 * draws - 2)


@dataclass
class DesignPower:
    ks: list[int]
    draws: int
    seeds: int
    mde_slope: float
    mde_difference: float
    identified: bool


def design_power(ks: list[int], draws: int, seeds: int, comp: Components, alpha: float = 0.05,
                 power: float = 0.8, scale: str = "k") -> DesignPower:
    """Minimal detectable slope and arm difference of a design (inf where not identified)."""
    ok = draws >= MIN_CLUSTERS and len([k for k in ks if k > 0]) >= 2
    se_s, df_s = slope_se(ks, draws, seeds, comp, scale)
    se_d, df_d = difference_se(draws, seeds, comp)
    mde_s = float(minimal_detectable(se_s, df_s, alpha, power)) if ok else np.inf
    mde_d = float(minimal_detectable(se_d, df_d, alpha, power)) if draws >= MIN_CLUSTERS else np.inf
    return DesignPower(list(ks), draws, seeds, mde_s, mde_d, ok)


def draws_needed(ks: list[int], seeds: int, comp: Components, slope: float | None = None,
                 difference: float | None = None, alpha: float = 0.05, power: float = 0.8,
                 scale: str = "k", limit: int = 500) -> int | None:
    """Smallest number of draws per (arm, k) that detects the effect(s); None beyond `limit`."""
    for d in range(MIN_CLUSTERS, limit + 1):
        p = design_power(ks, d, seeds, comp, alpha, power, scale)
        if (slope is None or p.mde_slope <= slope) and (difference is None or p.mde_difference <= difference):
            return d
    return None


def power_text(ks: list[int], draws: int, seeds: int, comp: Components, slope: float = 0.25,
               difference: float = 1.0, alpha: float = 0.05, power: float = 0.8, scale: str = "k") -> str:
    """What `intertask power` prints and 04_report shows."""
    p = design_power(ks, draws, seeds, comp, alpha, power, scale)
    unit = "points per added task" if scale == "k" else "points per doubling of k"
    def fmt(v: float, unit: str) -> str:
        return f"{v:.2f} {unit}" if np.isfinite(v) else f"not identified (fewer than {MIN_CLUSTERS} draws per cell)"

    lines = [f"Variance components: draw SD {comp.draw_sd:.2f}, seed SD {comp.seed_sd:.2f} points "
             f"({comp.source}).",
             f"Design as written: k = {', '.join(map(str, ks))}; {draws} draws per (arm, k); {seeds} seed(s).",
             f"- minimal detectable slope: {fmt(p.mde_slope, unit)}",
             f"- minimal detectable arm difference (at one k): {fmt(p.mde_difference, 'points')}",
             f"(two-sided alpha {alpha:g} per statement, power {power:.0%}; Holm's correction across several "
             f"statements makes these larger.)",
             f"Draws per (arm, k) needed for a slope of {slope:g} {unit} / an arm difference of {difference:g} points:"]
    for s in sorted(set(SEED_OPTIONS) | {seeds}):
        ds = draws_needed(ks, s, comp, slope=slope, alpha=alpha, power=power, scale=scale)
        dd = draws_needed(ks, s, comp, difference=difference, alpha=alpha, power=power, scale=scale)
        lines.append(f"- {s} seed(s): {ds if ds else '> 500'} draws for the slope, "
                     f"{dd if dd else '> 500'} draws for the arm difference")
    return "\n".join(lines)


def design_of(params: dict) -> tuple[list[int], int, int]:
    """(k values, draws, seeds) of a validated params dict with a `design:` section."""
    design = params.get("design")
    if not design:
        raise ValueError(f"{params.get('_path', 'params')}: no `design:` section, so there is no k to scale; "
                         f"power analysis is for scaling designs (see params/scaling.yaml)")
    return [int(k) for k in design["k"]], int(design["draws"]), len(params["seeds"])


def design_from_tables(conditions: pd.DataFrame | None, results: pd.DataFrame) -> tuple[list[int], int, int] | None:
    """(k values, draws, seeds) of a study as run, from its conditions.csv and results (None: no design)."""
    if conditions is None or conditions.empty or not conditions["arm"].isin(["english", "diverse"]).any():
        return None
    drawn = conditions[conditions["arm"].isin(["english", "diverse"])]
    ks = sorted({0, *drawn["k"].astype(int)})
    draws = int(drawn.groupby(["arm", "k"])["draw"].nunique().min())
    return ks, draws, int(results["seed"].nunique())
