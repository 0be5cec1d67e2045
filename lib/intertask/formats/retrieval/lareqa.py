"""LAReQA on XQuAD-R: answer-sentence retrieval from the pool of every language's sentences.

XQuAD-R JSON per language. A question's relevant candidates are the sentences
  holding its answer in *every* language of the evaluation; the pool is all sentences of all
  those languages, built once in `prepare` (candidate ids ``{lang}_{paragraph}_{sentence}``,
  paragraphs counted from 1 as in XTREME-R's ``utils_lareqa``). Candidates are the sentence
  alone; ``options["candidate_context"] = True`` appends the paragraph as XTREME-R's fine-tuned
  dual encoder does (with mean pooling the shared paragraph swamps the sentence). Metric:
  mAP@20. Export: JSON ``{question_id: [top-20 candidate ids]}`` (XTREME-R publishes no LAReQA
  prediction format; this mirrors Mewsli-X's).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from ...readers.retrieval import file_mtime, lareqa_file
from ...tasks import Task
from ..base import EvalConfig, Example
from .common import RetrievalContext, prediction, ranked


def _lareqa_text(c: dict, with_context: bool) -> str:
    return f"{c['sentence']} {c['context']}" if with_context else c["sentence"]


def _build_lareqa_pool(per_lang: dict[str, Sequence[Example]], restrict: bool, with_context: bool) -> dict:
    """Candidates of every language and, per question id, its answer sentences in all of them."""
    ids: list[str] = []
    texts: list[str] = []
    relevant: dict[str, set[str]] = defaultdict(set)
    for lang, exs in per_lang.items():
        paragraphs = {ex["paragraph"] for ex in exs}
        for f in dict.fromkeys(ex["pool_file"] for ex in exs):
            for c in lareqa_file(f, file_mtime(Path(f)))[1]:
                if not restrict or c["paragraph"] in paragraphs:
                    ids.append(c["id"])
                    texts.append(_lareqa_text(c, with_context))
        for ex in exs:  # question ids are shared across languages: XQuAD-R is parallel
            relevant[ex["id"]].update(ex["answers"])
    return {"langs": set(per_lang), "ids": ids, "texts": texts, "relevant": relevant}


def prepare_lareqa(ctx: RetrievalContext, model: Any, task: Task, source: Any, languages: list[str],
                    limit: int | None, tokenizer: Any, cfg: EvalConfig) -> None:
    per_lang = {lang: source.load(task, "test", lang, limit=limit) for lang in languages}
    pool = _build_lareqa_pool(per_lang, limit is not None, bool(cfg.extra.get("candidate_context", False)))
    ctx.pools["lareqa"] = pool
    pool["matrix"] = ctx.embed(model, tokenizer, pool["texts"], f"encode {task.name} pool")


def predict_lareqa(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                    cfg: EvalConfig) -> list:
    pool = ctx.pools.get("lareqa")
    langs = {ex.get("lang") for ex in examples}
    if pool is None or not langs <= pool["langs"]:
        # no prepare (or another language): the pool holds only these questions' own language
        print(f"[intertask] {task.name}: candidate pool built from {sorted(map(str, langs))} only (prepare "
              f"builds it from every language of the evaluation)")
        pool = _build_lareqa_pool({str(lg): [ex for ex in examples if ex.get("lang") == lg] for lg in langs},
                                  ctx.limit is not None, bool(cfg.extra.get("candidate_context", False)))
    by_layer = ranked(ctx, model, tokenizer, task, [ex["text"] for ex in examples], pool)
    return [prediction(ctx, by_layer, i, relevant=sorted(pool["relevant"][ex["id"]])) for i, ex in enumerate(examples)]
