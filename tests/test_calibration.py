"""Calibration of the scaling analysis on simulated studies with known truth (design sizes from params/).

The simulator (`analysis.simulate`) draws draw, seed, language and item noise around a known effect;
the estimators are those of `analysis.curves`, vectorized over studies. Monte Carlo bounds: with n
studies a rate's SE is sqrt(p (1 - p) / n); the bounds below allow about 3 SE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intertask import analysis as an
from intertask import report
from intertask.analysis.simulate import (SimSpec, analyse_arrays, simulate, simulate_items, spec_from_params, to_tables,
                                         write_study)
from intertask.study import load_params

PARAMS = Path(__file__).resolve().parents[1] / "params"
N_NULL = 1000
N_COVER = 2000


def _spec(name: str, **kw) -> SimSpec:
    return spec_from_params(load_params(PARAMS / f"{name}.yaml"), **kw)


def _coverage(est, truth: float) -> float:
    low, high = est.interval(0.95)
    return float(np.mean((low <= truth) & (truth <= high)))


def test_null_studies_make_at_most_five_percent_false_claims():
    spec = _spec("scaling")
    res = analyse_arrays(simulate(spec, N_NULL, seed=11))
    family_wise = float(np.mean(res.claims > 0))
    assert N_NULL >= 200
    assert family_wise <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / N_NULL), family_wise
    assert family_wise > 0.005          # not vacuous: the tests do reject sometimes


def test_intervals_cover_the_truth_at_the_scaling_design():
    truth = {"diverse": 0.25, "english": 0.0}
    spec = _spec("scaling", slope=truth)
    assert (spec.ks, spec.draws, spec.seeds) == ((1, 2, 4, 8), 3, 3)
    res = analyse_arrays(simulate(spec, N_COVER, seed=12))
    for a, arm in enumerate(spec.arms):
        cov = _coverage(type(res.slope)(res.slope.estimate[:, a], res.slope.se[:, a], res.slope.df[:, a]),
                        truth[arm])
        assert 0.92 <= cov <= 0.98, (arm, cov)
    diff_truth = spec.arm_difference(spec.arms[0], spec.arms[1])
    cov = _coverage(res.difference, diff_truth)
    assert 0.92 <= cov <= 0.98, cov
    lev = res.level
    for a, arm in enumerate(spec.arms):
        cov = _coverage(type(lev)(lev.estimate[:, a], lev.se[:, a], lev.df[:, a]), spec.truth(arm, max(spec.ks)))
        assert 0.92 <= cov <= 0.99, (arm, cov)   # levels add the baseline term by Welch: slightly conservative


def test_known_effect_is_recovered_without_bias():
    spec = _spec("scaling", slope={"diverse": 1.0}, offset={"diverse": 0.5})
    res = analyse_arrays(simulate(spec, N_COVER, seed=13))
    div = spec.arms.index("diverse")
    est = res.slope.estimate[:, div]
    assert abs(est.mean() - 1.0) < 3 * est.std() / np.sqrt(est.size)
    d = res.difference.estimate * (1 if spec.arms[0] == "diverse" else -1)
    truth = spec.arm_difference("diverse", "english")
    assert abs(d.mean() - truth) < 3 * d.std() / np.sqrt(d.size)


def test_smoke_design_is_not_identified():
    spec = _spec("scaling_smoke")
    assert (spec.draws, spec.seeds) == (2, 1)
    res = analyse_arrays(simulate(spec, 50, seed=14))
    assert not res.identified and (res.claims == 0).all()
    results, conditions = to_tables(simulate(spec, 1, seed=15))
    rep = an.scaling_report(report.gains(results), conditions, None, n_boot=200, mixed_model=False)
    assert not rep.slopes["identified"].any() and rep.slopes["ci_low"].isna().all()
    assert not rep.differences["identified"].any()
    assert "not identified" in rep.conclusion
    assert not rep.claims.query("kind in ['slope', 'arm difference', 'gain']")["verdict"].isin(
        ["positive", "negative"]).any()


def test_report_path_agrees_with_the_vectorized_estimators(tmp_path):
    """The table path (results.csv -> gains -> analysis) computes the same numbers as analyse_arrays."""
    spec = _spec("scaling", slope={"diverse": 0.5})
    sims = simulate(spec, 2, seed=16)
    res = analyse_arrays(sims)
    folder = write_study(tmp_path / "sim", spec, seed=16)
    results = report.load_results(folder / "results.csv")
    assert set(results["language"]) == set(spec.languages)
    for i in range(2):
        results, conditions = to_tables(sims, i)
        rep = an.scaling_report(report.gains(results), conditions, None, n_boot=200, mixed_model=False)
        slopes = rep.slopes.set_index("arm")
        for a, arm in enumerate(spec.arms):
            assert slopes.loc[arm, "estimate"] == pytest.approx(res.slope.estimate[i, a], abs=1e-6)
            low, high = res.slope.interval()
            assert slopes.loc[arm, "ci_low"] == pytest.approx(low[i, a], abs=1e-6)
            assert slopes.loc[arm, "ci_high"] == pytest.approx(high[i, a], abs=1e-6)
        d = rep.differences.iloc[0]
        assert (d["arm_a"], d["arm_b"]) == (spec.arms[0], spec.arms[1]) or \
            d["estimate"] == pytest.approx(-res.difference.estimate[i], abs=1e-6)
        assert abs(d["estimate"]) == pytest.approx(abs(res.difference.estimate[i]), abs=1e-6)
        top = rep.curve[(rep.curve["k"] == max(spec.ks))].set_index("arm")
        for a, arm in enumerate(spec.arms):
            assert top.loc[arm, "gain"] == pytest.approx(res.level.estimate[i, a], abs=1e-6)
            assert top.loc[arm, "se"] == pytest.approx(res.level.se[i, a], abs=1e-6)


def test_item_level_paired_bootstrap_covers():
    n_studies, n_items = 300, 300
    base, cond, truth = simulate_items(n_items, 0.6, 0.2, 0.1, n_studies, seed=17)
    hits = []
    for s in range(n_studies):
        items = pd.DataFrame({"target_task": "xnli", "metric": "accuracy", "language": "de", "seed": 1,
                              "item": np.tile(np.arange(n_items).astype(str), 2),
                              "condition": ["none"] * n_items + ["c"] * n_items,
                              "baseline": [True] * n_items + [False] * n_items,
                              "score": np.concatenate([base[s], cond[s]])})
        per_lang, _ = an.item_gains(items, n_boot=400, seed=s)
        r = per_lang.iloc[0]
        assert r["gain"] == pytest.approx(100 * (cond[s].mean() - base[s].mean()))
        hits.append(r["ci_low"] <= truth <= r["ci_high"])
    assert 0.92 <= np.mean(hits) <= 0.98, np.mean(hits)
