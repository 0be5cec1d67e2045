"""Gain against k per arm, slopes on k (or log2 k), and arm differences, with intervals over task draws.

Two intervals per row: ``ci_*`` is the t interval on draw (cluster) means that claims rest on
(see `stats`); ``boot_*`` is a hierarchical percentile bootstrap shown beside it: each replicate
resamples the seeds once for the whole study (every condition and the baseline of a seed move
together, so the baseline's own seed noise is paired in) and then the draws within each (arm, k)
cell. With few draws the bootstrap is too narrow (it cannot see the draw-to-draw spread it did
not sample), which is why it is not the one used for claims.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .frame import arm_rank, baseline_seeds, condition_table, keys_of, unit_table
from .stats import MIN_CLUSTERS, Estimate, difference_estimate, mean_estimate, slope_estimate

SCALES = ("k", "log2k")


def group_seed(seed: int, key: tuple) -> list[int]:
    """A generator seed per group that does not change when other groups are added or removed."""
    return [int(seed), zlib.crc32("|".join(map(str, key)).encode())]


def k_scale(k: np.ndarray, scale: str) -> np.ndarray:
    if scale not in SCALES:
        raise ValueError(f"slope scale {scale!r}: use one of {SCALES}")
    k = np.asarray(k, dtype=float)
    return np.log2(k) if scale == "log2k" else k


def bootstrap_ci(values, n_boot: int = 2000, level: float = 0.95, seed=0) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap of a mean; NaN bounds with fewer than two values."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    if x.size < 2:
        return float(x.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(x.mean()), float(low), float(high)


class HierarchicalBootstrap:
    """Replicates of every condition's mean gain for one target task (and metric).

    Seeds are resampled once per replicate for all conditions (pairing the shared baseline);
    `draws(cells)` then resamples conditions within their cell.
    """

    def __init__(self, units: pd.DataFrame, n_boot: int, seed: list[int]):
        table = units.pivot_table(index="condition", columns="seed", values="gain", aggfunc="mean")
        self.conditions = list(table.index)
        self.rng = np.random.default_rng(seed)
        g = table.to_numpy(float)                                      # (C, S)
        s = g.shape[1]
        pick = self.rng.integers(0, s, size=(n_boot, s))
        with np.errstate(invalid="ignore"):
            reps = np.nanmean(g[:, pick], axis=2).T                    # (B, C)
        self.replicates = np.where(np.isnan(reps), np.nanmean(g, axis=1)[None, :], reps)
        self.n_boot = n_boot

    def draws(self, columns: list[list[str]]) -> list[np.ndarray]:
        """Per cell (a list of condition names), its conditions resampled with replacement: (B, n)."""
        out = []
        for cell in columns:
            idx = np.array([self.conditions.index(c) for c in cell])
            pick = idx[self.rng.integers(0, idx.size, size=(self.n_boot, idx.size))]
            out.append(np.take_along_axis(self.replicates, pick, axis=1))
        return out


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1 - level) / 2
    if values.size == 0 or np.all(np.isnan(values)):
        return float("nan"), float("nan")
    low, high = np.nanquantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def _row(est: Estimate, level: float, identified: bool) -> dict:
    low, high = est.interval(level)
    ok = identified and np.isfinite(est.se)
    return {"estimate": float(est.estimate), "se": float(est.se) if ok else np.nan,
            "df": float(est.df) if ok else np.nan, "ci_low": float(low) if ok else np.nan,
            "ci_high": float(high) if ok else np.nan, "p": float(est.p_value()) if ok else np.nan,
            "identified": bool(identified)}


def _baseline_term(base: pd.DataFrame, key: tuple, keys: list[str], draws: np.ndarray) -> tuple[float, float]:
    """Variance of the mean baseline over seeds, and its df; with one seed, bounded by the draws' variance."""
    sel = base
    for col, val in zip(keys, key):
        sel = sel[sel[col] == val]
    b = sel["baseline"].to_numpy(float)
    if b.size >= 2:
        return float(b.var(ddof=1) / b.size), float(b.size - 1)
    # one seed: the baseline's seed noise is not observed; a draw mean's variance (which contains
    # a condition's seed noise) bounds it, assuming baseline and conditions are equally noisy
    return (float(np.var(draws, ddof=1)), float(draws.size - 1)) if draws.size > 1 else (np.nan, np.nan)


def gain_curve(frame: pd.DataFrame, level: float = 0.95, n_boot: int = 1000, seed: int = 0,
               include_zero: bool = True) -> pd.DataFrame:
    """Mean zero-shot gain (points) per target task x arm x k with intervals over task draws.

    Columns: [target_task, metric,] arm, k, gain, se, df, ci_low, ci_high, p, boot_low, boot_high,
    n_draws, n_seeds, identified, by_definition. The t interval adds the baseline's seed noise
    (shared by every gain of a seed) to the draws' spread. ``include_zero`` adds k = 0 for each
    arm: the baseline, 0 by definition (``by_definition``), which anchors the plot.
    """
    units = unit_table(frame)
    conds = condition_table(units)
    base = baseline_seeds(frame)
    keys = keys_of(frame)
    rows = []
    for key, g in conds.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        boot = HierarchicalBootstrap(units[(units[keys] == pd.Series(key, index=keys)).all(axis=1)], n_boot,
                                     group_seed(seed, key))
        for (arm, k), cell in g.groupby(["arm", "k"]):
            y = cell["gain"].to_numpy(float)
            extra, extra_df = _baseline_term(base, key, keys, y)
            est = mean_estimate(y, extra, extra_df)
            reps = boot.draws([list(cell["condition"])])[0].mean(axis=1)
            low, high = _interval(reps, level) if y.size >= 2 else (np.nan, np.nan)
            rows.append({**dict(zip(keys, key)), "arm": arm, "k": int(k), "gain": float(est.estimate),
                         **{c: v for c, v in _row(est, level, y.size >= MIN_CLUSTERS).items() if c != "estimate"},
                         "boot_low": low, "boot_high": high, "n_draws": int(y.size),
                         "n_seeds": int(cell["n_seeds"].max()), "by_definition": False})
        if include_zero:
            for arm in g["arm"].unique():
                rows.append({**dict(zip(keys, key)), "arm": arm, "k": 0, "gain": 0.0, "se": 0.0, "df": np.nan,
                             "ci_low": 0.0, "ci_high": 0.0, "p": np.nan, "identified": True, "boot_low": 0.0,
                             "boot_high": 0.0, "n_draws": 0, "n_seeds": 0, "by_definition": True})
    cols = [*keys, "arm", "k", "gain", "se", "df", "ci_low", "ci_high", "p", "boot_low", "boot_high", "n_draws",
            "n_seeds", "identified", "by_definition"]
    curve = pd.DataFrame(rows, columns=cols)
    if not curve.empty:
        curve = (curve.assign(_rank=curve["arm"].map(arm_rank)).sort_values([*keys, "_rank", "k"])
                 .drop(columns="_rank"))
    curve = curve.reset_index(drop=True)
    curve.attrs.update({"units": units.to_dict("list"), "n_boot": n_boot, "seed": seed, "level": level})
    return curve


def arm_slopes(units: pd.DataFrame, level: float = 0.95, scale: str = "k", n_boot: int = 1000,
               seed: int = 0) -> pd.DataFrame:
    """Per target task and arm: OLS slope of the draw-mean gain (points) on k (or log2 k), over k >= 1.

    The slope asks whether *more* tasks help *more*; the jump from k = 0 to 1 is in the curve.
    Draws are the clusters (seeds averaged inside them), the design's k values are fixed: the t
    interval has df = conditions - 2. Not identified with fewer than 3 draws at some k, or one k.
    """
    keys = [c for c in ("target_task", "metric") if c in units.columns]
    conds = condition_table(units[units["k"] > 0])
    rows = []
    for key, g in conds.groupby([*keys, "arm"]):
        ks = np.sort(g["k"].unique())
        per_k = g.groupby("k")["condition"].nunique()
        identified = len(ks) >= 2 and int(per_k.min()) >= MIN_CLUSTERS
        x = k_scale(g["k"].to_numpy(), scale)
        est = slope_estimate(x, g["gain"].to_numpy(float))
        sub = units[(units[[*keys, "arm"]] == pd.Series(key, index=[*keys, "arm"])).all(axis=1) & (units["k"] > 0)]
        boot = HierarchicalBootstrap(sub, n_boot, group_seed(seed, key))
        cells = [list(g.loc[g["k"] == kv, "condition"]) for kv in ks]
        reps = np.concatenate(boot.draws(cells), axis=1)
        xb = np.concatenate([k_scale(np.full(len(c), kv), scale) for c, kv in zip(cells, ks)])
        low, high = _interval(slope_estimate(xb, reps).estimate, level) if len(ks) >= 2 else (np.nan, np.nan)
        rows.append({**dict(zip([*keys, "arm"], key)), "scale": scale, **_row(est, level, identified),
                     "boot_low": low, "boot_high": high, "n_draws": int(per_k.min()), "n_conditions": len(g),
                     "k_values": ",".join(map(str, ks))})
    cols = [*keys, "arm", "scale", "estimate", "se", "df", "ci_low", "ci_high", "p", "identified", "boot_low",
            "boot_high", "n_draws", "n_conditions", "k_values"]
    return pd.DataFrame(rows, columns=cols)


def arm_difference(units: pd.DataFrame, level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per target task and pair of arms: mean gain difference (points) at the largest k both ran.

    The baseline cancels (both arms subtract it); draws of each arm are the clusters (pooled t,
    df = draws_a + draws_b - 2). Not identified with fewer than 3 draws in either arm.
    """
    keys = [c for c in ("target_task", "metric") if c in units.columns]
    conds = condition_table(units[units["k"] > 0])
    rows = []
    for key, g in conds.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        arms = sorted(g["arm"].unique(), key=arm_rank)
        boot = None
        for i, a in enumerate(arms):
            for b in arms[i + 1:]:
                common = set(g.loc[g["arm"] == a, "k"]) & set(g.loc[g["arm"] == b, "k"])
                if not common:
                    continue
                k = max(common)
                ca, cb = (g[(g["arm"] == arm) & (g["k"] == k)] for arm in (a, b))
                est = difference_estimate(ca["gain"].to_numpy(float), cb["gain"].to_numpy(float))
                identified = min(len(ca), len(cb)) >= MIN_CLUSTERS
                if boot is None:
                    sub = units[(units[keys] == pd.Series(key, index=keys)).all(axis=1) & (units["k"] > 0)]
                    boot = HierarchicalBootstrap(sub, n_boot, group_seed(seed, key))
                ra, rb = boot.draws([list(ca["condition"]), list(cb["condition"])])
                low, high = _interval(ra.mean(axis=1) - rb.mean(axis=1), level) \
                    if min(len(ca), len(cb)) >= 2 else (np.nan, np.nan)
                rows.append({**dict(zip(keys, key)), "arm_a": a, "arm_b": b, "k": int(k),
                             **_row(est, level, identified), "boot_low": low, "boot_high": high,
                             "n_a": len(ca), "n_b": len(cb)})
    cols = [*keys, "arm_a", "arm_b", "k", "estimate", "se", "df", "ci_low", "ci_high", "p", "identified",
            "boot_low", "boot_high", "n_a", "n_b"]
    return pd.DataFrame(rows, columns=cols)
