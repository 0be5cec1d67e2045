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
    assert not f["source_language"].any()          # xnli trains on en; none of these is en


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
    assert curve["n_draws"].tolist() == [2] and curve["gain"].iloc[0] == pytest.approx(2.0)
    assert not curve["identified"].iloc[0] and np.isnan(curve["ci_low"].iloc[0])   # 2 clusters: refused


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


def test_source_language_is_kept_out_of_zero_shot_means(design):
    conditions, frame = design
    en = frame[frame["language"] == "de"].assign(language="en", gain=0.5)   # a huge gain on the source
    with_en = an.scaling_frame(pd.concat([frame, en])[frame.columns.intersection(
        ["target_task", "metric", "language", "seed", "condition", "intermediate_tasks", "value", "baseline",
         "gain"])], conditions)
    assert with_en.loc[with_en["language"] == "en", "source_language"].all()
    pd.testing.assert_frame_equal(an.unit_table(with_en), an.unit_table(frame))
    src = an.source_language_table(with_en)
    assert set(src["language"]) == {"en"} and (src["gain"] == 50.0).all()


def test_gain_curve(design):
    _, frame = design
    curve = an.gain_curve(frame, n_boot=500, seed=0)
    real = curve[~curve["by_definition"]]
    assert set(real["k"]) == set(KS)
    assert (real["n_draws"] == DRAWS).all() and (real["n_seeds"] == len(SEEDS)).all() and real["identified"].all()
    for r in real.itertuples():
        truth = r.k if r.arm == "diverse" else 0.0          # points
        assert r.ci_low <= truth <= r.ci_high, r
        assert r.boot_low <= r.gain <= r.boot_high
        assert r.gain == pytest.approx(truth, abs=0.15)
        assert r.df > 0 and r.se > 0
    zero = curve[curve["by_definition"]]
    assert set(zero["arm"]) == {"english", "diverse"} and (zero["k"] == 0).all() and (zero["gain"] == 0).all()
    pd.testing.assert_frame_equal(curve, an.gain_curve(frame, n_boot=500, seed=0))
    assert not an.gain_curve(frame, n_boot=100, include_zero=False)["by_definition"].any()


def test_t_statistics_on_hand_made_numbers():
    from intertask.analysis import stats

    e = stats.slope_estimate(np.array([1, 2, 4]), np.array([[1.0, 2.0, 4.0], [1.0, 3.0, 3.0]]))
    assert e.estimate[0] == pytest.approx(1.0) and e.se[0] == pytest.approx(0.0) and e.df[0] == 1
    # second row: slope = Sxy / Sxx with x - mean = (-4/3, -1/3, 5/3), Sxx = 14/3, Sxy = 8/3
    assert e.estimate[1] == pytest.approx(4 / 7)
    d = stats.difference_estimate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 3.0]))
    assert d.estimate == pytest.approx(1.0) and d.df == 4
    assert d.se == pytest.approx(np.sqrt((2 + 6) / 4 * (2 / 3)))
    low, high = d.interval(0.95)
    assert high - d.estimate == pytest.approx(2.7764451 * d.se, rel=1e-6)     # t(0.975, 4)
    m = stats.mean_estimate(np.array([1.0, 2.0, 3.0]), 0.5, 2)
    assert m.se == pytest.approx(np.sqrt(1 / 3 + 0.5))
    assert m.df == pytest.approx((1 / 3 + 0.5) ** 2 / ((1 / 3) ** 2 / 2 + 0.25 / 2))
    assert stats.holm(np.array([0.01, 0.04, 0.03, 0.005])).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(stats.holm(np.array([np.nan, 0.02]))[0]) and stats.holm(np.array([np.nan, 0.02]))[1] == 0.02


def test_slopes_diverse_excludes_zero_english_includes(design):
    _, frame = design
    slopes = an.arm_slopes(an.unit_table(frame), n_boot=500, seed=0).set_index("arm")
    div, eng = slopes.loc["diverse"], slopes.loc["english"]
    assert div["ci_low"] > 0 and div["ci_low"] <= 1.0 <= div["ci_high"]
    assert div["estimate"] == pytest.approx(1.0, abs=0.1)
    assert eng["ci_low"] <= 0 <= eng["ci_high"]
    assert div["k_values"] == "1,2,4" and div["df"] == len(KS) * DRAWS - 2 and div["identified"]
    log = an.arm_slopes(an.unit_table(frame), scale="log2k", n_boot=100).set_index("arm")
    # gain = k = 2^log2k: the slope per doubling over k in {1, 2, 4} is (sum of xc*y)/Sxx = 1.5
    assert log.loc["diverse", "estimate"] == pytest.approx(1.5, abs=0.1)
    with pytest.raises(ValueError, match="log2k"):
        an.arm_slopes(an.unit_table(frame), scale="log")


def test_regression_recovers_k_and_drops_collinear(design):
    _, frame = design
    reg = an.regression(frame[frame["arm"] == "diverse"]).set_index("term")
    k = reg.loc["k"]
    assert k["ci_low"] <= 1.0 <= k["ci_high"] and k["coef"] == pytest.approx(1.0, abs=0.1)
    assert np.isnan(reg.loc["n_families", "coef"])            # every diverse draw covers k families
    assert reg.loc["n_families", "note"] == "dropped: collinear with k"
    assert (reg["n_clusters"] == len(KS) * DRAWS).all()       # clusters are the task draws
    assert (reg["n_obs"] == len(KS) * DRAWS * len(SEEDS) * len(TARGETS)).all()
    pd.testing.assert_frame_equal(reg, an.regression(frame[frame["arm"] == "diverse"]).set_index("term"))


def test_regression_drops_constant_and_language_collinear_terms(design):
    _, frame = design
    reg = an.regression(frame[frame["arm"] == "english"]).set_index("term")
    assert reg.loc["n_families", "note"].startswith("dropped: constant")
    assert reg.loc["seen_language", "note"].startswith("dropped: constant")
    # with English tasks only, "seen family" is just "de or hi": the language effects absorb it
    assert reg.loc["seen_family", "note"] == "dropped: collinear with the language effects"
    assert reg.loc["k", "ci_low"] <= 0 <= reg.loc["k", "ci_high"]


def test_regression_pooled_seen_language_effect():
    rng = np.random.default_rng(1)
    conditions = _conditions(rng)
    gains = _gains(conditions, rng, lambda arm, k, seen: 0.01 * k + 0.02 * seen)
    frame = an.scaling_frame(gains, conditions)
    assert frame["seen_language"].any() and not frame["seen_language"].all()
    reg = an.regression(frame)
    assert list(reg.columns[:2]) == ["target_task", "term"]
    reg = reg.set_index("term")
    for term, truth in (("k", 1.0), ("seen_language", 2.0)):
        assert reg.loc[term, "ci_low"] <= truth <= reg.loc[term, "ci_high"], term
    assert reg.loc["seen_language", "identified"] and reg.loc["seen_language", "term_clusters"] >= 3
    pooled = an.regression(frame, by=None)
    assert "target_task" not in pooled.columns and len(pooled) == len(an.REGRESSION_TERMS)


def test_seen_language_on_too_few_draws_is_not_identified():
    rng = np.random.default_rng(4)
    conditions = _conditions(rng)
    conditions["task_languages"] = np.where(conditions["arm"] == "english", "en", "fi")
    conditions.loc[conditions["condition"].isin(["diverse-k1-d1", "diverse-k2-d1"]), "task_languages"] = "de"
    frame = an.scaling_frame(_gains(conditions, rng, lambda a, k, s: 0.0), conditions)
    r = an.regression(frame).set_index("term").loc["seen_language"]
    assert r["term_clusters"] == 2 and not r["identified"] and np.isnan(r["ci_low"])
    assert r["note"].startswith("not identified")


def test_regression_arm_effects(design):
    # gain = k in the diverse arm, 0 in the english one: the exact model is -1 + n_families + diverse
    _, frame = design
    reg = an.regression(frame, arm_effects=True).set_index("term")
    assert "arm[english]" not in reg.index
    for term, truth in (("k", 0.0), ("n_families", 1.0), ("arm[diverse]", 1.0)):
        assert reg.loc[term, "ci_low"] <= truth <= reg.loc[term, "ci_high"], term


def test_mixed_model_agrees_with_cluster_statistics(design):
    _, frame = design
    mixed = an.mixed_model(frame).set_index("what")
    slopes = an.arm_slopes(an.unit_table(frame), n_boot=100).set_index("arm")
    assert mixed.loc["slope (diverse)", "estimate"] == pytest.approx(slopes.loc["diverse", "estimate"], abs=0.02)
    assert mixed.loc["slope (diverse)", "ci_low"] <= 1.0 <= mixed.loc["slope (diverse)", "ci_high"]
    assert mixed.loc["diverse - english at k = 4", "estimate"] == pytest.approx(4.0, abs=0.1)


def test_arm_difference_at_largest_k(design):
    _, frame = design
    d = an.arm_difference(an.unit_table(frame), n_boot=500, seed=0).iloc[0]
    assert (d["arm_a"], d["arm_b"], d["k"]) == ("diverse", "english", 4)
    assert d["ci_low"] <= 4.0 <= d["ci_high"] and d["ci_low"] > 0 and d["df"] == 2 * DRAWS - 2


def test_conclusion_is_holm_corrected(design):
    conditions, frame = design
    rep = an.scaling_report(_gains_of(frame), conditions, None, n_boot=200, mixed_model=False,
                            design=([0, *KS], DRAWS, len(SEEDS)))
    st = rep.claims.set_index("subject")
    assert st.loc["diverse arm", "verdict"] == "positive" and st.loc["english arm", "verdict"] == "inconclusive"
    assert st.loc["diverse minus english at k = 4", "verdict"] == "positive"
    assert (st["n_statements"] == st["p"].notna().sum()).all()
    # corrected intervals are wider than the uncorrected ones, and a claim's excludes 0
    ok = st[st["p"].notna()]
    assert ((ok["corr_high"] - ok["corr_low"]) >= (ok["ci_high"] - ok["ci_low"]) - 1e-9).all()
    claims = ok[ok["verdict"].isin(["positive", "negative"])]
    assert ((claims["corr_low"] > 0) | (claims["corr_high"] < 0)).all()
    assert (ok.loc[ok["verdict"] == "inconclusive", "mde"] > 0).all()
    text = rep.conclusion
    assert "Slope, diverse arm: +1.0 points per added task" in text and "rises with k" in text
    assert "english arm" in text and "inconclusive" in text and "could detect" in text
    assert "Holm" in text and "rest on few clusters" in text
    assert "minimal detectable slope" in rep.power and "draws for the slope" in rep.power


def test_holm_levels_are_consistent_with_verdicts():
    st = pd.DataFrame({"target_task": "x", "metric": "m", "kind": "slope", "subject": list("abcd"),
                       "unit": "points", "estimate": [1.0, 1.0, 1.0, -1.0], "se": [0.1, 0.4, 0.45, 0.3],
                       "df": np.inf, "p": np.nan, "ci_low": 0, "ci_high": 0, "identified": True, "n_clusters": 3})
    from intertask.analysis.stats import Estimate

    st["p"] = Estimate(st["estimate"].to_numpy(), st["se"].to_numpy(), st["df"].to_numpy()).p_value()
    out = an.correct(st).set_index("subject")
    for s, r in out.iterrows():
        excludes = r["corr_low"] > 0 or r["corr_high"] < 0
        assert excludes == (r["verdict"] in ("positive", "negative")), s
    assert out.loc["a", "verdict"] == "positive" and out.loc["d", "verdict"] == "negative"


def _gains_of(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["target_task", "metric", "language", "seed", "condition", "intermediate_tasks", "value",
                  "baseline", "gain"]]


def _evaluation_stages(root, items: dict) -> None:
    """A study folder whose evaluation stages wrote `items` and were recorded done with their manifest."""
    import json

    from intertask.integrity import build_manifest

    for cond, scores in items.items():
        stage = root / "stages" / f"3-evaluate-{cond}"
        stage.mkdir(parents=True)
        pd.DataFrame({"language": ["de", "de", "en", "en"], "item": ["1", "2", "1", "2"], "metric": "accuracy",
                      "score": scores}).to_csv(stage / "items.csv", index=False)
        (stage / "status.json").write_text(json.dumps({"status": "done", "outputs": build_manifest(stage)}))
        (root / "runs").mkdir(exist_ok=True)
        (root / "runs" / f"{cond}.json").write_text(json.dumps({
            "run": cond, "condition": cond, "intermediate_tasks": [] if cond == "none" else ["anli"],
            "target": "xnli", "seed": 1, "stages": [f"stages/3-evaluate-{cond}"]}))


def test_item_gains_and_load_items(tmp_path):
    root = tmp_path / "study"
    _evaluation_stages(root, {"none": [1, 0, 1, 0], "c1": [1, 1, 1, 0]})
    loaded = an.load_items(root)
    assert len(loaded) == 8 and loaded["baseline"].sum() == 4 and loaded.attrs["skipped"] == []
    assert an.skipped_note(loaded) == ""
    per_lang, mean = an.item_gains(loaded, n_boot=200)
    de = per_lang.set_index("language").loc["de"]
    assert de["gain"] == pytest.approx(50.0) and de["n_items"] == 2 and not de["source_language"]
    assert per_lang.set_index("language").loc["en", "source_language"]
    assert mean.iloc[0]["gain"] == pytest.approx(50.0) and mean.iloc[0]["n_languages"] == 1   # en left out
    text = an.item_conclusion(mean)
    assert "Item-level gain, c1 (mean over 1 languages): +50.0 points" in text and "Holm" in text
    assert "paired bootstrap over the test items" in text and "t intervals" not in text
    assert "No per-item scores" in an.item_conclusion(mean.iloc[:0])
    assert an.load_items(tmp_path / "nothing").empty


def test_load_items_reads_only_verifiably_done_evaluations(tmp_path):
    """An items.csv edited after its stage finished (same size, other content), one whose stage never
    recorded done, and one whose input stage was redone are left out and named; the rest load."""
    import json

    root = tmp_path / "study"
    _evaluation_stages(root, {"none": [1, 0, 1, 0], "c1": [1, 1, 1, 0], "c2": [0, 0, 1, 1], "c3": [1, 1, 0, 0]})
    edited = root / "stages/3-evaluate-c1/items.csv"
    edited.write_text(edited.read_text().replace("de,1,accuracy,1", "de,1,accuracy,0"))   # same size
    (root / "stages/3-evaluate-c2/status.json").write_text(json.dumps({"status": "running"}))
    parent = root / "stages/2-target-c3"
    parent.mkdir()
    (parent / "status.json").write_text(json.dumps({"status": "done", "outputs": {}, "digest": "new"}))
    record = json.loads((root / "stages/3-evaluate-c3/status.json").read_text())
    (root / "stages/3-evaluate-c3/status.json").write_text(json.dumps({**record, "inputs": {"2-target-c3": "old"}}))
    with pytest.warns(an.items.ItemsSkippedWarning, match="c1: stages/3-evaluate-c1 is invalid"):
        loaded = an.load_items(root)
    assert set(loaded["condition"]) == {"none"} and len(loaded) == 4
    skipped = {s.run: s for s in loaded.attrs["skipped"]}
    assert set(skipped) == {"c1", "c2", "c3"}
    assert "items.csv changed content" in skipped["c1"].reason
    assert skipped["c2"].state == "interrupted" and "2-target-c3 was redone" in skipped["c3"].reason
    note = an.skipped_note(loaded)
    assert note.startswith("Item-level scores of 3 evaluation(s) were left out") and "intertask run" in note


def test_plots_are_saved(design, tmp_path):
    import matplotlib.pyplot as plt

    _, frame = design
    curve = an.gain_curve(frame, n_boot=100, seed=0)
    assert an.plot_gain_curves(curve, tmp_path) is not None and (tmp_path / "gain_vs_k.png").stat().st_size > 0
    assert an.family_heatmap(frame, tmp_path) is not None and (tmp_path / "gain_by_family.png").stat().st_size > 0
    table = an.family_gain_table(frame)
    assert list(table.columns) == [f"diverse k={k}" for k in KS] + [f"english k={k}" for k in KS]
    per_lang = pd.DataFrame({"target_task": "xnli", "condition": ["a", "a", "b", "b"], "language": ["de", "sw"] * 2,
                             "gain": [1.0, 3.0, -1.0, 0.5], "ci_low": [-1.0, 1.0, -2.0, -0.5],
                             "ci_high": [3.0, 5.0, 0.0, 1.5]})
    fig = an.plot_item_heatmap(per_lang, tmp_path)
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert len(hatched) == 3                                   # the cells whose interval covers 0
    means = per_lang.groupby(["target_task", "condition"])[["gain", "ci_low", "ci_high"]].mean().reset_index()
    assert an.plot_item_bars(means, tmp_path) is not None and (tmp_path / "item_gain_bars.png").exists()
    plt.close("all")


def test_power_design_and_pilot():
    from intertask.analysis.simulate import SimSpec, simulate, to_tables
    from intertask import report

    comp = an.Components(1.5, 0.5)
    small = an.design_power([0, 1, 2, 4, 8], 3, 3, comp)
    big = an.design_power([0, 1, 2, 4, 8], 12, 3, comp)
    assert small.identified and big.mde_slope < small.mde_slope and big.mde_difference < small.mde_difference
    assert not np.isfinite(an.design_power([0, 1, 4], 2, 1, comp).mde_slope)
    d = an.draws_needed([0, 1, 2, 4, 8], 3, comp, difference=1.0)
    assert an.design_power([0, 1, 2, 4, 8], d, 3, comp).mde_difference <= 1.0
    assert an.design_power([0, 1, 2, 4, 8], d - 1, 3, comp).mde_difference > 1.0
    # pilots with known components: the moment estimates are right on average. A unit's seed spread
    # is the condition's seed noise, the shared baseline's (0.5 each) and both sides' item noise
    spec = SimSpec(ks=(1, 2, 4), draws=8, seeds=3, draw_sd=1.5, seed_sd=0.5, item_sd=1.0)
    sims = simulate(spec, 20, seed=3)
    ests = [an.estimate_components(an.scaling_frame(report.gains(r), c))
            for r, c in (to_tables(sims, i) for i in range(20))]
    seed_var = 2 * 0.5 ** 2 + 2 * 1.0 ** 2 / (len(spec.languages) - 1)
    assert np.mean([e.seed_sd ** 2 for e in ests]) == pytest.approx(seed_var, rel=0.2)
    assert np.mean([e.draw_sd ** 2 for e in ests]) == pytest.approx(1.5 ** 2, rel=0.3)
    est = ests[0]
    assert "pilot" in est.source


def test_reference_csv_loads():
    ref = an.phang2020_reference()
    assert {"task", "metric", "setting", "value", "source", "split"} <= set(ref.columns)
    assert ref["value"].between(0, 100).all() and ref["target_task"].notna().all()
    assert ref["our_metric"].notna().all()
    assert {"baseline", "best_intermediate"} <= set(ref["setting"])
    assert not ref.duplicated(["task", "metric", "setting"]).any()


def test_compare_with_phang_like_for_like():
    ref = pd.DataFrame({"task": ["XQuAD", "XQuAD", "XNLI"], "metric": ["F1", "EM", "accuracy"],
                        "setting": "baseline", "value": [76.0, 60.0, 79.0], "source": "t", "split": "test"})
    ref["target_task"] = ref["task"].map(an.PHANG_TASK_NAMES)
    ref["our_metric"] = ref["metric"].map({"F1": "f1", "EM": "exact_match", "accuracy": "accuracy"})
    results = pd.DataFrame({"condition": "none", "seed": [1, 1, 1, 1, 2, 2], "target_task": "xquad",
                            "metric": ["f1", "f1", "exact_match", "exact_match", "f1", "exact_match"],
                            "language": ["de", "es", "de", "es", "de", "de"], "split": "test",
                            "value": [0.5, 0.7, 0.3, 0.5, 0.8, 0.6]})
    out = an.compare_with_phang(results, reference=ref).set_index("metric")
    assert out.loc["f1", "score"] == pytest.approx((60 + 80) / 2) and out.loc["f1", "phang_baseline"] == 76.0
    assert out.loc["exact_match", "score"] == pytest.approx((40 + 60) / 2)
    assert out.loc["exact_match", "phang_baseline"] == 60.0          # EM against EM, never against F1
    assert out.loc["f1", "n_seeds"] == 2 and out.loc["f1", "our_split"] == "test"
    assert np.isnan(out.loc["f1", "phang_best_intermediate"])


def test_analysis_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, intertask.analysis, intertask.analysis.simulate, intertask.item_scores, intertask.figures; "
            "sys.exit(1 if 'torch' in sys.modules or 'transformers' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_hierarchical_bootstrap_pairs_the_baseline_seed_noise():
    # every condition of seed s shares the baseline run of seed s: a big common seed offset must
    # widen the level's intervals (t and bootstrap) but cancel in the slope and the arm difference
    rng = np.random.default_rng(5)
    offset = {1: 4.0, 2: -4.0, 3: 0.0}
    rows = []
    for arm in ("english", "diverse"):
        for k in KS:
            for draw in range(1, DRAWS + 1):
                for seed in SEEDS:
                    rows.append({"target_task": "xnli", "metric": "accuracy", "arm": arm, "k": k, "draw": draw,
                                 "condition": f"{arm}-k{k}-d{draw}", "seed": seed,
                                 "gain": k - offset[seed] + rng.normal(0, 0.05)})
    units = pd.DataFrame(rows)
    slopes = an.arm_slopes(units, n_boot=500).set_index("arm")
    assert slopes.loc["diverse", "boot_high"] - slopes.loc["diverse", "boot_low"] < 0.1
    assert slopes.loc["diverse", "ci_low"] <= 1.0 <= slopes.loc["diverse", "ci_high"]
    diff = an.arm_difference(units, n_boot=500).iloc[0]
    assert diff["boot_high"] - diff["boot_low"] < 0.2
    frame = units.assign(language="de", gain=units["gain"] / 100, n_families=1, n_languages=1, task_languages="en",
                         seen_language=False, seen_family=False, source_language=False,
                         baseline=units["seed"].map(offset) / 100)
    level = an.gain_curve(frame, n_boot=500, include_zero=False).query("arm == 'diverse' and k == 4").iloc[0]
    assert level["boot_high"] - level["boot_low"] > 4       # the shared seed offsets move every gain together
    assert level["ci_high"] - level["ci_low"] > 8           # t: the baseline's seed variance (16) / 3 seeds added
    log = an.arm_slopes(units, scale="log2k", n_boot=100).set_index("arm")
    assert log.loc["diverse", "scale"] == "log2k" and log.loc["diverse", "identified"]


def test_control_contrast_separates_extra_training_from_intermediate_tasks(tmp_path):
    """Known truth: extra training alone gives +2 points; the diverse arm adds +1 point per task on top,
    the English arm nothing. Over the baseline both arms look helpful; over the control only diverse is."""
    rng = np.random.default_rng(7)
    conditions = pd.concat([_conditions(rng), pd.DataFrame([{
        "condition": "control-k0", "arm": "control", "k": 0, "draw": 0, "tasks": "@target", "task_languages": "",
        "task_families": "", "n_languages": 0, "n_families": 0}])], ignore_index=True)
    gains = _gains(conditions, rng, lambda arm, k, seen: 0.02 + (0.01 * k if arm == "diverse" else 0.0), noise=0.004)
    frame = an.scaling_frame(gains, conditions)
    table = an.control_contrast(an.unit_table(frame)).set_index(["arm", "k"])
    assert (table["control_gain"] - 2.0).abs().lt(0.3).all()  # 3 seeds x 5 languages, noise 0.4 points each
    for k in KS:
        eng, div = table.loc[("english", k)], table.loc[("diverse", k)]
        # over the baseline the English arm "helps" (+2); over the control it does nothing
        assert eng["gain"] > 1.5 and abs(eng["over_control"]) < 0.5
        assert abs(div["over_control"] - k) < 0.5 and div["ci_low"] > 0
    assert an.control_contrast(an.unit_table(an.scaling_frame(gains, _conditions(np.random.default_rng(7))))).empty
    report = an.scaling_report(gains, conditions, tmp_path, n_boot=200, mixed_model=False)
    assert "equal-compute control" in report.conclusion and "control" not in set(report.curve["arm"])
    assert report.control.set_index(["arm", "k"])["over_control"].equals(table["over_control"])
