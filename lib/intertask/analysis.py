"""Analysis of scaling studies: does the gain grow with the number of intermediate tasks (k), with
the number of language families they cover, or because the target language was among them?

Input: the gains table of `report.gains` (one row per target task x metric x language x seed x
condition, values as fractions) and the condition metadata of `design.expand_design` (arm, k,
draw, task languages and families). Outputs are in **points** (gain x 100).

Statistics are written here with numpy (percentile bootstrap, OLS by ``lstsq``) because the
project deliberately has no scipy/statsmodels dependency. No torch here.

Unit of replication. A condition (arm, k, draw) trained with one seed is one experiment; the
languages it is evaluated on are not independent replicates of it (they share the same trained
model and the same draw of intermediate tasks), so they are averaged inside the unit and the
bootstrap resamples (draw, seed) units. Caveat: every condition of one seed is compared with the
same baseline run, so units that share a seed share the baseline's noise; with few seeds the
intervals are somewhat too narrow.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .languages import get_language
from .tasks import UnknownLanguageError

__all__ = [
    "scaling_frame", "unit_table", "bootstrap_ci", "gain_curve", "arm_slopes", "arm_difference",
    "plot_gain_curves", "regression", "family_gain_table", "family_heatmap", "conclusion",
    "phang2020_reference", "compare_with_phang", "PHANG_TASK_NAMES", "REGRESSION_TERMS",
]

REGRESSION_TERMS = ("intercept", "k", "n_families", "seen_language", "seen_family")
ARM_ORDER = ("diverse", "english", "custom", "baseline")

# Phang et al. 2020 task names (and the variants other papers print) -> this project's task names.
PHANG_TASK_NAMES: dict[str, str] = {
    "XNLI": "xnli", "PAWS-X": "pawsx", "POS": "udpos", "UD-POS": "udpos", "NER": "panx",
    "WikiAnn-NER": "panx", "PAN-X": "panx", "XQuAD": "xquad", "MLQA": "mlqa", "TyDiQA": "tydiqa",
    "TyDiQA-GoldP": "tydiqa", "BUCC": "bucc", "Tatoeba": "tatoeba",
}


# ---------------------------------------------------------------------------------------------
# the analysis frame


def _family(code: str) -> str:
    try:
        return get_language(code).family
    except UnknownLanguageError:
        return "unknown"


def _seen(task_languages: str, target: str) -> tuple[bool, bool]:
    """(seen_language, seen_family), as `design.seen_flags`, tolerating unknown codes."""
    langs = [lg for lg in str(task_languages).split("+") if lg]
    families = {_family(lg) for lg in langs} - {"unknown"}
    return target in langs, _family(target) in families


def scaling_frame(gains: pd.DataFrame, conditions: pd.DataFrame | Iterable[dict]) -> pd.DataFrame:
    """Gains joined with their condition's metadata, plus the target language's relation to it.

    Adds arm, k, draw, n_families, n_languages (and tasks, task_languages, task_families),
    seen_language (the target language is one of the intermediate tasks' languages), seen_family
    (its family is) and target_family. Gains of conditions missing from `conditions` are dropped.
    """
    cond = pd.DataFrame(conditions).copy()
    missing = [c for c in ("condition", "arm", "k", "draw", "task_languages", "n_families", "n_languages")
               if c not in cond.columns]
    if missing:
        raise ValueError(f"scaling_frame: condition metadata lacks columns {missing}")
    cond["task_languages"] = cond["task_languages"].fillna("").astype(str)
    cond = cond.drop_duplicates("condition")
    keep = [c for c in cond.columns if c not in gains.columns or c == "condition"]
    frame = gains.merge(cond[keep], on="condition", how="inner")
    if frame.empty and not gains.empty:
        raise ValueError("scaling_frame: no gain row matches a condition of the design "
                         f"(gains have {sorted(gains['condition'].unique())[:5]}...)")
    for col in ("k", "draw", "n_families", "n_languages"):
        frame[col] = frame[col].astype(int)
    pairs = {(tl, lg): _seen(tl, lg) for tl, lg in frame[["task_languages", "language"]].drop_duplicates()
             .itertuples(index=False)}
    flags = [pairs[(tl, lg)] for tl, lg in zip(frame["task_languages"], frame["language"])]
    frame["seen_language"] = np.array([f[0] for f in flags], dtype=bool)
    frame["seen_family"] = np.array([f[1] for f in flags], dtype=bool)
    frame["target_family"] = frame["language"].map({lg: _family(lg) for lg in frame["language"].unique()})
    return frame.reset_index(drop=True)


def _keys(frame: pd.DataFrame) -> list[str]:
    return ["target_task", "metric"] if "metric" in frame.columns else ["target_task"]


def unit_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (target task, condition, seed): the gain in points, averaged over languages.

    In a design a condition is one (arm, k, draw); hand-listed ('custom') conditions that share
    arm, k and draw stay separate units.
    """
    keys = [*_keys(frame), "arm", "k", "draw", "condition", "seed"]
    agg = frame.groupby(keys).agg(gain=("gain", "mean"), n_languages=("language", "nunique")).reset_index()
    agg["gain"] = 100 * agg["gain"]
    return agg


# ---------------------------------------------------------------------------------------------
# bootstrap


def bootstrap_ci(values: Sequence[float] | np.ndarray, n_boot: int = 2000, level: float = 0.95,
                 seed: int | Sequence[int] = 0) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap interval of the mean, reproducible for a given seed.

    With fewer than two values there is nothing to resample: low and high are NaN (not a
    zero-width interval, which would claim certainty the data cannot give).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return mean, float(low), float(high)


def _group_seed(seed: int, key: tuple) -> list[int]:
    """A generator seed per group that does not change when other groups are added or removed."""
    return [int(seed), zlib.crc32("|".join(map(str, key)).encode())]


def gain_curve(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95,
               include_zero: bool = True) -> pd.DataFrame:
    """Mean gain (points) per target task x arm x k with a bootstrap CI over (draw, seed) units.

    Each unit is one condition trained with one seed, its gain averaged over the target
    languages first (languages share the trained model, so they are not independent replicates;
    see the module docstring). Columns: target_task, metric, arm, k, gain, ci_low, ci_high,
    n_units, n_draws, n_seeds, by_definition.

    ``include_zero`` adds k = 0 for every arm: the baseline itself, whose gain is 0 by definition
    (zero width, n_units 0, ``by_definition`` True). It anchors the plot; slope fits ignore it.
    The unit table is kept in ``curve.attrs["units"]`` (as plain lists) for `conclusion`.
    """
    units = unit_table(frame)
    keys = _keys(frame)
    rows = []
    for key, g in units.groupby([*keys, "arm", "k"]):
        mean, low, high = bootstrap_ci(g["gain"].to_numpy(), n_boot, level, _group_seed(seed, key))
        rows.append({**dict(zip([*keys, "arm", "k"], key)), "gain": mean, "ci_low": low, "ci_high": high,
                     "n_units": len(g), "n_draws": g["draw"].nunique(), "n_seeds": g["seed"].nunique(),
                     "by_definition": False})
    if include_zero:
        for key, _g in units.groupby([*keys, "arm"]):
            rows.append({**dict(zip([*keys, "arm"], key)), "k": 0, "gain": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                         "n_units": 0, "n_draws": 0, "n_seeds": 0, "by_definition": True})
    cols = [*keys, "arm", "k", "gain", "ci_low", "ci_high", "n_units", "n_draws", "n_seeds", "by_definition"]
    curve = pd.DataFrame(rows, columns=cols)
    if not curve.empty:
        curve = curve.sort_values([*keys, "arm", "k"]).reset_index(drop=True)
    curve.attrs.update({"units": units.to_dict("list"), "n_boot": n_boot, "seed": seed, "level": level})
    return curve


def _units_of(curve: pd.DataFrame | None, frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is not None:
        return unit_table(frame)
    if curve is not None and "units" in curve.attrs:
        return pd.DataFrame(curve.attrs["units"])
    return None


def arm_slopes(units: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per target task and arm: OLS slope of the unit gain (points) on k, over k >= 1.

    The slope asks whether *more* tasks help *more*; the jump from k = 0 to k = 1 (any
    intermediate training at all) is in the intercept and the curve, not here. The CI is a
    bootstrap stratified by k: the (draw, seed) units of each k are resampled with replacement,
    the design's k values stay fixed. Needs at least two distinct k values.
    """
    keys = [c for c in ("target_task", "metric") if c in units.columns]
    alpha = (1 - level) / 2
    rows = []
    for key, g in units[units["k"] > 0].groupby([*keys, "arm"]):
        ks = np.sort(g["k"].unique())
        row = {**dict(zip([*keys, "arm"], key)), "slope": np.nan, "intercept": np.nan, "ci_low": np.nan,
               "ci_high": np.nan, "n_units": len(g), "k_values": ",".join(map(str, ks))}
        if len(ks) >= 2:
            k = g["k"].to_numpy(float)
            y = g["gain"].to_numpy(float)
            kc = k - k.mean()
            row["slope"] = float(kc @ (y - y.mean()) / (kc @ kc))
            row["intercept"] = float(y.mean() - row["slope"] * k.mean())
            rng = np.random.default_rng(_group_seed(seed, key))
            ks_b, ys_b = [], []
            for kv in ks:
                yk = y[k == kv]
                ys_b.append(yk[rng.integers(0, yk.size, size=(n_boot, yk.size))])
                ks_b.append(np.full(yk.size, kv, dtype=float))
            kb = np.concatenate(ks_b)            # same k vector for every replicate (stratified)
            yb = np.concatenate(ys_b, axis=1)   # (n_boot, n)
            kbc = kb - kb.mean()
            slopes = (yb - yb.mean(axis=1, keepdims=True)) @ kbc / (kbc @ kbc)
            if any((k == kv).sum() > 1 for kv in ks):
                row["ci_low"], row["ci_high"] = map(float, np.quantile(slopes, [alpha, 1 - alpha]))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, "arm", "slope", "intercept", "ci_low", "ci_high", "n_units",
                                       "k_values"])


def _arm_rank(arm: str) -> tuple[int, str]:
    return (ARM_ORDER.index(arm) if arm in ARM_ORDER else len(ARM_ORDER), arm)


def arm_difference(units: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per target task and pair of arms: mean gain difference (points) at the largest k both ran.

    Each arm's units are resampled independently (they are different conditions).
    Columns: target_task, metric, arm_a, arm_b, k, diff, ci_low, ci_high, n_a, n_b.
    """
    keys = [c for c in ("target_task", "metric") if c in units.columns]
    alpha = (1 - level) / 2
    rows = []
    for key, g in units[units["k"] > 0].groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        arms = sorted(g["arm"].unique(), key=_arm_rank)
        for i, a in enumerate(arms):
            for b in arms[i + 1:]:
                common = set(g.loc[g["arm"] == a, "k"]) & set(g.loc[g["arm"] == b, "k"])
                if not common:
                    continue
                k = max(common)
                ya = g.loc[(g["arm"] == a) & (g["k"] == k), "gain"].to_numpy(float)
                yb = g.loc[(g["arm"] == b) & (g["k"] == k), "gain"].to_numpy(float)
                low = high = np.nan
                if ya.size > 1 and yb.size > 1:
                    rng = np.random.default_rng(_group_seed(seed, (*key, a, b, k)))
                    da = ya[rng.integers(0, ya.size, size=(n_boot, ya.size))].mean(axis=1)
                    db = yb[rng.integers(0, yb.size, size=(n_boot, yb.size))].mean(axis=1)
                    low, high = map(float, np.quantile(da - db, [alpha, 1 - alpha]))
                rows.append({**dict(zip(keys, key)), "arm_a": a, "arm_b": b, "k": int(k),
                             "diff": float(ya.mean() - yb.mean()), "ci_low": low, "ci_high": high,
                             "n_a": ya.size, "n_b": yb.size})
    return pd.DataFrame(rows, columns=[*keys, "arm_a", "arm_b", "k", "diff", "ci_low", "ci_high", "n_a", "n_b"])


# ---------------------------------------------------------------------------------------------
# regression


def _drop_degenerate(X: np.ndarray, names: list[str]) -> tuple[list[int], dict[str, str]]:
    """Indices of the columns kept (in order) and the reason each other column was dropped."""
    kept: list[int] = []
    dropped: dict[str, str] = {}
    for j, name in enumerate(names):
        col = X[:, j]
        if name != "intercept" and np.ptp(col) == 0:
            dropped[name] = f"dropped: constant ({col[0]:g} in every row)"
            continue
        if kept:
            A = X[:, kept]
            coef, *_ = np.linalg.lstsq(A, col, rcond=None)
            resid = col - A @ coef
            if np.linalg.norm(resid) <= 1e-9 * max(np.linalg.norm(col), 1.0):
                with_ = [names[kept[i]] for i in range(len(kept)) if abs(coef[i]) > 1e-9]
                dropped[name] = f"dropped: collinear with {', '.join(with_) or 'kept columns'}"
                continue
        kept.append(j)
    return kept, dropped


def _fit_group(g: pd.DataFrame, n_boot: int, seed: list[int], level: float, arm_terms: list[str]) -> list[dict]:
    names = list(REGRESSION_TERMS) + [f"arm[{a}]" for a in arm_terms]
    X = np.column_stack([np.ones(len(g)), g["k"].to_numpy(float), g["n_families"].to_numpy(float),
                         g["seen_language"].to_numpy(float), g["seen_family"].to_numpy(float),
                         *[(g["arm"] == a).to_numpy(float) for a in arm_terms]])
    y = 100 * g["gain"].to_numpy(float)
    kept, dropped = _drop_degenerate(X, names)
    Xk = X[:, kept]
    beta, *_ = np.linalg.lstsq(Xk, y, rcond=None)
    clusters = pd.factorize(pd.MultiIndex.from_frame(g[["condition", "seed"]].astype(str)))[0]
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    p = len(kept)
    low = np.full(p, np.nan)
    high = np.full(p, np.nan)
    n_used = 0
    if n_clusters >= 2 and n_boot > 0:
        # per-cluster normal equations: a resample's X'X and X'y are count-weighted sums of these
        xtx = np.zeros((n_clusters, p, p))
        xty = np.zeros((n_clusters, p))
        np.add.at(xtx, clusters, Xk[:, :, None] * Xk[:, None, :])
        np.add.at(xty, clusters, Xk * y[:, None])
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n_clusters, np.full(n_clusters, 1 / n_clusters), size=n_boot).astype(float)
        A = np.einsum("bc,cij->bij", counts, xtx)
        b = counts @ xty
        ok = np.linalg.matrix_rank(A) == p  # a resample without variation in a term is skipped
        n_used = int(ok.sum())
        if n_used:
            betas = np.linalg.solve(A[ok], b[ok][:, :, None])[:, :, 0]
            alpha = (1 - level) / 2
            low, high = np.quantile(betas, [alpha, 1 - alpha], axis=0)
    rows = []
    for name in names:
        if name in dropped:
            rows.append({"term": name, "coef": np.nan, "ci_low": np.nan, "ci_high": np.nan, "note": dropped[name]})
        else:
            i = kept.index(names.index(name))
            rows.append({"term": name, "coef": float(beta[i]), "ci_low": float(low[i]), "ci_high": float(high[i]),
                         "note": ""})
    for r in rows:
        r.update({"n_obs": len(g), "n_clusters": n_clusters, "n_boot_used": n_used})
    return rows


def regression(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
               by: str | None = "target_task", arm_effects: bool = False) -> pd.DataFrame:
    """OLS of the gain (points, one row per language x seed x condition) on intercept, k,
    n_families, seen_language and seen_family, per target task (``by=None``: pooled).

    Without arm terms, whatever separates the arms beyond k and n_families (e.g. at k = 1 both
    arms have one task and one family) loads onto the seen_* terms; ``arm_effects=True`` adds an
    indicator ``arm[<name>]`` per arm other than the reference arm (english where present).

    A term that is constant, or a linear combination of the terms before it, is dropped: its row
    has NaN coefficients and says why in ``note``. 95% CIs: percentile bootstrap over
    (condition, seed) clusters (all languages of one trained model move together); resamples in
    which a kept term has no variation are skipped (``n_boot_used``). The coefficients describe
    association in this design, not causal effects.
    Columns: [by,] term, coef, ci_low, ci_high, n_obs, n_clusters, n_boot_used, note.
    """
    cols = ["term", "coef", "ci_low", "ci_high", "n_obs", "n_clusters", "n_boot_used", "note"]
    groups = [((), frame)] if by is None else [((key,), g) for key, g in frame.groupby(by)]
    arms = sorted(frame["arm"].unique(), key=lambda a: (a != "english", _arm_rank(a))) if arm_effects else []
    rows = []
    for key, g in groups:
        if g.empty:
            continue
        for r in _fit_group(g, n_boot, _group_seed(seed, key), level, arms[1:]):
            rows.append({**({by: key[0]} if by else {}), **r})
    return pd.DataFrame(rows, columns=([by] if by else []) + cols)


# ---------------------------------------------------------------------------------------------
# plots


from .report import _save  # noqa: E402  (one way to write figures for every report)


def plot_gain_curves(curve: pd.DataFrame, figures_dir: str | Path):
    """Gain (points) vs k per arm with bootstrap-CI error bars, one panel per target task.

    Saves gain_vs_k.png; returns the figure (None if the curve is empty). Arms are offset a
    little along x so their bars do not overlap; k = 0 is the baseline (0 by definition).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if curve.empty:
        print("no gains to plot")
        return None
    targets = sorted(curve["target_task"].unique())
    arms = sorted(curve["arm"].unique(), key=_arm_rank)
    colors = dict(zip(arms, sns.color_palette("colorblind", len(arms))))
    ncols = min(3, len(targets))
    nrows = -(-len(targets) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        sub = curve[curve["target_task"] == target]
        for i, arm in enumerate(arms):
            a = sub[sub["arm"] == arm].sort_values("k")
            if a.empty:
                continue
            x = a["k"].to_numpy(float) + 0.08 * (i - (len(arms) - 1) / 2)
            y = a["gain"].to_numpy(float)
            err = np.vstack([y - a["ci_low"].to_numpy(float), a["ci_high"].to_numpy(float) - y])
            err = np.nan_to_num(err, nan=0.0)
            ax.errorbar(x, y, yerr=err, color=colors[arm], marker="o", capsize=3, lw=1.5,
                        label=f"{arm} (≤{int(a['n_units'].max())} units/k)")
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        ax.set_xticks(sorted(sub["k"].unique()))
        metric = f" ({sub['metric'].iloc[0]})" if "metric" in sub.columns else ""
        ax.set_title(f"{target}{metric}")
        ax.set_xlabel("k (intermediate tasks)")
        ax.set_ylabel("gain over baseline (points)")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(targets):]:
        ax.set_visible(False)
    fig.suptitle("Gain vs number of intermediate tasks (mean, 95% bootstrap CI over draw x seed)", fontsize=10)
    fig.tight_layout()
    _save(fig, figures_dir, "gain_vs_k.png")
    return fig


def family_gain_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean gain (points) by target task x target language family (rows) and arm-k (columns)."""
    if frame.empty:
        return pd.DataFrame()
    f = frame.assign(column=[f"{a} k={k}" for a, k in zip(frame["arm"], frame["k"])])
    order = sorted(f["column"].unique(), key=lambda c: (_arm_rank(c.split(" k=")[0]), int(c.split("k=")[1])))
    table = (f.groupby(["target_task", "target_family", "column"])["gain"].mean() * 100).unstack("column")
    return table[order]


def family_heatmap(frame: pd.DataFrame, figures_dir: str | Path):
    """Heatmap of the mean gain (points) by target language family x arm-k, one panel per target task.

    Saves gain_by_family.png; returns the figure (None if there is nothing to plot).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = family_gain_table(frame)
    if table.empty:
        print("no gains to plot")
        return None
    targets = list(table.index.get_level_values("target_task").unique())
    n_fam = table.index.get_level_values("target_family").nunique()
    fig, axes = plt.subplots(len(targets), 1, squeeze=False,
                             figsize=(max(6, 0.9 * table.shape[1] + 3), (1.2 + 0.45 * n_fam) * len(targets)))
    bound = max(1.0, float(np.nanmax(np.abs(table.to_numpy(float)))))
    for ax, target in zip(axes[:, 0], targets):
        sub = table.loc[target].dropna(axis=1, how="all")
        sns.heatmap(sub, ax=ax, cmap="RdBu", center=0, vmin=-bound, vmax=bound, annot=True, fmt=".1f",
                    cbar_kws={"label": "gain (points)"})
        ax.set_title(f"{target}: mean gain by target-language family")
        ax.set_xlabel("arm, k")
        ax.set_ylabel("target language family")
    fig.tight_layout()
    _save(fig, figures_dir, "gain_by_family.png")
    return fig


# ---------------------------------------------------------------------------------------------
# words


def _dec(low: float, high: float) -> int:
    """Decimals that resolve an interval: 1, or more when it is narrower than 0.2 points."""
    width = high - low
    if np.isnan(width):
        return 1
    d = 1 if width >= 0.2 else 2 if width >= 0.02 else 3
    # a bound next to 0 keeps its sign visible: [-0.0, +0.4] would hide whether 0 is inside
    while d < 3 and any(b != 0 and round(b, d) == 0 for b in (low, high)):
        d += 1
    return d


def _num(x: float, d: int = 1) -> str:
    text = f"{x:+.{d}f}"
    return "+" + text[1:] if float(text) == 0 else text  # no "-0.0"


def _ci(low: float, high: float) -> str:
    if np.isnan(low) or np.isnan(high):
        return "CI not available (too few units)"
    d = _dec(low, high)
    return f"[{_num(low, d)}, {_num(high, d)}]"


def _excludes_zero(low: float, high: float) -> bool:
    return not (np.isnan(low) or np.isnan(high)) and (low > 0 or high < 0)


def conclusion(curve: pd.DataFrame, reg: pd.DataFrame, frame: pd.DataFrame | None = None,
               n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> str:
    """The findings in sentences, generated from the numbers and claiming no more than the CIs.

    Per target task: each arm's slope of gain on k (bootstrap from the (draw, seed) units of
    `frame`, or of ``curve.attrs["units"]`` as `gain_curve` leaves them), the arms compared at the
    largest k they share, and the regression's seen-language coefficient.
    """
    pct = f"{level:.0%}"
    units = _units_of(curve, frame)
    slopes = arm_slopes(units, n_boot, seed, level) if units is not None and not units.empty else None
    diffs = arm_difference(units, n_boot, seed, level) if units is not None and not units.empty else None
    lines: list[str] = []
    targets = sorted(curve["target_task"].unique()) if not curve.empty else []
    for target in targets:
        cur = curve[(curve["target_task"] == target) & ~curve["by_definition"].astype(bool)]
        metric = f" ({cur['metric'].iloc[0]})" if "metric" in cur.columns and len(cur) else ""
        lines.append(f"**{target}**{metric}:")
        for arm in sorted(cur["arm"].unique(), key=_arm_rank):
            a = cur[cur["arm"] == arm].sort_values("k")
            top = a.iloc[-1]
            level_txt = (f"at k = {int(top['k'])} the mean gain is "
                         f"{_num(top['gain'], _dec(top['ci_low'], top['ci_high']))} points, {pct} CI "
                         f"{_ci(top['ci_low'], top['ci_high'])} ({int(top['n_units'])} draw x seed units)")
            s = None
            if slopes is not None:
                sel = slopes[(slopes["target_task"] == target) & (slopes["arm"] == arm)]
                s = sel.iloc[0] if len(sel) else None
            if s is None or np.isnan(s["slope"]):
                lines.append(f"- In the {arm} arm, only k = {', '.join(map(str, a['k']))} was run, so no trend "
                             f"with k can be estimated; {level_txt}.")
                continue
            body = (f"slope {_num(s['slope'], _dec(s['ci_low'], s['ci_high']))} points per added task, {pct} CI "
                    f"{_ci(s['ci_low'], s['ci_high'])} "
                    f"(k = {s['k_values']})")
            if _excludes_zero(s["ci_low"], s["ci_high"]):
                trend = "rises" if s["slope"] > 0 else "falls"
                lines.append(f"- In the {arm} arm, gain {trend} with k: {body}; {level_txt}.")
            else:
                lines.append(f"- In the {arm} arm, no clear trend with k: {body}; {level_txt}.")
        if diffs is not None:
            for _, d in diffs[diffs["target_task"] == target].iterrows():
                head = f"- At k = {d['k']}, {d['arm_a']} minus {d['arm_b']}: " \
                       f"{_num(d['diff'], _dec(d['ci_low'], d['ci_high']))} points, {pct} CI " \
                       f"{_ci(d['ci_low'], d['ci_high'])}"
                if _excludes_zero(d["ci_low"], d["ci_high"]):
                    ahead = d["arm_a"] if d["diff"] > 0 else d["arm_b"]
                    lines.append(f"{head}: the {ahead} arm is ahead.")
                else:
                    lines.append(f"{head}: the arms cannot be told apart with these runs.")
        lines.extend(_seen_sentence(reg, target, pct))
    if units is not None and not units.empty:
        n_min = int(curve.loc[~curve["by_definition"].astype(bool), "n_units"].min()) if len(curve) else 0
        if n_min < 5:
            lines.append(f"Intervals are bootstrap percentiles over as few as {n_min} (draw, seed) units per point: "
                         f"read them as rough.")
    return "\n".join(lines)


def _seen_sentence(reg: pd.DataFrame, target: str, pct: str) -> list[str]:
    if reg is None or reg.empty:
        return []
    r = reg[reg["term"] == "seen_language"]
    if "target_task" in reg.columns:
        r = r[r["target_task"] == target]
    if r.empty:
        return []
    r = r.iloc[0]
    if isinstance(r["note"], str) and r["note"].startswith("dropped"):
        return [f"- The seen-language coefficient cannot be estimated: seen_language was {r['note'][9:]}."]
    txt = (f"{_num(r['coef'], _dec(r['ci_low'], r['ci_high']))} points, {pct} CI {_ci(r['ci_low'], r['ci_high'])} "
           f"({int(r['n_clusters'])} condition x seed clusters)")
    if _excludes_zero(r["ci_low"], r["ci_high"]):
        return [f"- Seen-language coefficient (target language among the intermediate tasks, k and number of "
                f"families held fixed): {txt}; an association in this design, not a measured effect."]
    return [f"- Seen-language coefficient: {txt}; no clear association between having the target language "
            f"among the intermediate tasks and the gain."]


# ---------------------------------------------------------------------------------------------
# published reference: Phang et al. 2020


def phang2020_reference() -> pd.DataFrame:
    """The reference rows (points) in reference/phang2020.csv; see reference/README.md for what is
    verified and what is missing. Adds ``target_task`` (this project's task name)."""
    try:
        from importlib.resources import files

        text = files("intertask").joinpath("reference").joinpath("phang2020.csv").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        text = (Path(__file__).resolve().parent / "reference" / "phang2020.csv").read_text(encoding="utf-8")
    ref = pd.read_csv(io.StringIO(text))
    ref["target_task"] = ref["task"].map(PHANG_TASK_NAMES)
    return ref


def compare_with_phang(task_scores: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our per-task scores (columns condition, target_task, score in points; mean over seeds if a
    seed column is present) next to Phang et al.'s baseline and best intermediate-task numbers.

    One row per (condition, target_task) of ours; their columns are NaN where the reference has no
    number. Their setup differs (XLM-R Large, test sets, QA as F1): read it for orientation only.
    """
    ref = phang2020_reference() if reference is None else reference
    ours = (task_scores.groupby(["condition", "target_task"])["score"].agg(["mean", "count"]).reset_index()
            .rename(columns={"mean": "score", "count": "n_seeds"}))
    wide = {}
    for setting in ("baseline", "best_intermediate"):
        s = ref[ref["setting"] == setting].drop_duplicates("target_task").set_index("target_task")
        wide[f"phang_{setting}"] = s["value"]
    meta = ref.drop_duplicates("target_task").set_index("target_task")[["task", "metric"]]
    meta = meta.rename(columns={"task": "phang_task", "metric": "phang_metric"})
    theirs = pd.concat([meta, pd.DataFrame(wide)], axis=1).reset_index().rename(columns={"index": "target_task"})
    out = ours.merge(theirs, on="target_task", how="left")
    out["minus_phang_baseline"] = out["score"] - out["phang_baseline"]
    out["minus_phang_best"] = out["score"] - out["phang_best_intermediate"]
    return out


@dataclass
class ScalingReport:
    """Everything the report shows for a scaling design."""

    frame: pd.DataFrame
    curve: pd.DataFrame
    regression: pd.DataFrame
    family_table: pd.DataFrame
    conclusion: str


def is_scaling_design(conditions: pd.DataFrame | None) -> bool:
    return conditions is not None and not conditions.empty and \
        bool(conditions["arm"].isin(["english", "diverse"]).any())


def scaling_report(gains: pd.DataFrame, conditions: pd.DataFrame | None, figures_dir: str | Path,
                   n_boot: int = 2000, seed: int = 0) -> ScalingReport | None:
    """Curves with CIs, regression, family heatmap and the conclusion; None without a design."""
    if not is_scaling_design(conditions) or gains.empty:
        return None
    frame = scaling_frame(gains, conditions)
    curve = gain_curve(frame, n_boot=n_boot, seed=seed)
    reg = regression(frame, n_boot=max(200, n_boot // 2), seed=seed)
    plot_gain_curves(curve, figures_dir)
    family_heatmap(frame, figures_dir)
    return ScalingReport(frame, curve, reg, family_gain_table(frame), conclusion(curve, reg, frame, n_boot, seed))
