"""The summary block that opens 04_report: the question, the baseline, each condition's gain with its
interval, the verdict in words, and where the study ran (provenance).

No new statistics: the intervals are the existing ones. Item-level gains use the paired item
bootstrap Holm-corrected by `claims.correct` (the same statements `claims.item_conclusion` makes);
seeds, where there are 3 or more, give a t interval on the seed means (`stats.mean_estimate`), shown
beside it uncorrected and never used for a verdict; a scaling design's levels are its t intervals
on draw means (`curves.gain_curve`), "not identified" below 3 draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import report
from ..provenance import Provenance, duration
from .claims import correct, sentence, statements
from .stats import MIN_CLUSTERS, mean_estimate

VERDICT_WORDS = {"positive": "above the baseline", "negative": "below the baseline",
                 "inconclusive": "not told apart from 0", "not identified": "not identified"}


def _fmt(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1f}"


def _interval(low: float, high: float) -> str:
    return "–" if any(isinstance(v, float) and math.isnan(v) for v in (low, high)) else f"[{_fmt(low)}, {_fmt(high)}]"


def seed_intervals(gains: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per target task and condition: the mean zero-shot gain per seed (points) and, with 3 or more
    seeds, a t interval over those seed means (uncorrected, descriptive)."""
    zs = gains[report.zero_shot_mask(gains)]
    per_seed = zs.groupby(["target_task", "condition", "seed"])["gain"].mean() * report.POINTS
    rows = []
    for (target, cond), s in per_seed.groupby(["target_task", "condition"]):
        n = s.size
        low = high = float("nan")
        if n >= MIN_CLUSTERS:
            low, high = (float(v) for v in mean_estimate(s.to_numpy(float)).interval(level))
        rows.append({"target_task": target, "condition": cond, "seeds": n, "seed_low": low, "seed_high": high})
    return pd.DataFrame(rows, columns=["target_task", "condition", "seeds", "seed_low", "seed_high"])


def item_claims(item_means: pd.DataFrame | None) -> pd.DataFrame:
    """The Holm-corrected item-level statements (one per target task and condition), as the report's
    item conclusion makes them; empty without item scores."""
    if item_means is None or item_means.empty:
        return pd.DataFrame()
    return correct(statements(None, None, None, None, item_means))


def condition_table(levels: pd.DataFrame, gains: pd.DataFrame, claims: pd.DataFrame,
                    conditions: pd.DataFrame | None) -> pd.DataFrame:
    """One row per target task and condition: what it trained on, its zero-shot score, the mean gain
    over the baseline, the corrected item-level interval, the seed interval and the verdict."""
    zs = gains[report.zero_shot_mask(gains)]
    mean_gain = (zs.groupby(["target_task", "condition"])["gain"].mean() * report.POINTS).rename("gain")
    table = levels[levels["condition"] != report.BASELINE].merge(mean_gain.reset_index(),
                                                                 on=["target_task", "condition"], how="left")
    table = table.merge(seed_intervals(gains), on=["target_task", "condition"], how="left", suffixes=("", "_g"))
    item = claims[claims["kind"] == "item-level gain"] if not claims.empty else pd.DataFrame()
    if not item.empty:
        item = item.assign(condition=item["subject"].str.replace(r" \(mean over \d+ languages\)$", "", regex=True))
        # the main metric's statement (QA items also give exact-match statements, listed in the verdict)
        table = table.merge(item[["target_task", "metric", "condition", "corr_low", "corr_high", "level", "verdict",
                                  "mde"]], on=["target_task", "metric", "condition"], how="left")
    else:
        table = table.assign(corr_low=np.nan, corr_high=np.nan, level=np.nan, verdict="no item scores", mde=np.nan)
    tasks = {}
    if conditions is not None and not conditions.empty:
        tasks = dict(zip(conditions["condition"], conditions["tasks"].astype(str).str.replace("+", ", ")))
    out = pd.DataFrame({
        "target": table["target_task"], "condition": table["condition"],
        "intermediate tasks": table["condition"].map(tasks).fillna(table["condition"]),
        "zero-shot score": table["zero_shot"], "gain": table["gain"],
        "item interval (Holm)": [_interval(lo, hi) for lo, hi in zip(table["corr_low"], table["corr_high"])],
        "seed interval": [_interval(lo, hi) if n >= MIN_CLUSTERS else f"not identified ({int(n)} seed{'s' * (n != 1)})"
                          for lo, hi, n in zip(table["seed_low"], table["seed_high"], table["seeds_g"].fillna(0))],
        "verdict": table["verdict"].map(lambda v: VERDICT_WORDS.get(v, v)),
    })
    return out.set_index(["target", "condition"])


def question(results: pd.DataFrame, description: str, conditions: pd.DataFrame | None = None) -> str:
    """The study's question in one sentence, from what it ran or plans (and its own description)."""
    planned = conditions["condition"] if conditions is not None and not conditions.empty else results["condition"]
    conds = sorted(c for c in set(planned) | set(results["condition"]) if c != report.BASELINE)
    targets = sorted(results["target_task"].unique())
    n_lang = results[report.zero_shot_mask(results)]["language"].nunique()
    named = ", ".join(f"`{c}`" for c in conds[:6]) + (f" and {len(conds) - 6} more" if len(conds) > 6 else "")
    text = (f"**Question.** Does training on intermediate tasks first ({named}) change zero-shot transfer to "
            f"{', '.join(targets)} in {n_lang} languages other than the training language, compared with "
            f"fine-tuning on the target task directly (`{report.BASELINE}`)?")
    return text + (f"\n\n*The study:* {description.strip()}" if description.strip() else "")


def baseline_text(levels: pd.DataFrame) -> str:
    base = levels[levels["condition"] == report.BASELINE]
    if base.empty:
        return "**Baseline.** The study has no `none` condition, so no gain can be computed."
    parts = [f"{r['target_task']} {r['metric']} {r['zero_shot']:.1f} points (mean over {int(r['n_languages'])} "
             f"zero-shot languages" + (f"; training language {r['source']:.1f}" if not math.isnan(r["source"]) else "")
             + ")" for _, r in base.iterrows()]
    return "**Baseline** (no intermediate task, target fine-tuning only): " + "; ".join(parts) + "."


def verdict_text(claims: pd.DataFrame, seeds: int) -> str:
    """The answer in words: only the directions the Holm-corrected intervals carry."""
    if claims.empty:
        return ("**Verdict.** No per-item scores were recorded, so no gain has an interval that supports a "
                "direction: none is claimed. The gains above are point estimates.")
    decided = claims[claims["verdict"].isin(["positive", "negative"])]
    n = len(claims)
    if decided.empty:
        which = "The one statement" if n == 1 else f"None of the {n} statements"
        head = (f"**Verdict.** {which} can claim a direction: no interval excludes 0, so no intermediate-task "
                f"condition is told apart from the baseline.")
    else:
        said = "; ".join(f"{s['subject']} {VERDICT_WORDS[s['verdict']]} ({_fmt(s['estimate'])} points)"
                         for _, s in decided.iterrows())
        head = f"**Verdict.** {len(decided)} of {n} statements claim a direction after Holm's correction: {said}."
    lines = [head, "", *[sentence(s) for _, s in claims.iterrows()]]
    caveat = ("Item-level intervals describe the test-item sample only" +
              (f"; with {seeds} seed{'s' * (seeds != 1)}, the spread between training runs is not in them."
               if seeds < MIN_CLUSTERS else "; the seed interval in the table adds the spread between training runs."))
    return "\n".join(lines) + "\n\n" + caveat


ITEM_LEVEL_CAVEAT = ("Item-level statements compare a condition's training runs with the baseline's on the "
                     "test-item sample: the spread between training runs (seeds) and between task draws is not "
                     "in their intervals, so they say nothing about a condition beyond these runs.")


def scaling_verdict(claims: pd.DataFrame) -> str:
    """A scaling design's statements (already Holm-corrected together): the directions they carry."""
    decided = claims[claims["verdict"].isin(["positive", "negative"])]
    refused = int((claims["verdict"] == "not identified").sum())
    runs_only = int((decided["kind"] == "item-level gain").sum())
    head = (f"**Verdict.** {len(decided)} of {int(claims['n_statements'].max()) if len(claims) else 0} testable "
            f"statements claim a direction after Holm's correction"
            + (f" ({runs_only} of them item-level: about these training runs, not the conditions)" if runs_only else "")
            + f"; {refused} are not identified (fewer than {MIN_CLUSTERS} task draws).")
    text = head + "\n\n" + "\n".join(sentence(s) for _, s in claims.iterrows())
    return text + ("\n\n" + ITEM_LEVEL_CAVEAT if (claims["kind"] == "item-level gain").any() else "")


def scaling_table(curve: pd.DataFrame) -> pd.DataFrame:
    """A scaling design's levels: gain per arm and k with its t interval over draws (or 'not identified')."""
    real = curve[~curve["by_definition"].astype(bool)]
    return pd.DataFrame({
        "target": real["target_task"], "arm": real["arm"], "k": real["k"].astype(int), "draws": real["n_draws"],
        "gain": real["gain"],
        "95% t interval (draws)": [_interval(lo, hi) if ok else "not identified"
                                   for lo, hi, ok in zip(real["ci_low"], real["ci_high"], real["identified"])],
    }).set_index(["target", "arm", "k"])


def _budget_line(stage: str, budget: dict) -> str:
    shown = {k: v for k, v in budget.items() if v is not None and k not in ("sampler", "temperature")
             or (k == "sampler" and v != "proportional")}
    return f"{stage}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shown.items())


def provenance_text(prov: Provenance, study_params: dict, results: pd.DataFrame) -> str:
    """Date, commit, package versions, hardware, budgets and compute, as a Markdown list."""
    lines = ["**Provenance**", ""]
    if not prov.stages:
        lines.append("- No finished stage records beside these results: when and where they were computed, and "
                     "with which code, is not known.")
    if prov.started is not None:
        lines.append(f"- Ran: {prov.started:%Y-%m-%d %H:%M} to {prov.finished:%Y-%m-%d %H:%M} (machine time), "
                     f"{prov.stages} stages.")
    if prov.stages:
        code = ", ".join(prov.commits) or "not recorded"
        mixed = " (stages ran on different commits)" if len(prov.commits) > 1 else ""
        lines.append(f"- Code: intertask {', '.join(prov.versions) or 'version not recorded'}, git commit {code}{mixed}.")
    models = ", ".join(sorted(results["model"].unique()))
    note = " (4-bit dequantized multilingual-e5-small)" if "4bit" in models or "4-bit" in models else ""
    lines.append(f"- Model: `{models}`{note}.")
    if prov.packages:
        pk = ", ".join(f"{name} {'/'.join(v)}" for name, v in prov.packages.items())
        lines.append(f"- Packages: {pk}.")
        lines.append(f"- Hardware: {'; '.join(prov.hardware)}.")
    if prov.unrecorded:
        lines.append(f"- Package versions and hardware: not recorded for {prov.unrecorded} of {prov.stages} stages "
                     f"(their records predate the runner's environment record).")
    budgets = study_params.get("budgets", {})
    if budgets:
        lines.append("- Budgets: " + "; ".join(_budget_line(k, v) for k, v in budgets.items() if isinstance(v, dict))
                     + f"; seeds {study_params.get('seeds', sorted(results['seed'].unique()))}.")
    if prov.seconds:
        kinds = ", ".join(f"{k} {duration(s)}" for k, s in prov.seconds_by_kind.items())
        lines.append(f"- Compute: {duration(prov.seconds)} of stage time in all ({kinds}).")
    return "\n".join(lines)


@dataclass
class Summary:
    """What the top of the report shows."""

    question: str
    baseline: str
    table: pd.DataFrame
    verdict: str
    provenance: str


def summarize(results: pd.DataFrame, gains: pd.DataFrame, item_means: pd.DataFrame | None,
              conditions: pd.DataFrame | None, scaling, prov: Provenance, study_params: dict,
              description: str = "") -> Summary:
    """The summary block. `gains` is `report.gains(report.main_metric(results))`; `scaling` the
    `ScalingReport` of a design (its claims are corrected together with the item-level ones) or None."""
    levels = report.zero_shot_levels(results)
    seeds = int(results["seed"].nunique())
    if scaling is not None:
        claims = scaling.claims
        table = scaling_table(scaling.curve)
        verdict = scaling_verdict(claims)
    else:
        claims = item_claims(item_means)
        table = condition_table(levels, gains, claims, conditions)
        verdict = verdict_text(claims, seeds)
    if table.empty:
        verdict = "**Verdict.** No intermediate-task condition has results yet, so there is no gain to judge."
    return Summary(question(results, description, conditions), baseline_text(levels), table, verdict,
                   provenance_text(prov, study_params, results))
