"""Evaluation features shared across runs (same results, tokenized once) and thread counts per job."""

from __future__ import annotations

import pytest

from intertask.data import DataSource
from intertask.formats import EvalConfig
from intertask.feature_cache import CACHE_OPTION, FeatureCache, eval_features, tokenizer_fingerprint
from intertask.stages import build_model, evaluate_zero_shot, load_features, train_and_save
from intertask.resources import job_threads, kernel_threads
from intertask.registry import get_task
from intertask.train import TrainConfig

IDENTITY = {"study": "s", "run": "r", "model": "m", "intermediate_tasks": "none", "seed": 1}


def _checkpoint(tiny_model, data_dir, out, seed):
    model, tok = build_model(str(tiny_model), ["xnli"], seed=seed)
    src = DataSource(data_dir)
    cfg = TrainConfig(epochs=1, batch_size=8, learning_rate=1e-3, patience=None, seed=seed, mixed_precision="no")
    train_and_save(model, tok, load_features(src, ["xnli"], "train", tok, 48, limit=8),
                   load_features(src, [], "dev", tok, 48), cfg, out)
    return out / "checkpoint"


def test_runs_share_features_and_get_the_same_results(tiny_model, data_dir, tmp_path, capsys):
    src = DataSource(data_dir)
    a, b = (_checkpoint(tiny_model, data_dir, tmp_path / n, s) for n, s in (("a", 1), ("b", 2)))
    cache = tmp_path / "cache"
    args = ("xnli", ["en", "sw"], src, 16, 8, 48, IDENTITY)
    first = evaluate_zero_shot(a, *args, tmp_path / "ea", feature_cache=cache)
    assert "0 language(s) read from" in capsys.readouterr().out and len(list(cache.glob("*.pkl"))) == 2
    second = evaluate_zero_shot(b, *args, tmp_path / "eb", feature_cache=cache)  # another seed: same items
    assert "2 language(s) read from" in capsys.readouterr().out
    assert second.equals(evaluate_zero_shot(b, *args, tmp_path / "eb2"))  # cached features change nothing
    assert first["value"].between(0, 1).all()
    more = evaluate_zero_shot(b, "xnli", ["en"], src, 12, 8, 48, IDENTITY, tmp_path / "ec", feature_cache=cache)
    assert "0 language(s) read" in capsys.readouterr().out and len(more) == 1  # other items: a new entry


def test_key_covers_settings_and_content(tiny_model, data_dir, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    task = get_task("xnli")
    examples = DataSource(data_dir).load(task, "test", "de", limit=4)
    cache = FeatureCache(tmp_path)
    calls = []

    def make():
        calls.append(1)
        return [len(calls)]

    cfg = EvalConfig(8, 48, "cpu", {CACHE_OPTION: cache})
    assert eval_features(cfg, task, examples, tok, make) == eval_features(cfg, task, examples, tok, make) == [1]
    eval_features(EvalConfig(8, 32, "cpu", {CACHE_OPTION: cache}), task, examples, tok, make)  # max_length
    eval_features(EvalConfig(8, 48, "cpu", {CACHE_OPTION: cache, "x": 1}), task, examples, tok, make)  # options
    changed = [dict(examples[0], text_a=examples[0]["text_a"] + " !")] + examples[1:]
    eval_features(cfg, task, changed, tok, make)  # content
    assert len(calls) == 4 and cache.hits == 1
    for entry in tmp_path.glob("*.pkl"):
        entry.write_bytes(b"garbage")  # a damaged entry is recomputed, never trusted
    assert eval_features(cfg, task, examples, tok, make) == [5]
    assert tokenizer_fingerprint(tok) == tokenizer_fingerprint(AutoTokenizer.from_pretrained(tiny_model))


def test_threads_follow_the_cores_the_job_was_given(monkeypatch):
    import os

    cores = len(os.sched_getaffinity(0))
    assert job_threads({"SLURM_CPUS_PER_TASK": "3"}) == 3
    assert job_threads({}) == cores
    assert job_threads({"INTERTASK_PARALLEL_JOBS": str(cores * 2)}) == 1  # never zero
    assert job_threads({}, parallel_jobs=2) == max(1, cores // 2)
    with pytest.raises(ValueError, match="SLURM_CPUS_PER_TASK='x'"):
        job_threads({"SLURM_CPUS_PER_TASK": "x"})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "5")
    with kernel_threads() as n:
        assert n == 5 and os.environ["OMP_NUM_THREADS"] == "5" and os.environ["MKL_NUM_THREADS"] == "5"
    assert "OMP_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the user's explicit choice wins
    with kernel_threads() as n:
        assert n == 7
