"""`mixed_precision`: auto-detection from the CPU flags, and bf16 training and evaluation on CPU."""

from __future__ import annotations

import json

import pytest
import torch

from intertask.data import DataSource
from intertask.stages import build_model, evaluate_zero_shot, load_features, train_and_save
from intertask.precision import autocast, cpu_has_bf16, resolve_precision
from intertask.registry import get_task
from intertask.train import TrainConfig


def _cpuinfo(tmp_path, flags: str):
    p = tmp_path / "cpuinfo"
    p.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 {flags}\n\n"
                 f"processor\t: 1\nflags\t\t: fpu sse2 avx2 {flags}\n")
    return p


def test_auto_is_bf16_only_where_the_cpu_has_it(tmp_path):
    with_bf16 = _cpuinfo(tmp_path, "avx512f avx512_bf16")
    assert cpu_has_bf16(with_bf16)
    assert resolve_precision("auto", "cpu", with_bf16) == "bf16"
    amx = tmp_path / "amx"
    amx.write_text(_cpuinfo(tmp_path, "amx_tile amx_bf16").read_text())
    assert resolve_precision("auto", "cpu", amx) == "bf16"
    plain = _cpuinfo(tmp_path, "avx512f avx512bw")  # AVX-512 without its bf16 extension: emulated, slower
    assert resolve_precision("auto", "cpu", plain) == "no"
    assert resolve_precision("auto", "cpu", tmp_path / "no-such-file") == "no"
    assert resolve_precision("no", "cpu", with_bf16) == "no" and resolve_precision("bf16", "cpu", plain) == "bf16"


def test_bad_precision_settings_are_refused():
    with pytest.raises(ValueError, match="must be one of auto, no, bf16, fp16"):
        resolve_precision("fp32")
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        resolve_precision("fp16", "cpu")


def test_bf16_trains_and_evaluates_on_cpu(tiny_model, data_dir, tmp_path):
    model, tokenizer = build_model(str(tiny_model), ["xnli"], freeze_embeddings=False)
    dtypes = []
    hook = model.encoder.encoder.layer[0].intermediate.dense.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    src = DataSource(data_dir)
    train = load_features(src, ["xnli"], "train", tokenizer, 48, limit=24)
    dev = load_features(src, ["xnli"], "dev", tokenizer, 48, limit=16)
    cfg = TrainConfig(epochs=10, batch_size=8, learning_rate=3e-3, warmup_ratio=0.0, patience=None,
                      mixed_precision="bf16")
    history = train_and_save(model, tokenizer, train, dev, cfg, tmp_path / "t")
    hook.remove()
    assert torch.bfloat16 in dtypes  # the matrix products really ran in bf16, in training and dev scoring
    assert history["train_loss"].iloc[-1] < 0.6 * history["train_loss"].iloc[0]  # it fits 24 items
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    meta = json.loads((tmp_path / "t" / "checkpoint" / "heads.json").read_text())
    assert meta["precision"] == "bf16"
    identity = {"study": "s", "run": "r", "model": "m", "intermediate_tasks": "none", "seed": 1}
    results = evaluate_zero_shot(tmp_path / "t" / "checkpoint", "xnli", ["en", "de"], src, 24, 8, 48, identity,
                                 tmp_path / "e")  # precision: the checkpoint's (bf16)
    assert set(results["language"]) == {"en", "de"} and results["value"].between(0, 1).all()
    labels = (tmp_path / "e" / "predictions" / "xnli" / "test-de.tsv").read_text().split()
    assert len(labels) == 24 and set(labels) <= set(get_task("xnli").labels)
    fp32 = evaluate_zero_shot(tmp_path / "t" / "checkpoint", "xnli", ["en", "de"], src, 24, 8, 48, identity,
                              tmp_path / "e32", mixed_precision="no")
    # bf16 rounding may flip an item or two, never the picture
    assert (results["value"] - fp32["value"]).abs().max() <= 3 / 24


def test_autocast_context_casts_only_when_asked():
    layer = torch.nn.Linear(8, 8)
    x = torch.randn(2, 8)
    with autocast("bf16", "cpu"):
        assert layer(x).dtype == torch.bfloat16
    with autocast("no", "cpu"):
        assert layer(x).dtype == torch.float32


def test_study_default_is_auto_and_bad_values_name_the_field(tmp_path):
    from intertask.study import ParamsError, load_params

    p = tmp_path / "s.yaml"
    p.write_text("study: s\ntargets: [xnli]\n")
    params = load_params(p)
    assert params["training"]["mixed_precision"] == "auto" and params["keep_checkpoints"] == "intermediate"
    p.write_text("study: s\ntargets: [xnli]\ntraining: {mixed_precision: fp32}\n")
    with pytest.raises(ParamsError, match="training.mixed_precision' must be one of 'no', 'fp16', 'bf16' or 'auto'"):
        load_params(p)
    p.write_text("study: s\ntargets: [xnli]\nkeep_checkpoints: some\n")
    with pytest.raises(ParamsError, match="keep_checkpoints' must be one of 'intermediate', 'all' or 'none'"):
        load_params(p)
