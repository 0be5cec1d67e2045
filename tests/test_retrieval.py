"""Retrieval format: readers on the offline bundle, pools, layers, caching, metrics and exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from intertask.data import DataSource, MalformedDataError, MissingDataError
from intertask.formats import EvalConfig, get_format, task_options
from intertask.formats.retrieval import RetrievalContext
from intertask.formats.retrieval.bucc import margin_mine
from intertask.readers import HUB_CONVERTERS, READERS
from intertask.readers.retrieval import read_bucc, read_lareqa, read_mewslix, read_tatoeba, split_mewslix_mentions
from intertask.metrics import tatoeba_accuracy
from intertask.registry import get_task

FORMAT = get_format("retrieval")


def _cfg(task_name: str, **options) -> EvalConfig:
    opts = task_options(get_task(task_name), options)
    return EvalConfig(batch_size=32, max_length=int(opts["max_length"]), device="cpu", extra=opts)


@pytest.fixture(scope="module")
def tiny(tiny_model):
    from intertask.models import load_checkpoint

    return load_checkpoint(str(tiny_model), [get_task("tatoeba")])


@pytest.fixture(scope="module")
def source(data_dir) -> DataSource:
    return DataSource(data_dir, "local")


class CountingModel:
    """Counts forward passes and texts of the wrapped EncoderWithHeads (everything else is delegated)."""

    def __init__(self, model):
        self.model, self.calls, self.rows = model, 0, 0

    def all_hidden(self, ids, mask):
        self.calls += 1
        self.rows += len(ids)
        return self.model.all_hidden(ids, mask)

    def __getattr__(self, name):
        return getattr(self.model, name)


# ---------------------------------------------------------------------------------------------
# readers


def test_registered():
    assert get_format("retrieval").trainable is False
    for name in ("tatoeba", "bucc", "lareqa", "mewslix"):
        assert name in READERS and f"{name}_hub" in HUB_CONVERTERS
    assert HUB_CONVERTERS["tatoeba_hub"]({"source_sentence": "Hallo", "target_sentence": "Hello"}) == \
        {"text": "Hallo", "target": "Hello", "label": 0}
    with pytest.raises(MissingDataError, match="candidate pool"):
        HUB_CONVERTERS["lareqa_hub"]({})


def test_tatoeba_reader_real(source, data_dir):
    examples = source.load(get_task("tatoeba"), "test", "de")
    assert len(examples) == 1000 and len({ex["id"] for ex in examples}) == 1000
    folder = data_dir / "xtreme" / "tatoeba"
    deu = (folder / "tatoeba.deu-eng.deu").read_text(encoding="utf-8").split("\n")
    eng = (folder / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").split("\n")
    assert (examples[0]["text"], examples[0]["target"]) == (deu[0], eng[0])
    assert (examples[999]["text"], examples[999]["target"]) == (deu[999], eng[999])
    assert examples[0]["lang"] == "de"


def test_tatoeba_mismatched_lines(tmp_path):
    (tmp_path / "tatoeba.xxx-eng.xxx").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "tatoeba.xxx-eng.eng").write_text("A\nB\n", encoding="utf-8")
    with pytest.raises(MalformedDataError) as err:
        read_tatoeba(tmp_path / "tatoeba.xxx-eng.xxx")
    msg = str(err.value)
    assert "tatoeba.xxx-eng.xxx has 3 lines" in msg and "tatoeba.xxx-eng.eng has 2" in msg
    (tmp_path / "tatoeba.yyy-eng.yyy").write_text("a\n", encoding="utf-8")
    with pytest.raises(MissingDataError, match="tatoeba.yyy-eng.eng"):
        read_tatoeba(tmp_path / "tatoeba.yyy-eng.yyy")


def test_bucc_reader_real(source, data_dir):
    examples = source.load(get_task("bucc"), "test", "zh")
    folder = data_dir / "xtreme" / "bucc2018"
    assert len(examples) == 8624 and examples[0]["id"] == "zh-000000001"
    gold_lines = [l.split("\t") for l in (folder / "zh-en.dev.gold").read_text().split("\n") if l]
    assert sum(len(ex["gold"]) for ex in examples) == len(gold_lines) == 257
    by_id = {ex["id"]: ex for ex in examples}
    src, tgt = gold_lines[0]
    assert tgt in by_id[src]["gold"]
    en_ids = {l.split("\t")[0] for l in (folder / "zh-en.dev.en").read_text(encoding="utf-8").split("\n") if l}
    assert all(t in en_ids for ex in examples for t in ex["gold"])
    assert Path(examples[0]["pool_file"]) == folder / "zh-en.dev.en"


def test_bucc_reader_bad_gold(tmp_path):
    (tmp_path / "de-en.dev.de").write_text("de-1\tHallo\n", encoding="utf-8")
    (tmp_path / "de-en.dev.en").write_text("en-1\tHello\n", encoding="utf-8")
    (tmp_path / "de-en.dev.gold").write_text("de-1\ten-9\n", encoding="utf-8")
    with pytest.raises(MalformedDataError, match="de-en.dev.gold:1"):
        read_bucc(tmp_path / "de-en.dev.de")


def test_lareqa_reader_real(data_dir):
    path = data_dir / "xtreme" / "lareqa" / "xquad-r" / "de.json"
    questions = read_lareqa(path)
    assert len(questions) == 1190
    q = questions[0]
    assert q["id"] == "56beb4343aeaaa14008c925b" and q["answers"] == ["de_1_0"] and q["paragraph"] == 1
    par = json.loads(path.read_text(encoding="utf-8"))["data"][0]["paragraphs"][0]
    answer = par["qas"][0]["answers"][0]
    assert answer["text"] in par["sentences"][0]


# ---------------------------------------------------------------------------------------------
# representations, layers, caching (tiny random model: fast; values are meaningless)


def test_layers_and_all_layers(source, tiny):
    model, tok = tiny
    task = get_task("tatoeba")
    examples = source.load(task, "test", "de", limit=30)
    last = FORMAT.predict(model, task, examples, tok, cfg_last := _cfg("tatoeba"))
    first = FORMAT.predict(model, task, examples, tok, _cfg("tatoeba", layer=1))
    counted = CountingModel(model)
    every = FORMAT.predict(counted, task, examples, tok, cfg_all := _cfg("tatoeba", all_layers=True))
    # all layers come from the same passes: one forward per batch, not one per layer
    assert counted.calls == 2 * -(-30 // 32) and counted.rows == len({ex["text"] for ex in examples}) + \
        len({ex["target"] for ex in examples})
    assert sorted(every[0]["by_layer"]) == [0, 1, 2]
    assert [p["by_layer"][2] for p in every] == [p["by_layer"][2] for p in last]
    assert [p["by_layer"][1] for p in every] == [p["by_layer"][1] for p in first]
    v_last = cfg_last.extra["context"].vectors[examples[0]["text"]]
    v_all = cfg_all.extra["context"].vectors[examples[0]["text"]]
    assert v_last.shape == (1, 32) and v_all.shape == (3, 32)
    np.testing.assert_allclose(v_all[-1], v_last[0], atol=1e-5)
    scores = FORMAT.score(task, examples, every, "de")
    assert list(scores)[:2] == ["accuracy", "accuracy@layer0"] and len(scores) == 4
    assert scores["accuracy"] == scores["accuracy@layer2"]
    with pytest.raises(ValueError, match="has 2 layers"):
        FORMAT.predict(model, task, examples, tok, _cfg("tatoeba", layer=3))


def test_tatoeba_matches_metric_and_direction(source, tiny):
    model, tok = tiny
    task = get_task("tatoeba")
    examples = source.load(task, "test", "de", limit=40)
    cfg = _cfg("tatoeba")
    preds = FORMAT.predict(model, task, examples, tok, cfg)
    ctx: RetrievalContext = cfg.extra["context"]
    x = ctx.embed(model, tok, [ex["text"] for ex in examples])[:, 0]
    en = ctx.embed(model, tok, [ex["target"] for ex in examples])[:, 0]
    # XTREME indexes the non-English side and queries it with the English sentences
    assert FORMAT.score(task, examples, preds, "de")["accuracy"] == pytest.approx(tatoeba_accuracy(en @ x.T))
    other = FORMAT.predict(model, task, examples, tok, _cfg("tatoeba", direction="x->en"))
    assert FORMAT.score(task, examples, other, "de")["accuracy"] == pytest.approx(tatoeba_accuracy(x @ en.T))
    lines = FORMAT.export_lines(task, examples, preds)
    assert len(lines) == 40 and all(0 <= int(l) < 40 for l in lines)


def test_english_side_encoded_once_across_languages(source, tiny):
    model, tok = tiny
    task = get_task("tatoeba")
    counted = CountingModel(model)
    cfg = _cfg("tatoeba")
    cfg.extra["context"] = FORMAT.prepare(counted, task, source, ["de", "fr"], 50, tok, cfg)
    de, fr = (source.load(task, "test", lang, limit=50) for lang in ("de", "fr"))
    FORMAT.predict(counted, task, de, tok, cfg)
    after_de = counted.rows
    FORMAT.predict(counted, task, fr, tok, cfg)
    new_texts = {ex["text"] for ex in fr} | {ex["target"] for ex in fr}
    known = {ex["text"] for ex in de} | {ex["target"] for ex in de}
    assert new_texts & known  # these files share English sentences
    assert counted.rows - after_de == len(new_texts - known)
    FORMAT.predict(counted, task, de, tok, cfg)  # a second look costs nothing
    assert counted.rows - after_de == len(new_texts - known)


def test_disk_cache(source, tiny, tmp_path):
    model, tok = tiny
    task = get_task("tatoeba")
    examples = source.load(task, "test", "de", limit=10)
    first = CountingModel(model)
    a = FORMAT.predict(first, task, examples, tok, _cfg("tatoeba", cache_dir=str(tmp_path)))
    assert first.rows > 0 and list(tmp_path.glob("*.npy"))
    again = CountingModel(model)
    b = FORMAT.predict(again, task, examples, tok, _cfg("tatoeba", cache_dir=str(tmp_path)))
    assert again.rows == 0 and a == b


# ---------------------------------------------------------------------------------------------
# BUCC mining


def test_margin_mine_recovers_pairs():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(12, 16)).astype(np.float32)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    x = y[[3, 0, 7]] + 0.05 * rng.normal(size=(3, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    mined = margin_mine(x, y)
    assert {(i, j) for i, j, _ in mined[:3]} == {(0, 3), (1, 0), (2, 7)}
    assert len({i for i, _, _ in mined}) == len(mined) and len({j for _, j, _ in mined}) == len(mined)


def test_bucc_predict_score_export(source, tiny):
    model, tok = tiny
    task = get_task("bucc")
    cfg = _cfg("bucc", all_layers=True)
    cfg.extra["context"] = FORMAT.prepare(model, task, source, ["zh"], 200, tok, cfg)
    examples = source.load(task, "test", "zh", limit=200)
    preds = FORMAT.predict(model, task, examples, tok, cfg)
    ctx: RetrievalContext = cfg.extra["context"]
    # the limited pool: the first 200 English sentences plus the gold partners of these sources
    gold = {t for ex in examples for t in ex["gold"]}
    assert gold and ctx.encoded <= 200 + 200 + len(gold)
    scores = FORMAT.score(task, examples, preds, "zh")
    assert list(scores)[:4] == ["f1", "precision", "recall", "threshold"]
    assert scores["f1"] == scores["f1@layer2"] and "f1@layer0" in scores
    mined = [p["by_layer"][2] for p in preds if p["by_layer"][2]]
    assert len({m[0] for m in mined}) == len(mined)  # one-to-one
    lines = FORMAT.export_lines(task, examples, preds)
    assert all(l.startswith("zh-") and "\ten-" in l for l in lines)
    assert len(lines) == sum(1 for m in mined if m[1] >= scores["threshold"])


# ---------------------------------------------------------------------------------------------
# LAReQA


def test_lareqa_pool_across_languages(source, tiny):
    model, tok = tiny
    task = get_task("lareqa")
    cfg = _cfg("lareqa")
    cfg.extra["context"] = ctx = FORMAT.prepare(model, task, source, ["de", "en"], 20, tok, cfg)
    pool = ctx.pools["lareqa"]
    assert {c.split("_")[0] for c in pool["ids"]} == {"de", "en"}
    de = source.load(task, "test", "de", limit=20)
    paragraphs = {ex["paragraph"] for ex in de}
    assert all(int(c.split("_")[1]) in paragraphs for c in pool["ids"])
    # a question's relevant answers: its answer sentence in every language of the pool
    rel = pool["relevant"][de[0]["id"]]
    assert {"de_1_0", "en_1_0"} <= rel and {r.split("_")[0] for r in rel} == {"de", "en"}
    before = ctx.encoded
    preds = FORMAT.predict(model, task, de, tok, cfg)
    assert ctx.encoded - before == len({ex["text"] for ex in de})  # the pool was encoded in prepare
    assert all(len(p["by_layer"][2]) == 20 and set(p["by_layer"][2]) <= set(pool["ids"]) for p in preds)
    scores = FORMAT.score(task, de, preds, "de")
    assert list(scores) == ["map@20"] and 0.0 <= scores["map@20"] <= 1.0
    exported = json.loads(FORMAT.export_lines(task, de, preds))
    assert list(exported) == [ex["id"] for ex in de] and exported[de[0]["id"]] == preds[0]["by_layer"][2]


# ---------------------------------------------------------------------------------------------
# Mewsli-X: absent offline


def test_mewslix_missing_message(data_dir, source, tiny):
    task = get_task("mewslix")
    assert not source.available(task, "test", "de")
    assert not DataSource(data_dir, "auto").available(task, "test", "de")
    expected = data_dir / "xtreme" / "mewslix" / "wikinews_mentions-de.jsonl"
    with pytest.raises(MissingDataError) as err:
        READERS["mewslix"](expected)
    assert "download_mewslix_data.sh" in str(err.value) and "split_mewslix_mentions" in str(err.value)
    model, tok = tiny
    with pytest.raises(MissingDataError, match="download_mewslix_data.sh"):
        FORMAT.prepare(model, task, source, ["de"], 10, tok, _cfg("mewslix"))


def _mention(example_id: str, lang: str, text: str, surface: str, entity: str) -> dict:
    start = text.index(surface)
    return {"context": {"document_title": "t", "document_url": "u", "document_id": "d", "language": lang,
                        "text": text, "sentence_spans": [{"start": 0, "end": len(text)}]},
            "mention": {"example_id": example_id, "entity_id": entity,
                        "mention_span": {"start": start, "end": start + len(surface), "text": surface}}}


def test_mewslix_layout(tmp_path, tiny):
    """The XTREME-R file schema (a hand-made sample: the real data is not in the offline bundle)."""
    mentions = [_mention("de-1", "de", "Angela Merkel besuchte {Paris}.", "Angela Merkel", "Q567"),
                _mention("de-2", "de", "Paris ist groß.", "Paris", "Q90"),
                _mention("en-1", "en", "Merkel spoke.", "Merkel", "Q567")]
    (tmp_path / "wikinews_mentions-test.jsonl").write_text("\n".join(json.dumps(m) for m in mentions) + "\n")
    entities = [{"entity_id": q, "title": t, "description": d, "description_language": "en",
                 "description_url": "u", "sentence_spans": [{"start": 0, "end": len(d)}]}
                for q, t, d in (("Q567", "Angela Merkel", "Angela Merkel is a German politician."),
                                ("Q90", "Paris", "Paris is the capital of France."),
                                ("Q1", "Universe", "The universe is everything."))]
    (tmp_path / "candidate_set_entities.jsonl").write_text("\n".join(json.dumps(e) for e in entities) + "\n")
    assert split_mewslix_mentions(tmp_path) == {"de": 2, "en": 1}
    examples = read_mewslix(tmp_path / "wikinews_mentions-de.jsonl")
    assert [ex["id"] for ex in examples] == ["de-1", "de-2"] and examples[0]["gold"] == ["Q567"]
    assert examples[0]["text"] == "Angela Merkel: { Angela Merkel } besuchte (Paris)."
    model, tok = tiny
    task = get_task("mewslix")
    preds = FORMAT.predict(model, task, examples, tok, _cfg("mewslix"))
    assert all(sorted(p["by_layer"][2]) == ["Q1", "Q567", "Q90"] for p in preds)
    assert 1 / 3 <= FORMAT.score(task, examples, preds, "de")["map@20"] <= 1.0
    assert set(json.loads(FORMAT.export_lines(task, examples, preds))) == {"de-1", "de-2"}


# ---------------------------------------------------------------------------------------------
# the real model: a signal


def test_e5_tatoeba_through_pipeline(data_dir, source, tmp_path):
    from intertask.offline_model import ensure_offline_model
    from intertask.stages import evaluate_zero_shot

    frame = evaluate_zero_shot(ensure_offline_model(), "tatoeba", ["de"], source, 50, 32, 128,
                               {"study": "test"}, tmp_path)
    acc = frame.set_index("metric")["value"]["accuracy"]
    assert acc > 0.5, f"e5 retrieves only {acc:.2f} of 50 de-en pairs"
    lines = (tmp_path / "predictions" / "tatoeba" / "test-de.tsv").read_text().split()
    assert len(lines) == 50 and sum(int(l) == i for i, l in enumerate(lines)) / 50 == pytest.approx(acc)
