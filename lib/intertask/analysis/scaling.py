"""Everything 04_report shows for a scaling design, in one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .claims import conclusion, correct, statements
from .control import CONTROL_ARM, control_contrast, control_sentences
from .curves import arm_difference, arm_slopes, gain_curve
from .frame import scaling_frame, source_language_table, unit_table
from .items import item_gains
from .plots import family_gain_table, family_heatmap, plot_gain_curves, plot_item_bars, plot_item_heatmap
from .power import Components, estimate_components, power_text
from .regression import format_composition
from .regression import mixed_model as fit_mixed_model
from .regression import regression


@dataclass
class ScalingReport:
    """The scaling analysis of one study: tables (points), corrected statements and the words."""

    frame: pd.DataFrame
    curve: pd.DataFrame
    slopes: pd.DataFrame
    differences: pd.DataFrame
    regression: pd.DataFrame
    mixed: pd.DataFrame
    family_table: pd.DataFrame
    source_rows: pd.DataFrame
    claims: pd.DataFrame
    conclusion: str
    power: str = ""
    item_languages: pd.DataFrame = field(default_factory=pd.DataFrame)
    item_means: pd.DataFrame = field(default_factory=pd.DataFrame)
    control: pd.DataFrame = field(default_factory=pd.DataFrame)  # arms' gains over the equal-compute control
    formats: str = ""   # whether the arms' format composition differs, and what the analysis does about it


def mark_formats(differences: pd.DataFrame, frame: pd.DataFrame,
                 mixed: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """Flags (``format_confounded``) the arm differences at a k where the arms hold different formats,
    notes the same on the MixedLM cross-check's arm differences, and returns the report's note on the
    format composition, one sentence per target task ('' if the design recorded no format counts)."""
    out = differences.assign(format_confounded=False)
    mixed = mixed.copy() if mixed is not None else None
    notes = []
    for target, g in frame.groupby("target_task"):
        comp = format_composition(g)
        if comp.note():
            notes.append(f"**{target}**: {comp.note()}" if frame["target_task"].nunique() > 1 else comp.note())
        if not comp.differs:
            continue
        if not out.empty:
            out.loc[(out["target_task"] == target) & out["k"].isin(comp.ks), "format_confounded"] = True
        if mixed is not None and not mixed.empty:
            hit = (mixed["target_task"] == target) & mixed["what"].str.endswith(tuple(f" at k = {k}" for k in comp.ks))
            mixed.loc[hit, "note"] = [("; ".join(filter(None, [n, "arms differ in format composition: not a "
                                                                 "diversity effect"])))
                                      for n in mixed.loc[hit, "note"].fillna("")]
    return out, mixed, "\n".join(notes)


def is_scaling_design(conditions: pd.DataFrame | None) -> bool:
    return conditions is not None and not conditions.empty and \
        bool(conditions["arm"].isin(["english", "diverse"]).any())


def scaling_report(gains: pd.DataFrame, conditions: pd.DataFrame | None, figures_dir: str | Path | None,
                   n_boot: int = 1000, seed: int = 0, scale: str = "k", items: pd.DataFrame | None = None,
                   mixed_model: bool = True, level: float = 0.95,
                   design: tuple[list[int], int, int] | None = None) -> ScalingReport | None:
    """Curves, slopes, arm differences, regression (+ MixedLM), Holm-corrected conclusion, power.

    `items` (from `items.load_items`) adds paired item-level intervals; `design` (k values, draws,
    seeds) adds the power text for the design as run. ``mixed_model=False`` skips the statsmodels
    cross-check (the slow part). Returns None without a scaling design.
    """
    if not is_scaling_design(conditions) or gains.empty:
        return None
    full = scaling_frame(gains, conditions)
    # the equal-compute control (k = 0, extra training only) is a reference, not a level of k: it is
    # kept out of the curves and the regression; `control_contrast` gives its own statements and sentences
    frame = full[full["arm"] != CONTROL_ARM]
    curve = gain_curve(frame, level, n_boot, seed)
    units = unit_table(frame)
    slopes = arm_slopes(units, level, scale, n_boot, seed)
    reg = regression(frame, level, scale=scale)
    mixed = fit_mixed_model(frame, level, scale) if mixed_model else pd.DataFrame()
    diffs, mixed, formats = mark_formats(arm_difference(units, level, n_boot, seed), frame, mixed)
    per_lang, means = (item_gains(items, level, n_boot, seed) if items is not None and not items.empty
                       else (pd.DataFrame(), pd.DataFrame()))
    over_control = control_contrast(unit_table(full), level)
    claims = correct(statements(curve, slopes, diffs, reg, means if not means.empty else None, over_control))
    real = curve[~curve["by_definition"].astype(bool)]
    source = source_language_table(frame)
    text = conclusion(claims, int(real["n_draws"].max()) if len(real) else None, source)
    text = text + ("\n" + formats if formats else "")
    extra = control_sentences(over_control, level)
    text = text + ("\n" + extra if extra else "")
    power = ""
    if design is not None:
        try:
            comp = estimate_components(frame)
        except ValueError as e:
            comp = Components(source=f"stated defaults ({e})")
        power = power_text(*design, comp, scale=scale)
    if figures_dir is not None:
        plot_gain_curves(curve, figures_dir)
        family_heatmap(frame, figures_dir)
        if not per_lang.empty:
            plot_item_bars(means, figures_dir)
            plot_item_heatmap(per_lang, figures_dir)
    return ScalingReport(frame, curve, slopes, diffs, reg, mixed, family_gain_table(frame), source, claims, text,
                         power, per_lang, means, over_control, formats)
