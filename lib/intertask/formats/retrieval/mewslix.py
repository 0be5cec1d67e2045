"""Mewsli-X: entity linking as retrieval of entity descriptions (XTREME-R).

not in the offline bundle. XTREME-R's ``scripts/download_mewslix_data.sh`` writes
  ``download/mewslix/{candidate_set_entities.jsonl, wikipedia_pairs-{train,dev}.jsonl,
  wikinews_mentions-{dev,test}.jsonl}``; the test mentions of all languages share one file, so
  `split_mewslix_mentions` writes the per-language ``wikinews_mentions-{lang}.jsonl`` files the
  task registry expects. Queries follow XTREME-R's baseline text (the mention, then its sentence
  with the mention in ``{ }``); candidates are entity descriptions. Metric: mAP@20 (= MRR@20 with
  one gold entity). Export: JSON ``{example_id: [top-20 entity ids]}``, Mewsli-X's official format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ...readers.retrieval import MEWSLIX_HELP, file_mtime, mewslix_entities
from ...tasks import MissingDataError, Task
from ..base import EvalConfig, Example
from .common import RetrievalContext, prediction, ranked


def prepare_mewslix(ctx: RetrievalContext, model: Any, task: Task, source: Any, languages: list[str],
                     limit: int | None, tokenizer: Any, cfg: EvalConfig) -> None:
    missing = [lang for lang in languages if not source.available(task, "test", lang)]
    if missing:
        raise MissingDataError(f"{task.name}: no test data for {', '.join(missing)} in {source.data_dir}. "
                               f"{MEWSLIX_HELP}")


def predict_mewslix(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                     cfg: EvalConfig) -> list:
    path = Path(examples[0]["pool_file"])
    ids, texts = mewslix_entities(str(path), file_mtime(path))
    if ctx.limit is None:  # the same candidate set for every language: encode and stack it once
        pool = ctx.pools.setdefault(("mewslix", str(path)), {"ids": ids, "texts": texts})
    else:
        keep = {g for ex in examples for g in ex["gold"]} | set(ids[:ctx.limit])
        chosen = [(i, t) for i, t in zip(ids, texts) if i in keep]
        pool = {"ids": [i for i, _ in chosen], "texts": [t for _, t in chosen]}
    by_layer = ranked(ctx, model, tokenizer, task, [ex["text"] for ex in examples], pool)
    return [prediction(ctx, by_layer, i, relevant=list(ex["gold"])) for i, ex in enumerate(examples)]
