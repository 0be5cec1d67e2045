"""Scaling-study analysis on hand-made frames whose answer is known."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from intertask import analysis as an
from intertask.design import seen_flags

# one language per family, so a diverse draw of k languages covers exactly k families
FAMILY_POOL = ["en", "ar", "zh", "sw", "ja", "fi", "ko", "tr", "ta"]
TARGETS = ["de", "ar", "zh", "sw", "hi"]
KS = (1, 2, 4)
DRAWS = 3
SEEDS = (1, 2, 3)


def _conditions(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for arm in ("english", "diverse"):
        for k in KS:
            for draw in range(1, DRAWS + 1):
                langs = ["en"] if arm == "english" else sorted(rng.choice(FAMILY_POOL, size=k, replace=False))
                rows.append({"condition": f"{arm}-k{k}-d{draw}", "arm": arm, "k": k, "draw": draw,
                             "tasks": "+".join(f"t{i}" for i in range(k)), "task_languages": "+".join(langs),
                             "task_families": "", "n_languages": len(langs),
                             "n_families": len(langs) if arm == "diverse" else 1})
    return pd.DataFrame(rows)


def _gains(conditions: pd.DataFrame, rng: np.random.Generator, gain_fn, noise: float = 0.002) -> pd.DataFrame:
    rows = []
    for c in conditions.itertuples(index=False):
        for seed in SEEDS:
            for lang in TARGETS:
                seen = lang in c.task_languages.split("+")
                g = gain_fn(c.arm, c.k, seen) + rng.normal(0, noise)
                rows.append({"target_task": "xnli", "metric": "accuracy", "language": lang, "seed": seed,
                             "condition": c.condition, "intermediate_tasks": c.tasks, "value": 0.7 + g,
                             "baseline": 0.7, "gain": g})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(0)
    conditions = _conditions(rng)
    gains = _gains(conditions, rng, lambda arm, k, seen: 0.01 * k if arm == "diverse" else 0.0)
    return conditions, an.scaling_frame(gains, conditions)


# ---------------------------------------------------------------------------------------------


def test_scaling_frame_seen_flags_and_family():
    cond = pd.DataFrame([{"condition": "c1", "arm": "diverse", "k": 3, "draw": 1, "tasks": "a+b+c",
                          "task_languages": "ar+de+en", "task_families": "", "n_languages": 3, "n_families": 2},
                         {"condition": "none", "arm": "baseline", "k": 0, "draw": 0, "tasks": "none",
                          "task_languages": np.nan, "task_families": "", "n_languages": 0, "n_families": 0}])
    gains = pd.DataFrame({"target_task": "xnli", "metric": "accuracy", "language": ["de", "nl", "he", "ja", "de"],
                          "seed": 1, "condition": ["c1"] * 4 + ["other"], "intermediate_tasks": "x",
                          "value": 0.5, "baseline": 0.4, "gain": 0.1})
    f = an.scaling_frame(gains, cond).set_index("language")
    assert list(f.index) == ["de", "nl", "he", "ja"]          # the unknown condition is dropped
    assert f.loc["de", ["seen_language", "seen_family"]].tolist() == [True, True]
    assert f.loc["nl", ["seen_language", "seen_family"]].tolist() == [False, True]   # Germanic, IE
    assert f.loc["he", ["seen_language", "seen_family"]].tolist() == [False, True]   # Afro-Asiatic like ar
    assert f.loc["ja", ["seen_language", "seen_family"]].tolist() == [False, False]
    for lang in f.index:  # agrees with the design module's definition
        assert tuple(f.loc[lang, ["seen_language", "seen_family"]]) == seen_flags("ar+de+en", lang)
    assert f.loc["ja", "target_family"] == "Japonic"
    assert f.loc["he", "target_family"] == "Afro-Asiatic"
    assert {"arm", "k", "draw", "n_families", "n_languages"} <= set(f.columns)
    assert f["k"].dtype.kind == "i"


def test_custom_conditions_stay_separate_units():
    # hand-listed conditions (study.condition_rows): arm 'custom', draw 0, possibly the same k
    cond = pd.DataFrame([{"condition": c, "arm": "custom", "k": 1, "draw": 0, "tasks": c, "task_languages": "en",
                          "task_families": "Indo-European", "n_languages": 1, "n_families": 1} for c in ("mnli", "anli")])
    gains = pd.DataFrame({"target_task": "xnli", "metric": "accuracy", "language": "de", "seed": 1,
                          "condition": ["mnli", "anli"], "intermediate_tasks": ["mnli", "anli"], "value": 0.5,
                          "baseline": 0.4, "gain": [0.01, 0.03]})
    units = an.unit_table(an.scaling_frame(gains, cond))
    assert sorted(units["gain"]) == pytest.approx([1.0, 3.0])
    curve = an.gain_curve(an.scaling_frame(gains, cond), include_zero=False)
    assert curve["n_units"].tolist() == [2] and curve["gain"].iloc[0] == pytest.approx(2.0)


def test_bootstrap_ci_deterministic_and_sane():
    x = np.random.default_rng(3).normal(2.0, 1.0, size=40)
    a = an.bootstrap_ci(x, n_boot=500, seed=7)
    assert a == an.bootstrap_ci(x, n_boot=500, seed=7)
    assert a != an.bootstrap_ci(x, n_boot=500, seed=8)
    mean, low, high = a
    assert mean == pytest.approx(x.mean())
    assert low < mean < high
    assert high - low == pytest.approx(2 * 1.96 * x.std() / np.sqrt(x.size), rel=0.25)
    m1, l1, h1 = an.bootstrap_ci([3.0])
    assert m1 == 3.0 and np.isnan(l1) and np.isnan(h1)
    assert all(np.isnan(an.bootstrap_ci([])))


def test_gain_curve(design):
    _, frame = design
    curve = an.gain_curve(frame, n_boot=1000, seed=0)
    real = curve[~curve["by_definition"]]
    assert set(real["k"]) == set(KS)
    assert (real["n_units"] == DRAWS * len(SEEDS)).all()
    for r in real.itertuples():
        truth = r.k if r.arm == "diverse" else 0.0          # points
        assert r.ci_low <= truth <= r.ci_high, r
        assert r.gain == pytest.approx(truth, abs=0.15)
    zero = curve[curve["by_definition"]]
    assert set(zero["arm"]) == {"english", "diverse"} and (zero["k"] == 0).all() and (zero["gain"] == 0).all()
    again = an.gain_curve(frame, n_boot=1000, seed=0)
    pd.testing.assert_frame_equal(curve, again)
    assert not an.gain_curve(frame, n_boot=1000, seed=0, include_zero=False)["by_definition"].any()


def test_slopes_diverse_excludes_zero_english_includes(design):
    _, frame = design
    slopes = an.arm_slopes(an.unit_table(frame), n_boot=1000, seed=0).set_index("arm")
    div, eng = slopes.loc["diverse"], slopes.loc["english"]
    assert div["ci_low"] > 0
    assert div["ci_low"] <= 1.0 <= div["ci_high"]
    assert div["slope"] == pytest.approx(1.0, abs=0.1)
    assert eng["ci_low"] <= 0 <= eng["ci_high"]
    assert div["k_values"] == "1,2,4"


def test_regression_recovers_k_and_drops_collinear(design):
    _, frame = design
    reg = an.regression(frame[frame["arm"] == "diverse"], n_boot=500, seed=0).set_index("term")
    k = reg.loc["k"]
    assert k["ci_low"] <= 1.0 <= k["ci_high"]
    assert k["coef"] == pytest.approx(1.0, abs=0.1)
    # in this arm every draw covers k families: n_families == k
    assert np.isnan(reg.loc["n_families", "coef"])
    assert reg.loc["n_families", "note"] == "dropped: collinear with k"
    assert (reg["n_clusters"] == len(KS) * DRAWS * len(SEEDS)).all()
    assert (reg["n_obs"] == len(KS) * DRAWS * len(SEEDS) * len(TARGETS)).all()
    again = an.regression(frame[frame["arm"] == "diverse"], n_boot=500, seed=0).set_index("term")
    pd.testing.assert_frame_equal(reg, again)


def test_regression_drops_constant_columns(design):
    _, frame = design
    reg = an.regression(frame[frame["arm"] == "english"], n_boot=200, seed=0).set_index("term")
    # English arm: one family, and the targets are never English
    assert reg.loc["n_families", "note"].startswith("dropped: constant")
    assert reg.loc["seen_language", "note"].startswith("dropped: constant")
    assert reg.loc["k", "ci_low"] <= 0 <= reg.loc["k", "ci_high"]
    assert reg.loc["seen_family", "note"] == ""   # de and hi are Indo-European like en


def test_regression_pooled_seen_language_effect():
    rng = np.random.default_rng(1)
    conditions = _conditions(rng)
    gains = _gains(conditions, rng, lambda arm, k, seen: 0.01 * k + 0.02 * seen)
    frame = an.scaling_frame(gains, conditions)
    assert frame["seen_language"].any() and not frame["seen_language"].all()
    reg = an.regression(frame, n_boot=500, seed=0)
    assert list(reg.columns[:2]) == ["target_task", "term"]
    reg = reg.set_index("term")
    for term, truth in (("k", 1.0), ("seen_language", 2.0), ("n_families", 0.0), ("seen_family", 0.0)):
        assert reg.loc[term, "ci_low"] <= truth <= reg.loc[term, "ci_high"], term
    pooled = an.regression(frame, n_boot=100, seed=0, by=None)
    assert "target_task" not in pooled.columns and len(pooled) == len(an.REGRESSION_TERMS)


def test_regression_arm_effects(design):
    # gain = k in the diverse arm, 0 in the english one: without an arm term the arms' gap at equal
    # k and n_families loads onto the seen_* terms; with it, the exact model is -1 + n_families + diverse
    _, frame = design
    reg = an.regression(frame, n_boot=500, seed=0, arm_effects=True).set_index("term")
    assert "arm[english]" not in reg.index
    for term, truth in (("intercept", -1.0), ("k", 0.0), ("n_families", 1.0), ("seen_language", 0.0),
                        ("arm[diverse]", 1.0)):
        assert reg.loc[term, "ci_low"] <= truth <= reg.loc[term, "ci_high"], term


def test_arm_difference_at_largest_k(design):
    _, frame = design
    d = an.arm_difference(an.unit_table(frame), n_boot=1000, seed=0).iloc[0]
    assert (d["arm_a"], d["arm_b"], d["k"]) == ("diverse", "english", 4)
    assert d["ci_low"] <= 4.0 <= d["ci_high"] and d["ci_low"] > 0


def test_conclusion_mentions_both_arms(design):
    _, frame = design
    curve = an.gain_curve(frame, n_boot=500, seed=0)
    reg = an.regression(frame, n_boot=200, seed=0)
    text = an.conclusion(curve, reg, n_boot=500, seed=0)
    assert "In the diverse arm, gain rises with k: slope +1.0" in text
    assert "In the english arm, no clear trend with k" in text
    assert "diverse minus english" in text and "the diverse arm is ahead" in text
    assert "Seen-language coefficient" in text
    # the unit table travels in the curve's attrs; passing the frame gives the same words
    assert text == an.conclusion(curve, reg, frame=frame, n_boot=500, seed=0)


def test_conclusion_single_k_and_no_units():
    rng = np.random.default_rng(2)
    conditions = _conditions(rng)
    conditions = conditions[conditions["k"] == 2]
    frame = an.scaling_frame(_gains(conditions, rng, lambda a, k, s: 0.0), conditions)
    curve = an.gain_curve(frame, n_boot=200)
    text = an.conclusion(curve, an.regression(frame, n_boot=100))
    assert "only k = 2 was run" in text and "rises" not in text


def test_plots_are_saved(design, tmp_path):
    _, frame = design
    curve = an.gain_curve(frame, n_boot=200, seed=0)
    fig = an.plot_gain_curves(curve, tmp_path)
    assert fig is not None and (tmp_path / "gain_vs_k.png").stat().st_size > 0
    fig2 = an.family_heatmap(frame, tmp_path)
    assert fig2 is not None and (tmp_path / "gain_by_family.png").stat().st_size > 0
    table = an.family_gain_table(frame)
    assert list(table.columns) == [f"diverse k={k}" for k in KS] + [f"english k={k}" for k in KS]
    assert table.loc[("xnli", "Indo-European"), "english k=1"] == pytest.approx(0.0, abs=0.3)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_reference_csv_loads():
    ref = an.phang2020_reference()
    assert {"task", "metric", "setting", "value", "source"} <= set(ref.columns)
    assert len(ref) > 0
    assert ref["value"].between(0, 100).all()
    assert ref["target_task"].notna().all()
    assert {"baseline", "best_intermediate"} <= set(ref["setting"])
    assert set(ref["target_task"]) <= {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba"}
    assert not ref.duplicated(["task", "setting"]).any()


def test_compare_with_phang():
    ref = pd.DataFrame({"task": ["XNLI", "XNLI", "POS"], "metric": ["accuracy", "accuracy", "F1"],
                        "setting": ["baseline", "best_intermediate", "baseline"], "value": [79.0, 80.0, 70.0],
                        "source": "t"})
    ref["target_task"] = ref["task"].map(an.PHANG_TASK_NAMES)
    ours = pd.DataFrame({"condition": ["none", "none", "mnli", "none"], "seed": [1, 2, 1, 1],
                         "target_task": ["xnli", "xnli", "xnli", "bucc"], "score": [40.0, 42.0, 45.0, 10.0]})
    out = an.compare_with_phang(ours, reference=ref).set_index(["condition", "target_task"])
    assert out.loc[("none", "xnli"), "score"] == 41.0 and out.loc[("none", "xnli"), "n_seeds"] == 2
    assert out.loc[("none", "xnli"), "phang_baseline"] == 79.0
    assert out.loc[("mnli", "xnli"), "phang_best_intermediate"] == 80.0
    assert out.loc[("mnli", "xnli"), "minus_phang_best"] == -35.0
    assert np.isnan(out.loc[("none", "bucc"), "phang_baseline"])
    # with the shipped file
    real = an.compare_with_phang(ours)
    assert real.set_index(["condition", "target_task"]).loc[("none", "xnli"), "phang_task"] == "XNLI"
