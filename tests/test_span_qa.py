"""Extractive QA family: SQuAD JSON reader, windows and labels, span decoding, training, scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from intertask.data import DataSource, MalformedDataError
from intertask.formats import EvalConfig, get_format, task_options
from intertask.formats.span_qa import SpanQA, best_span, span_text, windows
from intertask.readers import HUB_CONVERTERS, READERS
from intertask.readers.squad import read_squad_json
from intertask.stages import build_model, load_features, train_and_save
from intertask.registry import get_task
from intertask.train import TrainConfig

XQUAD_DE = "xtreme/xquad/xquad.de.json"
TYDIQA_EN = "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def _squad_file(path, context, question, text, start, qid="q1"):
    obj = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}]}]}]}]}
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_family_and_reader_are_registered():
    assert get_format("span_qa").name == "span_qa"
    assert READERS["squad_json"] is read_squad_json and "squad_hub" in HUB_CONVERTERS


def test_reader_on_real_xquad_file(data_dir):
    examples = read_squad_json(data_dir / XQUAD_DE)
    assert len(examples) == 1190
    assert len({ex["id"] for ex in examples}) == 1190
    ex = examples[0]
    assert set(ex) >= {"id", "context", "question", "answers"} and ex["answers"]
    for ex in examples:
        for a in ex["answers"]:
            assert ex["context"][a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]


def test_tydiqa_repeated_ids_become_unique_and_split_cleanly(data_dir):
    examples = read_squad_json(data_dir / TYDIQA_EN)
    assert len({ex["id"] for ex in examples}) == len(examples) == 3696  # the bundle's ids repeat ("0", "1", ...)
    assert examples[0]["qid"] == "12" and examples[0]["id"].endswith("-12")
    src, task = DataSource(data_dir, "local"), get_task("tydiqa")
    train, test = src.load(task, "train"), src.load(task, "test")
    assert train and test and not {ex["id"] for ex in train} & {ex["id"] for ex in test}


def test_wrong_answer_offset_is_a_clear_error(tmp_path):
    path = _squad_file(tmp_path / "bad.json", "Berlin is the capital of Germany.", "Capital?", "Germany", 3, "q-7")
    with pytest.raises(MalformedDataError) as e:
        read_squad_json(path)
    msg = str(e.value)
    assert "bad.json" in msg and "'q-7'" in msg and "answer_start 3" in msg
    ok = _squad_file(tmp_path / "ok.json", "Berlin is the capital of Germany.", "Capital?", "Germany", 25)
    assert read_squad_json(ok)[0]["answers"] == [{"text": "Germany", "answer_start": 25}]
    (tmp_path / "broken.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(MalformedDataError, match="not valid JSON"):
        read_squad_json(tmp_path / "broken.json")


def test_hub_converter():
    row = {"id": "abc", "title": "T", "context": "Paris is in France.", "question": "Where is Paris?",
           "answers": {"text": ["France"], "answer_start": [12]}}
    ex = HUB_CONVERTERS["squad_hub"](row)
    assert ex["qid"] == "abc" and ex["answers"] == [{"text": "France", "answer_start": 12}]
    with pytest.raises(MalformedDataError, match="'abc'"):
        HUB_CONVERTERS["squad_hub"]({**row, "answers": {"text": ["France"], "answer_start": [3]}})


def test_long_context_windows_label_the_answer_only_where_it_is(data_dir, tok):
    # a real German context with the answer late in it, so the first windows cannot hold it
    examples = read_squad_json(data_dir / XQUAD_DE)
    ex = max(examples[:60], key=lambda e: e["answers"][0]["answer_start"])
    opts = {"doc_stride": 16, "max_query_length": 8}
    feats = windows([ex], tok, 64, opts, keep_offsets=True)
    assert len(feats) >= 3 and all(f["length"] <= 64 for f in feats)
    a0 = ex["answers"][0]["answer_start"]
    a1 = a0 + len(ex["answers"][0]["text"])
    labelled = 0
    for f in feats:
        ctx = [o for o in f["offsets"] if o is not None]
        # the question is cut to max_query_length tokens: all but specials and <= 8 tokens are context
        assert len(f["offsets"]) - len(ctx) <= 8 + tok.num_special_tokens_to_add(pair=True)
        holds = ctx[0][0] <= a0 and ctx[-1][1] >= a1
        if holds:
            labelled += 1
            assert 0 < f["start"] <= f["end"]
            assert f["offsets"][f["start"]] is not None and f["offsets"][f["end"]] is not None
            text = span_text(ex["context"], f["offsets"], f["start"], f["end"])
            assert ex["answers"][0]["text"] in text and len(text) < len(ex["answers"][0]["text"]) + 10
        else:
            assert (f["start"], f["end"]) == (0, 0)  # CLS
    assert labelled >= 1 and labelled < len(feats)
    # overlapping windows: each window's context starts before the previous one ends
    spans = [[o for o in f["offsets"] if o is not None] for f in feats]
    assert all(b[0][0] < a[-1][1] for a, b in zip(spans, spans[1:]))


def test_tight_windows_cap_the_overlap(tok):
    # max_length 128 with the default doc_stride 128 would make the tokenizer refuse (overlap >= room)
    ex = {"id": "x", "question": "word " * 100, "context": " ".join(f"w{i}" for i in range(300)),
          "answers": [{"text": "w250", "answer_start": " ".join(f"w{i}" for i in range(300)).index("w250")}]}
    feats = windows([ex], tok, 128, {"doc_stride": 128, "max_query_length": 64})
    assert 2 <= len(feats) < 40 and sum(f["start"] > 0 for f in feats) >= 1


def _zh_feature(tok):
    ex = {"id": "zh", "question": "中国的首都是哪里？", "context": "北京是中华人民共和国的首都，也是文化中心。", "answers": []}
    return ex, windows([ex], tok, 64, {}, keep_offsets=True)[0]


def test_decoding_never_picks_question_or_special_tokens(tok):
    ex, f = _zh_feature(tok)
    n = f["length"]
    start, end = np.zeros(n), np.zeros(n)
    question = [i for i, o in enumerate(f["offsets"]) if o is None]
    start[question] = end[question] = 100.0  # CLS, question and separators score highest
    target = next(i for i, o in enumerate(f["offsets"]) if o and ex["context"][o[0]:o[1]].strip() == "北京")
    start[target] = end[target] = 5.0
    score, s, e = best_span(start, end, f["offsets"], n_best=3, max_answer_length=30)
    assert (s, e) == (target, target) and score == 10.0
    assert span_text(ex["context"], f["offsets"], s, e) == "北京"  # exact original characters, no spaces added


def test_decoding_respects_length_order_and_maps_chinese_text(tok):
    ex, f = _zh_feature(tok)
    ctx = [i for i, o in enumerate(f["offsets"]) if o is not None]
    start, end = np.zeros(f["length"]), np.zeros(f["length"])
    start[ctx[0]], end[ctx[-1]] = 10.0, 10.0  # the best pair is longer than allowed
    start[ctx[2]], end[ctx[3]] = 4.0, 4.0
    end[ctx[1]] = 9.0  # ends before start ctx[2]: invalid with it, valid only with ctx[0]
    _, s, e = best_span(start, end, f["offsets"], n_best=20, max_answer_length=2)
    assert e - s + 1 <= 2 and (s, e) == (ctx[0], ctx[1])
    whole = span_text(ex["context"], f["offsets"], ctx[0], ctx[-1])
    assert whole == ex["context"]  # the full context maps back exactly
    assert best_span(start, end, [None] * f["length"]) is None


def test_predict_takes_the_best_window_of_each_example(data_dir, tok):
    examples = read_squad_json(data_dir / XQUAD_DE)[:5]
    cfg = EvalConfig(batch_size=4, max_length=64, extra={"doc_stride": 16, "max_query_length": 8})

    class Fake(SpanQA):
        def window_logits(self, model, task, features, cfg, pad_id):
            out = []
            for f in features:
                start, end = np.zeros(f["length"]), np.zeros(f["length"])
                ctx = [i for i, o in enumerate(f["offsets"]) if o is not None]
                start[ctx[0]] = end[ctx[0]] = 2.0  # a weak candidate in every window
                if f["start"]:
                    start[f["start"]] += 9.0
                    end[f["end"]] += 9.0
                out.append((start, end))
            return out

    preds = Fake().predict(None, get_task("xquad"), examples, tok, cfg)
    for ex, p in zip(examples, preds):
        assert ex["answers"][0]["text"] in p and p in ex["context"]


def test_scoring_follows_xtreme_rules():
    family = get_format("span_qa")
    ex = [{"id": "a", "answers": [{"text": "Katze", "answer_start": 0}]},
          {"id": "b", "answers": [{"text": "«Hund»", "answer_start": 0}]}]
    preds = ["die Katze", "Hund"]
    xquad = family.score(get_task("xquad"), ex, preds, "de")
    mlqa_de = family.score(get_task("mlqa"), ex, preds, "de")
    assert list(xquad) == ["f1", "exact_match"]  # f1 first: it selects models
    assert xquad["exact_match"] == 0.0  # SQuAD keeps German articles and non-ASCII quotes
    assert mlqa_de["exact_match"] == 1.0 and mlqa_de["f1"] == 1.0  # MLQA drops both
    # XTREME scores MLQA English with MLQA's script too (Unicode punctuation removed)
    assert family.score(get_task("mlqa"), ex[1:], ["Hund"], "en")["exact_match"] == 1.0
    assert family.score(get_task("tydiqa"), ex[1:], ["Hund"], "en")["exact_match"] == 0.0


def test_training_reduces_loss(tiny_model, data_dir, tmp_path):
    model, tokenizer = build_model(str(tiny_model), ["tydiqa"], freeze_embeddings=False)
    src = DataSource(data_dir)
    options = {"tydiqa": {"max_length": 128}}
    train = load_features(src, ["tydiqa"], "train", tokenizer, 128, limit=16, options=options)
    dev = load_features(src, ["tydiqa"], "dev", tokenizer, 128, limit=4, options=options)
    assert len(train.features["tydiqa"]) > 16  # long contexts give several windows
    assert all(f["length"] <= 128 for f in train.features["tydiqa"])
    cfg = TrainConfig(epochs=4, batch_size=8, learning_rate=3e-3, seed=1, patience=None, warmup_ratio=0.0,
                      task_options=options)
    history = train_and_save(model, tokenizer, train, dev, cfg, tmp_path)
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert history["dev_tydiqa"].between(0, 1).all()


def test_predict_score_and_export_end_to_end(tiny_model, data_dir):
    task = get_task("xquad")
    model, tokenizer = build_model(str(tiny_model), ["xquad"])
    examples = DataSource(data_dir).load(task, "test", "de", limit=8)
    family = get_format(task.format)
    cfg = EvalConfig(batch_size=4, max_length=384, extra=task_options(task))
    model.train()
    preds = family.predict(model, task, examples, tokenizer, cfg)
    assert model.training  # restored after evaluation
    assert len(preds) == 8 and all(p and p in ex["context"] for p, ex in zip(preds, examples))
    scores = family.score(task, examples, preds, "de")
    assert list(scores) == ["f1", "exact_match"] and all(0 <= v <= 1 for v in scores.values())
    exported = json.loads(family.export_lines(task, examples, preds))
    assert exported == {ex["qid"]: p for ex, p in zip(examples, preds)}  # the benchmark's own question ids
