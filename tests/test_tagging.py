"""Tagging family (UD-POS, PAN-X): reader, first-sub-word labels, windows, training, prediction, scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from intertask.data import DataSource, MalformedDataError, assert_no_leakage
from intertask.formats import EvalConfig, get_format
from intertask.formats.tagging import IGNORE, windows
from intertask.metrics import SCORERS, io_span_scores, pos_scores, span_scores
from intertask.readers import HUB_CONVERTERS, READERS
from intertask.readers.conll import PANX_HUB_LABELS, UPOS, read_conll_tsv
from intertask.stages import build_model, load_features, train_and_save
from intertask.registry import get_task
from intertask.tasks import HubSource, Task
from intertask.train import TrainConfig

FORMAT = get_format("tagging")


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def panx_model(tiny_model):
    model, _ = build_model(str(tiny_model), ["panx", "udpos"])
    return model


def read_tag(text: str) -> list[list[str]]:
    """XTREME evaluate.py's read_tag, re-stated: blank lines separate sentences of one tag per line."""
    out, cur = [], []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line.strip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def write(tmp_path: Path, text: str, name: str = "f.tsv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


# ---------------------------------------------------------------------------------------------
# reading


def test_registered():
    assert READERS["conll_tsv"] is read_conll_tsv and "tagging_hub" in HUB_CONVERTERS
    assert FORMAT.name == "tagging"


def test_reader_on_real_files(data_dir):
    mr = read_conll_tsv(data_dir / "xtreme" / "udpos" / "dev-mr.tsv")
    assert len(mr) == 46 and sum(len(e["tokens"]) for e in mr) == 400
    assert [e["id"] for e in mr[:3]] == ["dev-mr:0", "dev-mr:1", "dev-mr:2"]  # unique across splits
    assert mr[0]["tokens"][:3] == ["थापा", "मार", "!"] and mr[0]["tags"][:3] == ["NOUN", "VERB", "PUNCT"]
    assert mr[0]["source"].endswith("dev-mr.tsv:1")
    assert all(len(e["tokens"]) == len(e["tags"]) > 0 for e in mr)
    assert {t for e in mr for t in e["tags"]} <= set(UPOS)
    sw = read_conll_tsv(data_dir / "xtreme" / "panx" / "test-sw.tsv")
    assert len(sw) == 1000 and sum(len(e["tokens"]) for e in sw) == 5786
    assert {t for e in sw for t in e["tags"]} == set(get_task("panx").labels)


def test_language_prefix_stripped_only_when_every_token_has_it(tmp_path):
    prefixed = read_conll_tsv(write(tmp_path, "en:Paris\tB-LOC\nen:is\tO\n\nen:bar:24\tO\n"))
    assert [e["tokens"] for e in prefixed] == [["Paris", "is"], ["bar:24"]]
    # PAN-X en has real tokens like "bar:24": a partly "prefixed" file is left alone
    mixed = read_conll_tsv(write(tmp_path, "bar:24\tO\nParis\tB-LOC\n", "m.tsv"))
    assert mixed[0]["tokens"] == ["bar:24", "Paris"]


def test_reader_keeps_odd_tokens_and_tolerates_crlf_and_extra_blank_lines(tmp_path):
    ex = read_conll_tsv(write(tmp_path, "\u3000\tO\r\nBerlin\tB-LOC \r\n\r\n\r\n\nx\tO\n\n"))
    assert [e["tokens"] for e in ex] == [["\u3000", "Berlin"], ["x"]]
    assert ex[0]["tags"] == ["O", "B-LOC"] and ex[1]["source"].endswith(":6")


@pytest.mark.parametrize("text,line,match", [
    ("a\tO\nb O\n", 2, "expected 'token<TAB>tag'"),
    ("a\tO\n\nb\tO\tX\n", 3, "3 tab-separated"),
    ("a\tO\nb\t \n", 2, "empty tag"),
    ("a\tO\n \t\n", 2, "empty tag"),
    ("a\tO\n\nb\tB-P", 3, "truncated"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, match):
    p = write(tmp_path, text)
    with pytest.raises(MalformedDataError, match=match) as e:
        read_conll_tsv(p)
    assert f"{p}:{line}:" in str(e.value)


def test_invalid_utf8_names_line(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_bytes(b"a\tO\n\xff\tO\n")
    with pytest.raises(MalformedDataError, match=f"{p}:2:"):
        read_conll_tsv(p)


def test_empty_file_reads_as_no_sentences_and_is_an_error_as_a_split(tmp_path):
    assert read_conll_tsv(write(tmp_path, "")) == [] and read_conll_tsv(write(tmp_path, "\n\n", "b.tsv")) == []
    folder = tmp_path / "data" / "xtreme" / "panx"
    folder.mkdir(parents=True)
    (folder / "train-en.tsv").write_text("")
    with pytest.raises(MalformedDataError, match="no examples"):
        DataSource(tmp_path / "data", "local").load(get_task("panx"), "train")


def test_hub_converter_maps_class_label_ints():
    assert PANX_HUB_LABELS == get_task("panx").labels
    conv = HUB_CONVERTERS["tagging_hub"]
    assert conv({"tokens": ["Hans", "lebt"], "ner_tags": [1, 0], "langs": ["de", "de"]}) == \
        {"tokens": ["Hans", "lebt"], "tags": ["B-PER", "O"]}
    assert conv({"tokens": ["I", "run"], "pos_tags": [10, 15]})["tags"] == ["PRON", "VERB"]
    assert conv({"tokens": ["I"], "pos_tags": ["PRON"]})["tags"] == ["PRON"]
    assert conv({"tokens": [], "ner_tags": []}) is None
    with pytest.raises(MalformedDataError, match="2 tokens but 1 tags"):
        conv({"tokens": ["a", "b"], "ner_tags": [0]})


# ---------------------------------------------------------------------------------------------
# features


def test_first_subword_labelling(tok):
    task = get_task("panx")
    words = ["Die", "Abgeordnetenhauses", "von", "Berlin"]
    ex = {"id": "s", "tokens": words, "tags": ["O", "B-ORG", "I-ORG", "I-ORG"]}
    (f,) = FORMAT.featurize(task, [ex], tok, 64)
    alone = [tok([[w]], is_split_into_words=True, add_special_tokens=False)["input_ids"][0] for w in words]
    assert len(alone[1]) >= 3  # the test needs a word that splits into several pieces
    assert f["input_ids"] == [tok.cls_token_id] + [i for a in alone for i in a] + [tok.sep_token_id]
    expected = [IGNORE]
    for piece_ids, tag in zip(alone, ex["tags"]):
        expected += [task.labels.index(tag)] + [IGNORE] * (len(piece_ids) - 1)
    assert f["labels"] == expected + [IGNORE]
    assert f["words"] == [0, 1, 2, 3] and f["window"] == 0 and f["length"] == len(f["input_ids"])
    assert [f["input_ids"][s] for s in f["starts"]] == [a[0] for a in alone]


def test_words_without_subwords_get_the_unknown_token(tok):
    words = ["Hallo", "\x7f", "", "Welt"]  # XLM-R's normalizer deletes U+007F: zero pieces
    assert tok([["\x7f"]], is_split_into_words=True, add_special_tokens=False)["input_ids"][0] == []
    ex = {"id": "z", "tokens": words, "tags": ["O", "O", "B-LOC", "O"]}
    (f,) = FORMAT.featurize(get_task("panx"), [ex], tok, 32)
    assert len(f["starts"]) == 4
    assert [f["input_ids"][s] for s in f["starts"][1:3]] == [tok.unk_token_id] * 2
    assert [f["labels"][s] for s in f["starts"]] == [0, 0, 5, 0]


def test_unknown_tag_names_sentence_and_file(tmp_path, tok):
    p = write(tmp_path, "a\tO\n\nBerlin\tB-MISC\n")
    with pytest.raises(MalformedDataError, match=r"sentence 'f:1' \(.*f\.tsv:3\).*B-MISC"):
        FORMAT.featurize(get_task("panx"), read_conll_tsv(p), tok, 32)
    with pytest.raises(MalformedDataError, match="NOUNS"):
        FORMAT.score(get_task("udpos"), [{"id": "0", "tokens": ["x"], "tags": ["NOUNS"]}], [["NOUN"]], "en")


def test_windows_cover_every_word_once():
    assert windows([[1], [2, 3], [4], [5, 6, 7]], 3) == [(0, 2), (2, 3), (3, 4)]
    assert windows([[1] * 10, [2]], 4) == [(0, 1), (1, 2)]  # an over-long word fills a window alone
    assert windows([], 4) == []


def test_long_sentence_round_trips_one_prediction_per_word(tok, panx_model):
    task = get_task("panx")
    words = [("Abgeordnetenhauses" if i % 7 == 0 else f"w{i}") for i in range(300)] + ["x" * 200]
    ex = {"id": "long", "tokens": words, "tags": ["O"] * len(words)}
    feats = FORMAT.featurize(task, [ex], tok, 32)
    assert len(feats) > 10 and all(f["length"] <= 32 for f in feats)
    assert [f["window"] for f in feats] == list(range(len(feats)))
    assert sorted(w for f in feats for w in f["words"]) == list(range(len(words)))
    assert all(sum(lab != IGNORE for lab in f["labels"]) == len(f["words"]) for f in feats)
    short = {"id": "short", "tokens": ["Berlin"], "tags": ["B-LOC"]}
    preds = FORMAT.predict(panx_model, task, [ex, short], tok, EvalConfig(batch_size=4, max_length=32))
    assert [len(p) for p in preds] == [len(words), 1]
    assert all(t in task.labels for p in preds for t in p)


# ---------------------------------------------------------------------------------------------
# head, training, prediction, scores


def test_loss_ignores_unlabelled_positions(tok, panx_model):
    task = get_task("panx")
    ex = [{"id": "0", "tokens": ["Hans", "Abgeordnetenhauses"], "tags": ["B-PER", "O"]},
          {"id": "1", "tokens": ["x"], "tags": ["O"]}]
    batch = FORMAT.collate(FORMAT.featurize(task, ex, tok, 32), tok.pad_token_id)
    assert batch["labels"].shape == batch["input_ids"].shape
    assert int((batch["labels"] != IGNORE).sum()) == 3
    out = FORMAT.forward(panx_model, task, batch)
    assert out.shape == (*batch["input_ids"].shape, len(task.labels))
    loss = FORMAT.loss(out, batch)
    assert torch.isfinite(loss) and loss.item() > 0
    assert FORMAT.loss(out, {**batch, "labels": torch.full_like(batch["labels"], IGNORE)}).item() == 0.0


def test_training_reduces_loss_then_predict_and_score(tiny_model, data_dir, tmp_path):
    # frozen embeddings: the 250k-row embedding dominates a step of the tiny model on CPU
    model, tokenizer = build_model(str(tiny_model), ["panx"], freeze_embeddings=True)
    src = DataSource(data_dir)
    train = load_features(src, ["panx"], "train", tokenizer, 64, limit=32)
    dev = load_features(src, ["panx"], "dev", tokenizer, 64, limit=8)
    cfg = TrainConfig(epochs=8, batch_size=8, learning_rate=2e-2, seed=1, patience=None, warmup_ratio=0.0)
    history = train_and_save(model, tokenizer, train, dev, cfg, tmp_path)
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert history["dev_panx"].between(0, 1).all()  # dev scoring went through predict + score

    task = get_task("panx")
    test = src.load(task, "test", "de", limit=16)
    assert_no_leakage(train.ids["panx"] + dev.ids["panx"], [ex["id"] for ex in test])  # ids are per file
    model.train()
    preds = FORMAT.predict(model, task, test, tokenizer, EvalConfig(batch_size=8, max_length=64))
    assert model.training  # predict restores the mode it found
    assert [len(p) for p in preds] == [len(ex["tokens"]) for ex in test]
    scores = FORMAT.score(task, test, preds, "de")
    assert list(scores)[0] == "f1" and set(scores) == {"f1", "precision", "recall"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    lines = FORMAT.export_lines(task, test, preds)
    assert read_tag("\n".join(lines) + "\n") == preds  # what XTREME's evaluate.py reads back


def test_udpos_predict_and_scores(data_dir, tok, panx_model):
    task = get_task("udpos")
    assert task.labels is None and panx_model.heads["udpos"][1].out_features == len(UPOS)
    examples = DataSource(data_dir).load(task, "test", "tr", limit=8)
    preds = FORMAT.predict(panx_model, task, examples, tok, EvalConfig(batch_size=4, max_length=64))
    scores = FORMAT.score(task, examples, preds, "tr")
    assert list(scores)[0] == "f1" and {"f1", "accuracy"} <= set(scores)
    assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_udpos_scores_by_hand():
    task = get_task("udpos")
    gold = [{"id": "0", "tokens": list("abcd"), "tags": ["DET", "NOUN", "VERB", "PUNCT"]}]
    s = FORMAT.score(task, gold, [["DET", "NOUN", "NOUN", "PUNCT"]], "en")
    assert s["accuracy"] == pytest.approx(0.75)
    # seqeval reads NOUN VERB as two chunks; NOUN NOUN is one chunk spanning both -> 2 of 4 gold, 2 of 3 pred
    assert s["f1"] == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    perfect = FORMAT.score(task, gold, [gold[0]["tags"]], "en")
    assert perfect["f1"] == 1.0 and perfect["accuracy"] == 1.0


def test_each_tagging_task_declares_its_scorer_in_the_metric_table():
    """The scorer is the entry's data (no branching on names): BIO -> span F1, UPOS -> pos, plain tags -> IO spans."""
    assert get_task("panx").scorer == "span_f1" and get_task("udpos").scorer == "pos"
    assert get_task("polish-ner").scorer == "io_span_f1" and get_task("udpos-de").scorer == "pos"
    assert SCORERS["span_f1"] is span_scores and SCORERS["pos"] is pos_scores and SCORERS["io_span_f1"] is io_span_scores
    gold, pred = [["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]
    mine = Task(name="my_ner", format="tagging", scorer="span_f1", languages=("en",), metric="f1",
                labels=("O", "B-PER", "I-PER"), hub=HubSource(path="x/y", converter="tagging_hub"))
    ex = [{"id": "0", "tokens": ["a", "b", "c"], "tags": gold[0]}]
    assert FORMAT.score(mine, ex, pred, "en") == span_scores(gold, pred)
    # plain tags: a run of one tag is one span; gold has 2 spans, the prediction finds 1 of its 2
    s = io_span_scores([["nam_loc", "nam_loc", "O", "state"]], [["nam_loc", "nam_loc", "state", "state"]])
    assert (s["precision"], s["recall"], s["accuracy"]) == (0.5, 0.5, 0.75)


def test_export_format():
    lines = FORMAT.export_lines(get_task("panx"), [{}, {}], [["B-PER", "I-PER"], ["O"]])
    assert "\n".join(lines) + "\n" == "B-PER\nI-PER\n\nO\n"
