"""Retrieval benchmark files: Tatoeba pairs, BUCC mining sets, LAReQA (XQuAD-R) JSON, Mewsli-X mentions."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..tasks import Example, MalformedDataError, MissingDataError
from .text import read_lines

MEWSLIX_HELP = (
    "Mewsli-X is not in the offline bundle. Get it with XTREME-R's `bash scripts/download_mewslix_data.sh` "
    "(github.com/google-research/xtreme), which writes download/mewslix/candidate_set_entities.jsonl, "
    "wikipedia_pairs-{train,dev}.jsonl and wikinews_mentions-{dev,test}.jsonl; copy that folder to "
    "DATA/xtreme/mewslix/ and run `intertask.readers.retrieval.split_mewslix_mentions('DATA/xtreme/mewslix')` "
    "to write the per-language wikinews_mentions-{lang}.jsonl files read here.")


# ---------------------------------------------------------------------------------------------
# readers


def file_mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def read_tatoeba(path: Path) -> list[Example]:
    """Pairs ``{"id", "text" (xxx side), "target" (English)}`` from ``tatoeba.xxx-eng.xxx`` and its ``.eng``."""
    path = Path(path)
    eng = path.with_suffix(".eng")
    if path == eng or not eng.exists():
        raise MissingDataError(f"{path}: the English side {eng} is missing; Tatoeba needs both "
                               f"tatoeba.xxx-eng.xxx and tatoeba.xxx-eng.eng")
    src, tgt = read_lines(path), read_lines(eng)
    if len(src) != len(tgt):  # pairs are defined by line number: any shift pairs every later line wrongly
        raise MalformedDataError(f"Tatoeba files are not line-aligned: {path} has {len(src)} lines but "
                                 f"{eng} has {len(tgt)}")
    return [{"id": str(i), "text": s, "target": t} for i, (s, t) in enumerate(zip(src, tgt))]


def _read_id_sentences(path: Path) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise MalformedDataError(f"{path}:{lineno}: expected 'id<TAB>sentence'")
        sid, text = line.split("\t", 1)
        if sid in seen:
            raise MalformedDataError(f"{path}:{lineno}: duplicate sentence id {sid!r}")
        seen.add(sid)
        out.append((sid, text))
    if not out:
        raise MalformedDataError(f"{path}: no sentences")
    return out


@lru_cache(maxsize=8)
def bucc_targets(path: str, mtime: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = _read_id_sentences(Path(path))
    return tuple(i for i, _ in pairs), tuple(t for _, t in pairs)


def read_bucc(path: Path) -> list[Example]:
    """Source sentences ``{"id", "text", "gold" (English ids), "pool_file" (the .en file)}``."""
    path = Path(path)
    en, gold_path = path.with_suffix(".en"), path.with_suffix(".gold")
    for p, what in ((en, "English sentences"), (gold_path, "gold pairs")):
        if not p.exists():
            raise MissingDataError(f"{path}: BUCC needs the {what} beside it, {p} is missing")
    sources = _read_id_sentences(path)
    target_ids = set(bucc_targets(str(en), file_mtime(en))[0])
    source_ids = {sid for sid, _ in sources}
    gold: dict[str, list[str]] = defaultdict(list)
    for lineno, line in enumerate(read_lines(gold_path), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 2:
            raise MalformedDataError(f"{gold_path}:{lineno}: expected 'src_id<TAB>en_id'")
        if parts[0] not in source_ids or parts[1] not in target_ids:
            raise MalformedDataError(f"{gold_path}:{lineno}: pair {parts} names a sentence that is not in "
                                     f"{path.name} / {en.name}")
        gold[parts[0]].append(parts[1])
    return [{"id": sid, "text": text, "gold": gold.get(sid, []), "pool_file": str(en)} for sid, text in sources]


@lru_cache(maxsize=16)
def lareqa_file(path: str, mtime: int) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """(questions, candidate sentences) of one XQuAD-R file, parsed once."""
    p = Path(path)
    lang = p.stem
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise MalformedDataError(f"{p}: not XQuAD-R JSON with a 'data' list ({e})") from None
    questions: list[dict] = []
    candidates: list[dict] = []
    n_par = 0
    for article in data:
        for par in article.get("paragraphs", []):
            n_par += 1
            if "sentence_breaks" not in par or "context" not in par:
                raise MalformedDataError(f"{p}: paragraph {n_par} has no sentence_breaks/context; "
                                         f"LAReQA needs the XQuAD-R files (lareqa/xquad-r), not plain XQuAD")
            context = par["context"]
            sentences = [context[s:e] for s, e in par["sentence_breaks"]]
            ids = [f"{lang}_{n_par}_{k}" for k in range(len(sentences))]
            for cid, sent in zip(ids, sentences):
                candidates.append({"id": cid, "paragraph": n_par, "sentence": sent, "context": context})
            for qa in par.get("qas", []):
                start = qa["answers"][0]["answer_start"]
                hit = next((k for k, (s, e) in enumerate(par["sentence_breaks"]) if s <= start < e), None)
                if hit is None:  # XTREME-R skips these too (a sentence-breaking error)
                    continue
                # every sentence of the paragraph with the answer sentence's text counts, as in XTREME-R
                answers = [cid for cid, sent in zip(ids, sentences) if sent == sentences[hit]]
                questions.append({"id": qa["id"], "text": qa["question"], "answers": answers,
                                  "paragraph": n_par, "pool_file": str(p)})
    return tuple(questions), tuple(candidates)


def read_lareqa(path: Path) -> list[Example]:
    """Questions ``{"id", "text", "answers" (own-language candidate ids), "paragraph", "pool_file"}``."""
    path = Path(path)
    questions, _ = lareqa_file(str(path), file_mtime(path))
    return [dict(q) for q in questions]  # DataSource adds "lang": never hand out the cached dicts


def _clean(text: str) -> str:
    return " ".join(text.split())


def _mention_query(obj: dict, where: str) -> tuple[str, str, str]:
    """(example_id, query text, gold entity id) of one ContextualMention, XTREME-R's baseline text."""
    try:
        ctx, mention = obj["context"], obj["mention"]
        text, span = ctx["text"], mention["mention_span"]
        start, end, surface = int(span["start"]), int(span["end"]), span["text"]
        spans = [(int(s["start"]), int(s["end"])) for s in ctx.get("sentence_spans", [])]
        example_id, entity = mention["example_id"], mention["entity_id"]
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedDataError(f"{where}: not a Mewsli-X ContextualMention ({e!r})") from None
    # one sentence of context (the whole text if the mention crosses a sentence break)
    s0, e0 = next(((s, e) for s, e in spans if s <= start and end <= e), (0, len(text)))
    left, right = text[s0:start], text[end:e0]
    # braces mark the mention, so existing ones become parentheses
    left, right = (x.replace("{", "(").replace("}", ")") for x in (left, right))
    return example_id, _clean(f"{surface}: {left} {{ {surface} }} {right}"), entity


@lru_cache(maxsize=2)
def mewslix_entities(path: str, mtime: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ids: list[str] = []
    texts: list[str] = []
    for lineno, line in enumerate(read_lines(Path(path)), start=1):
        if not line.strip():
            continue
        try:
            ent = json.loads(line)
            desc = ent["description"]
            spans = ent.get("sentence_spans") or [{"start": 0, "end": len(desc)}]
            ids.append(ent["entity_id"])
            texts.append(_clean(" ".join(desc[s["start"]:s["end"]] for s in spans)))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise MalformedDataError(f"{path}:{lineno}: not a Mewsli-X Entity ({e!r})") from None
    return tuple(ids), tuple(texts)


def read_mewslix(path: Path) -> list[Example]:
    """Mentions ``{"id", "text", "gold" ([entity id]), "pool_file" (candidate_set_entities.jsonl)}``."""
    path = Path(path)
    cands = path.with_name("candidate_set_entities.jsonl")
    for p in (path, cands):
        if not p.exists():
            raise MissingDataError(f"{p} not found. {MEWSLIX_HELP}")
    out = []
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedDataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        example_id, query, entity = _mention_query(obj, f"{path}:{lineno}")
        out.append({"id": example_id, "text": query, "gold": [entity], "pool_file": str(cands)})
    return out


def split_mewslix_mentions(directory: str | os.PathLike, split: str = "test") -> dict[str, int]:
    """Write ``wikinews_mentions-{lang}.jsonl`` from XTREME-R's multilingual ``wikinews_mentions-{split}.jsonl``.

    Returns the number of mentions written per language (the context's ``language`` field).
    """
    directory = Path(directory)
    source = directory / f"wikinews_mentions-{split}.jsonl"
    if not source.exists():
        raise MissingDataError(f"{source} not found. {MEWSLIX_HELP}")
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lineno, line in enumerate(read_lines(source), start=1):
        if line.strip():
            try:
                by_lang[json.loads(line)["context"]["language"]].append(line)
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise MalformedDataError(f"{source}:{lineno}: not a Mewsli-X ContextualMention ({e!r})") from None
    for lang, lines in by_lang.items():
        (directory / f"wikinews_mentions-{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {lang: len(lines) for lang, lines in sorted(by_lang.items())}


def hub_pair(row: dict) -> Example:
    # load_hub_split drops rows without a label; pairs are gold by position, so any value will do
    return {"text": row["source_sentence"], "target": row["target_sentence"], "label": 0}


def hub_unsupported(name: str) -> Callable[[dict], Example]:
    def convert(row: dict) -> Example:
        raise MissingDataError(
            f"{name}: the hub rows do not carry the candidate pool this task retrieves from; use the local "
            f"XTREME-R download (`data_source: local`)" + (f". {MEWSLIX_HELP}" if name == "mewslix" else ""))
    return convert

