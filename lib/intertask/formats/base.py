"""What every format provides; the training loop and evaluation only talk to this interface.

A format turns examples into features, features into batches, batches into outputs through its
head, outputs into a loss (training) or into per-example predictions (evaluation), and predictions
into the task's official metrics. Tasks never get code of their own: a task names its format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from ..contracts import EVAL_BATCH_SIZE
from ..tasks import Example, Task

Feature = dict


@dataclass
class EvalConfig:
    batch_size: int = EVAL_BATCH_SIZE
    max_length: int = 128
    device: Any = "cpu"
    extra: dict = field(default_factory=dict)  # the task's options (doc_stride, layer, ...) + shared context


class Format:
    """Base class; subclasses override what differs. `trainable=False` formats (retrieval) have no head."""

    name: str = ""
    trainable: bool = True

    def featurize(self, task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
                  options: dict | None = None) -> list[Feature]:
        """Training features (with labels); `options` are the task's options merged with the study's."""
        raise NotImplementedError

    def collate(self, features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def make_head(self, task: Task, hidden: int, dropout: float = 0.1) -> nn.Module | None:
        return None

    def forward(self, model: Any, task: Task, batch: dict[str, torch.Tensor]) -> Any:
        raise NotImplementedError

    def loss(self, outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def prepare(self, model: Any, task: Task, source: Any, languages: list[str], limit: int | None,
                tokenizer: Any, cfg: EvalConfig) -> Any:
        """Work shared by all languages of one evaluation (a multilingual candidate pool, say)."""
        return None

    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any, cfg: EvalConfig) -> list:
        """One prediction per example, in the order of `examples`."""
        raise NotImplementedError

    def score(self, task: Task, examples: Sequence[Example], predictions: list, lang: str) -> dict[str, float]:
        """The task's official metric(s); the first key is the one used for model selection."""
        raise NotImplementedError

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str] | str:
        """Predictions as the benchmark's evaluate.py reads them (one file per task and language)."""
        return [str(p) for p in predictions]


def task_options(task: Task, overrides: dict | None = None) -> dict:
    """The task's registry options with a study's overrides applied."""
    return {**dict(task.options), **(overrides or {})}
