"""Sequence tagging (UD-POS, WikiANN / PAN-X): one label per word from its first sub-word.

Examples are ``{"id", "tokens": list[str], "tags": list[str]}``; the local reader's ids are
``"<file stem>:<sentence index>"`` and it adds ``"source"`` (``"file:line"`` of the sentence) so
errors can point at it.

Design choices
--------------
* Labels: only the FIRST sub-word of each word is trained and read at prediction time; the other
  sub-words (and the special tokens) carry -100, as in XTREME's baselines.
* Long sentences are never truncated: a sentence whose sub-words do not fit ``max_length`` is split
  at word boundaries into several windows (greedy, in order), so every word is labelled in exactly
  one window. Each feature records the sentence ``id`` (and its position ``example`` in the list
  featurized), its ``window`` index and the ``words`` it
  covers. A single word longer than a whole window keeps only its first pieces (its label sits on
  the first one, so it is still predicted).
* Words that tokenize to no sub-word at all (the empty string, control characters such as U+007F
  under XLM-R's normalizer) get the tokenizer's unknown token as their only piece, so they still
  receive a prediction and the output has exactly one tag per input word.
* Export: XTREME's ``evaluate.py`` (``read_tag``) reads one tag per line with a blank line between
  sentences, no tokens; ``export_lines`` writes exactly that.
* Scoring: the task's ``scorer`` in `intertask.metrics.SCORERS`: PAN-X is seqeval span F1
  (``span_f1``); UD-POS is what XTREME's evaluate.py reports for it too (seqeval F1 on raw UPOS
  tags) plus the conventional token accuracy (``pos``); plain tags with an O are IO spans (``io_span_f1``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..feature_cache import eval_features
from ..features import length_sorted_batches, pad_sequences
from ..metrics import score
from ..progress import progress
from ..readers.conll import UPOS
from ..tasks import MalformedDataError, Task
from .base import EvalConfig, Example, Feature, Format

IGNORE = -100  # cross-entropy ignore index: non-first sub-words, special tokens, padding

def labels_of(task: Task) -> tuple[str, ...]:
    """The task's tag set: its registry labels, else the 17 UPOS tags."""
    return tuple(task.labels) if task.labels else UPOS


# ---------------------------------------------------------------------------------------------
# scoring


def _where(ex: Example) -> str:
    return f"sentence {ex.get('id')!r}" + (f" ({ex['source']})" if ex.get("source") else "")


def _check_tags(task: Task, examples: Sequence[Example]) -> None:
    known = set(labels_of(task))
    for ex in examples:
        if "tags" not in ex:
            raise ValueError(f"{task.name}: {_where(ex)} has no gold tags")
        bad = sorted({t for t in ex["tags"] if t not in known})
        if bad:
            raise MalformedDataError(f"{task.name}: {_where(ex)} has tag(s) {bad} that are not among the task's "
                                     f"labels {list(labels_of(task))}")


# ---------------------------------------------------------------------------------------------
# the format


def _special_frame(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after one sequence (<s> ... </s> for XLM-R)."""
    enc = tokenizer([["a"]], is_split_into_words=True, add_special_tokens=True)
    ids, wids = enc["input_ids"][0], enc.word_ids(0)
    inside = [i for i, w in enumerate(wids) if w is not None]
    return list(ids[:inside[0]]), list(ids[inside[-1] + 1:])


def _unk_id(tokenizer: Any) -> int:
    if tokenizer.unk_token_id is not None:
        return int(tokenizer.unk_token_id)
    return int(tokenizer([["?"]], is_split_into_words=True, add_special_tokens=False)["input_ids"][0][0])


def word_pieces(tokenizer: Any, sentences: Sequence[Sequence[str]], chunk: int = 512) -> list[list[list[int]]]:
    """Sub-word ids of every word (``[sentence][word] -> ids``); empty words get the unknown token."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("the tagging format needs a fast (Rust) tokenizer for word_ids(); "
                         f"{type(tokenizer).__name__} is not one")
    unk = _unk_id(tokenizer)
    out: list[list[list[int]]] = []
    for s in range(0, len(sentences), chunk):
        batch = [list(words) for words in sentences[s:s + chunk]]
        nonempty = [i for i, words in enumerate(batch) if words]  # the tokenizer rejects empty word lists
        # verbose=False: the "longer than the maximum sequence length" warning does not apply, we window
        enc = tokenizer([batch[i] for i in nonempty], is_split_into_words=True, add_special_tokens=False,
                        verbose=False) if nonempty else None
        pieces: list[list[list[int]]] = [[] for _ in batch]
        for j, i in enumerate(nonempty):
            per_word: list[list[int]] = [[] for _ in batch[i]]
            for tid, w in zip(enc["input_ids"][j], enc.word_ids(j)):  # type: ignore[index]
                if w is not None:
                    per_word[w].append(tid)
            pieces[i] = [p if p else [unk] for p in per_word]
        out.extend(pieces)
    return out


def windows(pieces: Sequence[Sequence[int]], budget: int) -> list[tuple[int, int]]:
    """Greedy word ranges ``[a, b)`` whose pieces (each word capped at `budget`) fit `budget`."""
    spans: list[tuple[int, int]] = []
    start, used = 0, 0
    for w, p in enumerate(pieces):
        n = min(len(p), budget)
        if used + n > budget and w > start:
            spans.append((start, w))
            start, used = w, 0
        used += n
    if len(pieces) > start:
        spans.append((start, len(pieces)))
    return spans


class Tagging(Format):
    name = "tagging"

    def featurize(self, task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
                  options: dict | None = None) -> list[Feature]:
        """Training features: labels on first sub-words, -100 elsewhere; long sentences windowed."""
        label_ids = {t: i for i, t in enumerate(labels_of(task))}
        for ex in examples:
            if "tags" not in ex:
                raise ValueError(f"{task.name}: {_where(ex)} has no tags to train on")
            if len(ex["tags"]) != len(ex["tokens"]):
                raise MalformedDataError(f"{task.name}: {_where(ex)} has {len(ex['tokens'])} tokens but "
                                         f"{len(ex['tags'])} tags")
        _check_tags(task, examples)
        return self._features(task, examples, tokenizer, max_length,
                              [[label_ids[t] for t in ex["tags"]] for ex in examples])

    def _features(self, task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
                  labels: list[list[int]] | None) -> list[Feature]:
        before, after = _special_frame(tokenizer)
        budget = max_length - len(before) - len(after)
        if budget < 1:
            raise ValueError(f"{task.name}: max_length={max_length} leaves no room for a word after the "
                             f"{len(before) + len(after)} special tokens")
        feats: list[Feature] = []
        all_pieces = word_pieces(tokenizer, [ex["tokens"] for ex in examples])
        for e, (ex, pieces) in enumerate(zip(examples, all_pieces)):
            for k, (a, b) in enumerate(windows(pieces, budget)):
                ids, lab, starts = list(before), [IGNORE] * len(before), []
                for w in range(a, b):
                    p = list(pieces[w][:budget])  # a word longer than a window keeps its first pieces
                    starts.append(len(ids))
                    ids += p
                    lab += [labels[e][w] if labels is not None else IGNORE] + [IGNORE] * (len(p) - 1)
                ids += after
                lab += [IGNORE] * len(after)
                feats.append({"id": ex["id"], "example": e, "window": k, "words": list(range(a, b)),
                              "input_ids": ids, "labels": lab, "starts": starts, "length": len(ids)})
        return feats

    def collate(self, features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids, mask = pad_sequences([f["input_ids"] for f in features], pad_id)
        labels, _ = pad_sequences([f["labels"] for f in features], IGNORE)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def make_head(self, task: Task, hidden: int, dropout: float = 0.1) -> nn.Module:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, len(labels_of(task))))

    def forward(self, model: Any, task: Task, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-token logits [batch, length, labels]."""
        return model.heads[task.name](model.hidden(batch["input_ids"], batch["attention_mask"]))

    def loss(self, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["labels"]
        if not bool((labels != IGNORE).any()):  # no labelled word: cross entropy would be NaN
            return outputs.sum() * 0.0
        return F.cross_entropy(outputs.float().reshape(-1, outputs.shape[-1]), labels.reshape(-1),
                               ignore_index=IGNORE)

    @torch.inference_mode()
    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any,
                cfg: EvalConfig) -> list[list[str]]:
        """One predicted tag per word of every example, read from each word's first sub-word."""
        names = labels_of(task)
        feats = eval_features(cfg, task, examples, tokenizer,
                              lambda: self._features(task, examples, tokenizer, cfg.max_length, None))
        out: list[list[str | None]] = [[None] * len(ex["tokens"]) for ex in examples]
        was_training = model.training
        model.eval()
        try:
            for idx in progress(length_sorted_batches(feats, cfg.batch_size), desc=f"predict {task.name}",
                                unit="batch", leave=False):
                batch = self.collate([feats[i] for i in idx], tokenizer.pad_token_id)
                batch = {k: v.to(cfg.device) for k, v in batch.items() if k != "labels"}
                best = self.forward(model, task, batch).argmax(-1).cpu()
                for j, i in enumerate(idx):
                    f = feats[i]
                    row = out[f["example"]]
                    for w, pos in zip(f["words"], f["starts"]):
                        row[w] = names[int(best[j, pos])]
        finally:
            model.train(was_training)
        missing = [ex["id"] for ex, row in zip(examples, out) if any(t is None for t in row)]
        if missing:  # cannot happen with the windowing above; a guard against silent misalignment
            raise RuntimeError(f"{task.name}: words without a prediction in sentences {missing[:5]}")
        return out  # type: ignore[return-value]

    def score(self, task: Task, examples: Sequence[Example], predictions: list, lang: str) -> dict[str, float]:
        _check_tags(task, examples)
        return score(task.scorer, [list(ex["tags"]) for ex in examples], [list(p) for p in predictions], lang)

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str]:
        # XTREME's evaluate.py read_tag: one tag per line, a blank line between sentences
        lines: list[str] = []
        for i, tags in enumerate(predictions):
            if i:
                lines.append("")
            lines.extend(tags)
        return lines

