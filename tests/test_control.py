"""Issue 7, part 4: the equal-compute control separates "extra training" from "intermediate tasks".

The arm's gain over the control has a t interval with the task draws as clusters (seeds are nested in
a draw and are not independent replicates) and a test, and the control's own gain and each arm's gain
over it are Holm-corrected statements of the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intertask import analysis as an

DRAWS, SEEDS, KS = 3, 3, (1, 4)


def _units(rng: np.random.Generator, n_studies: int, over: dict[str, float], control: float = 2.0,
           draw_sd: float = 1.5, seed_sd: float = 0.5) -> pd.DataFrame:
    """(condition, seed) unit gains in points of many studies at once (the study is the target task).

    Every gain of a seed subtracts that seed's baseline run, so its noise is shared across conditions.
    """
    rows = []
    for s in range(n_studies):
        base = rng.normal(0, seed_sd, SEEDS)
        for seed in range(SEEDS):
            rows.append((f"s{s}", "control", 0, 0, "control-k0", seed + 1,
                         control + rng.normal(0, seed_sd) - base[seed]))
        for arm, effect in over.items():
            for k in KS:
                for d in range(1, DRAWS + 1):
                    u = rng.normal(0, draw_sd)          # which tasks were drawn: shared by the draw's seeds
                    for seed in range(SEEDS):
                        rows.append((f"s{s}", arm, k, d, f"{arm}-k{k}-d{d}", seed + 1,
                                     control + effect + u + rng.normal(0, seed_sd) - base[seed]))
    return pd.DataFrame(rows, columns=["target_task", "arm", "k", "draw", "condition", "seed", "gain"])


def test_interval_over_the_control_covers_with_draws_as_clusters():
    n = 300
    truth = {"diverse": 1.0, "english": 0.0}
    table = an.control_contrast(_units(np.random.default_rng(3), n, truth))
    assert len(table) == n * len(truth) * len(KS) and table["identified"].all()
    table["truth"] = table["arm"].map(truth)
    covered = float(((table["ci_low"] <= table["truth"]) & (table["truth"] <= table["ci_high"])).mean())
    # the control's seed variance carries the baseline's seed noise too (which cancels in the estimate),
    # so the interval is a little conservative, never too narrow
    assert 0.93 <= covered <= 0.995, covered
    err = table["over_control"] - table["truth"]
    assert abs(err.mean()) < 3 * err.std() / np.sqrt(len(err))
    null = table[table["arm"] == "english"]
    assert 0.0 < float((null["p"] < 0.05).mean()) <= 0.07



def test_units_as_independent_replicates_would_not_cover():
    """What the contrast did before: the 9 (draw, seed) units of a cell as independent, pooled with the
    control's seeds. Seeds share their draw, so that interval is too narrow."""
    from intertask.analysis.stats import difference_estimate

    units = _units(np.random.default_rng(3), 300, {"english": 0.0})
    hits = []
    for _s, g in units.groupby("target_task"):
        control = g.loc[g["arm"] == "control", "gain"].to_numpy()
        for _k, h in g[g["arm"] == "english"].groupby("k"):
            low, high = difference_estimate(h["gain"].to_numpy(), control).interval(0.95)
            hits.append(low <= 0 <= high)
    assert np.mean(hits) < 0.92, np.mean(hits)   # about 0.88: below the 0.92-0.98 the issue asks for


def test_control_with_one_seed_or_few_draws_is_not_identified():
    units = _units(np.random.default_rng(4), 1, {"diverse": 1.0})
    one_seed = an.control_contrast(units[units["seed"] == 1]).iloc[0]
    # the control's seed noise is bounded by the draws' variance; its own gain has no interval
    assert one_seed["identified"] and np.isnan(one_seed["control_se"]) and one_seed["n_control"] == 1
    two_draws = an.control_contrast(units[units["draw"] != 3])
    assert not two_draws["identified"].any() and two_draws["ci_low"].isna().all()
    st = an.correct(an.statements(None, None, None, control=an.control_contrast(units[units["seed"] == 1])))
    own = st[st["kind"] == "control"].iloc[0]
    assert own["verdict"] == "not identified" and "one seed" in an.claims.sentence(own)


def test_control_statements_enter_the_holm_family():
    units = _units(np.random.default_rng(5), 1, {"diverse": 4.0, "english": 0.0}, control=3.0, draw_sd=0.5)
    table = an.control_contrast(units)
    st = an.correct(an.statements(None, None, None, control=table)).set_index("subject")
    assert set(st["kind"]) == {"control", "over control"} and (st["n_statements"] == 3).all()
    assert st.loc["equal-compute control (extra training only) over the baseline", "verdict"] == "positive"
    assert st.loc["diverse arm at k = 4 over the equal-compute control", "verdict"] == "positive"
    english = st.loc["english arm at k = 4 over the equal-compute control"]
    assert english["verdict"] == "inconclusive" and english["corr_low"] < 0 < english["corr_high"]
    text = an.conclusion(st.reset_index())
    assert "the intermediate tasks add to what extra training gives" in text
    assert "extra training alone helps" in text and "control's seed noise added" in text
    assert "**inconclusive**" in text


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_control_sentences_name_the_interval_and_the_correction(level):
    table = an.control_contrast(_units(np.random.default_rng(6), 1, {"diverse": 1.0}), level)
    text = an.control_sentences(table, level)
    assert f"{level:.0%} CI [" in text and "Holm-corrected verdicts" in text and "over 3 seeds" in text
