"""Report analysis on hand-made results tables: gains, benchmark view, XTREME-R score, plots."""

from __future__ import annotations

import pandas as pd
import pytest

from intertask import report
from intertask.results import RESULT_COLUMNS


def rows(cond: str, target: str, metric: str, values: dict[str, float], seed: int = 1) -> list[dict]:
    return [{"study": "s", "run": f"{cond}__{target}__s{seed}", "model": "m", "intermediate_tasks": cond,
             "seed": seed, "target_task": target, "language": lang, "split": "test", "metric": metric,
             "value": v, "n_examples": 10} for lang, v in values.items()]


@pytest.fixture
def results() -> pd.DataFrame:
    data = (rows("none", "xnli", "accuracy", {"en": 0.6, "de": 0.5, "sw": 0.4})
            + rows("anli", "xnli", "accuracy", {"en": 0.7, "de": 0.45, "sw": 0.5})
            + rows("none", "xquad", "f1", {"en": 0.8, "de": 0.6}) + rows("none", "xquad", "exact_match", {"en": 0.6, "de": 0.4})
            + rows("anli", "xquad", "f1", {"en": 0.9, "de": 0.7}) + rows("anli", "xquad", "exact_match", {"en": 0.7, "de": 0.5}))
    return report.load_results_frame(pd.DataFrame(data, columns=RESULT_COLUMNS))


def test_gains_match_by_language_and_seed(results):
    g = report.gains(report.main_metric(results))
    xnli = g[g["target_task"] == "xnli"].set_index("language")["gain"]
    assert xnli.round(6).to_dict() == {"en": 0.1, "de": -0.05, "sw": 0.1}
    assert set(g["metric"]) == {"accuracy", "f1"}  # main metrics only: EM is not a second gain


def test_language_table_average_is_unweighted(results):
    t = report.language_table(results)
    assert t.loc[("xnli", "accuracy", "none"), "avg"] == pytest.approx(0.5)


def test_task_scores_combine_qa_f1_and_em_as_evaluate_py(results):
    ts = report.task_scores(results).set_index(["condition", "target_task"])["score"]
    assert ts[("none", "xquad")] == pytest.approx(100 * (0.7 + 0.5) / 2)
    assert ts[("anli", "xnli")] == pytest.approx(100 * (0.7 + 0.45 + 0.5) / 3)


def test_xtreme_r_score_is_marked_partial(results):
    table, note = report.xtreme_r_table(results)
    assert table.loc["none", "XTREME-R"] == pytest.approx((50 + 60) / 2)
    assert table.loc["none", "score type"] == "partial"
    assert "missing xcopa, udpos, panx, mlqa, tydiqa, tatoeba, mewslix, lareqa" in note
    # a task evaluated on part of its language list is flagged too
    assert "xnli 12 of 15 (ar, bg, el, es, fr, hi, ru, th, tr, ur, vi, zh)" in note
    assert "xquad 10 of 12 (es, el, ru, tr, ar, vi, th, zh, hi, ro)" in note


def test_benchmark_table_flags_missing_languages_and_scores_both_ways(results):
    t = report.benchmark_table(results, "xtreme-r").loc["none"]
    xnli = t.loc[("classification", "xnli")]
    assert xnli["languages"] == "3/15" and xnli["score (evaluated)"] == pytest.approx(50)
    assert pd.isna(xnli["score (benchmark list)"])  # the benchmark's own average needs all 15
    assert xnli["missing languages"].startswith("ar, bg, el")
    assert t.loc[("classification", "xcopa"), "missing languages"] == "task not evaluated"
    assert list(t.index.get_level_values("group").unique()) == [
        "classification", "structured prediction", "question answering", "retrieval"]
    # every language of the list evaluated: the two scores differ by the language outside the list
    full = rows("none", "pawsx", "accuracy", {lg: 0.5 for lg in ("de", "en", "es", "fr", "ja", "ko", "zh")})
    full += rows("none", "pawsx", "accuracy", {"sw": 0.1})
    x = report.load_results_frame(pd.DataFrame(full, columns=RESULT_COLUMNS))
    paws = report.benchmark_table(x, "xtreme").loc[("none", "classification", "pawsx")]
    assert paws["languages"] == "7/7" and paws["missing languages"] == "none" and paws["outside the list"] == "sw"
    assert paws["score (benchmark list)"] == pytest.approx(50)
    assert paws["score (evaluated)"] == pytest.approx(100 * (0.5 * 7 + 0.1) / 8)
    assert report.benchmarks_in(x) == ["xtreme"] and report.benchmarks_in(results) == ["xtreme-r", "xtreme"]


def test_group_table_follows_xtreme_r_grouping(results):
    table, note = report.group_table(results, "xtreme-r")
    assert list(table.columns) == ["classification", "question answering"]
    assert table.loc["none", "question answering"] == pytest.approx(60)  # xquad alone: (70 + 50) / 2
    assert "classification: xcopa" in note and "retrieval: tatoeba, mewslix, lareqa" in note


def test_plots_are_written(results, tmp_path):
    g = report.gains(report.main_metric(results))
    assert report.plot_heatmap(g, tmp_path) is not None
    report.plot_task_bars(report.zero_shot_levels(results), tmp_path)
    assert (tmp_path / "gain_heatmap.png").stat().st_size > 1000
    assert (tmp_path / "task_bars.png").stat().st_size > 1000
    text = report.summary_text(report.main_metric(results), g)
    assert "anli: gain +5.0 points on average (range -5.0 to +10.0)" in text  # (10 - 5 + 10) / 3
    assert "better than the baseline" not in text   # a sign count is no claim (see analysis.item_gains)


def test_no_baseline_means_no_gains(results):
    g = report.gains(results[results["intermediate_tasks"] != "none"])
    assert g.empty and report.plot_heatmap(g, ".") is None


# ---------------------------------------------------------------------------------------------
# answer first: points, per-task tables, bars against a baseline line, chance levels, the summary


def xtreme_r_like() -> pd.DataFrame:
    """Two targets with different language lists: XNLI (15) and Tatoeba (every language of the registry)."""
    from intertask.registry import REGISTRY

    data = []
    for cond, shift in (("none", 0.0), ("anli", 0.01)):
        data += rows(cond, "xnli", "accuracy", {lg: 0.5 + shift for lg in ("en", *REGISTRY["xnli"].languages)})
        data += rows(cond, "tatoeba", "accuracy", {lg: 0.3 + shift for lg in REGISTRY["tatoeba"].languages})
    return report.load_results_frame(pd.DataFrame(data, columns=RESULT_COLUMNS))


def test_per_task_tables_hold_only_their_own_languages_and_no_nan_wall():
    from intertask.registry import REGISTRY

    tables = report.per_task_tables(report.main_metric(xtreme_r_like()), "value")
    xnli, tatoeba = tables["xnli"], tables["tatoeba"]
    others = [lg for lg in REGISTRY["xnli"].languages if lg != "en"]
    assert list(xnli.columns) == ["en", *others, "zero-shot mean"]  # wide: its 15 languages fit, training language first
    assert list(xnli.index) == ["none", "anli"] and xnli.loc["anli", "de"] == pytest.approx(51.0)  # points
    # Tatoeba's 40+ languages do not fit as columns: one row per language, conditions as columns
    assert tatoeba.index.name == "language" and list(tatoeba.columns) == ["none", "anli"]
    assert len(tatoeba) == len(set(REGISTRY["tatoeba"].languages)) + 1
    for table in tables.values():
        assert not table.isna().any().any(), table
    assert tatoeba.loc["zero-shot mean", "anli"] == pytest.approx(31.0)


def test_per_task_tables_go_long_with_many_languages_and_conditions():
    data = []
    for i in range(14):
        data += rows(f"c{i}", "tatoeba", "accuracy", {lg: 0.1 * (i % 5) for lg in ("de", "fr", "sw", "ja") * 1})
    frame = report.load_results_frame(pd.DataFrame(data, columns=RESULT_COLUMNS))
    table = report.per_task_tables(frame, "value", wide_max=3)["tatoeba"]
    assert table.index.names == ["condition", "language"] and len(table) == 14 * 4
    assert not table.isna().any().any()


def test_zero_shot_levels_leave_out_the_training_language(results):
    levels = report.zero_shot_levels(results).set_index(["target_task", "condition"])
    assert levels.loc[("xnli", "none"), "zero_shot"] == pytest.approx(45.0)   # de 50, sw 40; en 60 apart
    assert levels.loc[("xnli", "none"), "source"] == pytest.approx(60.0)
    assert levels.loc[("xnli", "anli"), "n_languages"] == 2


def test_task_bars_zoom_and_draw_the_baseline_as_a_line(results, tmp_path):
    levels = report.zero_shot_levels(results)
    fig = report.plot_task_bars(levels, tmp_path)
    ax = next(a for a in fig.axes if a.get_title().startswith("xnli"))
    assert len(ax.patches) == 1                      # one bar: anli; the baseline is not a bar
    line = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert line and line[0].get_ydata()[0] == pytest.approx(45.0)
    assert ax.get_ylim()[0] > 0                       # zoomed on the scores
    intervals = pd.DataFrame({"target_task": ["xnli", "xquad"], "condition": ["anli", "anli"],
                              "gain": [2.5, 10.0], "ci_low": [-1.0, 5.0], "ci_high": [6.0, 15.0]})
    fig = report.plot_task_bars(levels, tmp_path, intervals)
    ax = next(a for a in fig.axes if a.get_title().startswith("xnli"))
    assert "interval" in ax.get_xlabel() and ax.get_ylim()[0] <= 45.0 - 1.0


def test_chance_levels_follow_the_task_format():
    assert report.chance_level("anli") == pytest.approx(1 / 3)
    assert report.chance_level("copa") == pytest.approx(1 / 2)
    assert report.chance_level("cosmosqa") == pytest.approx(1 / 4)
    assert report.chance_level("xquad") is None and report.chance_level("not-a-task") is None


def test_styled_tables_print_points_and_counts_without_nan():
    table = pd.DataFrame({"score": [28.125, float("nan")], "seeds": [1, 3]}, index=["a", "b"])
    html = report.styled(table).to_html()
    assert "28.1" in html and "nan" not in html.lower() and ">1<" in html and "1.0" not in html
