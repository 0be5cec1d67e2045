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
    report.plot_task_bars(report.main_metric(results), tmp_path)
    assert (tmp_path / "gain_heatmap.png").stat().st_size > 1000
    assert (tmp_path / "task_bars.png").stat().st_size > 1000
    text = report.summary_text(report.main_metric(results), g)
    assert "anli: gain +5.0 points on average (range -5.0 to +10.0)" in text  # (10 - 5 + 10) / 3
    assert "better than the baseline" not in text   # a sign count is no claim (see analysis.item_gains)


def test_no_baseline_means_no_gains(results):
    g = report.gains(results[results["intermediate_tasks"] != "none"])
    assert g.empty and report.plot_heatmap(g, ".") is None
