"""Issue 7, part 3: where the arms cannot hold the same formats, the analysis carries the format counts.

Known truth by simulation (`analysis.simulate`): the diverse arm draws mostly tagging tasks, the English
arm none; tagging adds a point per task; language diversity adds nothing. Without the format covariates
the regression's diversity term (n_families) is biased and claims an effect in nearly every study; with
them it is unbiased and claims one in about 5% (the nominal rate) or fewer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intertask import analysis as an
from intertask import report
from intertask.analysis.simulate import SimSpec, simulate, study_frames, to_tables

C, T = "classification", "tagging"
# slot formats per draw (the condition at k holds the first k): the diverse arm is mostly tagging and
# varies by draw, so tagging and the number of families can be told apart
DIVERSE = ((T, T, C, T, T, C, T, T), (C, T, T, T, C, T, T, C), (T, C, T, T, T, T, C, T))
ENGLISH = ((C,) * 8,) * 3
# params/scaling.yaml's k, draws and seeds; four zero-shot languages keep the 200 fits fast
LANGUAGES = ("en", "de", "ar", "hi", "sw")


def _spec(diverse=DIVERSE, english=ENGLISH, tagging: float = 1.0) -> SimSpec:
    return SimSpec(languages=LANGUAGES, draw_sd=1.0, format_slots={"diverse": diverse, "english": english},
                   format_effect={T: tagging})


def test_format_composition_says_when_and_where_the_arms_differ():
    results, conds = to_tables(simulate(_spec(), 1, seed=1))
    assert {"n_tagging", "n_classification", "format_matched"} <= set(conds.columns)
    frame = an.scaling_frame(report.gains(results), conds)
    comp = an.format_composition(frame)
    assert comp.recorded and comp.differs and comp.ks == (1, 2, 4, 8)
    assert comp.covariates == ("n_classification", "n_tagging")
    # at k = 8 the diverse draws hold 6, 5 and 6 tagging tasks, the English ones none
    assert "k = 8: diverse 2.3 classification + 5.7 tagging, english 8.0 classification" in comp.where
    assert "format counts (n_classification, n_tagging) as covariates" in comp.note()
    reg = an.regression(frame).set_index("term")
    assert reg["format_adjusted"].all()
    # the counts sum to k, so the second is dropped as collinear, never k or n_families
    assert reg.loc["n_classification", "identified"] and "arms differ" in reg.loc["n_classification", "note"]
    assert reg.loc["n_tagging", "note"].startswith("dropped: collinear with k")
    assert "n_tagging" not in set(an.regression(frame, formats=False)["term"])

    # the same formats in both arms: no covariate, and the note says the composition is equal
    results, conds = to_tables(simulate(_spec(english=DIVERSE), 1, seed=1))
    frame = an.scaling_frame(report.gains(results), conds)
    comp = an.format_composition(frame)
    assert not comp.differs and comp.covariates == () and "same number of tasks of each format" in comp.note()
    assert not an.regression(frame)["format_adjusted"].any()
    assert set(an.regression(frame)["term"]) == set(an.REGRESSION_TERMS)
    # a design without format counts (older conditions.csv) is left as it was, with no note
    results, conds = to_tables(simulate(SimSpec(languages=LANGUAGES), 1, seed=1))
    assert an.format_composition(an.scaling_frame(report.gains(results), conds)).note() == ""


def test_format_covariates_remove_the_bias_and_the_false_claims():
    n = 200
    frames = list(study_frames(simulate(_spec(), n, seed=21)))
    naive = np.array([an.regression(f, formats=False).set_index("term").loc["n_families", ["coef", "p"]]
                      for f in frames[:40]], dtype=float)
    adjusted = pd.DataFrame([an.regression(f).set_index("term").loc["n_families"] for f in frames])
    # without the covariates the tagging effect (1 point per task, ~0.7 tasks per family) shows up as
    # "diversity" and is claimed in nearly every study
    assert naive[:, 0].mean() > 0.5 and np.mean(naive[:, 1] < 0.05) > 0.9
    coef = adjusted["coef"].to_numpy(float)
    assert abs(coef.mean()) < 3 * coef.std() / np.sqrt(n)                     # unbiased
    false_claims = float(np.mean(adjusted["p"] < 0.05))
    assert 0 < false_claims <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n), false_claims
    covered = (adjusted["ci_low"] <= 0) & (adjusted["ci_high"] >= 0)
    assert covered.mean() >= 0.95 - 3 * np.sqrt(0.05 * 0.95 / n)


def test_scaling_report_claims_no_diversity_from_unmatched_arms(tmp_path):
    results, conds = to_tables(simulate(_spec(tagging=3.0), 1, seed=5))
    rep = an.scaling_report(report.gains(results), conds, None, n_boot=100, mixed_model=False)
    diff = rep.claims[rep.claims["kind"] == "arm difference"].iloc[0]
    # the raw difference is large (tagging), but it is not claimed as a diversity effect
    assert diff["estimate"] > 5 and diff["verdict"] == "not identified"
    assert "differ in format composition" in diff["reason"] and "differ in format composition" in rep.conclusion
    div = rep.claims[rep.claims["kind"] == "diversity"].iloc[0]
    assert div["verdict"] in ("inconclusive", "positive", "negative") and np.isfinite(div["p_holm"])
    assert "The arms differ in format composition (mean tasks per condition: k = 1: diverse" in rep.formats
    assert rep.differences["format_confounded"].all()
    mixed = pd.DataFrame({"target_task": "xnli", "what": ["slope (diverse)", "diverse - english at k = 8"],
                          "note": ["", "draw variance estimated at 0"]})
    _, noted, _ = an.mark_formats(rep.differences, rep.frame, mixed)
    assert noted["note"].tolist() == ["", "draw variance estimated at 0; arms differ in format composition: not "
                                          "a diversity effect"]
    # matched arms: the raw arm difference is a claimable statement again, with no diversity row
    results, conds = to_tables(simulate(_spec(english=DIVERSE), 1, seed=5))
    rep = an.scaling_report(report.gains(results), conds, None, n_boot=100, mixed_model=False)
    assert (rep.claims["kind"] == "diversity").sum() == 0
    assert rep.claims.loc[rep.claims["kind"] == "arm difference", "verdict"].iloc[0] != "not identified"
    assert "same number of tasks of each format" in rep.formats


@pytest.mark.parametrize("arm", ["english", "diverse"])
def test_simulated_format_slots_must_cover_k(arm):
    short = {"diverse": DIVERSE, "english": ENGLISH, arm: ((C,),) * 3}
    with pytest.raises(ValueError, match=f"format_slots\\['{arm}'\\]\\[0\\] has 1 slots; k = 2"):
        simulate(SimSpec(languages=LANGUAGES, format_slots=short), 1)


def test_a_real_design_records_its_format_composition_and_the_analysis_reads_it():
    """design.expand_design on registry tasks: stratified by format the arms match and no covariate is
    added; unstratified, the diverse arm draws tagging tasks the English arm cannot have, the rows say
    format_matched False, and the analysis names the difference."""
    from intertask.design import expand_design

    pool = ["anli", "qqp", "mrpc", "copa", "udpos-de", "udpos-fr", "udpos-hi", "panx-sw", "pawsx-de"]
    for stratify, differs in (("format", False), ("none", True)):
        _, rows = expand_design({"pool": pool, "k": [0, 1, 3], "draws": 3, "stratify": stratify})
        conditions = pd.DataFrame(rows)
        drawn = conditions[conditions["k"] > 0]
        assert drawn["format_matched"].all() != differs
        comp = an.format_composition(conditions)
        assert comp.differs == differs
        if differs:
            assert "n_tagging" in comp.covariates and "english" in comp.where[-1] and "tagging" in comp.where[-1]
