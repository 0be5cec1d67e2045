"""One featurizer per format family, dynamic padding, and batch orders that waste little padding.

Features are plain dicts of Python lists (tokenized once per stage, never per epoch); tensors are
made per batch, padded only to the longest sequence in that batch.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import torch

from .tasks import Task

Feature = dict


def _encode_pairs(tokenizer: Any, first: list[str], second: list[str] | None, max_length: int) -> list[list[int]]:
    enc = tokenizer(first, second, truncation=True, max_length=max_length)
    return enc["input_ids"]


def featurize_classification(task: Task, examples: Sequence[dict], tokenizer: Any, max_length: int) -> list[Feature]:
    first = [ex["text_a"] for ex in examples]
    second = None if examples and examples[0]["text_b"] is None else [ex["text_b"] for ex in examples]
    ids = _encode_pairs(tokenizer, first, second, max_length) if examples else []
    return [{"id": ex["id"], "input_ids": x, "label": ex["label"], "length": len(x)} for ex, x in zip(examples, ids)]


def _choice_segments(ex: dict) -> tuple[list[str], list[str]]:
    # Context first, question + answer second; tasks without a context (CommonsenseQA) pair the
    # question with each answer instead, so no sequence starts with an empty segment.
    if ex["context"]:
        prompt = ex["question"]
        return [ex["context"]] * len(ex["choices"]), [f"{prompt} {c}".strip() for c in ex["choices"]]
    return [ex["question"]] * len(ex["choices"]), list(ex["choices"])


def featurize_multiple_choice(task: Task, examples: Sequence[dict], tokenizer: Any, max_length: int) -> list[Feature]:
    first: list[str] = []
    second: list[str] = []
    for ex in examples:
        if task.num_choices and len(ex["choices"]) != task.num_choices:
            raise ValueError(f"{task.name} example {ex['id']}: {len(ex['choices'])} choices, expected {task.num_choices}")
        a, b = _choice_segments(ex)
        first += a
        second += b
    ids = _encode_pairs(tokenizer, first, second, max_length) if examples else []
    out, k = [], 0
    for ex in examples:
        n = len(ex["choices"])
        choice_ids = ids[k:k + n]
        k += n
        out.append({"id": ex["id"], "input_ids": choice_ids, "label": ex["label"],
                    "length": max(len(c) for c in choice_ids) * n})
    return out


FEATURIZERS: dict[str, Callable[..., list[Feature]]] = {
    "classification": featurize_classification,
    "multiple_choice": featurize_multiple_choice,
}


def featurize(task: Task, examples: Sequence[dict], tokenizer: Any, max_length: int) -> list[Feature]:
    try:
        fn = FEATURIZERS[task.family]
    except KeyError:
        raise NotImplementedError(f"no featurizer for family {task.family!r} yet") from None
    return fn(task, examples, tokenizer, max_length)


def _pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask


def collate(features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its own longest sequence; multiple choice gives [batch, choices, length]."""
    labels = torch.tensor([f["label"] for f in features], dtype=torch.long)
    if isinstance(features[0]["input_ids"][0], list):
        n_choices = len(features[0]["input_ids"])
        flat = [c for f in features for c in f["input_ids"]]
        ids, mask = _pad(flat, pad_id)
        return {"input_ids": ids.view(len(features), n_choices, -1),
                "attention_mask": mask.view(len(features), n_choices, -1), "labels": labels}
    ids, mask = _pad([f["input_ids"] for f in features], pad_id)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def length_sorted_batches(features: Sequence[Feature], batch_size: int) -> list[list[int]]:
    """Evaluation order: longest first, so similar lengths share a batch (and OOM shows at once)."""
    order = sorted(range(len(features)), key=lambda i: -features[i]["length"])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def bucketed_batches(features: Sequence[Feature], batch_size: int, rng: random.Random, bucket: int = 50) -> list[list[int]]:
    """Training order: random, but sorted by length within pools of `bucket` batches, then shuffled.

    Keeps batches random across the epoch while cutting most padding (XNLI pairs padded to 128 waste
    ~2/3 of the compute).
    """
    order = list(range(len(features)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    pool = batch_size * bucket
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: features[i]["length"])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
