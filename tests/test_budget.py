"""Equal compute in tokens: the token definition, token-sized batches, the budget, and its records."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from intertask.budget import (add_trained_compute, batch_tokens, feature_tokens, fit_to_budget, token_batches,
                              trained_compute)
from intertask.data import DataSource
from intertask.design import TARGET_PLACEHOLDER
from intertask.stages import build_model, load_features, train_and_save
from intertask.study import load_params
from intertask.train import TrainConfig, schedule

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_tokens_are_non_pad_input_tokens_summed_over_choices():
    assert feature_tokens({"input_ids": [0, 5, 6, 2]}) == 4
    assert feature_tokens({"input_ids": [[0, 5, 2], [0, 5, 6, 7, 2]], "length": 10}) == 8  # not max x choices
    feats = [{"input_ids": [1] * n} for n in (3, 5, 7)]
    assert batch_tokens(feats, [0, 2]) == 10
    assert fit_to_budget(feats, [0, 1, 2], 9) == [0, 1] and fit_to_budget(feats, [2, 0], 6) == [0]
    assert fit_to_budget(feats, [2, 1], 4) == []


def test_token_batches_cover_every_item_once_within_the_limit():
    rng = random.Random(0)
    feats = [{"input_ids": [1] * rng.randint(3, 60)} for _ in range(300)] + [{"input_ids": [1] * 500}]
    batches = token_batches(feats, 256, random.Random(1), bucket=100)
    assert sorted(i for b in batches for i in b) == list(range(len(feats)))
    for b in batches:
        assert batch_tokens(feats, b) <= 256 or len(b) == 1  # an over-long item is a batch of its own
    assert batches == token_batches(feats, 256, random.Random(1), bucket=100)


def _features(data_dir, tok, tasks: list[str], limit: int, options: dict) -> dict:
    return load_features(DataSource(data_dir, "local"), tasks, "train", tok, 128, limit, options=options).features


def test_token_budget_spends_the_budget_whatever_the_tasks(data_dir, tok):
    feats = _features(data_dir, tok, ["xnli", "cosmosqa", "udpos-zh", "tydiqa-sw"], 200, {"tydiqa-sw": {"max_length": 192}})
    for tasks in (["xnli"], ["cosmosqa"], ["udpos-zh", "tydiqa-sw"], list(feats)):
        for batching in ({"batch_size": 8}, {"batch_tokens": 600}):
            # 30,000 tokens: more than 50 of the longest item (Cosmos QA: 4 choices x 128), so within 2%
            cfg = TrainConfig(total_tokens=30000, sampler="uniform", evaluations=3, seed=2, **batching)
            rounds = schedule({t: feats[t] for t in tasks}, cfg, random.Random(2))
            spent = sum(batch_tokens(feats[t], idx) for r in rounds for t, idx in r)
            assert 0.98 * 30000 <= spent <= 30000, (tasks, batching, spent)
            assert len(rounds) == 3
            if "batch_tokens" in batching:
                assert all(batch_tokens(feats[t], idx) <= 600 or len(idx) == 1 for r in rounds for t, idx in r)


def test_every_scaling_smoke_condition_trains_within_two_percent_of_the_budget(data_dir, tok):
    """The real study file, real data and tokenizer: each condition's schedule spends its token budget."""
    params = load_params(ROOT / "params" / "scaling_smoke.yaml")
    inter, target = params["budgets"]["intermediate"], params["budgets"]["target"]
    budget = inter["total_tokens"]
    assert budget and inter["total_examples"] is None
    needed = sorted({t for tasks in params["intermediate"].values() for t in tasks if t != TARGET_PLACEHOLDER})
    feats = _features(data_dir, tok, needed, inter["train_examples"], params["task_options"])
    for t in params["targets"]:  # the control trains the target on the target stage's own examples
        feats[t] = _features(data_dir, tok, [t], target["train_examples"], params["task_options"])[t]
    cfg = TrainConfig(batch_size=inter["batch_size"], total_tokens=budget, batch_tokens=inter["batch_tokens"],
                      sampler=inter["sampler"],
                      temperature=inter["temperature"], example_cap=inter["example_cap"],
                      evaluations=inter["evaluations"], seed=1)
    spent_by_condition, steps = {}, {}
    for cond, tasks in params["intermediate"].items():
        if not tasks:
            continue
        for t in params["targets"]:
            resolved = [t if x == TARGET_PLACEHOLDER else x for x in tasks]
            rounds = schedule({x: feats[x] for x in resolved}, cfg, random.Random(1))
            spent_by_condition[cond] = sum(batch_tokens(feats[x], idx) for r in rounds for x, idx in r)
            steps[cond] = sum(len(r) for r in rounds)
    assert len(spent_by_condition) == len(params["intermediate"]) - 1  # every condition but the baseline
    off = {c: s for c, s in spent_by_condition.items() if not 0.98 * budget <= s <= budget}
    assert not off, off
    # token-sized batches: the conditions also take about the same number of optimizer steps
    assert max(steps.values()) <= 1.25 * min(steps.values()), steps


def test_budgeted_training_records_tokens_and_never_stops_early(tiny_model, data_dir, tmp_path, monkeypatch):
    import intertask.train as train_mod

    falling = iter([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])  # dev gets worse every round: patience 1 would stop at 2
    monkeypatch.setattr(train_mod, "dev_scores", lambda *a, **k: {"mrpc": next(falling)})
    src = DataSource(data_dir, "local")
    model, tokenizer = build_model(str(tiny_model), ["copa", "mrpc"], freeze_embeddings=False)
    train = load_features(src, ["copa", "mrpc"], "train", tokenizer, 64, limit=32)
    dev = load_features(src, ["mrpc"], "dev", tokenizer, 64, limit=4)
    cfg = TrainConfig(total_tokens=3000, batch_size=4, evaluations=3, patience=1, sampler="uniform", seed=1)
    history = train_and_save(model, tokenizer, train, dev, cfg, tmp_path / "budget")
    assert len(history) == 3 and "early_stop" not in history and history["selected"].tolist() == [True, False, False]
    done = trained_compute(pd.read_csv(tmp_path / "budget" / "history.csv"))
    assert 0.98 * 3000 <= done["trained_tokens"] <= 3000
    assert done["trained_steps"] == history["step"].iloc[-1] == sum(
        int(x.split(":")[1]) for x in done["steps_per_task"].split("+"))
    assert {x.split(":")[0] for x in done["tokens_per_task"].split("+")} == {"copa", "mrpc"}
    # without a budget the same patience stops training after the first worse round
    falling2 = iter([0.9, 0.8, 0.7])
    monkeypatch.setattr(train_mod, "dev_scores", lambda *a, **k: {"mrpc": next(falling2)})
    model, tokenizer = build_model(str(tiny_model), ["copa", "mrpc"], freeze_embeddings=False)
    plain = train_and_save(model, tokenizer, train, dev, TrainConfig(epochs=3, batch_size=4, patience=1, seed=1),
                           tmp_path / "plain")
    assert len(plain) == 2 and bool(plain["early_stop"].iloc[-1])
    # the conditions table gets what each condition's stage trained
    conds = pd.DataFrame([{"condition": "a", "k": 2}, {"condition": "none", "k": 0}])
    table = add_trained_compute(conds, {"a": [tmp_path / "budget"]})
    assert int(table.set_index("condition").loc["a", "trained_tokens"]) == done["trained_tokens"]
    assert table.set_index("condition")["trained_tokens"].isna().loc["none"]
