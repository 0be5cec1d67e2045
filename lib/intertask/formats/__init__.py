"""The model side of each format (features, head, loss, predict, export): ONE explicit table, name -> implementation.

A task's `format` names an entry of `IMPLEMENTATIONS`; nothing registers itself at import time.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..tasks import FORMATS, Example, Task
from .base import EvalConfig, Feature, Format, task_options
from .classification import Classification, MultipleChoice
from .retrieval import Retrieval
from .span_qa import SpanQA
from .tagging import Tagging

__all__ = ["IMPLEMENTATIONS", "EvalConfig", "Format", "get_format", "featurize", "task_options"]

IMPLEMENTATIONS: dict[str, Format] = {
    "classification": Classification(),
    "multiple_choice": MultipleChoice(),
    "tagging": Tagging(),
    "span_qa": SpanQA(),
    "retrieval": Retrieval(),
}
assert set(IMPLEMENTATIONS) == set(FORMATS), "every format named in tasks.FORMATS needs an implementation"


def get_format(name: str) -> Format:
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        raise NotImplementedError(f"format {name!r} is not implemented; have {sorted(IMPLEMENTATIONS)}") from None


def featurize(task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
              options: dict | None = None) -> list[Feature]:
    """Training features of `task` (its format's featurizer, with the task's options and `options` over them)."""
    return get_format(task.format).featurize(task, examples, tokenizer, max_length, task_options(task, options))
