"""The intermediate-task pool: BIG-bench parsers on the real files, error reporting, registration,
metadata, and loading every offline pool task through DataSource."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

import intertask.readers as readers
import intertask.readers.bigbench as pool
import intertask.registry as registry
from intertask.data import DataSource, MalformedDataError
from intertask.readers.bigbench import (find_answer, parse_cached, parse_disfl_qa, parse_multiemo, parse_parsinlu_rc,
                                        parse_polish_ner)
from intertask.registry import OFFLINE_POOL, REGISTRY, UDPOS_DEV_LANGS, XTREME_TARGETS, get_task
from intertask.registry.metadata import pool_frame
from intertask.tasks import NLI_LABELS

ROOT = Path(__file__).resolve().parents[1]
BIGBENCH = {
    "parsinlu": "bigbench/parsinlu_reading_comprehension/task.json",
    "disfl": "bigbench/disfl_qa/task.json",
    "polish": "bigbench/polish_sequence_labeling/task.json",
    "multiemo_en": "bigbench/multiemo/all_sentence_en/task.json",
    "multiemo_pl": "bigbench/multiemo/all_sentence_pl/task.json",
}


def _check_spans(examples: list[dict]) -> None:
    for ex in examples:
        assert ex["answers"] and ex["question"] and ex["context"]
        for a in ex["answers"]:
            assert ex["context"][a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]


def _bigbench_file(tmp_path: Path, examples: list[dict]) -> Path:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"name": "t", "examples": examples}), encoding="utf-8")
    return path


# ---- parsers on the real files (memoized: the readers reuse the same parse) -------------------


def test_parsinlu_real_file(data_dir):
    result = parse_cached(parse_parsinlu_rc, data_dir / BIGBENCH["parsinlu"])
    assert len(result.examples) == 518  # every answer is in its passage: nothing dropped
    assert result.dropped == {"answer_found_exact": 849}
    _check_spans(result.examples)
    first = result.examples[0]
    assert first["id"] == "0" and first["question"] == "چه آب و هوایی برای رشد گندم خوب است؟"
    assert first["context"].startswith("آب و هوای مناسب برای رشد گندم")
    assert first["answers"][0]["text"].startswith("آب و هوای خنک در دوره رشد رویشی")
    assert len(result.examples[1]["answers"]) == 3  # several gold answers are all kept


def test_disfl_qa_real_file(data_dir):
    result = parse_cached(parse_disfl_qa, data_dir / BIGBENCH["disfl"])
    assert result.dropped == {"dropped:xquad_overlap": 1125, "dropped:unanswerable": 1791,
                              "dropped:empty_question_or_context": 1,
                              "answer_found_exact": 4141, "answer_found_whitespace": 942}
    assert len(result.examples) == 8000 - 1125 - 1791 - 1
    _check_spans(result.examples)
    by_id = {ex["id"]: ex for ex in result.examples}
    ex = by_id["1"]  # "What do petrologists use rock samples or rather electron microprobes ..."
    assert ex["question"].startswith("What do petrologists use") and ex["context"].startswith("In addition to")
    assert ex["answers"] == [{"text": "identifying rocks", "answer_start": ex["context"].index("identifying rocks")}]
    # answers in the original typography are found in the tokenized context
    assert any(a["text"] == "40 , 000" for e in result.examples for a in e["answers"])


def test_disfl_qa_has_no_xquad_paragraph(data_dir):
    """The embedded keys are exactly XQuAD's English paragraphs, and none survives in Disfl-QA."""
    xquad = json.loads((data_dir / "xtreme/xquad/xquad.en.json").read_text(encoding="utf-8"))["data"]
    contexts = [p["context"] for art in xquad for p in art["paragraphs"]]
    assert {pool.xquad_context_key(c) for c in contexts} == pool.XQUAD_EN_CONTEXT_KEYS
    norm = {re.sub(r"\W+", "", c).lower() for c in contexts}
    kept = parse_cached(parse_disfl_qa, data_dir / BIGBENCH["disfl"]).examples
    assert not [ex["id"] for ex in kept if re.sub(r"\W+", "", ex["context"]).lower() in norm]


def test_polish_ner_real_file(data_dir):
    result = parse_cached(parse_polish_ner, data_dir / BIGBENCH["polish"])
    assert len(result.examples) == 12854 and result.dropped == {"dropped:empty": 2}
    first = result.examples[0]
    assert first["tokens"][:3] == ["2010-02-23", ":", "Afganistan"]
    assert first["tags"][:3] == ["t3_date", "O", "nam_loc"]
    assert all(len(ex["tokens"]) == len(ex["tags"]) > 0 for ex in result.examples)
    assert {t for ex in result.examples for t in ex["tags"]} == set(pool.POLISH_NER_TAGS)


def test_multiemo_real_files_are_aligned(data_dir):
    en = parse_cached(parse_multiemo, data_dir / BIGBENCH["multiemo_en"])
    pl = parse_cached(parse_multiemo, data_dir / BIGBENCH["multiemo_pl"])
    assert en.dropped == {"dropped:empty_text": 8} and pl.dropped == {}
    assert len(en.examples) == 57466 - 8 and len(pl.examples) == 57466
    first = en.examples[0]
    assert first["text_a"].startswith("The taxi arrives on time") and first["text_b"] is None
    assert pool.MULTIEMO_LABELS[first["label"]] == "neutral"
    labels_pl = {ex["id"]: ex["label"] for ex in pl.examples}
    assert all(labels_pl[ex["id"]] == ex["label"] for ex in en.examples)  # same item, same id, same label
    assert {ex["label"] for ex in pl.examples} == {0, 1, 2, 3}


# ---- malformed inputs name the file and the example ---------------------------------------------


def test_parsinlu_unsplittable_input(tmp_path):
    path = _bigbench_file(tmp_path, [
        {"input": "passage: 'a b c' question: 'b?'", "target": ["b"]},
        {"input": "passage: 'no question here'", "target": ["x"]},
    ])
    with pytest.raises(MalformedDataError, match=rf"{re.escape(str(path))}: example 1: input cannot be split"):
        parse_parsinlu_rc(path)


def test_parsinlu_absent_answer_is_dropped_and_counted(tmp_path):
    path = _bigbench_file(tmp_path, [
        {"input": "passage: 'Tehran is the capital.' question: 'What is the capital?'", "target": ["Tehran"]},
        {"input": "passage: 'Tehran is the capital.' question: 'Where?'", "target": ["Isfahan"]},
    ])
    result = parse_parsinlu_rc(path)
    assert [ex["id"] for ex in result.examples] == ["0"]
    assert result.dropped["dropped:no_answer_in_passage"] == 1


def test_disfl_qa_without_context(tmp_path):
    path = _bigbench_file(tmp_path, [{"input": "Who um I mean what?", "target": "x"}])
    with pytest.raises(MalformedDataError, match=rf"{re.escape(str(path))}: example 0: .*question and context"):
        parse_disfl_qa(path)


def test_polish_count_mismatch(tmp_path):
    path = _bigbench_file(tmp_path, [{"input": "Ala ma kota", "target": "nam_liv O O"},
                                     {"input": "Ala ma kota", "target": "nam_liv O"}])
    with pytest.raises(MalformedDataError, match=rf"{re.escape(str(path))}: example 1: 3 tokens but 2 tags"):
        parse_polish_ner(path)


def test_multiemo_unknown_label_and_bad_json(tmp_path):
    path = _bigbench_file(tmp_path, [{"input": "ok", "target_scores": {"good": 1, "bad": 0}}])
    with pytest.raises(MalformedDataError, match=rf"{re.escape(str(path))}: example 0: target_scores keys"):
        parse_multiemo(path)
    path.write_text('{"examples": [', encoding="utf-8")
    with pytest.raises(MalformedDataError, match=re.escape(str(path))):
        parse_multiemo(path)


def test_find_answer_prefers_word_boundaries_and_spans_whitespace():
    assert find_answer("the majority is a major part", "major") == (18, "major", "exact")
    assert find_answer("about 13 , 000 BP", "13,000 BP") == (6, "13 , 000 BP", "whitespace")
    assert find_answer("nothing here", "absent") is None and find_answer("x", " ") is None


# ---- registry -----------------------------------------------------------------------------------


def test_pool_tasks_are_registered_with_metadata():
    names = registry.POOL_TASK_NAMES
    assert {"tydiqa-ko", "tydiqa-sw", "parsinlu-rc", "polish-ner", "multiemo-en", "multiemo-pl", "disfl-qa",
            "kornli", "ocnli", "squad"} <= set(names)
    # 33 UD dev files plus UD English train/dev (dataset "ud": refused before a udpos target)
    assert len([n for n in names if n.startswith("udpos-")]) == 34 and get_task("udpos-en").dataset == "ud"
    # benchmark files as tasks in every format; each keeps its benchmark's dataset for the target guard
    for prefix, count, dataset in (("panx-", 14, "panx"), ("pawsx-", 6, "pawsx"), ("xcopa-", 11, "copa")):
        group = [n for n in names if n.startswith(prefix)]
        assert len(group) == count and {get_task(n).dataset for n in group} == {dataset}, prefix
    for name in names:
        task = get_task(name)
        assert REGISTRY[name] is task and not task.benchmarks
        assert task.description and task.citation and task.license
        assert task.languages == (task.train_language,)
        if task.local is None:
            assert "hub only" in task.description.lower()


def test_a_second_task_under_a_registered_name_is_refused():
    from dataclasses import replace
    with pytest.raises(ValueError, match="parsinlu-rc.*already registered"):
        registry.register(replace(get_task("parsinlu-rc"), metric="accuracy"))


def test_udpos_languages_match_the_bundle(data_dir):
    files = {p.name[4:-4] for p in (data_dir / "xtreme/udpos").glob("dev-*.tsv")}
    assert set(UDPOS_DEV_LANGS) == files - {"en"} and len(UDPOS_DEV_LANGS) == 33


def test_local_licenses_come_from_sources_tsv(data_dir):
    with open(data_dir / "SOURCES.tsv", encoding="utf-8", newline="") as f:
        licenses = {row["path"]: row["license"] for row in csv.DictReader(f, delimiter="\t")}
    for name in registry.POOL_TASK_NAMES:
        task = get_task(name)
        if task.local is not None:
            path = (task.local.files.get("all") or task.local.files["train"]).format(lang=task.train_language)
            assert task.license == licenses[path], name


# ---- pool metadata and offline loading ----------------------------------------------------------


@pytest.fixture(scope="module")
def frame(data_dir):
    return pool_frame(str(data_dir))


def test_pool_frame_metadata(frame):
    assert list(frame.columns[:11]) == ["task", "language", "language_family", "genus", "script", "format",
                                        "dataset", "source", "size", "size_hint", "license"]
    assert {"citation"} <= set(frame.columns)
    assert not set(frame["task"]) & set(XTREME_TARGETS)
    assert frame["task"].is_unique and frame["license"].astype(bool).all() and frame["citation"].astype(bool).all()
    row = frame.set_index("task").loc["parsinlu-rc"]
    assert tuple(row[["language", "language_family", "genus", "script", "format", "source", "size"]]) == (
        "fa", "Indo-European", "Iranian", "Arabic", "span_qa", "local", 466)
    assert frame.set_index("task").loc["kornli", "source"] == "hub"
    assert frame.set_index("task")["size"].isna().loc["squad"]
    offline = frame[frame["task"].isin(OFFLINE_POOL)]
    assert len(offline) == len(OFFLINE_POOL) and (offline["size"] > 0).all()
    assert offline["language_family"].nunique() > 5
    assert (offline["language"] == "en").any() and (offline["language"] != "en").sum() >= 30


def test_pool_frame_without_data_has_no_sizes(monkeypatch):
    monkeypatch.delenv("INTERTASK_DATA", raising=False)
    frame = pool_frame(None)
    assert frame["size"].isna().all() and len(frame) > 40


@pytest.mark.parametrize("name", OFFLINE_POOL)
def test_offline_pool_task_loads(name, data_dir, frame):
    task = get_task(name)
    examples = DataSource(data_dir, "local").load(task, "train", limit=5)
    assert len(examples) == 5 and all(ex["lang"] == task.train_language for ex in examples)
    if task.format == "span_qa":
        _check_spans(examples)
    elif task.format == "tagging":
        assert all(len(ex["tokens"]) == len(ex["tags"]) > 0 for ex in examples)
    elif task.format == "classification":
        assert all(0 <= ex["label"] < len(task.labels) for ex in examples)


def test_pool_splits_are_disjoint(data_dir):
    source = DataSource(data_dir, "local")
    task = get_task("parsinlu-rc")
    train, dev = source.load(task, "train"), source.load(task, "dev")
    assert len(train) + len(dev) == 518 and not {e["id"] for e in train} & {e["id"] for e in dev}


def test_hub_converters_map_rows():
    ocnli = readers.HUB_CONVERTERS["ocnli_hub"]
    assert [ocnli({"sentence1": "p", "sentence2": "h", "label": k}) for k in (0, 1, 2)] == [
        {"text_a": "p", "text_b": "h", "label": NLI_LABELS.index(name)} for name in ("neutral", "entailment",
                                                                                     "contradiction")]
    assert ocnli({"sentence1": "p", "sentence2": "h", "label": -1}) is None
    kornli = get_task("kornli")
    assert kornli.hub.converter == "nli_hub" and "dev" not in kornli.hub.splits  # KorNLI dev/test are XNLI's items
    row = readers.HUB_CONVERTERS["nli_hub"]({"premise": "p", "hypothesis": "h", "label": 2})
    assert row["label"] == NLI_LABELS.index("contradiction")
