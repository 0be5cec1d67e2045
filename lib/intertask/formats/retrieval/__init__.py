"""Retrieval: nearest neighbours of mean-pooled hidden states, no head and no training.

Each benchmark's procedure (how its pool is built, what a prediction is, how it is exported) is one
module: `tatoeba`, `bucc`, `lareqa`, `mewslix`; `common` holds layers, encoding, caching and search.
A task picks its procedure by its option ``procedure`` (a registry entry's data) and its metric by
its ``scorer``, looked up in `intertask.metrics.SCORERS`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ...tasks import Task
from ..base import EvalConfig, Example, Format
from .bucc import export_bucc, predict_bucc, score_bucc
from .common import RetrievalContext, export_rankings, model_fingerprint, resolve_layers, score_rankings
from .lareqa import predict_lareqa, prepare_lareqa
from .mewslix import predict_mewslix, prepare_mewslix
from .tatoeba import export_tatoeba, predict_tatoeba, score_tatoeba


@dataclass(frozen=True)
class Procedure:
    """How one retrieval benchmark predicts, scores and exports; `prepare` builds shared pools."""

    predict: Callable[..., list]
    score: Callable[[str, Sequence[Example], list, str], dict[str, float]]
    export: Callable[[Sequence[Example], list], list[str] | str]
    prepare: Callable[..., None] | None = None


PROCEDURES: dict[str, Procedure] = {
    "tatoeba": Procedure(predict_tatoeba, score_tatoeba, export_tatoeba),
    "bucc": Procedure(predict_bucc, score_bucc, export_bucc),
    "lareqa": Procedure(predict_lareqa, score_rankings, export_rankings, prepare_lareqa),
    "mewslix": Procedure(predict_mewslix, score_rankings, export_rankings, prepare_mewslix),
}


def procedure_of(task: Task) -> Procedure:
    """The procedure the task's entry names in its options (``procedure``)."""
    name = task.options.get("procedure")
    if name not in PROCEDURES:
        raise ValueError(f"retrieval task {task.name!r}: option 'procedure' is {name!r}; set it in the task's registry "
                         f"entry to one of {sorted(PROCEDURES)}")
    return PROCEDURES[str(name)]


class Retrieval(Format):
    name = "retrieval"
    trainable = False

    def _untrained(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("retrieval tasks are evaluated zero-shot from representations; they have no "
                                  "training data, head or loss")

    featurize = collate = forward = loss = _untrained  # type: ignore[assignment]

    def new_context(self, model: Any, cfg: EvalConfig, limit: int | None = None) -> RetrievalContext:
        layer, layers = resolve_layers(model, cfg.extra)
        cache_dir = cfg.extra.get("cache_dir")
        return RetrievalContext(weakref.ref(model), layer, layers, cfg.max_length, cfg.batch_size, cfg.device,
                                limit, Path(cache_dir) if cache_dir else None,
                                model_fingerprint(model) if cache_dir else None)

    def context(self, model: Any, cfg: EvalConfig) -> RetrievalContext:
        """The evaluation's context from `prepare`, or a fresh one (kept in ``cfg.extra``) when absent or stale."""
        ctx = cfg.extra.get("context")
        layer, layers = resolve_layers(model, cfg.extra)
        if not isinstance(ctx, RetrievalContext) or not ctx.matches(model, layer, layers, cfg):
            ctx = self.new_context(model, cfg)
            cfg.extra["context"] = ctx
        return ctx

    def prepare(self, model: Any, task: Task, source: Any, languages: list[str], limit: int | None,
                tokenizer: Any, cfg: EvalConfig) -> RetrievalContext:
        """A context for the whole evaluation; LAReQA's multilingual pool is read and encoded here."""
        model.to(cfg.device)
        ctx = self.new_context(model, cfg, limit)
        procedure = procedure_of(task)
        if procedure.prepare is not None:
            procedure.prepare(ctx, model, task, source, list(languages), limit, tokenizer, cfg)
        return ctx

    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any, cfg: EvalConfig) -> list:
        """Per example ``{"layer", "by_layer": {layer: prediction}}`` (+ ``"relevant"`` for mAP tasks)."""
        if not examples:
            return []
        return procedure_of(task).predict(self.context(model, cfg), model, tokenizer, task, examples, cfg)

    def score(self, task: Task, examples: Sequence[Example], predictions: list, lang: str) -> dict[str, float]:
        if len(predictions) != len(examples) or not examples:
            raise ValueError(f"{task.name} ({lang}): {len(predictions)} predictions for {len(examples)} examples")
        return procedure_of(task).score(task.scorer, examples, predictions, lang)

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str] | str:
        return procedure_of(task).export(examples, predictions)

