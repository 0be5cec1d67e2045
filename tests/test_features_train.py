"""Featurizers, batching, heads, training determinism and checkpoints with a tiny encoder."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from intertask.data import DataSource
from intertask.formats import EvalConfig, featurize, get_format
from intertask.features import bucketed_batches, length_sorted_batches
from intertask.models import ModelNotFoundError, load_checkpoint, resolve_model_path
from intertask.stages import build_model, load_features, train_and_save
from intertask.registry import get_task
from intertask.train import TrainConfig


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_pair_featurizer_and_dynamic_padding(data_dir, tok):
    task = get_task("xnli")
    ex = DataSource(data_dir).load(task, "train", limit=8)
    feats = featurize(task, ex, tok, max_length=128)
    first = feats[0]["input_ids"]
    assert first[0] == tok.cls_token_id and first[-1] == tok.sep_token_id
    assert first.count(tok.sep_token_id) == 3  # <s> A </s></s> B </s>
    batch = get_format(task.format).collate(feats, tok.pad_token_id)
    longest = max(f["length"] for f in feats)
    assert batch["input_ids"].shape == (8, longest)
    assert batch["attention_mask"].sum().item() == sum(f["length"] for f in feats)


def test_truncation_respects_max_length(data_dir, tok):
    task = get_task("cosmosqa")
    feats = featurize(task, DataSource(data_dir).load(task, "train", limit=4), tok, max_length=24)
    assert all(len(c) <= 24 for f in feats for c in f["input_ids"])


def test_multiple_choice_shapes(data_dir, tok):
    task = get_task("copa")
    feats = featurize(task, DataSource(data_dir).load(task, "train", limit=5), tok, 64)
    batch = get_format(task.format).collate(feats, tok.pad_token_id)
    assert batch["input_ids"].shape[:2] == (5, 2)
    assert batch["labels"].tolist() == [f["label"] for f in feats]


def test_batch_orders_cover_every_item_once():
    feats = [{"length": random.Random(i).randint(3, 90)} for i in range(103)]
    for batches in (length_sorted_batches(feats, 8), bucketed_batches(feats, 8, random.Random(0), bucket=3)):
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(103))
    sorted_b = length_sorted_batches(feats, 8)
    lengths = [feats[b[0]]["length"] for b in sorted_b]
    assert lengths == sorted(lengths, reverse=True)


def predict_logits(model, task_name, feats, pad_id):
    task = get_task(task_name)
    return torch.stack(get_format(task.format).logits(model, task, feats, EvalConfig(8), pad_id)).numpy()


def _train_once(tiny_model, data_dir, tmp_path, seed, tasks=("xnli",)):
    model, tokenizer = build_model(str(tiny_model), list(tasks), freeze_embeddings=True)
    src = DataSource(data_dir)
    train = load_features(src, list(tasks), "train", tokenizer, 64, limit=24)
    dev = load_features(src, list(tasks), "dev", tokenizer, 64, limit=16)
    cfg = TrainConfig(epochs=2, batch_size=8, learning_rate=1e-3, seed=seed, patience=None)
    history = train_and_save(model, tokenizer, train, dev, cfg, tmp_path)
    test = featurize(get_task(tasks[0]), src.load(get_task(tasks[0]), "test", "de", limit=16), tokenizer, 64)
    return history, predict_logits(model, tasks[0], test, tokenizer.pad_token_id), test


def test_same_seed_same_metrics_and_checkpoint_round_trip(tiny_model, data_dir, tmp_path):
    h1, logits1, test = _train_once(tiny_model, data_dir, tmp_path / "a", seed=3)
    h2, logits2, _ = _train_once(tiny_model, data_dir, tmp_path / "b", seed=3)
    h3, logits3, _ = _train_once(tiny_model, data_dir, tmp_path / "c", seed=4)
    assert h1.drop(columns="seconds").equals(h2.drop(columns="seconds"))
    np.testing.assert_array_equal(logits1, logits2)
    assert not np.array_equal(logits1, logits3)
    model, tokenizer = load_checkpoint(tmp_path / "a" / "checkpoint", [get_task("xnli")])
    np.testing.assert_allclose(predict_logits(model, "xnli", test, tokenizer.pad_token_id), logits1, atol=1e-6)
    assert list(h1["epoch"]) == [1, 2] and h1["selected"].sum() == 1


def test_multitask_training_learns(tiny_model, data_dir, tmp_path):
    model, tokenizer = build_model(str(tiny_model), ["copa", "mrpc"], freeze_embeddings=False)
    src = DataSource(data_dir)
    train = load_features(src, ["copa", "mrpc"], "train", tokenizer, 48, limit=16)
    cfg = TrainConfig(epochs=12, batch_size=8, learning_rate=3e-3, seed=1, patience=None, warmup_ratio=0.0)
    history = train_and_save(model, tokenizer, train, load_features(src, [], "dev", tokenizer, 48), cfg, tmp_path)
    assert history["train_loss"].iloc[-1] < 0.6 * history["train_loss"].iloc[0]  # it can fit 32 items
    assert set(load_checkpoint(tmp_path / "checkpoint", [get_task("copa"), get_task("mrpc")])[0].heads) == {"copa", "mrpc"}


def test_freezing_keeps_embeddings_fixed(tiny_model, data_dir, tmp_path):
    model, tokenizer = build_model(str(tiny_model), ["xnli"], freeze_embeddings=True, freeze_layers=1)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    src = DataSource(data_dir)
    train_and_save(model, tokenizer, load_features(src, ["xnli"], "train", tokenizer, 48, limit=8),
                   load_features(src, [], "dev", tokenizer, 48), TrainConfig(epochs=1, batch_size=4, patience=None),
                   tmp_path)
    after = model.encoder.state_dict()
    assert torch.equal(before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"])
    assert torch.equal(before["encoder.layer.0.attention.self.query.weight"], after["encoder.layer.0.attention.self.query.weight"])
    assert not torch.equal(before["encoder.layer.1.attention.self.query.weight"], after["encoder.layer.1.attention.self.query.weight"])


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_path(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model_path(str(tmp_path / "empty"))


def test_unreachable_hub_model_is_a_clear_error(monkeypatch):
    from intertask.models import load_encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="offline model `intertask/multilingual-e5-small-4bit`"):
        load_encoder("intertask-test/no-such-model")


def test_sampling_weights():
    from intertask.train import sampling_weights

    sizes = {"a": 900, "b": 100}
    assert sampling_weights(sizes, "proportional") == pytest.approx({"a": 0.9, "b": 0.1})
    assert sampling_weights(sizes, "uniform") == pytest.approx({"a": 0.5, "b": 0.5})
    assert sampling_weights(sizes, "temperature", temperature=2.0) == pytest.approx({"a": 0.75, "b": 0.25})  # 30:10
    assert sampling_weights(sizes, "proportional", cap=100) == pytest.approx({"a": 0.5, "b": 0.5})
    with pytest.raises(ValueError, match="sampler must be one of"):
        sampling_weights(sizes, "random")


def test_budget_holds_steps_equal_whatever_the_number_of_tasks():
    from intertask.train import schedule

    feats = {t: [{"length": 10 + i % 7} for i in range(n)] for t, n in {"a": 400, "b": 40, "c": 4}.items()}
    for tasks in (["a"], ["a", "b"], ["a", "b", "c"]):
        cfg = TrainConfig(batch_size=8, total_examples=160, sampler="temperature", evaluations=3, seed=1)
        rounds = schedule({t: feats[t] for t in tasks}, cfg, random.Random(1))
        assert sum(len(r) for r in rounds) == 20 and len(rounds) == 3
        drawn = [t for r in rounds for t, _ in r]
        assert set(drawn) <= set(tasks)
    cfg = TrainConfig(batch_size=8, total_examples=16)
    with pytest.raises(ValueError, match="fewer than the 3 tasks"):
        schedule(feats, cfg, random.Random(0))
    # without a budget, epochs decide: every example once per epoch
    rounds = schedule({"b": feats["b"]}, TrainConfig(batch_size=8, epochs=2), random.Random(0))
    assert [sorted(i for _, b in r for i in b) for r in rounds] == [list(range(40))] * 2


def test_micro_batches_split_by_tokens_and_keep_every_example():
    from intertask.train import micro_batches

    feats = [{"length": n} for n in (100, 300, 50, 400, 10)]
    assert micro_batches(feats, [0, 1, 2, 3, 4], 0) == [[0, 1, 2, 3, 4]]
    assert micro_batches(feats, [0, 1, 2, 3, 4], 450) == [[0, 1, 2], [3, 4]]
    assert micro_batches(feats, [3, 1], 100) == [[3], [1]]  # an example longer than the budget still runs


def test_micro_batched_step_gives_the_same_gradient(tiny_model, data_dir):
    from intertask.formats import get_format

    model, tokenizer = build_model(str(tiny_model), ["copa"], freeze_embeddings=True)
    model.eval()  # no dropout: the two ways must then agree up to float rounding
    task = get_task("copa")
    feats = featurize(task, DataSource(data_dir).load(task, "train", limit=8), tokenizer, 64)
    fam = get_format("multiple_choice")

    def grads(pieces):
        model.zero_grad()
        for piece in pieces:
            batch = fam.collate([feats[i] for i in piece], tokenizer.pad_token_id)
            (fam.loss(model("copa", batch), batch) * len(piece) / 8).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    torch.testing.assert_close(grads([list(range(8))]), grads([[0, 1, 2], [3, 4, 5, 6], [7]]), rtol=1e-4, atol=1e-6)
