"""Figures of the scaling analysis and of the item-level gains (saved with `figures.save_figure`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..figures import save_figure
from .frame import arm_rank, zero_shot


def _save(fig, figures_dir: str | Path | None, name: str) -> None:
    if figures_dir is not None:
        save_figure(fig, figures_dir, name)


def plot_gain_curves(curve: pd.DataFrame, figures_dir: str | Path | None):
    """Gain (points) vs k per arm with 95% t intervals over task draws, one panel per target task.

    Saves gain_vs_k.png; k = 0 is the baseline (0 by definition). Points whose interval is not
    identified (fewer than 3 draws) are drawn hollow, without a bar.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if curve.empty:
        print("no gains to plot")
        return None
    targets = sorted(curve["target_task"].unique())
    arms = sorted(curve["arm"].unique(), key=arm_rank)
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
            err = np.nan_to_num(np.vstack([y - a["ci_low"].to_numpy(float), a["ci_high"].to_numpy(float) - y]))
            ax.errorbar(x, y, yerr=err, color=colors[arm], marker="o", capsize=3, lw=1.5,
                        label=f"{arm} (≤{int(a['n_draws'].max())} draws/k)")
            hollow = ~a["identified"].astype(bool).to_numpy()
            ax.scatter(x[hollow], y[hollow], s=60, facecolors="white", edgecolors=colors[arm], zorder=3)
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        ax.set_xticks(sorted(sub["k"].unique()))
        metric = f" ({sub['metric'].iloc[0]})" if "metric" in sub.columns else ""
        ax.set_title(f"{target}{metric}")
        ax.set_xlabel("k (intermediate tasks)")
        ax.set_ylabel("zero-shot gain over baseline (points)")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(targets):]:
        ax.set_visible(False)
    fig.suptitle("Gain vs number of intermediate tasks (mean, 95% t interval over task draws; hollow: "
                 "not identified)", fontsize=10)
    fig.tight_layout()
    _save(fig, figures_dir, "gain_vs_k.png")
    return fig


def family_gain_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean zero-shot gain (points) by target task x target language family (rows) and arm-k (columns)."""
    frame = zero_shot(frame)
    if frame.empty:
        return pd.DataFrame()
    f = frame.assign(column=[f"{a} k={k}" for a, k in zip(frame["arm"], frame["k"])])
    order = sorted(f["column"].unique(), key=lambda c: (arm_rank(c.split(" k=")[0]), int(c.split("k=")[1])))
    table = (f.groupby(["target_task", "target_family", "column"])["gain"].mean() * 100).unstack("column")
    return table[order]


def family_heatmap(frame: pd.DataFrame, figures_dir: str | Path | None):
    """Heatmap of the mean zero-shot gain (points) by target language family x arm-k per target task."""
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
        ax.set_title(f"{target}: mean zero-shot gain by target-language family")
        ax.set_xlabel("arm, k")
        ax.set_ylabel("target language family")
    fig.tight_layout()
    _save(fig, figures_dir, "gain_by_family.png")
    return fig


def plot_item_bars(item_means: pd.DataFrame, figures_dir: str | Path | None):
    """Mean zero-shot gain per condition with paired item-bootstrap 95% error bars (item_gain_bars.png)."""
    import matplotlib.pyplot as plt

    if item_means.empty:
        print("no item-level scores recorded: no item intervals to plot")
        return None
    targets = sorted(item_means["target_task"].unique())
    fig, axes = plt.subplots(1, len(targets), squeeze=False,
                             figsize=(max(5, 0.5 * item_means["condition"].nunique() + 3) * len(targets), 3.6))
    for ax, target in zip(axes[0], targets):
        sub = item_means[item_means["target_task"] == target].sort_values("condition")
        y = sub["gain"].to_numpy(float)
        err = np.vstack([y - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - y])
        ax.bar(range(len(sub)), y, yerr=err, capsize=3, color="#4C72B0")
        ax.set_xticks(range(len(sub)), sub["condition"], rotation=45, ha="right", fontsize=8)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("mean zero-shot gain (points)")
        ax.set_title(f"{target}: gain over baseline, 95% paired item bootstrap")
    fig.tight_layout()
    _save(fig, figures_dir, "item_gain_bars.png")
    return fig


def plot_item_heatmap(per_language: pd.DataFrame, figures_dir: str | Path | None):
    """Condition x language gains (points); hatched cells: the item-level 95% interval covers 0."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if per_language.empty:
        print("no item-level scores recorded: no item intervals to plot")
        return None
    targets = sorted(per_language["target_task"].unique())
    n_cond = per_language["condition"].nunique()
    fig, axes = plt.subplots(len(targets), 1, squeeze=False,
                             figsize=(max(6, 0.6 * per_language["language"].nunique() + 3),
                                      (1.2 + 0.45 * n_cond) * len(targets)))
    for ax, target in zip(axes[:, 0], targets):
        sub = per_language[per_language["target_task"] == target]
        table = sub.pivot_table(index="condition", columns="language", values="gain")
        covers = sub.assign(c=(sub["ci_low"] <= 0) & (sub["ci_high"] >= 0)).pivot_table(
            index="condition", columns="language", values="c", aggfunc="first").reindex_like(table)
        bound = max(1.0, float(np.nanmax(np.abs(table.to_numpy(float)))))
        sns.heatmap(table, ax=ax, cmap="RdBu", center=0, vmin=-bound, vmax=bound, annot=True, fmt=".1f",
                    cbar_kws={"label": "gain (points)"})
        for i, cond in enumerate(table.index):
            for j, lang in enumerate(table.columns):
                if bool(covers.loc[cond, lang]) is True:
                    ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, hatch="///", edgecolor="grey", lw=0))
        ax.set_title(f"{target}: gain per language (hatched: 95% item interval covers 0)")
        ax.set_xlabel("target language")
        ax.set_ylabel("condition")
    fig.tight_layout()
    _save(fig, figures_dir, "item_gain_heatmap.png")
    return fig
