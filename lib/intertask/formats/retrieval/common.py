"""What every retrieval benchmark shares: layer choice, encoding with caches, search, per-layer scores.

Representations: `all_hidden` (index 0 = embeddings, -1 = last layer) mean-pooled over the
attention mask (XTREME's default pooling includes the special tokens), L2-normalised, cosine by
dot product. ``options["layer"]`` picks the layer; ``options["all_layers"]`` scores every layer
from the same forward passes, adding ``<metric>@layer<k>`` after the configured layer's metrics.
(XTREME's Tatoeba/BUCC scripts use a middle layer: ``--specific_layer 7`` over the 12 layer outputs
of mBERT, i.e. `all_hidden` index 8; the registry's default here is the last layer.)

Limits: with ``examples_per_language = N`` the queries are the first N items; candidate pools
shrink with them so a quick run stays quick and keeps its distractors: BUCC keeps the gold
partners of the N sources plus the first N target sentences, Mewsli-X the gold entities plus the
first N entities, LAReQA the paragraphs of the first N questions (the same paragraphs in every
language, the files being parallel). `predict` without `prepare` uses full pools.

Caching: vectors are kept per text in the evaluation's `RetrievalContext` (English sides shared
by several languages are encoded once); ``options["cache_dir"]`` also stores them on disk, keyed
by the model folder and its weight files' size and mtime, max_length, layers and the texts.

Hub converters (best effort): ``tatoeba_hub`` and ``bucc_hub`` read google/xtreme's pair rows
(BUCC then only mines among the gold pairs: an easier task than the real one); ``lareqa_hub`` and
``mewslix_hub`` raise, since a row-by-row converter cannot supply the candidate pools.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...features import length_sorted_batches, mean_pool, pad_sequences
from ...metrics import MAP_K, score
from ...progress import progress
from ...tasks import Task
from ..base import EvalConfig, Example

# ---------------------------------------------------------------------------------------------
# representations


def _num_layers(model: Any) -> int:
    config = getattr(getattr(model, "encoder", model), "config", None)
    if config is None or not hasattr(config, "num_hidden_layers"):
        raise ValueError(f"cannot tell how many layers {type(model).__name__} has (no config.num_hidden_layers)")
    return int(config.num_hidden_layers)


def resolve_layers(model: Any, options: dict) -> tuple[int, tuple[int, ...]]:
    """(configured layer, layers to compute) as indices into `all_hidden` (0 = embeddings)."""
    n_states = _num_layers(model) + 1
    layer = int(options.get("layer", -1))
    resolved = layer + n_states if layer < 0 else layer
    if not 0 <= resolved < n_states:
        raise ValueError(f"retrieval layer={layer}, but the encoder has {n_states - 1} layers: use 0 (embeddings) "
                         f"to {n_states - 1}, or -1 to -{n_states}")
    return resolved, tuple(range(n_states)) if options.get("all_layers") else (resolved,)


def _hidden_states(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> Sequence[torch.Tensor]:
    if hasattr(model, "all_hidden"):
        return model.all_hidden(ids, mask)
    return model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


@torch.inference_mode()
def encode(model: Any, tokenizer: Any, texts: Sequence[str], layers: Sequence[int], max_length: int,
           batch_size: int, device: Any = "cpu", desc: str = "encode", chunk: int = 65536) -> np.ndarray:
    """L2-normalised mean-pooled states ``[len(texts), len(layers), hidden]`` from one pass per batch.

    Texts are tokenized `chunk` at a time (Mewsli-X has a million candidates) and sorted by length
    within each chunk.
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), chunk):
            ids = tokenizer(list(texts[start:start + chunk]), truncation=True, max_length=max_length)["input_ids"]
            for idx in progress(length_sorted_batches([{"length": len(x)} for x in ids], batch_size), desc=desc,
                                unit="batch", leave=False):
                input_ids, mask = pad_sequences([ids[i] for i in idx], pad_id)
                input_ids, mask = input_ids.to(device), mask.to(device)
                states = _hidden_states(model, input_ids, mask)
                pooled = torch.stack([mean_pool(states[k], mask) for k in layers], dim=1).float()
                pooled = F.normalize(pooled, dim=-1).cpu().numpy()
                if out is None:
                    out = np.zeros((len(texts), len(layers), pooled.shape[-1]), dtype=np.float32)
                out[[start + i for i in idx]] = pooled
    finally:
        model.train(was_training)
    return out if out is not None else np.zeros((0, len(layers), 0), dtype=np.float32)


def model_fingerprint(model: Any) -> str | None:
    """The model folder and its weight files' size and mtime; None when not loaded from a folder."""
    config = getattr(getattr(model, "encoder", model), "config", None)
    folder = Path(str(getattr(config, "_name_or_path", "") or ""))
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not files:
        return None
    return json.dumps([str(folder.resolve())] + [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files])


@dataclass
class RetrievalContext:
    """What one evaluation shares across languages: vectors by text and candidate pools."""

    model_ref: Any  # weakref to the model, so a context is never used with another model
    layer: int
    layers: tuple[int, ...]
    max_length: int
    batch_size: int
    device: Any = "cpu"
    limit: int | None = None
    cache_dir: Path | None = None
    fingerprint: str | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # text -> [len(layers), hidden]
    pools: dict[Any, Any] = field(default_factory=dict)
    encoded: int = 0  # texts run through the model (for tests and the record)

    def matches(self, model: Any, layer: int, layers: tuple[int, ...], cfg: EvalConfig) -> bool:
        return (self.model_ref() is model and self.layer == layer and self.layers == layers
                and self.max_length == cfg.max_length)

    def _disk_path(self, texts: list[str]) -> Path | None:
        if self.cache_dir is None or self.fingerprint is None:
            return None
        h = hashlib.sha256(json.dumps([self.fingerprint, self.max_length, list(self.layers)]).encode())
        for t in texts:
            h.update(t.encode("utf-8", "surrogatepass") + b"\0")
        return self.cache_dir / f"{h.hexdigest()[:40]}.npy"

    def embed(self, model: Any, tokenizer: Any, texts: Sequence[str], desc: str = "encode") -> np.ndarray:
        """``[len(texts), len(layers), hidden]``; each distinct text is encoded once per evaluation."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            disk = self._disk_path(missing)
            if disk is not None and disk.exists():
                arr = np.load(disk)
            else:
                arr = encode(model, tokenizer, missing, self.layers, self.max_length, self.batch_size,
                             self.device, desc)
                self.encoded += len(missing)
                if disk is not None:
                    disk.parent.mkdir(parents=True, exist_ok=True)
                    tmp = disk.with_suffix(f".{os.getpid()}.tmp.npy")
                    np.save(tmp, arr)
                    os.replace(tmp, disk)
            for t, v in zip(missing, arr):
                self.vectors[t] = v
        if not texts:
            return np.zeros((0, len(self.layers), 0), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])


# ---------------------------------------------------------------------------------------------
# search


def topk(queries: torch.Tensor, keys: torch.Tensor, k: int, device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k cosine similarities per query on `device`, in row chunks of at most ~64M scores, so
    neither BUCC's nor Mewsli-X's full similarity matrix ever exists."""
    keys = keys.to(device)
    chunk = max(1, min(4096, 2 ** 26 // max(1, len(keys))))
    sims, inds = [], []
    for s in range(0, len(queries), chunk):
        v, i = torch.topk(queries[s:s + chunk].to(device) @ keys.T, k, dim=1)
        sims.append(v.cpu())
        inds.append(i.cpu())
    return torch.cat(sims), torch.cat(inds)


def rank(queries: np.ndarray, keys: np.ndarray, k: int, device: Any = "cpu") -> np.ndarray:
    """Indices of the k most similar keys per query, best first (unit vectors: dot = cosine)."""
    k = min(k, len(keys))
    return topk(torch.from_numpy(np.ascontiguousarray(queries)), torch.from_numpy(np.ascontiguousarray(keys)), k,
                 device)[1].numpy()


def prediction(ctx: RetrievalContext, by_layer: dict[int, list], i: int, **extra: Any) -> dict:
    return {"layer": ctx.layer, "by_layer": {k: v[i] for k, v in by_layer.items()}, **extra}


def main_prediction(p: dict) -> Any:
    return p["by_layer"][p["layer"]]


def layered_scores(scorer: str, gold: Any, preds: list, lang: str, at_layer: Callable[[int], Any]) -> dict[str, float]:
    """The task's scorer on the configured layer first, then ``<main metric>@layer<k>`` for every computed layer."""
    out = score(scorer, gold, at_layer(preds[0]["layer"]), lang)
    layers = sorted(preds[0]["by_layer"])
    if len(layers) > 1:
        name = next(iter(out))
        out.update({f"{name}@layer{k}": score(scorer, gold, at_layer(k), lang)[name] for k in layers})
    return out


def ranked(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, queries: Sequence[str],
            pool: dict) -> dict[int, list]:
    """Top-20 pool ids per query and layer; the pool's stacked vectors are kept in `pool`."""
    q = ctx.embed(model, tokenizer, queries, f"encode {task.name}")
    if "matrix" not in pool:  # stacking a large pool again for every language would cost more than the search
        pool["matrix"] = ctx.embed(model, tokenizer, pool["texts"], f"encode {task.name} pool")
    c, ids = pool["matrix"], pool["ids"]
    return {layer: [[ids[j] for j in row] for row in rank(q[:, k], c[:, k], MAP_K, ctx.device)]
            for k, layer in enumerate(ctx.layers)}


def score_rankings(scorer: str, examples: Sequence[Example], preds: list, lang: str) -> dict[str, float]:
    """Ranked candidate ids against each query's relevant ids (LAReQA, Mewsli-X)."""
    relevant = [p["relevant"] for p in preds]
    return layered_scores(scorer, relevant, preds, lang, lambda k: [p["by_layer"][k] for p in preds])


def export_rankings(examples: Sequence[Example], preds: list) -> str:
    return json.dumps({ex["id"]: main_prediction(p) for ex, p in zip(examples, preds)}, ensure_ascii=False, indent=1) + "\n"
