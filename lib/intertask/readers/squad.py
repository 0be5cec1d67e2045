"""SQuAD v1.1 JSON (SQuAD, XQuAD, MLQA, TyDiQA-GoldP) and SQuAD-format hub rows as span-QA examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..tasks import Example, MalformedDataError
from .text import read_json

# ---------------------------------------------------------------------------------------------
# reading


def _check_answer(context: str, text: str, start: int, where: str) -> None:
    found = context[start:start + len(text)]
    if found != text:
        # No real file in the bundle (XQuAD, MLQA dev, TyDiQA-GoldP) has a shifted offset, so a
        # mismatch means a damaged or re-encoded file: refuse it rather than train on wrong labels.
        raise MalformedDataError(
            f"{where}: answer {text!r} is not at answer_start {start} of its context (found {found!r}); "
            f"the file's character offsets do not match its text (re-encoded or edited file?)")


def _answers(raw: Any, context: str, where: str) -> list[dict]:
    if not isinstance(raw, list):
        raise MalformedDataError(f"{where}: 'answers' must be a list, got {type(raw).__name__}")
    out = []
    for a in raw:
        try:
            text, start = a["text"], int(a["answer_start"])
        except (KeyError, TypeError, ValueError):
            raise MalformedDataError(f"{where}: answer {a!r} lacks a 'text' or an integer 'answer_start'") from None
        _check_answer(context, text, start, where)
        out.append({"text": text, "answer_start": start})
    return out


def read_squad_json(path: Path) -> list[Example]:
    """SQuAD v1.1 JSON (XQuAD, MLQA, TyDiQA-GoldP): one example per question, offsets verified.

    Question ids are kept as they are when they are unique in the file. The TyDiQA-GoldP files of
    the offline bundle number questions per paragraph ("0", "1", ... repeat), so there every id
    becomes "<article>-<paragraph>-<id>" (stable: it only depends on the file); "qid" keeps the original.
    """
    path = Path(path)
    obj = read_json(path)
    articles = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(articles, list):
        raise MalformedDataError(f"{path}: expected a SQuAD JSON object with a 'data' list of articles")
    rows: list[tuple[str, Example]] = []
    for a, article in enumerate(articles):
        for p, para in enumerate(article.get("paragraphs", []) if isinstance(article, dict) else []):
            try:
                context, qas = para["context"], para["qas"]
            except (KeyError, TypeError):
                raise MalformedDataError(f"{path}: article {a} paragraph {p} lacks 'context' or 'qas'") from None
            for qa in qas:
                if not isinstance(qa, dict) or "id" not in qa or "question" not in qa:
                    raise MalformedDataError(f"{path}: article {a} paragraph {p}: a question lacks 'id' or 'question'")
                qid = str(qa["id"])
                answers = _answers(qa.get("answers", []), context, f"{path}: question {qid!r}")
                rows.append((f"{a}-{p}-{qid}", {"id": qid, "qid": qid, "context": context,
                                                "question": qa["question"], "answers": answers}))
    qids = [ex["id"] for _, ex in rows]
    if len(set(qids)) != len(qids):
        for unique_id, ex in rows:
            ex["id"] = unique_id
    return [ex for _, ex in rows]


def squad_hub(row: dict) -> Example:
    """A SQuAD-format hub row (SQuAD, XQuAD, MLQA, TyDiQA secondary_task) as an example.

    The loader replaces "id" with a split-local one; "qid" keeps the dataset's question id, which
    the benchmark's prediction files are keyed by.
    """
    raw = row.get("answers") or {"text": [], "answer_start": []}
    answers = [{"text": t, "answer_start": s} for t, s in zip(raw["text"], raw["answer_start"])]
    qid = str(row.get("id", ""))
    return {"qid": qid, "context": row["context"], "question": row["question"],
            "answers": _answers(answers, row["context"], f"hub row {qid!r}")}


