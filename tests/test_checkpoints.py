"""Small checkpoints: trained tensors + heads, the frozen rest referenced to a hash-checked base model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from intertask.checkpoints import BASE_FILE, ENCODER_FILE, BaseModelChangedError
from intertask.data import DataSource
from intertask.formats import EvalConfig, featurize, get_format
from intertask.models import load_checkpoint, load_encoder, save_checkpoint
from intertask.stages import build_model, load_features, train_and_save
from intertask.registry import get_task
from intertask.train import TrainConfig


def _logits(model, tokenizer, feats) -> np.ndarray:
    task = get_task("xnli")
    return torch.stack(get_format("classification").logits(model, task, feats, EvalConfig(8),
                                                            tokenizer.pad_token_id)).numpy()


def _train(init: str, data_dir, out, freeze_embeddings: bool = True, precision: str = "no"):
    model, tokenizer = build_model(init, ["xnli"], freeze_embeddings=freeze_embeddings)
    src = DataSource(data_dir)
    train = load_features(src, ["xnli"], "train", tokenizer, 48, limit=16)
    cfg = TrainConfig(epochs=1, batch_size=8, learning_rate=1e-3, patience=None, mixed_precision=precision)
    train_and_save(model, tokenizer, train, load_features(src, [], "dev", tokenizer, 48), cfg, out)
    test = featurize(get_task("xnli"), src.load(get_task("xnli"), "test", "de", limit=12), tokenizer, 48)
    return model, tokenizer, test


def test_round_trip_is_exact_and_stores_only_trained_tensors(tiny_model, data_dir, tmp_path):
    model, tokenizer, test = _train(str(tiny_model), data_dir, tmp_path / "a")
    ckpt = tmp_path / "a" / "checkpoint"
    ref = json.loads((ckpt / BASE_FILE).read_text())
    assert ref["model"] == str(tiny_model.resolve())
    trained = {n for n, p in model.encoder.named_parameters() if p.requires_grad}
    assert set(ref["stored"]) == trained and not any("embeddings" in n for n in ref["stored"])
    assert not (ckpt / "config.json").exists()  # nothing of the base model is copied
    loaded, tok2 = load_checkpoint(ckpt, [get_task("xnli")])
    np.testing.assert_array_equal(_logits(loaded, tok2, test), _logits(model, tokenizer, test))
    for name, tensor in model.encoder.state_dict().items():
        assert torch.equal(loaded.encoder.state_dict()[name], tensor), name


def test_chained_checkpoints_keep_what_every_stage_trained(tiny_model, data_dir, tmp_path):
    # the intermediate stage trains the embeddings too; the target stage freezes them: they must be kept
    _train(str(tiny_model), data_dir, tmp_path / "inter", freeze_embeddings=False)
    inter = tmp_path / "inter" / "checkpoint"
    model, tokenizer, test = _train(str(inter), data_dir, tmp_path / "target", freeze_embeddings=True)
    ref = json.loads((tmp_path / "target" / "checkpoint" / BASE_FILE).read_text())
    assert ref["model"] == str(tiny_model.resolve())  # always the root base, never a chain of folders
    assert "embeddings.word_embeddings.weight" in ref["stored"]
    loaded, tok2 = load_checkpoint(tmp_path / "target" / "checkpoint", [get_task("xnli")])
    np.testing.assert_array_equal(_logits(loaded, tok2, test), _logits(model, tokenizer, test))
    base = load_encoder(str(tiny_model))
    assert not torch.equal(base.embeddings.word_embeddings.weight, loaded.encoder.embeddings.word_embeddings.weight)


def test_a_changed_base_model_is_refused(tiny_model, data_dir, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    _train(str(base), data_dir, tmp_path / "a")
    ckpt = tmp_path / "a" / "checkpoint"
    load_checkpoint(ckpt, [get_task("xnli")])  # unchanged: loads
    encoder = load_encoder(str(base))
    with torch.no_grad():
        encoder.embeddings.word_embeddings.weight[5, 0] += 1e-3  # one frozen number differs
    encoder.save_pretrained(base)
    with pytest.raises(BaseModelChangedError, match=f"base model '{base.resolve()}'.*intertask prepare-model"):
        load_checkpoint(ckpt, [get_task("xnli")])


def test_offline_model_training_checkpoint_is_small(tmp_path):
    """The real model with the product's defaults (frozen embeddings): at most 100 MB (a full one: 465 MB)."""
    model, tokenizer = build_model("intertask/multilingual-e5-small-4bit", ["xnli"], freeze_embeddings=True)
    ckpt = save_checkpoint(model, tokenizer, tmp_path / "checkpoint")
    size = sum(f.stat().st_size for f in ckpt.iterdir())
    assert size <= 100e6, f"{size / 1e6:.1f} MB"
    assert (ckpt / ENCODER_FILE).stat().st_size > 80e6  # the 12 trained layers are really in it
