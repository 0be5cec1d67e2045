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
* Scoring: PAN-X is seqeval span F1; UD-POS is what XTREME's evaluate.py reports for it too (seqeval
  F1 on raw UPOS tags, ``pos_f1``) plus the conventional token accuracy. The scorer is looked up by
  task name in ``SCORERS``; other tasks are scored by their label scheme (``scorer_for``: BIO -> span
  F1, plain tags with an O -> IO span F1, tags without O -> as UD-POS).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import HUB_CONVERTERS, READERS, MalformedDataError
from ..features import length_sorted_batches, pad_sequences
from ..metrics import pos_f1, span_f1, token_accuracy
from ..tasks import Task
from .base import EvalConfig, Example, Family, Feature, register_family

# The 17 Universal POS tags (UD v2); UD-POS has no label list in the task registry. Alphabetical, which is
# also the ClassLabel order of google/xtreme's udpos.* configs.
UPOS: tuple[str, ...] = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
                         "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
# google/xtreme PAN-X.* `ner_tags` ClassLabel order (the same as the panx task's labels).
PANX_HUB_LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
IGNORE = -100  # cross-entropy ignore index: non-first sub-words, special tokens, padding

# "en:token": the language prefix of XTREME's *processed* PAN-X files (the raw download has none)
_LANG_PREFIX = re.compile(r"^([a-z]{2,3}):(.*)$", re.DOTALL)


def labels_of(task: Task) -> tuple[str, ...]:
    """The task's tag set: its registry labels, else the 17 UPOS tags."""
    return tuple(task.labels) if task.labels else UPOS


# ---------------------------------------------------------------------------------------------
# reading


def _read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return f.read()
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise MalformedDataError(f"{path}:{line}: not valid UTF-8 ({e.reason})") from None


def read_conll_tsv(path: Path) -> list[Example]:
    """XTREME tagging file: ``token<TAB>tag`` per line, a blank line between sentences.

    Errors (MalformedDataError naming ``file:line``): a non-blank line without exactly one tab, an
    empty tag, a file that does not end with a newline (its last sentence may be cut off mid-line).
    Tokens are kept verbatim (they may be odd whitespace); tags are stripped. If every token of the
    file carries the same ``xx:`` language prefix (XTREME's processed files), it is removed; a file
    where only some tokens look prefixed (``bar:24`` in PAN-X en) is left alone. An empty (or
    blank-only) file gives ``[]``; ``DataSource`` reports an empty split as MalformedDataError.
    """
    path = Path(path)
    text = _read_text(path)
    if text.strip() == "":
        return []
    lines = text.split("\n")  # not splitlines(): U+2028 etc. occur inside tokens
    if lines[-1] != "":
        raise MalformedDataError(
            f"{path}:{len(lines)}: file does not end with a newline; its last sentence looks truncated "
            f"(if the file is complete, add a final newline)")
    lines.pop()
    sentences: list[tuple[int, list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for lineno, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if "\t" not in line and not line.strip():  # a blank line closes a sentence; repeats are harmless
            if tokens:
                sentences.append((start, tokens, tags))
                tokens, tags = [], []
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise MalformedDataError(
                f"{path}:{lineno}: expected 'token<TAB>tag', found {len(fields)} tab-separated field(s): {line!r}")
        tag = fields[1].strip()
        if not tag:
            raise MalformedDataError(f"{path}:{lineno}: empty tag for token {fields[0]!r}")
        if not tokens:
            start = lineno
        tokens.append(fields[0])
        tags.append(tag)
    if tokens:
        sentences.append((start, tokens, tags))
    matches = [[_LANG_PREFIX.match(t) for t in toks] for _, toks, _ in sentences]
    prefixes = {m.group(1) if m else None for ms in matches for m in ms}
    strip = len(prefixes) == 1 and None not in prefixes
    # ids are namespaced by file ("train-en:0", "test-de:0"): the leakage guard compares the ids of a
    # model's training items with the test items, and those are different sentences in different files
    return [{"id": f"{path.stem}:{i}", "tokens": [m.group(2) for m in ms] if strip else toks,  # type: ignore[union-attr]
             "tags": tg, "source": f"{path}:{first}"}
            for i, ((first, toks, tg), ms) in enumerate(zip(sentences, matches))]


def _hub_tags(values: Sequence, names: tuple[str, ...]) -> list[str]:
    # The converter only sees the row, not the dataset's features, so integer tags are mapped with
    # google/xtreme's fixed ClassLabel orders (PANX_HUB_LABELS, UPOS); strings pass through.
    return [names[int(v)] if not isinstance(v, str) else v for v in values]


def tagging_hub(row: dict) -> Example | None:
    """A google/xtreme ``PAN-X.xx`` / ``udpos.xx`` row -> ``{"tokens", "tags"}`` (None: empty row)."""
    tokens = list(row["tokens"])
    if "ner_tags" in row:
        tags = _hub_tags(row["ner_tags"], PANX_HUB_LABELS)
    elif "pos_tags" in row:
        tags = _hub_tags(row["pos_tags"], UPOS)
    else:
        raise MalformedDataError(f"tagging hub row has no 'ner_tags' or 'pos_tags' field: {sorted(row)}")
    if len(tags) != len(tokens):
        raise MalformedDataError(f"tagging hub row has {len(tokens)} tokens but {len(tags)} tags")
    if not tokens:
        return None  # nothing to tag; XTREME's read_tag could not represent it either
    return {"tokens": tokens, "tags": tags}


READERS["conll_tsv"] = read_conll_tsv
HUB_CONVERTERS["tagging_hub"] = tagging_hub


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


def span_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Seqeval span F1 (PAN-X), F1 first."""
    s = span_f1(gold, pred)
    return {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"]}


def pos_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """XTREME's UD-POS number (seqeval F1 on UPOS tags) first, plus token accuracy."""
    s = pos_f1(gold, pred)
    return {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"],
            "accuracy": token_accuracy(gold, pred)}


def io_span_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Plain per-token tags with an "O" (BIG-bench polish NER): a run of one tag is one span (IO).

    Each tag T other than O is read as I-T, so seqeval's span F1 applies; accuracy is added.
    """
    def io(sentences: list[list[str]]) -> list[list[str]]:
        return [[t if t == "O" else f"I-{t}" for t in s] for s in sentences]

    s = span_f1(io(gold), io(pred))
    return {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"],
            "accuracy": token_accuracy(gold, pred)}


# task name -> scorer; tasks not listed are scored by their label scheme (see `scorer_for`)
SCORERS: dict[str, Callable[[list[list[str]], list[list[str]]], dict[str, float]]] = {
    "panx": span_scores,
    "udpos": pos_scores,
}


def scorer_for(task: Task) -> Callable[[list[list[str]], list[list[str]]], dict[str, float]]:
    """SCORERS[task name], else by label scheme: BIO -> span F1; plain tags with O -> IO span F1;
    no O (UPOS-like, e.g. the udpos-<lang> pool tasks) -> XTREME's UD-POS scores."""
    if task.name in SCORERS:
        return SCORERS[task.name]
    labels = labels_of(task)
    if all(t == "O" or t[:2] in ("B-", "I-") for t in labels):
        return span_scores
    return io_span_scores if "O" in labels else pos_scores


# ---------------------------------------------------------------------------------------------
# the family


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
        raise ValueError("the tagging family needs a fast (Rust) tokenizer for word_ids(); "
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


class Tagging(Family):
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

    @torch.no_grad()
    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any,
                cfg: EvalConfig) -> list[list[str]]:
        """One predicted tag per word of every example, read from each word's first sub-word."""
        from ..progress import progress

        names = labels_of(task)
        feats = self._features(task, examples, tokenizer, cfg.max_length, None)
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
        return scorer_for(task)([list(ex["tags"]) for ex in examples], [list(p) for p in predictions])

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str]:
        # XTREME's evaluate.py read_tag: one tag per line, a blank line between sentences
        lines: list[str] = []
        for i, tags in enumerate(predictions):
            if i:
                lines.append("")
            lines.extend(tags)
        return lines


register_family(Tagging())
