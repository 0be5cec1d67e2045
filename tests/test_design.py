"""Scaling designs: matched arms, seeded draws, family coverage, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from intertask.design import DesignError, expand_design, seen_flags, task_language_family
from intertask.study import ParamsError, expand, load_params

POOL = ["anli", "qqp", "mrpc", "cosmosqa", "socialiqa", "copa"]


def test_arms_are_matched_and_draws_seeded(monkeypatch):
    base = {"pool": POOL, "k": [0, 1, 2], "draws": 3, "arms": ["english"], "control": False}
    conds, rows = expand_design({**base, "seed": 7})
    again, _ = expand_design({**base, "seed": 7})
    other, _ = expand_design({**base, "seed": 8})
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
    conds, rows = expand_design({"pool": POOL, "k": [1, 2, 4], "draws": 2, "arms": ["diverse"], "stratify": "none"})
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
    assert len(params["_conditions"]) == 6 and len(expand(params)) == 6  # none, control-k0, 2 k x 2 draws
    p.write_text("targets: [xcopa]\ndesign: {pool: [anli, copa], k: [2], arms: [english]}\n"
                 "budgets:\n  intermediate: {total_tokens: 5000}\n")
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


# ---- format strata, nesting, the equal-compute control (issue 7, parts 3-4) --------------------

from intertask.design import (CONTROL, FORMATS, TARGET_PLACEHOLDER, DesignWarning, format_sequence,  # noqa: E402
                              task_format)

ROOT = Path(__file__).resolve().parents[1]
SCALING_FILES = ["params/scaling_smoke.yaml", "params/scaling.yaml"]


def _by(rows: list[dict], arm: str) -> dict[tuple[int, int], dict]:
    return {(r["k"], r["draw"]): r for r in rows if r["arm"] == arm}


@pytest.mark.parametrize("name", SCALING_FILES)
def test_scaling_params_have_equal_format_composition_per_arm_and_k(name):
    params = load_params(ROOT / name)
    rows, conds = params["_conditions"], params["intermediate"]
    english, diverse = _by(rows, "english"), _by(rows, "diverse")
    assert english.keys() == diverse.keys() and english
    for key, row in english.items():
        other = diverse[key]
        # recorded counts match the tasks actually drawn, and are equal across the arms
        for r in (row, other):
            assert [r[f"n_{f}"] for f in FORMATS] == [
                sum(task_format(t) == f for t in conds[r["condition"]]) for f in FORMATS]
            assert r["format_matched"]
        assert [row[f"n_{f}"] for f in FORMATS] == [other[f"n_{f}"] for f in FORMATS], key
    # k = 4 holds one task of each format in both arms (four formats, round robin)
    assert all(r[f"n_{f}"] == 1 for (k, _d), r in {**english, **diverse}.items() if k == 4 for f in FORMATS)
    # the equal-compute control is a condition, and every drawn condition trains on the token budget
    assert conds[CONTROL] == [TARGET_PLACEHOLDER] and params["budgets"]["intermediate"]["total_tokens"]
    assert params["budgets"]["intermediate"]["total_examples"] is None


@pytest.mark.parametrize("name", SCALING_FILES)
def test_draws_are_nested_across_k(name):
    params = load_params(ROOT / name)
    conds, rows = params["intermediate"], params["_conditions"]
    ks = sorted({r["k"] for r in rows if r["k"]})
    checked = 0
    for arm in ("english", "diverse"):
        for draw in {r["draw"] for r in rows if r["arm"] == arm}:
            chain = [conds[f"{arm}-k{k}-d{draw}"] for k in ks if f"{arm}-k{k}-d{draw}" in conds]
            for small, big in zip(chain, chain[1:]):
                assert set(small) < set(big), (arm, draw, small, big)
                checked += 1
    assert checked >= 4


def test_diverse_arm_covers_more_families_within_each_format():
    pool = ["anli", "qqp", "multiemo-en", "pawsx-ko", "pawsx-ja", "multiemo-pl", "udpos-en", "udpos-zh", "udpos-ar",
            "panx-sw", "cosmosqa", "copa", "xcopa-qu", "xcopa-ta", "disfl-qa", "tydiqa-ko", "tydiqa-sw"]
    conds, rows = expand_design({"pool": pool, "k": [4, 7], "draws": 3, "seed": 3})
    eng, div = _by(rows, "english"), _by(rows, "diverse")
    for key in eng:
        assert eng[key]["n_families"] == 1 and eng[key]["n_english"] == key[0]
        assert div[key]["n_families"] >= 4, div[key]  # one family per slot while the pool allows
        assert [eng[key][f"n_{f}"] for f in FORMATS] == [div[key][f"n_{f}"] for f in FORMATS]


def test_format_sequence_skips_formats_an_arm_lacks_and_is_seeded():
    import random

    cap = {"english": {"classification": 3, "multiple_choice": 1, "tagging": 0, "span_qa": 1},
           "diverse": {"classification": 5, "multiple_choice": 4, "tagging": 6, "span_qa": 3}}
    seq, matched = format_sequence(cap, 5, random.Random(1))
    assert "tagging" not in seq and matched == 5 and sorted(seq[:3]) == ["classification", "multiple_choice", "span_qa"]
    assert seq == format_sequence(cap, 5, random.Random(1))[0]
    seq, matched = format_sequence(cap, 7, random.Random(1))
    assert matched == 5 and len(seq) == 5  # the English arm has only 5 tasks: nothing more can be matched


def test_design_warns_when_the_diverse_arm_must_use_english_tasks():
    with pytest.warns(DesignWarning, match="no non-English multiple_choice task"):
        _, rows = expand_design({"pool": ["anli", "cosmosqa", "pawsx-de"], "k": [2], "draws": 1})
    assert _by(rows, "diverse")[(2, 1)]["n_english"] >= 1


def test_control_trains_the_target_on_its_own_examples_and_is_refused_without_budget(tmp_path: Path):
    p = tmp_path / "s.yaml"
    p.write_text("targets: [xnli, pawsx, tatoeba]\ndesign: {pool: [anli, qqp], k: [0, 1], draws: 1, arms: [english]}\n"
                 "budgets:\n  intermediate: {total_tokens: 5000}\n  target: {train_examples: 77, dev_examples: 11}\n")
    runs = {r.id: r for r in expand(load_params(p))}
    xnli = runs[f"{CONTROL}__xnli__s1"]
    assert xnli.intermediate_tasks == ["xnli"] and runs[f"{CONTROL}__pawsx__s1"].intermediate_tasks == ["pawsx"]
    assert f"{CONTROL}__tatoeba__s1" not in runs  # retrieval: no English training data to spend it on
    inter = xnli.stages[0].parameters
    assert inter["tasks"] == ["xnli"] and inter["total_tokens"] == 5000
    assert inter["task_options"]["xnli"] == {"train_examples": 77, "dev_examples": 11}
    assert xnli.stages[0].hash != runs[f"{CONTROL}__pawsx__s1"].stages[0].hash
    p.write_text("targets: [xnli]\ndesign: {pool: [anli, qqp], k: [0, 1], draws: 1, arms: [english]}\n")
    with pytest.raises(ParamsError, match=r"budgets.intermediate.total_tokens is not set"):
        load_params(p)
    p.write_text("targets: [xnli]\ndesign: {pool: [anli], k: [1], arms: [english]}\n"
                 "budgets:\n  intermediate: {total_tokens: 5000, total_examples: 64}\n")
    with pytest.raises(ParamsError, match=r"give total_tokens .* or total_examples .*, not both"):
        load_params(p)


def test_pool_benchmark_tasks_are_refused_before_their_own_target(tmp_path: Path):
    p = tmp_path / "s.yaml"
    for pool_task, target in (("pawsx-de", "pawsx"), ("xcopa-et", "xcopa"), ("panx-sw", "panx"), ("udpos-en", "udpos")):
        p.write_text(f"targets: [{target}]\nintermediate: {{a: [{pool_task}]}}\n")
        with pytest.raises(ParamsError, match=rf"\['{pool_task}'\], which share the target task '{target}''s data"):
            load_params(p)
    p.write_text("targets: [xnli]\nintermediate: {a: [pawsx-de, xcopa-et, panx-sw, udpos-en]}\n")
    assert load_params(p)["intermediate"]["a"] == ["pawsx-de", "xcopa-et", "panx-sw", "udpos-en"]


def test_conditions_table_records_formats_and_planned_compute(tmp_path: Path):
    from intertask.study import condition_rows

    p = tmp_path / "s.yaml"
    p.write_text("targets: [xnli]\ndesign: {pool: [anli, cosmosqa, udpos-en, disfl-qa, pawsx-ko, xcopa-et, udpos-zh,"
                 " tydiqa-sw], k: [0, 4], draws: 1}\nbudgets:\n  intermediate: {total_tokens: 30000}\n")
    rows = {r["condition"]: r for r in condition_rows(load_params(p))}
    assert rows["none"]["planned_tokens"] == 0 and rows[CONTROL]["planned_tokens"] == 30000
    assert rows["diverse-k4-d1"]["planned_tokens"] == 30000 and rows["diverse-k4-d1"]["budget"] == "total_tokens"
    assert sorted(rows["english-k4-d1"]["task_formats"].split("+")) == sorted(FORMATS)
