"""Evaluation features tokenized once per study, not once per run.

Every condition and seed of a study evaluates the same held-out items with the same tokenizer, so
their features are identical; span QA's sliding windows with offsets are the costly case. Features
are stored on disk (pickle, written atomically) under a key hashing the tokenizer's files, the task,
its format, the options, `max_length` and the examples' content, so changed data or settings can
never be served stale features. No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")
CACHE_OPTION = "feature_cache"  # where an EvalConfig's `extra` carries the cache
_NOT_OPTIONS = (CACHE_OPTION, "context")  # shared objects in `extra`, not settings
TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "vocab.txt", "tokenizer_config.json",
                   "special_tokens_map.json")


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of the tokenizer's files (or its serialized state); computed once per tokenizer object."""
    cached = getattr(tokenizer, "_intertask_fingerprint", None)
    if cached:
        return cached
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    files = [folder / f for f in TOKENIZER_FILES if (folder / f).is_file()] if folder.is_dir() else []
    if files:
        for f in files:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    elif hasattr(tokenizer, "backend_tokenizer"):
        h.update(tokenizer.backend_tokenizer.to_str().encode())
    else:  # a slow tokenizer without files: its vocabulary decides what it produces
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    digest = h.hexdigest()
    try:
        tokenizer._intertask_fingerprint = digest
    except AttributeError:
        pass
    return digest


def examples_digest(examples: Sequence[dict]) -> str:
    """Content hash of the examples (all fields), in order."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps(ex, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


class FeatureCache:
    """A folder of pickled feature lists, one file per key; `hits` and `misses` count this process's lookups."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.directory / f"{key[:40]}.pkl"

    def get_or_make(self, key: str, make: Callable[[], T]) -> T:
        path = self.path(key)
        if path.is_file():
            try:
                with path.open("rb") as f:
                    value = pickle.load(f)
                self.hits += 1
                return value
            except (pickle.UnpicklingError, EOFError, OSError):
                pass  # a damaged entry is recomputed and replaced, never trusted
        value = make()
        self.misses += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: parallel jobs filling the same key never see half a file
        return value


def eval_features(cfg: Any, task: Any, examples: Sequence[dict], tokenizer: Any, make: Callable[[], T]) -> T:
    """`make()`, or the cached result for the same tokenizer, task, options, max_length and examples."""
    cache = (getattr(cfg, "extra", None) or {}).get(CACHE_OPTION)
    if cache is None:
        return make()
    options = {k: v for k, v in cfg.extra.items() if k not in _NOT_OPTIONS}
    key = json.dumps({"tokenizer": tokenizer_fingerprint(tokenizer), "task": task.name, "format": task.format,
                      "max_length": cfg.max_length, "options": options, "n": len(examples),
                      "language": examples[0].get("lang") if examples else None,
                      "examples": examples_digest(examples)}, sort_keys=True, default=str)
    return cache.get_or_make(hashlib.sha256(key.encode()).hexdigest(), make)
