"""Directional statements, Holm-corrected, and the conclusion in words.

Every statement the report could make about a direction (a slope, an arm difference, a gain's
level, a seen-language coefficient, an item-level mean gain) becomes a row with its estimate, SE,
df and p. Holm's step-down correction runs over all of them together (family-wise 5%). A
statement claims a direction only if its Holm-adjusted p is below alpha; its corrected interval
then excludes 0. Otherwise it is "inconclusive", with the smallest effect the design could detect
at that corrected level, or "not identified" when it rests on fewer than 3 task draws.
Holm-consistent intervals: a rejected statement gets the level of its own step; once a step fails,
every remaining statement gets that step's level, so its interval covers 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import arm_rank
from .stats import MIN_CLUSTERS, minimal_detectable, t_quantile

FEW_CLUSTERS = 10
STATEMENT_COLUMNS = ["target_task", "metric", "kind", "subject", "unit", "estimate", "se", "df", "p", "ci_low",
                     "ci_high", "identified", "n_clusters", "reason"]


def statements(curve: pd.DataFrame | None, slopes: pd.DataFrame | None, differences: pd.DataFrame | None,
               regression: pd.DataFrame | None = None, item_means: pd.DataFrame | None = None,
               control: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per directional statement, uncorrected (see `correct`); None parts contribute nothing.

    `control` (`control.control_contrast`) adds the equal-compute control's own gain and, at each
    arm's largest k, the arm's gain over it: what intermediate tasks add beyond extra training.
    """
    rows = []

    def add(src, kind: str, subject: str, unit: str, est_col: str, n: int, reason: str = "") -> None:
        rows.append({"target_task": src["target_task"], "metric": src.get("metric", ""), "kind": kind,
                     "subject": subject, "unit": unit, "estimate": src[est_col], "se": src.get("se", np.nan),
                     "df": src.get("df", np.nan), "p": src.get("p", np.nan), "ci_low": src["ci_low"],
                     "ci_high": src["ci_high"], "identified": bool(src.get("identified", True)) and not reason,
                     "n_clusters": n, "reason": reason})

    for _, s in (slopes if slopes is not None else pd.DataFrame()).iterrows():
        unit = "points per added task" if s["scale"] == "k" else "points per doubling of k"
        add(s, "slope", f"{s['arm']} arm", unit, "estimate", int(s["n_draws"]))
    if curve is not None and not curve.empty:
        real = curve[~curve["by_definition"].astype(bool)]
        for (_t, arm), g in real.groupby(["target_task", "arm"]):
            top = g.sort_values("k").iloc[-1]
            add(top, "gain", f"{arm} arm at k = {int(top['k'])}", "points", "gain", int(top["n_draws"]))
    for _, d in (differences if differences is not None else pd.DataFrame()).iterrows():
        # an arm difference where the arms hold different formats is not a diversity effect (`mark_formats`)
        confounded = bool(d.get("format_confounded", False))
        add(d, "arm difference", f"{d['arm_a']} minus {d['arm_b']} at k = {int(d['k'])}", "points", "estimate",
            int(min(d["n_a"], d["n_b"])),
            "the arms differ in format composition at this k, so the difference mixes language diversity with "
            "task format (the format-adjusted diversity term stands in for it)" if confounded else "")
    if regression is not None and not regression.empty and "target_task" in regression.columns:
        for _, r in regression[regression["term"] == "seen_language"].iterrows():
            if isinstance(r["note"], str) and r["note"].startswith("dropped"):
                continue
            add(r, "seen language", "seen-language coefficient", "points", "coef", int(r["term_clusters"]))
        adjusted = regression["format_adjusted"].astype(bool) if "format_adjusted" in regression.columns else False
        for _, r in regression[(regression["term"] == "n_families") & adjusted].iterrows():
            if isinstance(r["note"], str) and r["note"].startswith("dropped"):
                continue
            add(r, "diversity", "language families covered, format counts held fixed", "points per added family",
                "coef", int(r["term_clusters"]))
    if control is not None and not control.empty:
        for _key, g in control.groupby([c for c in ("target_task", "metric") if c in control.columns]):
            first = g.iloc[0].copy()
            first[["se", "df", "p"]] = first[["control_se", "control_df", "control_p"]].to_numpy()
            half = t_quantile(0.975, first["df"]) * first["se"] if np.isfinite(first["df"]) else np.nan
            first["ci_low"], first["ci_high"] = first["control_gain"] - half, first["control_gain"] + half
            first["identified"] = bool(np.isfinite(first["se"]))
            add(first, "control", "equal-compute control (extra training only) over the baseline", "points",
                "control_gain", int(first["n_control"]),
                "" if first["identified"] else "it ran one seed, so its noise is not observed")
            for _arm, h in g.groupby("arm"):
                top = h.sort_values("k").iloc[-1]
                add(top, "over control", f"{top['arm']} arm at k = {int(top['k'])} over the equal-compute control",
                    "points", "over_control", int(top["n_draws"]))
    if item_means is not None:
        for _, m in item_means.iterrows():
            m = m.copy()
            m["df"] = np.inf
            add(m, "item-level gain", f"{m['condition']} (mean over {int(m['n_languages'])} languages)", "points",
                "gain", 0)
    return pd.DataFrame(rows, columns=STATEMENT_COLUMNS)


def correct(st: pd.DataFrame, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Adds p_holm, level (Holm-consistent), corr_low, corr_high, mde and verdict."""
    st = st.copy()
    ok = st["identified"].astype(bool) & st["p"].notna()
    st["p_holm"] = np.nan
    st["level"] = np.nan
    idx = np.flatnonzero(ok.to_numpy())
    m = idx.size
    if m:
        order = idx[np.argsort(st["p"].to_numpy()[idx], kind="stable")]
        p_sorted = st["p"].to_numpy()[order]
        steps = alpha / (m - np.arange(m))
        fails = np.flatnonzero(p_sorted > steps)
        stop = fails[0] if fails.size else m
        adj = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p_sorted), 1.0)
        levels = np.where(np.arange(m) < stop, 1 - steps, 1 - steps[min(stop, m - 1)])
        st.loc[st.index[order], "p_holm"] = adj
        st.loc[st.index[order], "level"] = levels
    q = t_quantile(1 - (1 - st["level"].to_numpy(float)) / 2, st["df"].to_numpy(float))
    st["corr_low"] = st["estimate"] - q * st["se"]
    st["corr_high"] = st["estimate"] + q * st["se"]
    st["mde"] = minimal_detectable(st["se"].to_numpy(float), st["df"].to_numpy(float),
                                   1 - st["level"].to_numpy(float), power)
    st["verdict"] = np.where(~ok, "not identified",
                             np.where(st["p_holm"] < alpha, np.where(st["estimate"] > 0, "positive", "negative"),
                                      "inconclusive"))
    st["n_statements"] = m
    return st


def _num(x: float, d: int = 1) -> str:
    text = f"{x:+.{d}f}"
    return "+" + text[1:] if float(text) == 0 else text


def _ci(low: float, high: float) -> str:
    return "not available" if np.isnan(low) or np.isnan(high) else f"[{_num(low)}, {_num(high)}]"


_VERBS = {"slope": ("rises with k", "falls with k"), "gain": ("is above the baseline", "is below the baseline"),
          "arm difference": ("the first arm is ahead", "the second arm is ahead"),
          "seen language": ("seen target languages gain more", "seen target languages gain less"),
          "diversity": ("more language families gain more", "more language families gain less"),
          "control": ("extra training alone helps", "extra training alone hurts"),
          "over control": ("the intermediate tasks add to what extra training gives",
                           "the intermediate tasks do worse than extra training"),
          # an item bootstrap holds the trained models fixed: the claim is about these runs, not the condition
          "item-level gain": ("the condition's runs are above the baseline's on these test items",
                              "the condition's runs are below the baseline's on these test items")}


def sentence(s: pd.Series) -> str:
    """One statement in words, claiming no more than its corrected interval."""
    head = f"{s['subject']}: {_num(s['estimate'])} {s['unit']}"
    if s["verdict"] == "not identified":
        reason = s.get("reason")
        why = reason if isinstance(reason, str) and reason else {
            "seen language": f"only {int(s['n_clusters'])} task draw(s) carry it (needs {MIN_CLUSTERS})",
            "item-level gain": "no interval"}.get(
            s["kind"], f"rests on {int(s['n_clusters'])} task draw(s) per cell (needs {MIN_CLUSTERS})")
        return f"- {s['kind'].capitalize()}, {head}: **not identified**, {why}; no direction can be claimed."
    ci = f"{s['level']:.1%} Holm-corrected CI {_ci(s['corr_low'], s['corr_high'])}"
    if s["verdict"] in ("positive", "negative"):
        verb = _VERBS[s["kind"]][0 if s["verdict"] == "positive" else 1]
        return f"- {s['kind'].capitalize()}, {head} ({ci}): {verb}."
    return (f"- {s['kind'].capitalize()}, {head} ({ci}): **inconclusive**; this design could detect "
            f"{_num(abs(s['mde']))[1:]} {s['unit']} (80% power at this corrected level).")


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]   # str.capitalize would lower "CR2" and "MixedLM"


def item_conclusion(item_means: pd.DataFrame, alpha: float = 0.05) -> str:
    """Holm-corrected sentences on each condition's mean item-level gain (for studies without a design)."""
    if item_means is None or item_means.empty:
        return "No per-item scores were recorded, so no item-level statement is made."
    return conclusion(correct(statements(None, None, None, None, item_means), alpha))


def conclusion(st: pd.DataFrame, max_draws: int | None = None, source_rows: pd.DataFrame | None = None) -> str:
    """The findings in sentences from the corrected statements, per target task."""
    lines: list[str] = []
    for target, g in st.groupby("target_task", sort=True):
        metric = f" ({g['metric'].iloc[0]})" if g["metric"].iloc[0] else ""
        lines.append(f"**{target}**{metric}, zero-shot languages (the training language is left out):")
        order = {"slope": 0, "gain": 1, "arm difference": 2, "diversity": 3, "seen language": 4, "control": 5,
                 "over control": 6, "item-level gain": 7}
        for _, s in g.sort_values("kind", key=lambda c: c.map(order)).iterrows():
            lines.append(sentence(s))
    n = int(st["n_statements"].max()) if len(st) else 0
    claims = int(st["verdict"].isin(["positive", "negative"]).sum())
    refused = int((st["verdict"] == "not identified").sum())
    methods = []
    if st["kind"].isin(["slope", "gain", "arm difference", "seen language"]).any():
        methods.append("slopes, levels and arm differences use t intervals on task-draw means (draws are the "
                       "clusters; seeds averaged inside them; the baseline's seed noise added to levels)")
    if st["kind"].isin(["control", "over control"]).any():
        methods.append("the control's gain uses a t interval over its seeds, and an arm's gain over the control "
                       "a t interval on the arm's task-draw means with the control's seed noise added")
    if (st["kind"] == "diversity").any():
        methods.append("the format-adjusted diversity term is the regression's n_families coefficient with CR2 "
                       "cluster-robust t intervals (draws are the clusters)")
    if (st["kind"] == "item-level gain").any():
        methods.append("item-level gains use a paired bootstrap over the test items (normal p from its SD)")
    lines.append(f"\n{claims} of the {n} testable directional statements claim a direction after Holm's correction "
                 f"across all of them (family-wise error 5%); {refused} more are not identified. "
                 + _first_upper("; ".join(methods)) + ".")
    if max_draws is not None and max_draws < FEW_CLUSTERS:
        lines.append(f"These intervals rest on few clusters (at most {max_draws} task draws per cell, fewer than "
                     f"about {FEW_CLUSTERS}): they are valid only if draw effects are roughly normal; read them as "
                     f"rough.")
    if source_rows is not None and not source_rows.empty:
        parts = [f"{r['arm']} k = {int(r['k'])}: {_num(r['gain'])}" for _, r in
                 source_rows.assign(_rank=source_rows["arm"].map(arm_rank)).sort_values(["_rank", "k"]).iterrows()]
        lines.append(f"Training language ({source_rows['language'].iloc[0]}, not zero-shot, no claim made): mean gain "
                     f"{'; '.join(parts)} points.")
    return "\n".join(lines)
