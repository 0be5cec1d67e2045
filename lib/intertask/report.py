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

    if g.empty:
        print("no intermediate condition with a matching baseline: nothing to plot")
        return None
    targets = sorted(g["target_task"].unique())
    fig, axes = plt.subplots(len(targets), 1, figsize=(max(6, 0.6 * g["language"].nunique() + 3),
                                                       1.2 + 0.7 * g["condition"].nunique() * len(targets)),
                             squeeze=False)
    for ax, target in zip(axes[:, 0], targets):
        sub = g[g["target_task"] == target]
        table = sub.groupby(["condition", "language"])["gain"].mean().unstack("language") * 100
        bound = max(1.0, float(table.abs().max().max()))
        sns.heatmap(table, ax=ax, cmap="RdBu", center=0, vmin=-bound, vmax=bound, annot=True, fmt=".1f",
                    cbar_kws={"label": "gain (points)"})
        ax.set_title(f"{target}: gain over no intermediate task ({sub['metric'].iloc[0]}, points)")
        ax.set_xlabel("target language")
        ax.set_ylabel("condition")
    fig.tight_layout()
    save_figure(fig, figures_dir, "gain_heatmap.png")
    return fig


def plot_task_bars(results: pd.DataFrame, figures_dir: str | Path):
    """Average over languages per condition and target task (mean over seeds; bars show seed spread)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    per_seed = results.groupby(["target_task", "metric", "condition", "seed"])["value"].mean().reset_index()
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * per_seed["condition"].nunique() + 2), 3.5))
    sns.barplot(per_seed, x="target_task", y="value", hue="condition", ax=ax, errorbar="sd")
    ax.set_ylabel("mean over languages")
    ax.set_xlabel("target task")
    ax.legend(title="intermediate", bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title("Zero-shot score averaged over target languages")
    fig.tight_layout()
    save_figure(fig, figures_dir, "task_bars.png")
    return fig


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
