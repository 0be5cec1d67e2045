"""Extractive question answering (XQuAD, MLQA, TyDiQA-GoldP): start/end logits over context tokens.

Data shape (one example per question)::

    {"id", "context", "question", "answers": [{"text", "answer_start"}, ...]}

Long contexts are cut into overlapping windows (`doc_stride` tokens of overlap, the Hugging Face
tokenizer's meaning of `stride`); a window that does not contain the answer is labelled with the
CLS position 0. At prediction time every window of an example is scored and the best valid span
(inside the context, end >= start, at most `max_answer_length` tokens) over all windows is mapped
back to the original context characters.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..feature_cache import eval_features
from ..features import length_sorted_batches, pad_sequences
from ..metrics import score
from ..progress import progress
from ..registry.options import QA_OPTIONS
from ..tasks import Task
from .base import EvalConfig, Example, Feature, Format

# finite stand-in for -inf on padding, so a fully masked row never yields NaN in cross entropy
_MASKED = -1e9


# ---------------------------------------------------------------------------------------------
# windows


def _opt(options: dict | None, key: str) -> int:
    # a task without its own QA options gets the registry's (XTREME's run_squad.py settings)
    return int((options or {}).get(key, QA_OPTIONS[key]))


def _truncate_questions(tokenizer: Any, questions: list[str], limit: int) -> tuple[list[str], list[int]]:
    """Questions cut (at a token boundary, in characters) to at most `limit` tokens, and their lengths."""
    # Leading whitespace is stripped: some SQuAD questions start with many spaces, which only
    # waste the window.
    questions = [q.lstrip() for q in questions]
    if not questions:
        return [], []
    offsets = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    lengths = [len(o) for o in offsets]
    for i, (q, offs) in enumerate(zip(questions, offsets)):
        if len(offs) > limit:
            questions[i] = q[:offs[limit - 1][1]]
            lengths[i] = len(tokenizer(questions[i], add_special_tokens=False)["input_ids"])
    return questions, lengths


def _label(offsets: list, seq: list, answer: dict | None) -> tuple[int, int]:
    """Start/end token of `answer` in this window, or (0, 0) (CLS) when the window does not hold it."""
    ctx = [i for i, s in enumerate(seq) if s == 1]
    if answer is None or not ctx:
        return 0, 0
    a0 = answer["answer_start"]
    a1 = a0 + len(answer["text"])
    if offsets[ctx[0]][0] > a0 or offsets[ctx[-1]][1] < a1:
        return 0, 0
    # start: the last context token beginning at or before the answer (XLM-R offsets include the
    # leading space, and a lone "▁" shares its offset with the next token: the later one is the word)
    start = max(i for i in ctx if offsets[i][0] <= a0)
    end = next(i for i in ctx if i >= start and offsets[i][1] >= a1)
    return start, end


def windows(examples: Sequence[Example], tokenizer: Any, max_length: int, options: dict | None = None,
            keep_offsets: bool = True) -> list[Feature]:
    """Question + context windows of every example, with start/end labels of its first answer.

    Each feature: "id", "example_index", "input_ids", "start", "end", "length" and, with
    `keep_offsets`, "offsets": character spans in the context, None for question and special tokens.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("span_qa needs a fast (Rust) tokenizer for character offsets")
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    # the question may take at most half the window, so short max_length settings still leave context
    q_limit = max(1, min(_opt(options, "max_query_length"), (max_length - n_special) // 2))
    doc_stride = _opt(options, "doc_stride")
    questions, q_lengths = _truncate_questions(tokenizer, [ex["question"] for ex in examples], q_limit)
    # the tokenizer refuses an overlap >= the context room; with short windows (max_length 128) the
    # overlap is capped at half the room so each window still advances
    strides = [max(0, min(doc_stride, (max_length - n_special - n_q) // 2)) for n_q in q_lengths]
    out: list[list[Feature]] = [[] for _ in examples]
    for stride in sorted(set(strides)):  # one batched tokenizer call per distinct overlap
        idx = [i for i, s in enumerate(strides) if s == stride]
        enc = tokenizer([questions[i] for i in idx], [examples[i]["context"] for i in idx],
                        truncation="only_second", max_length=max_length, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
        for w, (ids, offs) in enumerate(zip(enc["input_ids"], enc["offset_mapping"])):
            i = idx[enc["overflow_to_sample_mapping"][w]]
            ex = examples[i]
            seq = enc.sequence_ids(w)
            answer = ex["answers"][0] if ex.get("answers") else None
            start, end = _label(offs, seq, answer)
            feat = {"id": ex["id"], "example_index": i, "input_ids": list(ids), "start": start, "end": end,
                    "length": len(ids)}
            if keep_offsets:
                feat["offsets"] = [tuple(o) if s == 1 else None for o, s in zip(offs, seq)]
            out[i].append(feat)
    return [f for feats in out for f in feats]


# ---------------------------------------------------------------------------------------------
# decoding


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, offsets: Sequence[tuple[int, int] | None],
              n_best: int = 20, max_answer_length: int = 30) -> tuple[float, int, int] | None:
    """Best (score, first token, last token) of one window, or None if it has no context token.

    Candidates are the top-`n_best` start and end positions among context tokens (question and
    special tokens are masked out before ranking); a span is valid if end >= start and it has at most
    `max_answer_length` tokens; score = start logit + end logit.
    """
    n = len(offsets)
    valid = np.array([o is not None for o in offsets], dtype=bool)
    if not valid.any():
        return None
    s = np.where(valid, np.asarray(start_logits[:n], dtype=np.float64), -np.inf)
    e = np.where(valid, np.asarray(end_logits[:n], dtype=np.float64), -np.inf)
    k = int(min(n_best, valid.sum()))
    for si, ei in ((np.argsort(-s, kind="stable")[:k], np.argsort(-e, kind="stable")[:k]),
                   # exhaustive fallback: when no top-k pair is valid, any valid span beats none
                   (np.flatnonzero(valid), np.flatnonzero(valid))):
        scores = s[si][:, None] + e[ei][None, :]
        span = ei[None, :] - si[:, None]
        scores = np.where((span >= 0) & (span < max_answer_length), scores, -np.inf)
        flat = int(np.argmax(scores))
        if np.isfinite(scores.flat[flat]):
            a, b = divmod(flat, scores.shape[1])
            return float(scores.flat[flat]), int(si[a]), int(ei[b])
    return None


def span_text(context: str, offsets: Sequence[tuple[int, int] | None], start: int, end: int) -> str:
    """The original context characters of tokens start..end (whitespace at the edges dropped)."""
    # XLM-R offsets include a token's leading space; the official scorers strip it anyway
    return context[offsets[start][0]:offsets[end][1]].strip()


# ---------------------------------------------------------------------------------------------
# the format


class SpanQA(Format):
    name = "span_qa"

    def featurize(self, task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
                  options: dict | None = None) -> list[Feature]:
        # training does not need offsets; dropping them keeps SQuAD-sized feature lists small
        return windows(examples, tokenizer, max_length, options, keep_offsets=False)

    def collate(self, features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids, mask = pad_sequences([f["input_ids"] for f in features], pad_id)
        return {"input_ids": ids, "attention_mask": mask,
                "start_positions": torch.tensor([f.get("start", 0) for f in features], dtype=torch.long),
                "end_positions": torch.tensor([f.get("end", 0) for f in features], dtype=torch.long)}

    def make_head(self, task: Task, hidden: int, dropout: float = 0.1) -> nn.Module:
        # the encoder already applies dropout to its last layer; a bare linear layer as in BERT's QA head
        return nn.Linear(hidden, 2)

    def forward(self, model: Any, task: Task, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        mask = batch["attention_mask"]
        logits = model.heads[task.name](model.hidden(batch["input_ids"], mask)).float()
        logits = logits.masked_fill(mask.unsqueeze(-1) == 0, _MASKED)  # padding is never an answer
        start, end = logits.unbind(-1)
        return start, end

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        start, end = outputs
        return (F.cross_entropy(start, batch["start_positions"]) + F.cross_entropy(end, batch["end_positions"])) / 2

    @torch.inference_mode()
    def window_logits(self, model: Any, task: Task, features: Sequence[Feature], cfg: EvalConfig,
                      pad_id: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(start, end) logits of every window, in the order of `features`, trimmed to its length."""
        was_training = model.training
        model.eval()
        out: list = [None] * len(features)
        try:
            for idx in progress(length_sorted_batches(features, cfg.batch_size), desc=f"predict {task.name}",
                                unit="batch", leave=False):
                batch = self.collate([features[i] for i in idx], pad_id)
                batch = {k: batch[k].to(cfg.device) for k in ("input_ids", "attention_mask")}
                start, end = (x.cpu().numpy() for x in self.forward(model, task, batch))
                for j, i in enumerate(idx):
                    n = features[i]["length"]
                    out[i] = (start[j, :n], end[j, :n])
        finally:
            model.train(was_training)
        return out

    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any, cfg: EvalConfig) -> list:
        """The answer text per example: the best valid span over all its windows ("" if none)."""
        opts = cfg.extra or {}
        feats = eval_features(cfg, task, examples, tokenizer,
                              lambda: windows(examples, tokenizer, cfg.max_length, opts, keep_offsets=True))
        logits = self.window_logits(model, task, feats, cfg, tokenizer.pad_token_id)
        n_best, max_answer = _opt(opts, "n_best"), _opt(opts, "max_answer_length")
        best: list[tuple[float, str] | None] = [None] * len(examples)
        for feat, (start, end) in zip(feats, logits):
            found = best_span(start, end, feat["offsets"], n_best, max_answer)
            if found is None:
                continue
            score, s, e = found
            i = feat["example_index"]
            if best[i] is None or score > best[i][0]:  # type: ignore[index]
                best[i] = (score, span_text(examples[i]["context"], feat["offsets"], s, e))
        return [b[1] if b is not None else "" for b in best]

    def score(self, task: Task, examples: Sequence[Example], predictions: list, lang: str) -> dict[str, float]:
        """{"f1", "exact_match"} as fractions in [0, 1], like every value in the results table.

        The official SQuAD v1.1 / MLQA scripts print percent; these are those numbers divided by 100
        (reports show points), so multi-task model selection never mixes 0-100 with 0-1 scales.

        The task's ``scorer`` picks the script: ``squad`` (SQuAD v1.1: XQuAD, TyDiQA) or ``mlqa`` (MLQA's
        language-aware normalisation for every language, English included, as XTREME's evaluate.py does).
        """
        if len(predictions) != len(examples):
            raise ValueError(f"{task.name}: {len(predictions)} predictions for {len(examples)} examples")
        gold = {ex["id"]: [a["text"] for a in ex["answers"]] for ex in examples}
        preds = {ex["id"]: p for ex, p in zip(examples, predictions)}
        return score(task.scorer, gold, preds, lang)

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> str:
        """The benchmark's prediction file: a JSON object {question id: answer text}."""
        # the dataset's own question ids where they identify the questions (hub rows, XQuAD, MLQA),
        # else the reader's unique ids (the bundle's TyDiQA files repeat ids)
        qids = [ex.get("qid") for ex in examples]
        keys = qids if all(qids) and len(set(qids)) == len(qids) else [ex["id"] for ex in examples]
        return json.dumps(dict(zip(keys, predictions)), ensure_ascii=False)

