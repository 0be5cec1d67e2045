"""XTREME's tagging files (``token<TAB>tag``, blank line between sentences) and google/xtreme hub rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..tasks import Example, MalformedDataError

# The 17 Universal POS tags (UD v2); UD-POS has no label list in the task registry. Alphabetical, which is
# also the ClassLabel order of google/xtreme's udpos.* configs.
UPOS: tuple[str, ...] = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
                         "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
# google/xtreme PAN-X.* `ner_tags` ClassLabel order (the same as the panx task's labels).
PANX_HUB_LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

# "en:token": the language prefix of XTREME's *processed* PAN-X files (the raw download has none)
_LANG_PREFIX = re.compile(r"^([a-z]{2,3}):(.*)$", re.DOTALL)

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
