"""BUCC 2018: parallel sentence mining with XTREME's margin scoring.

``{xx}-en.{split}.{xx}``, ``.en`` (``id<TAB>sentence``) and ``.gold`` (``xx_id<TAB>en_id``).
  Mining follows XTREME's ``mine_bitext`` defaults: unique sentences only, L2-normalised
  vectors, k=4 nearest neighbours both ways, ratio margin ``cos(x,y) / ((knn_x + knn_y) / 2)``,
  ``retrieval='max'`` (forward and backward best pairs, accepted greedily by descending score
  so every sentence is used once) and score > 0. Sentences whose text occurs under several ids
  are dropped after mining, as XTREME's ``read_sent2id`` does. F1 uses ``bucc_f1(threshold=None)``:
  the threshold is optimised on these (dev) gold pairs, as XTREME does for the dev set. Export:
  the extracted ``src_id<TAB>tgt_id`` pairs (score >= threshold), XTREME's ``bucc_extract``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...metrics import bucc_f1
from ...readers.retrieval import bucc_targets, file_mtime
from ...tasks import Task
from ..base import EvalConfig, Example
from .common import RetrievalContext, layered_scores, main_prediction, prediction, topk

BUCC_NEIGHBOURS = 4  # mine_bitext's `neighborhood`


def margin_mine(x: np.ndarray, y: np.ndarray, k: int = BUCC_NEIGHBOURS, device: Any = "cpu"
                ) -> list[tuple[int, int, float]]:
    """XTREME's ``mine_bitext(retrieval='max', margin='ratio')`` on unit vectors: ``(i, j, score)`` pairs."""
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    fwd_sim, fwd_ind = topk(xt, yt, min(k, len(y)), device)
    bwd_sim, bwd_ind = topk(yt, xt, min(k, len(x)), device)
    fwd_mean, bwd_mean = fwd_sim.mean(1), bwd_sim.mean(1)
    # ratio margin: a pair's cosine relative to how close both sides are to their other neighbours
    fwd_scores = fwd_sim / ((fwd_mean[:, None] + bwd_mean[fwd_ind]) / 2)
    bwd_scores = bwd_sim / ((bwd_mean[:, None] + fwd_mean[bwd_ind]) / 2)
    fwd_best, fwd_arg = fwd_scores.max(1)
    bwd_best, bwd_arg = bwd_scores.max(1)
    src = torch.cat([torch.arange(len(x)), bwd_ind.gather(1, bwd_arg[:, None])[:, 0]]).tolist()
    tgt = torch.cat([fwd_ind.gather(1, fwd_arg[:, None])[:, 0], torch.arange(len(y))]).tolist()
    scores = torch.cat([fwd_best, bwd_best])
    order = torch.argsort(-scores, stable=True).tolist()
    scores_l = scores.tolist()
    seen_src: set[int] = set()
    seen_tgt: set[int] = set()
    out = []
    for c in order:  # greedy one-to-one extraction by descending margin
        i, j = src[c], tgt[c]
        if i in seen_src or j in seen_tgt:
            continue
        seen_src.add(i)
        seen_tgt.add(j)
        if scores_l[c] > 0:
            out.append((i, j, scores_l[c]))
    return out


def _gold_targets(ex: Example) -> list[str]:
    return list(ex["gold"]) if "gold" in ex else [ex["id"]]  # hub rows are gold pairs themselves


def _bucc_pool(ctx: RetrievalContext, examples: Sequence[Example]) -> tuple[list[str], list[str]]:
    """Target (ids, texts): the .en file (cut down under a limit), or the hub rows' own targets."""
    if "pool_file" not in examples[0]:
        return [ex["id"] for ex in examples], [ex["target"] for ex in examples]
    path = Path(examples[0]["pool_file"])
    ids, texts = bucc_targets(str(path), file_mtime(path))
    if ctx.limit is None:
        return list(ids), list(texts)
    keep = {t for ex in examples for t in ex["gold"]} | set(ids[:ctx.limit])
    chosen = [(i, t) for i, t in zip(ids, texts) if i in keep]
    return [i for i, _ in chosen], [t for _, t in chosen]


def _unique(ids: Sequence[str], texts: Sequence[str]) -> tuple[list[str], dict[str, str | None]]:
    """Distinct texts in order, and each text's id (None when several ids share it)."""
    owner: dict[str, str | None] = {}
    for i, t in zip(ids, texts):
        owner[t] = None if t in owner else i
    return list(owner), owner


def predict_bucc(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                  cfg: EvalConfig) -> list:
    tgt_ids, tgt_texts = _bucc_pool(ctx, examples)
    src_u, src_owner = _unique([ex["id"] for ex in examples], [ex["text"] for ex in examples])
    tgt_u, tgt_owner = _unique(tgt_ids, tgt_texts)
    x = ctx.embed(model, tokenizer, src_u, f"encode {task.name}")
    y = ctx.embed(model, tokenizer, tgt_u, f"encode {task.name} (en)")
    by_layer: dict[int, list] = {}
    for k, layer in enumerate(ctx.layers):
        mined: dict[str, list] = {}
        for i, j, s in margin_mine(x[:, k], y[:, k], device=ctx.device):
            src, tgt = src_owner[src_u[i]], tgt_owner[tgt_u[j]]
            if src is not None and tgt is not None:  # XTREME's read_sent2id drops repeated sentences
                mined[src] = [tgt, s]
        by_layer[layer] = [mined.get(ex["id"]) for ex in examples]
    return [prediction(ctx, by_layer, i) for i in range(len(examples))]


def _candidates(examples: Sequence[Example], preds: list, layer: int) -> list[tuple[str, str, float]]:
    return [(ex["id"], v[0], v[1]) for ex, p in zip(examples, preds) if (v := p["by_layer"][layer]) is not None]


def _gold_pairs(examples: Sequence[Example]) -> list[tuple[str, str]]:
    gold = [(ex["id"], t) for ex in examples for t in _gold_targets(ex)]
    if not gold:
        raise ValueError(f"bucc: none of the {len(examples)} source sentences has a gold pair, so F1 is undefined; "
                         f"evaluate more examples per language")
    return gold


def score_bucc(scorer: str, examples: Sequence[Example], preds: list, lang: str) -> dict[str, float]:
    # the scorer (bucc_f1) chooses the threshold that maximises F1 on these gold pairs, as XTREME does on BUCC dev
    return layered_scores(scorer, _gold_pairs(examples), preds, lang, lambda k: _candidates(examples, preds, k))


def export_bucc(examples: Sequence[Example], preds: list) -> list[str]:
    """XTREME's ``bucc_extract``: the pairs scoring at least the F1-optimal threshold."""
    layer = preds[0]["layer"]
    threshold = bucc_f1(_candidates(examples, preds, layer), _gold_pairs(examples), threshold=None)["threshold"]
    return [f"{ex['id']}\t{v[0]}" for ex, p in zip(examples, preds)
            if (v := main_prediction(p)) is not None and v[1] >= threshold]
