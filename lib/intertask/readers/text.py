"""Readers of the text formats of the English releases and XTREME's TSVs (NLI, paraphrase, multiple choice).

Every reader returns plain dicts in one shape per format:
- classification: {"id", "text_a", "text_b" (or None), "label" (int)}
- multiple_choice: {"id", "context", "question", "choices" (list[str]), "label" (int)}
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Iterable

from ..tasks import NLI_LABELS, Example, MalformedDataError

# QQP's public dev file has a malformed first line; tolerate a handful of such lines, loudly.
MAX_MALFORMED_FRACTION = 0.001

def read_lines(path: Path) -> list[str]:
    # split on "\n" only: str.splitlines() also breaks on U+2028 and friends, which occur inside
    # real sentences (PAWS-X ko) and would shift every later line
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _nli_label(value: str, path: Path, lineno: int) -> int:
    v = value.strip().lower()
    v = {"contradictory": "contradiction", "e": "entailment", "n": "neutral", "c": "contradiction"}.get(v, v)
    if v not in NLI_LABELS:
        raise MalformedDataError(f"{path}:{lineno}: label {value!r} is not one of {NLI_LABELS}")
    return NLI_LABELS.index(v)


def _binary_label(value: str, path: Path, lineno: int) -> int:
    v = value.strip()
    if v not in ("0", "1"):
        raise MalformedDataError(f"{path}:{lineno}: label {value!r} is not 0 or 1")
    return int(v)


def _tsv_fields(path: Path, n_fields: int, what: str, tolerate: bool = False) -> Iterable[tuple[int, list[str]]]:
    lines = read_lines(path)
    bad: list[int] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != n_fields:
            if not tolerate:
                raise MalformedDataError(
                    f"{path}:{i}: expected {n_fields} tab-separated fields ({what}), found {len(fields)}")
            bad.append(i)
            continue
        yield i, fields
    if bad:
        if len(bad) > max(1, MAX_MALFORMED_FRACTION * len(lines)):
            raise MalformedDataError(
                f"{path}: {len(bad)} lines do not have {n_fields} tab-separated fields ({what}), "
                f"first at line {bad[0]}; the file looks truncated or in another format")
        print(f"[intertask] {path}: skipped {len(bad)} malformed line(s) (line {', '.join(map(str, bad[:5]))})")


def read_xnli_tsv(path: Path) -> list[Example]:
    out = []
    for i, (lineno, (a, b, label)) in enumerate(_tsv_fields(path, 3, "premise, hypothesis, label")):
        out.append({"id": str(i), "text_a": a, "text_b": b, "label": _nli_label(label, path, lineno)})
    return out


def read_pawsx_tsv(path: Path) -> list[Example]:
    out = []
    for i, (lineno, (a, b, label)) in enumerate(_tsv_fields(path, 3, "sentence1, sentence2, label")):
        out.append({"id": str(i), "text_a": a, "text_b": b, "label": _binary_label(label, path, lineno)})
    return out


def read_qqp_tsv(path: Path) -> list[Example]:
    out = []
    for lineno, (pair_id, _q1, _q2, a, b, label) in _tsv_fields(
            path, 6, "id, qid1, qid2, question1, question2, is_duplicate", tolerate=True):
        if pair_id == "id":  # GLUE-style header
            continue
        out.append({"id": pair_id, "text_a": a, "text_b": b, "label": _binary_label(label, path, lineno)})
    return out


def read_mrpc_txt(path: Path) -> list[Example]:
    out = []
    for lineno, (quality, id1, id2, a, b) in _tsv_fields(path, 5, "Quality, #1 ID, #2 ID, #1 String, #2 String"):
        if quality == "Quality":
            continue
        out.append({"id": f"{id1}-{id2}", "text_a": a, "text_b": b, "label": _binary_label(quality, path, lineno)})
    return out


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MalformedDataError(f"{path}:1: missing column(s) {missing}; found {reader.fieldnames}")
        rows = []
        for row in reader:
            if any(row.get(c) is None for c in required):
                raise MalformedDataError(f"{path}:{reader.line_num}: row has too few fields")
            rows.append((reader.line_num, row))
        return rows


def read_anli_csv(path: Path) -> list[Example]:
    return [{"id": row["uid"], "text_a": row["context"], "text_b": row["statement"],
             "label": _nli_label(row["gold_label"], path, lineno)}
            for lineno, row in _csv_rows(path, ("uid", "context", "statement", "gold_label"))]


def read_cosmosqa_csv(path: Path) -> list[Example]:
    cols = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    out = []
    for lineno, row in _csv_rows(path, cols):
        label = row["label"].strip()
        if label not in ("0", "1", "2", "3"):
            raise MalformedDataError(f"{path}:{lineno}: label {label!r} is not 0-3")
        out.append({"id": row["id"], "context": row["context"], "question": row["question"],
                    "choices": [row[f"answer{k}"] for k in range(4)], "label": int(label)})
    return out


def read_json(path: Path) -> object:
    """A whole JSON file; a syntax error names `file:line`."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise MalformedDataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedDataError(f"{path}:{i}: not valid JSON ({e.msg})") from None


def _require(obj: dict, keys: tuple[str, ...], path: Path, lineno: int) -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise MalformedDataError(f"{path}:{lineno}: missing field(s) {missing}")


def read_socialiqa_jsonl(path: Path) -> list[Example]:
    out = []
    for i, (lineno, obj) in enumerate(_jsonl(path)):
        _require(obj, ("context", "question", "answerA", "answerB", "answerC", "correct"), path, lineno)
        if obj["correct"] not in ("A", "B", "C"):
            raise MalformedDataError(f"{path}:{lineno}: 'correct' is {obj['correct']!r}, expected A, B or C")
        out.append({"id": str(i), "context": obj["context"], "question": obj["question"],
                    "choices": [obj["answerA"], obj["answerB"], obj["answerC"]], "label": "ABC".index(obj["correct"])})
    return out


COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}


def read_copa_jsonl(path: Path) -> list[Example]:
    out = []
    for lineno, obj in _jsonl(path):
        _require(obj, ("premise", "choice1", "choice2", "question", "label"), path, lineno)
        if obj["question"] not in COPA_QUESTIONS or obj["label"] not in (0, 1):
            raise MalformedDataError(f"{path}:{lineno}: question must be cause/effect and label 0/1")
        out.append({"id": str(obj.get("idx", lineno)), "context": obj["premise"],
                    "question": COPA_QUESTIONS[obj["question"]],
                    "choices": [obj["choice1"], obj["choice2"]], "label": obj["label"]})
    return out


# ---------------------------------------------------------------------------------------------
# hub converters: one dataset row -> one example (None drops unlabeled rows)


def _hub_label(row: dict) -> int | None:
    label = int(row["label"])
    return None if label < 0 else label


TEXT_HUB_CONVERTERS: dict[str, Callable[[dict], Example | None]] = {
    "nli_hub": lambda r: {"text_a": r["premise"], "text_b": r["hypothesis"], "label": _hub_label(r)},
    "paraphrase_hub": lambda r: {"text_a": r["sentence1"], "text_b": r["sentence2"], "label": _hub_label(r)},
    "glue_pair": lambda r: {"text_a": r.get("question1", r.get("sentence1")),
                            "text_b": r.get("question2", r.get("sentence2")), "label": _hub_label(r)},
    "glue_single": lambda r: {"text_a": r["sentence"], "text_b": None, "label": _hub_label(r)},
    "cosmosqa_hub": lambda r: {"context": r["context"], "question": r["question"],
                               "choices": [r[f"answer{k}"] for k in range(4)], "label": int(r["label"])},
    "socialiqa_hub": lambda r: {"context": r["context"], "question": r["question"],
                                "choices": [r["answerA"], r["answerB"], r["answerC"]], "label": int(r["label"]) - 1},
    "copa_hub": lambda r: {"context": r["premise"], "question": COPA_QUESTIONS[r["question"]],
                           "choices": [r["choice1"], r["choice2"]], "label": _hub_label(r)},
    "hellaswag_hub": lambda r: ({"context": r["ctx"], "question": "", "choices": list(r["endings"]),
                                 "label": int(r["label"])} if str(r["label"]).strip() else None),
    "commonsenseqa_hub": lambda r: ({"context": "", "question": r["question"], "choices": list(r["choices"]["text"]),
                                     "label": list(r["choices"]["label"]).index(r["answerKey"])}
                                    if r["answerKey"] else None),
}
