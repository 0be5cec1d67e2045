"""Scaling designs: matched arms, seeded draws, family coverage, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from intertask.design import DesignError, expand_design, seen_flags, task_language_family
from intertask.study import ParamsError, expand, load_params

POOL = ["anli", "qqp", "mrpc", "cosmosqa", "socialiqa", "copa"]


def test_arms_are_matched_and_draws_seeded(monkeypatch):
    conds, rows = expand_design({"pool": POOL, "k": [0, 1, 2], "draws": 3, "arms": ["english"], "seed": 7})
    again, _ = expand_design({"pool": POOL, "k": [0, 1, 2], "draws": 3, "arms": ["english"], "seed": 7})
    other, _ = expand_design({"pool": POOL, "k": [0, 1, 2], "draws": 3, "arms": ["english"], "seed": 8})
    assert conds == again and conds != other
    assert conds["none"] == [] and sorted(c for c in conds if c != "none") == [
        f"english-k{k}-d{d}" for k in (1, 2) for d in (1, 2, 3)]
    assert all(len(conds[f"english-k2-d{d}"]) == 2 for d in (1, 2, 3))
    assert len({tuple(conds[f"english-k2-d{d}"]) for d in (1, 2, 3)}) == 3  # distinct subsets
    assert {r["arm"] for r in rows} == {"baseline", "english"}


def test_diverse_arm_covers_as_many_families_as_possible(monkeypatch):
    import intertask.design as design

    fams = {"anli": ("en", "Indo-European"), "qqp": ("en", "Indo-European"), "mrpc": ("en", "Indo-European"),
            "cosmosqa": ("ko", "Koreanic"), "socialiqa": ("sw", "Niger-Congo"), "copa": ("zh", "Sino-Tibetan")}
    monkeypatch.setattr(design, "task_language_family", lambda t: fams[t])
    conds, rows = expand_design({"pool": POOL, "k": [1, 2, 4], "draws": 2, "arms": ["diverse"]})
    for d in (1, 2):
        assert len({fams[t][1] for t in conds[f"diverse-k4-d{d}"]}) == 4
        assert len({fams[t][1] for t in conds[f"diverse-k2-d{d}"]}) == 2


def test_design_errors_name_the_field():
    with pytest.raises(DesignError, match=r"design.k \[9\] is larger than the english arm's pool \(6 tasks"):
        expand_design({"pool": POOL, "k": [9], "arms": ["english"]})
    with pytest.raises(DesignError, match=r"unknown key 'design.draw'. Did you mean 'design.draws'"):
        expand_design({"pool": POOL, "draw": 2})
    with pytest.raises(DesignError, match=r"unknown task 'anly'. Did you mean 'anli'"):
        expand_design({"pool": ["anly"]})


def test_params_design_expands_and_refuses_target_data_in_pool(tmp_path: Path):
    p = tmp_path / "s.yaml"
    p.write_text("targets: [xnli]\ndesign: {pool: [anli, qqp, mrpc], k: [0, 1, 2], draws: 2, arms: [english]}\n"
                 "budgets:\n  intermediate: {total_examples: 64, batch_size: 16}\n")
    params = load_params(p)
    assert len(params["_conditions"]) == 5 and len(expand(params)) == 5
    p.write_text("targets: [xcopa]\ndesign: {pool: [anli, copa], k: [1], arms: [english]}\n")
    with pytest.raises(ParamsError, match=r"trains on \['copa'\], which share the target task 'xcopa''s data \(copa: .*allow_target_in_pool"):
        load_params(p)
    p.write_text("targets: [xnli]\ndesign: {pool: [anli, qqp, mrpc], k: [2], arms: [english]}\n"
                 "budgets:\n  intermediate: {total_examples: 16, batch_size: 16}\n")
    with pytest.raises(ParamsError, match=r"total_examples=16 cannot give each of the 2 tasks"):
        load_params(p)


def test_seen_flags():
    assert seen_flags("en+sw", "sw") == (True, True)
    assert seen_flags("en", "de") == (False, True)  # German is unseen, its family is not
    assert seen_flags("", "zh") == (False, False)
    assert task_language_family("anli") == ("en", "Indo-European")
