"""Study analysis from the tidy results table: per-language tables, gains over the baseline, plots.

No torch: reports are made where the results are, not where the GPUs are.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .benchmarks import XTREME_R, benchmarks_of, get_benchmark
from .figures import save_figure
from .languages import families_of
from .leakage import target_in_pool
from .metrics import qa_task_metric, xtreme_r_score
from .registry import REGISTRY
from .results import RESULT_COLUMNS

BASELINE = "none"


def load_results(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no results yet; run the study's evaluation stages first")
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a results table (missing columns {missing})")
    return load_results_frame(df)


def load_results_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Normalise a results table read elsewhere (types, the condition column)."""
    df = df.copy()
    if "status" in df.columns:  # the study table lists runs without results as missing: keep them aside
        missing = df[df["status"] == "missing"]
        df = df[df["status"] != "missing"].copy()
        df.attrs["missing_runs"] = dict(zip(missing["run"], missing["reason"].fillna("")))
    df["intermediate_tasks"] = df["intermediate_tasks"].astype(str)
    if "condition" not in df.columns:  # a single evaluation stage's table
        df["condition"] = df["intermediate_tasks"]
    if "overlap" not in df.columns:  # written before the content guard: unknown, not zero
        df["overlap"] = pd.NA
    if "target_in_pool" not in df.columns:
        df["target_in_pool"] = [_in_pool(t, i) for t, i in zip(df["target_task"], df["intermediate_tasks"])]
    df["target_in_pool"] = df["target_in_pool"].astype(str).str.lower().eq("true")
    return df


def _in_pool(target: str, intermediate_tasks: str) -> bool:
    """The flag for a table written before it existed; names outside the registry (simulated studies)
    cannot be checked and count as not flagged."""
    tasks = [x for x in str(intermediate_tasks).split("+") if x and x != BASELINE]
    if target not in REGISTRY or any(t not in REGISTRY for t in tasks):
        return False
    return target_in_pool(target, tasks)


def data_table(results: pd.DataFrame) -> pd.DataFrame:
    """What was evaluated, per target task and condition: the split (what the items really are: a test
    set, a dev set, or the held-out part of one), items scored, items not scored because their content
    was trained on or used for model selection, and whether the target's own data was in the pool."""
    first = results.drop_duplicates(["run", "target_task", "language"])
    table = first.groupby(["target_task", "condition"]).agg(
        split=("split", lambda s: ", ".join(sorted(set(map(str, s))))),
        languages=("language", "nunique"), scored=("n_examples", "sum"),
        not_scored_overlap=("overlap", lambda s: pd.NA if s.isna().any() else int(s.sum())),
        target_in_pool=("target_in_pool", "any"))
    return table


def header(study: str, description: str, results: pd.DataFrame) -> str:
    models = ", ".join(sorted(results["model"].unique()))
    note = " Scores of the offline model are from a **4-bit dequantized** multilingual-e5-small." \
        if "4bit" in models or "4-bit" in models else ""
    n_runs = results["run"].nunique()
    seeds = sorted(int(s) for s in results["seed"].unique())
    missing = results.attrs.get("missing_runs", {})
    gap = (f"\n\n**{len(missing)} run(s) have no results** and are left out: "
           + "; ".join(f"`{run}` ({why})" for run, why in missing.items())) if missing else ""
    flagged = sorted(results.loc[results["target_in_pool"], "run"].unique()) if "target_in_pool" in results else []
    warn = (f"\n\n**Not zero-shot:** {len(flagged)} run(s) trained on the target task's own data in the intermediate "
            f"stage (`allow_target_in_pool: true`): {', '.join(flagged)}." if flagged else "")
    return (f"**Study `{study}`**: {description}\n\nModel: `{models}`.{note} {n_runs} runs, "
            f"seeds {seeds}, target tasks: {', '.join(sorted(results['target_task'].unique()))}.{warn}{gap}")


def language_table(results: pd.DataFrame) -> pd.DataFrame:
    """Rows: target task x metric x condition; columns: languages and their unweighted mean."""
    mean = results.groupby(["target_task", "metric", "condition", "language"])["value"].mean()
    table = mean.unstack("language")
    table["avg"] = table.mean(axis=1)
    return table


def gains(results: pd.DataFrame) -> pd.DataFrame:
    """Each condition's score minus the baseline's, matched by target, metric, language and seed."""
    key = ["target_task", "metric", "language", "seed"]
    base = results[results["intermediate_tasks"] == BASELINE][key + ["value"]].drop_duplicates(key)
    base = base.rename(columns={"value": "baseline"})
    cols = [*key, "condition", "intermediate_tasks", "value", "baseline", "gain"]
    if base.empty:
        return pd.DataFrame(columns=cols)
    other = results[results["intermediate_tasks"] != BASELINE]
    merged = other.merge(base, on=key, how="inner")
    merged["gain"] = merged["value"] - merged["baseline"]
    return merged[cols]


def gain_table(g: pd.DataFrame) -> pd.DataFrame:
    if g.empty:
        return pd.DataFrame()
    table = g.groupby(["target_task", "metric", "condition", "language"])["gain"].mean().unstack("language")
    table["avg"] = table.mean(axis=1)
    return table


def plot_heatmap(g: pd.DataFrame, figures_dir: str | Path):
    """Language x condition heatmap of the gain, one panel per target task (diverging at 0)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if g.empty:  # the report leaves the section out
        return None
    targets = sorted(g["target_task"].unique())
    fig, axes = plt.subplots(len(targets), 1, figsize=(max(6, 0.6 * g["language"].nunique() + 3),
                                                       (1.4 + 0.4 * g["condition"].nunique()) * len(targets)),
                             squeeze=False)
    for ax, target in zip(axes[:, 0], targets):
        sub = g[g["target_task"] == target]
        table = sub.groupby(["condition", "language"])["gain"].mean().unstack("language")[task_languages(sub)] * 100
        bound = max(1.0, float(table.abs().max().max()))
        sns.heatmap(table, ax=ax, cmap="RdBu", center=0, vmin=-bound, vmax=bound, annot=True, fmt=".1f",
                    cbar_kws={"label": "gain (points)"})
        ax.set_title(f"{target}: gain over no intermediate task ({sub['metric'].iloc[0]}, points)")
        ax.set_xlabel("target language")
        ax.set_ylabel("condition")
    fig.tight_layout()
    save_figure(fig, figures_dir, "gain_heatmap.png")
    return fig


def plot_task_bars(levels: pd.DataFrame, figures_dir: str | Path, intervals: pd.DataFrame | None = None):
    """Zero-shot score per condition (bars) against the baseline (a dashed line, not a bar), per target task.

    `levels` is `zero_shot_levels(...)` (points). Error bars come from `intervals` (target_task,
    condition, ci_low, ci_high: the gain's interval, in points) drawn around the score, so a bar whose
    error bar crosses the baseline line is not told apart from the baseline; without intervals the
    bars show the seed spread (SD) where there are several seeds. The axis is zoomed on the scores
    (it does not start at 0), since differences of about one point would otherwise be invisible.
    """
    import matplotlib.pyplot as plt

    others = levels[levels["condition"] != BASELINE]
    base = levels[levels["condition"] == BASELINE].set_index("target_task")
    targets = sorted(others["target_task"].unique())
    if not targets:
        return None
    n = others.groupby("target_task")["condition"].nunique().max()
    fig, axes = plt.subplots(1, len(targets), squeeze=False, figsize=(max(4.5, 0.55 * n + 2.5) * len(targets), 3.8))
    for ax, target in zip(axes[0], targets):
        sub = others[others["target_task"] == target].reset_index(drop=True)
        y = sub["zero_shot"].to_numpy(float)
        err, how = _error_bars(sub, intervals)
        low = y - (err[0] if err is not None else 0)
        high = y + (err[1] if err is not None else 0)
        ax.bar(range(len(sub)), y, yerr=err, capsize=3, color="#4C72B0", width=0.6)
        tilt = len(sub) > 3  # long condition names side by side overlap
        ax.set_xticks(range(len(sub)), sub["condition"], rotation=30 if tilt else 0, ha="right" if tilt else "center")
        values = [*low, *high]
        if target in base.index:
            b = float(base.loc[target, "zero_shot"])
            ax.axhline(b, color="black", ls="--", lw=1.4, label=f"baseline ({BASELINE})")
            # named beside the axis, where no bar can hide it
            ax.annotate(f"baseline\n({BASELINE})\n{b:.1f}", xy=(1, b), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
            values.append(b)
        lo, hi = min(values), max(values)
        pad = max(0.5, 0.15 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), min(100.0, hi + pad))
        metric = sub["metric"].iloc[0]
        ax.set_ylabel(f"zero-shot {metric} (points)\naxis starts at {ax.get_ylim()[0]:.1f}", fontsize=9)
        ax.set_title(f"{target}: mean over {int(sub['n_languages'].iloc[0])} zero-shot languages", fontsize=10)
        ax.set_xlabel(how, fontsize=8)
    fig.tight_layout()
    save_figure(fig, figures_dir, "task_bars.png")
    return fig


def _error_bars(sub: pd.DataFrame, intervals: pd.DataFrame | None):
    """(yerr, caption) for `plot_task_bars`: the gain's interval around the score, else the seed SD."""
    import numpy as np

    if intervals is not None and not intervals.empty:
        keys = ["target_task", "condition"] + (["metric"] if "metric" in intervals.columns else [])
        iv = sub.merge(intervals, on=keys, how="left")  # the main metric's interval (QA also scores exact match)
        if iv["ci_low"].notna().all():
            gain = iv["gain"].to_numpy(float)
            err = np.vstack([gain - iv["ci_low"].to_numpy(float), iv["ci_high"].to_numpy(float) - gain])
            return err, "error bars: the gain's 95% interval, drawn around the score"
    if (sub["seeds"] > 1).all():
        sd = sub["seed_sd"].to_numpy(float)
        return np.vstack([sd, sd]), "error bars: SD over seeds"
    return None, "one seed, no item scores: no error bars"


def summary_text(results: pd.DataFrame, g: pd.DataFrame) -> str:
    """The headline in words, generated from the numbers."""
    lines = []
    for (target, metric), sub in results.groupby(["target_task", "metric"]):
        avg = sub.groupby("condition")["value"].mean().sort_values(ascending=False)
        parts = ", ".join(f"{c} {100 * v:.1f}" for c, v in avg.items())   # points, like every table
        lines.append(f"- **{target}** ({metric}, mean over {sub['language'].nunique()} languages): {parts}.")
        gt = g[(g["target_task"] == target) & (g["metric"] == metric)] if not g.empty else g
        if not gt.empty:
            per_cond = gt.groupby("condition")["gain"].agg(["mean", "min", "max"])
            for cond, row in per_cond.iterrows():
                # no "better in N% of languages": a sign count ignores each gain's item noise; the
                # item-level intervals (analysis.item_gains) say which gains are told apart from 0
                lines.append(f"  - {cond}: gain {row['mean'] * 100:+.1f} points on average "
                             f"(range {row['min'] * 100:+.1f} to {row['max'] * 100:+.1f}) over languages.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the benchmark view: one number per task, per benchmark group, and the XTREME-R score


def _main_value(target: str, per_metric: pd.Series) -> float:
    """The task's one number from its metrics: QA as (F1 + EM) / 2 (`metrics.qa_task_metric`), else its main metric."""
    task = REGISTRY.get(target)
    if task is not None and task.format == "span_qa" and {"f1", "exact_match"} <= set(per_metric.index):
        return qa_task_metric(per_metric["f1"], per_metric["exact_match"])
    metric = task.metric if task is not None and task.metric in per_metric.index else per_metric.index[0]
    return float(per_metric[metric])


def task_scores(results: pd.DataFrame) -> pd.DataFrame:
    """One number per (condition, seed, target task), as the benchmark's evaluate.py computes it.

    The task's main metric (registry `metric`) averaged over its languages; QA tasks combine F1 and
    exact match as `metrics.qa_task_metric` documents. Values are in points (x100).
    """
    rows = []
    for (cond, seed, target), sub in results.groupby(["condition", "seed", "target_task"]):
        task = REGISTRY.get(target)
        rows.append({"condition": cond, "seed": seed, "target_task": target,
                     "format": task.format if task else "?", "languages": sub["language"].nunique(),
                     "score": 100 * _main_value(target, sub.groupby("metric")["value"].mean())})
    return pd.DataFrame(rows)


def language_scores(results: pd.DataFrame) -> pd.DataFrame:
    """The task's one number per (condition, target task, language), mean over seeds, in points."""
    rows = []
    for (cond, target, lang, seed), sub in results.groupby(["condition", "target_task", "language", "seed"]):
        rows.append({"condition": cond, "target_task": target, "language": lang, "seed": seed,
                     "score": 100 * _main_value(target, sub.groupby("metric")["value"].mean())})
    if not rows:
        return pd.DataFrame(columns=["condition", "target_task", "language", "score"])
    per_seed = pd.DataFrame(rows)
    return per_seed.groupby(["condition", "target_task", "language"], as_index=False)["score"].mean()


def benchmarks_in(results: pd.DataFrame) -> list[str]:
    """The benchmarks (xtreme-r first) that hold at least one of the study's target tasks."""
    found = {b for t in results["target_task"].unique() for b in benchmarks_of(t)}
    return [b for b in ("xtreme-r", "xtreme") if b in found]


def benchmark_table(results: pd.DataFrame, benchmark: str = "xtreme-r") -> pd.DataFrame:
    """Every task of the benchmark per condition: coverage of its language list and two scores.

    `score (evaluated)` averages the languages the study evaluated; `score (benchmark list)` averages
    the benchmark's own language list, as its scorer does, and is empty unless every listed language
    was evaluated. Missing languages, and evaluated ones outside the list, are named.
    """
    bench = get_benchmark(benchmark)
    ls = language_scores(results)
    rows = []
    for cond in sorted(results["condition"].unique()):
        for bt in bench.tasks:
            per_lang = ls[(ls["condition"] == cond) & (ls["target_task"] == bt.task)].set_index("language")["score"]
            listed = [lg for lg in bt.languages if lg in per_lang.index]
            missing = [lg for lg in bt.languages if lg not in per_lang.index]
            rows.append({
                "condition": cond, "group": bt.group, "task": bt.task,
                "languages": f"{len(listed)}/{len(bt.languages)}",
                "score (evaluated)": per_lang.mean() if len(per_lang) else float("nan"),
                "score (benchmark list)": per_lang[list(bt.languages)].mean() if not missing else float("nan"),
                "missing languages": ("task not evaluated" if per_lang.empty else ", ".join(missing) or "none"),
                "outside the list": ", ".join(sorted(set(per_lang.index) - set(bt.languages))),
            })
    return pd.DataFrame(rows).set_index(["condition", "group", "task"])


def _coverage_note(results: pd.DataFrame, benchmark: str) -> str:
    """'Languages missing: xnli 12 of 15 (ar, ...)' for tasks evaluated on part of their list."""
    table = benchmark_table(results, benchmark)
    parts = []
    for (_, _, task), row in table.drop_duplicates().iterrows():
        if row["missing languages"] not in ("none", "task not evaluated"):
            have, total = row["languages"].split("/")
            part = f"{task} {int(total) - int(have)} of {total} ({row['missing languages']})"
            if part not in parts:
                parts.append(part)
    return f"Languages missing: {'; '.join(parts)}." if parts else ""


def xtreme_r_table(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per-task scores (rows: condition) with the XTREME-R score, partial where tasks or languages are missing."""
    ts = task_scores(results)
    if ts.empty:
        return pd.DataFrame(), "no results"
    table = ts.groupby(["condition", "target_task"])["score"].mean().unstack("target_task")
    notes = []
    scores, flags = [], []
    required = list(XTREME_R.task_names)
    for cond, row in table.iterrows():
        res = xtreme_r_score(row.dropna().to_dict(), required)
        scores.append(res["score"])
        flags.append("partial" if res["partial"] else "complete")
        if res["partial"] and not notes:
            notes.append(f"XTREME-R score is partial: missing {', '.join(res['missing'])} "
                         f"(mean over the {len(required) - len(res['missing'])} tasks present).")
    coverage = _coverage_note(results, "xtreme-r")
    if coverage:
        flags = ["partial" for _ in flags]  # a task averaged over part of its languages is not its benchmark score
        notes.append(coverage + " Task scores average the evaluated languages.")
    table["XTREME-R"] = scores
    table["score type"] = flags
    return table, " ".join(notes) or "All ten XTREME-R tasks present, every language evaluated."


def group_table(results: pd.DataFrame, benchmark: str = "xtreme-r") -> tuple[pd.DataFrame, str]:
    """Mean task score per benchmark group (XTREME-R: classification, structured prediction, QA,
    retrieval), over the group's tasks that were evaluated; the note names the tasks missing per group."""
    bench = get_benchmark(benchmark)
    ts = task_scores(results)
    ts = ts[ts["target_task"].isin(bench.task_names)]
    if ts.empty:
        return pd.DataFrame(), f"no {bench.title} task evaluated"
    per_task = ts.groupby(["condition", "target_task"])["score"].mean().reset_index()
    per_task["group"] = per_task["target_task"].map({t.task: t.group for t in bench.tasks})
    table = per_task.groupby(["condition", "group"])["score"].mean().unstack("group")
    table = table[[g for g in bench.groups if g in table.columns]]
    present = set(per_task["target_task"])
    gaps = [f"{g}: {', '.join(t for t in bench.group_tasks(g) if t not in present)}" for g in bench.groups
            if any(t not in present for t in bench.group_tasks(g))]
    note = f"Tasks missing per group ({bench.title} grouping): {'; '.join(gaps)}." if gaps else \
        f"Every {bench.title} task present."
    return table, note


def format_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean task score per format (rows: condition)."""
    ts = task_scores(results)
    if ts.empty:
        return pd.DataFrame()
    return ts.groupby(["condition", "format"])["score"].mean().unstack("format")


def gains_by_language_family(g: pd.DataFrame) -> pd.DataFrame:
    """Mean gain per target language family (rows: target task x condition), in points."""
    if g.empty:
        return pd.DataFrame()
    fam = families_of(sorted(g["language"].unique()))
    g = g.assign(language_family=g["language"].map(fam).fillna("unknown"))
    return (g.groupby(["target_task", "condition", "language_family"])["gain"].mean() * 100).unstack(
        "language_family")


def main_metric(results: pd.DataFrame) -> pd.DataFrame:
    """Only each task's main metric (registry `metric`), so gains and plots never mix metrics."""
    keep = results.apply(lambda r: r["metric"] == getattr(REGISTRY.get(r["target_task"]), "metric", r["metric"]),
                         axis=1)
    return results[keep]


def load_conditions(path: str | Path) -> pd.DataFrame | None:
    """The study's condition metadata (arm, k, draw, languages, families), if the runner wrote it."""
    path = Path(path)
    return pd.read_csv(path, keep_default_na=False) if path.exists() else None


# ---------------------------------------------------------------------------------------------
# answer first: levels in points, per-task tables without other tasks' languages, styled tables

POINTS = 100.0      # results are fractions in [0, 1]; reports show points
WIDE_MAX = 16       # languages as columns up to this many (XNLI's 15 fit); a long table beyond (Tatoeba's 36)


def task_languages(frame: pd.DataFrame) -> list[str]:
    """The languages a frame holds for one target task, in the registry's order (training language first)."""
    present = list(dict.fromkeys(frame["language"]))
    target = frame["target_task"].iloc[0] if len(frame) else ""
    task = REGISTRY.get(target)
    if task is None:
        return sorted(present)
    order = [task.train_language, *task.languages]
    known = [lg for lg in dict.fromkeys(order) if lg in present]
    return known + sorted(set(present) - set(known))


def zero_shot_mask(frame: pd.DataFrame) -> pd.Series:
    """True for rows whose language is not their target task's training language (en)."""
    return frame["language"] != frame["target_task"].map(lambda t: getattr(REGISTRY.get(t), "train_language", "en"))


def zero_shot_levels(results: pd.DataFrame) -> pd.DataFrame:
    """Per target task and condition, on the main metric, in points: the mean over the zero-shot
    languages (mean over seeds), its SD over seeds, and the training-language (en) score."""
    main = main_metric(results)
    zs = main[zero_shot_mask(main)]
    src = main[~zero_shot_mask(main)]
    per_seed = zs.groupby(["target_task", "metric", "condition", "seed"])["value"].mean().reset_index()
    levels = per_seed.groupby(["target_task", "metric", "condition"]).agg(
        zero_shot=("value", "mean"), seed_sd=("value", "std"), seeds=("seed", "nunique")).reset_index()
    levels["n_languages"] = levels.apply(
        lambda r: zs[(zs["target_task"] == r["target_task"]) & (zs["condition"] == r["condition"])]["language"].nunique(),
        axis=1)
    source = src.groupby(["target_task", "condition"])["value"].mean().rename("source").reset_index()
    levels = levels.merge(source, on=["target_task", "condition"], how="left")
    for col in ("zero_shot", "seed_sd", "source"):
        levels[col] = POINTS * levels[col]
    return levels


def per_task_tables(frame: pd.DataFrame, value: str, wide_max: int = WIDE_MAX) -> dict[str, pd.DataFrame]:
    """One table per target task (main metric, mean over seeds, points), with only its own languages.

    Up to `wide_max` languages: rows are conditions, columns languages plus the zero-shot mean. Beyond:
    rows are languages and columns conditions (few conditions), or one row per condition and
    language (many), so no table is a wall of empty cells.
    """
    tables = {}
    for target, sub in frame.groupby("target_task"):
        langs = task_languages(sub)
        mean = sub.groupby(["condition", "language"])[value].mean() * POINTS
        wide = mean.unstack("language").reindex(columns=langs)
        zs = [lg for lg in langs if lg != getattr(REGISTRY.get(target), "train_language", "en")]
        wide["zero-shot mean"] = wide[zs].mean(axis=1)
        order = [BASELINE] + sorted(c for c in wide.index if c != BASELINE)
        wide = wide.reindex([c for c in order if c in wide.index])
        wide.index.name = "condition"
        if len(langs) <= wide_max:
            tables[target] = wide
        elif len(wide) <= 12:
            tables[target] = wide.T.rename_axis("language")
        else:
            tables[target] = mean.rename(value).reset_index().set_index(["condition", "language"])
    return tables


def styled(table: pd.DataFrame, digits: int = 1, diverging: bool = False, caption: str = ""):
    """A pandas Styler in points: fixed decimals, no 'nan' cells, gains coloured around 0."""
    numeric = table.select_dtypes("number").columns
    counts = [c for c in numeric if _whole(table[c])]  # counts (k, seeds, items) print without decimals
    # differences carry their sign (a gain table is all differences)
    signed = [c for c in numeric if c not in counts and (diverging or c in SIGNED_COLUMNS)]
    plain = [c for c in numeric if c not in counts and c not in signed]
    sty = table.style.format("{:." + str(digits) + "f}", subset=plain, na_rep="–")
    sty = sty.format("{:+." + str(digits) + "f}", subset=signed, na_rep="–")
    sty = sty.format("{:,.0f}", subset=counts, na_rep="–")
    if diverging and len(numeric) and table[numeric].notna().any().any():
        bound = max(1.0, float(table[numeric].abs().max().max()))
        sty = sty.background_gradient(cmap="RdBu", vmin=-bound, vmax=bound, subset=list(numeric))
    if caption:
        sty = sty.set_caption(caption)
    if isinstance(table.index, pd.RangeIndex):  # row numbers say nothing
        sty = sty.hide(axis="index")
    return sty.set_table_styles([{"selector": "caption", "props": "caption-side: top; text-align: left; "
                                  "font-weight: bold; padding-bottom: 4px; white-space: nowrap;"},
                                 {"selector": "td, th", "props": "padding: 2px 8px;"},
                                 {"selector": "th", "props": "white-space: nowrap;"}])


def _whole(column: pd.Series) -> bool:
    values = column.dropna()
    if pd.api.types.is_bool_dtype(column) or values.empty or not ((values % 1) == 0).all():
        return False
    return pd.api.types.is_integer_dtype(column) or column.name in COUNT_COLUMNS


SIGNED_COLUMNS = {"gain", "above chance", "estimate", "minus_phang_baseline", "minus_phang_best"}
COUNT_COLUMNS = {"k", "seeds", "languages", "scored", "not scored (overlap)", "draws", "n_draws", "n_seeds", "n_items",
                 "n_languages", "n_clusters", "n_a", "n_b", "planned tokens", "trained tokens", "trained steps"}

CONDITION_COLUMNS = {"condition": "condition", "arm": "arm", "k": "k", "tasks": "tasks", "task_languages": "languages",
                     "task_families": "families", "task_formats": "formats", "budget": "budget",
                     "planned_tokens": "planned tokens", "trained_tokens": "trained tokens",
                     "trained_steps": "trained steps"}


def condition_overview(conditions: pd.DataFrame | None) -> pd.DataFrame:
    """What each condition trained on (from the runner's conditions.csv): tasks, languages, formats, tokens.
    Columns with nothing recorded are left out."""
    if conditions is None or conditions.empty:
        return pd.DataFrame()
    table = conditions[[c for c in CONDITION_COLUMNS if c in conditions.columns]].rename(columns=CONDITION_COLUMNS)
    table = table.replace("", pd.NA)
    trained = table["condition"] != BASELINE  # a column only the baseline fills (its 0 tokens) says nothing
    table = table[[c for c in table.columns if table.loc[trained, c].notna().any() or not trained.any()]]
    for col in ("planned tokens", "trained tokens", "trained steps"):
        if col in table.columns:
            table[col] = pd.to_numeric(table[col], errors="coerce").map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    return table.set_index("condition").fillna("")


def chance_level(task_name: str) -> float | None:
    """The score (fraction) of guessing uniformly: 1/labels (classification), 1/choices (multiple
    choice); None for formats without one (span QA, tagging, retrieval)."""
    task = REGISTRY.get(task_name)
    if task is None or task.metric != "accuracy":
        return None
    if task.format == "classification" and task.labels:
        return 1.0 / len(task.labels)
    if task.format == "multiple_choice" and task.num_choices:
        return 1.0 / task.num_choices
    return None


def _selected_dev(history: Path) -> dict[str, float]:
    """dev_<task> scores of the checkpoint a stage kept (its `selected` row, else its last)."""
    if not history.exists():
        return {}
    h = pd.read_csv(history)
    if h.empty:
        return {}
    row = h[h["selected"].astype(str).str.lower() == "true"].iloc[-1] if "selected" in h.columns and \
        h["selected"].astype(str).str.lower().eq("true").any() else h.iloc[-1]
    return {c[4:]: float(row[c]) for c in h.columns if c.startswith("dev_") and c != "dev_score" and pd.notna(row[c])}


def dev_scores(study_root: str | Path) -> pd.DataFrame:
    """Each stage's own dev score at the kept checkpoint, in points, against chance: every intermediate
    task of every condition and the English target dev set. One row per (condition, stage, task),
    mean over seeds."""
    import json

    rows = []
    root = Path(study_root)
    for path in sorted(root.glob("runs/*.json")):
        run = json.loads(path.read_text())
        for rel in run.get("stages", []):
            folder = root / rel
            kind = json.loads((folder / "params.json").read_text()).get("stage") if (folder / "params.json").exists() else None
            if kind not in ("intermediate", "target"):  # the evaluation stage trains nothing
                continue
            for task, score in _selected_dev(folder / "history.csv").items():
                rows.append({"condition": run["condition"], "stage": kind, "task": task, "seed": run.get("seed"),
                             "dev": POINTS * score})
    cols = ["condition", "stage", "task", "dev", "chance", "above chance", "seeds"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows).drop_duplicates(["condition", "stage", "task", "seed"])
    table = df.groupby(["stage", "condition", "task"]).agg(dev=("dev", "mean"), seeds=("seed", "nunique")).reset_index()
    chance = table["task"].map(chance_level)
    table["chance"] = chance.map(lambda c: POINTS * c if c is not None else float("nan"))
    table["above chance"] = table["dev"] - table["chance"]
    # an intermediate stage is shared by every target of a condition: one row per condition and task
    table = table.drop_duplicates(["stage", "condition", "task"])
    table["stage"] = pd.Categorical(table["stage"], ["intermediate", "target"])
    return table.sort_values(["stage", "condition", "task"])[cols].set_index(["stage", "condition", "task"])
