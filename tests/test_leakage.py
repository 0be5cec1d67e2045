"""No content leakage and no target data through the back door (issue 7, parts 1-2).

Hand-made cases for fingerprints, content groups, partitions and provenance; the real offline data
for every target and language of the shipped study files; a tiny encoder for the evaluation guard.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from intertask.audit import AuditCache, audit_study
from intertask.data import DataSource
from intertask.leakage import (CONTENT_FIELDS, GUARD_FILE, PROVENANCE, ContentGuard, content_groups, content_keys,
                               drop_protected_contexts, fingerprint, load_guard, normalize, partition_by_content,
                               partition_groups, target_clashes, target_in_pool)
from intertask.study import ParamsError, expand, load_params
from intertask.registry import REGISTRY, get_task
from intertask.tasks import FORMATS

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# fingerprints


def test_normalization_ignores_width_case_punctuation_and_spacing():
    assert normalize("Ｈｅｌｌｏ,  WORLD!") == "hello world"  # NFKC folds full-width forms
    assert fingerprint("The man , who left.") == fingerprint("the man who left")
    assert fingerprint("Straße") == fingerprint("STRASSE")  # casefold, not lower
    assert fingerprint("the man who left") != fingerprint("the man who stayed")
    assert fingerprint(" ?! ") is None and fingerprint("") is None


def test_every_format_declares_its_content_fields():
    assert set(CONTENT_FIELDS) == set(FORMATS)
    pair = {"text_a": "A premise.", "text_b": "A hypothesis."}
    assert len(content_keys(pair, "classification")) == 2
    # COPA's constant question is never a key on its own: it would join every item
    copa = [{"context": f"Premise {i}.", "question": "What was the cause?", "choices": [f"a{i}", f"b{i}"]}
            for i in range(3)]
    assert len({k for ex in copa for k in content_keys(ex, "multiple_choice")}) == 6
    assert content_keys({"context": "", "question": "Q?", "choices": ["x", "y"]}, "multiple_choice") == \
        [fingerprint("Q? x y")]
    with pytest.raises(ValueError, match="format 'nli' declares no content fields"):
        content_keys(pair, "nli")


# ---------------------------------------------------------------------------------------------
# content groups and partitions


def test_groups_join_shared_premises_and_chains_of_shared_sentences():
    xnli = [{"id": str(i), "text_a": p, "text_b": f"h{i}"} for i, p in enumerate(["P one.", "p ONE", "P two.", "P one"])]
    g = content_groups(xnli, "classification")
    assert g[0] == g[1] == g[3] != g[2]
    # PAWS-X: (a, b), (b, c) and (c, d) are one component; (e, f) another
    paws = [{"id": str(i), "text_a": a, "text_b": b} for i, (a, b) in enumerate([("a", "b"), ("c", "b"), ("c", "d"),
                                                                                ("e", "f")])]
    g = content_groups(paws, "classification")
    assert g[0] == g[1] == g[2] != g[3]


def test_partition_keeps_groups_whole_and_is_fixed():
    ids = [str(i) for i in range(300)]
    groups = [i // 3 for i in range(300)]  # 100 premises x 3 hypotheses, as XNLI
    a = partition_groups(ids, groups, (0.5, 0.1, 0.4))
    assert a == partition_groups(ids, groups, (0.5, 0.1, 0.4))
    assert [len(a[k]) for k in ("train", "dev", "test")] == [150, 30, 120]
    where = {i: part for part, members in a.items() for i in members}
    for g in range(100):
        assert len({where[str(3 * g + k)] for k in range(3)}) == 1
    # parts are shuffled after grouping: a prefix is not three hypotheses of one premise in a row
    assert len({int(i) // 3 for i in a["test"][:30]}) > 20
    assert a != partition_groups(ids, groups, (0.5, 0.1, 0.4), seed=1)
    with pytest.raises(ValueError, match="sum to 1"):
        partition_groups(ids, groups, (0.5, 0.1, 0.1))


@pytest.mark.parametrize("name", ["xnli", "pawsx", "tydiqa"])
def test_real_partitions_share_no_content(data_dir, name):
    """XNLI by premise, PAWS-X by components of shared sentences, TyDiQA en by paragraph."""
    task = get_task(name)
    src = DataSource(data_dir, "local")
    parts = {s: src.load(task, s) for s in ("train", "dev", "test")}
    keys = {s: {k for ex in exs for k in content_keys(ex, task.format)} for s, exs in parts.items()}
    assert not keys["train"] & keys["test"] and not keys["dev"] & keys["test"] and not keys["train"] & keys["dev"]
    everything = [ex for exs in parts.values() for ex in exs]
    assert len({ex["id"] for ex in everything}) == len(everything)
    # the loader's partition is `partition_by_content` of the training language's file
    again = partition_by_content(sorted(everything, key=lambda ex: ex["id"]), task.format, task.id_split)
    assert {len(v) for v in again.values()} == {len(v) for v in parts.values()} or name == "tydiqa"


def test_parallel_partition_is_the_english_one_in_every_language(data_dir):
    src = DataSource(data_dir, "local")
    task = get_task("xnli")
    en = [ex["id"] for ex in src.load(task, "test", "en")]
    assert [ex["id"] for ex in src.load(task, "test", "sw")] == en


# ---------------------------------------------------------------------------------------------
# real data, every target and language, at the budgets of the shipped study files


@pytest.fixture(scope="module")
def audits(data_dir) -> pd.DataFrame:
    frames, source = [], DataSource(data_dir, "local")
    cache = AuditCache(source)  # the studies share files: read and fingerprint each once
    for path in sorted((ROOT / "params").glob("*.yaml")):
        frame = audit_study(load_params(path), source, cache)
        frames.append(frame.assign(study=path.stem))
    return pd.concat(frames, ignore_index=True)


def test_no_evaluated_item_was_trained_on_by_id_or_content(audits):
    assert audits["id_overlap"].sum() == 0
    # a partition made here (XNLI, PAWS-X, TyDiQA en: "-subset") shares no content at all
    ours = audits[audits["split"].str.endswith("-subset")]
    assert len(ours) and ours["content_overlap"].sum() == 0, ours[ours["content_overlap"] > 0]
    # a benchmark's own split may repeat a sentence of its training file (PAN-X en: "It is found in Peru ."):
    # the guard leaves those out of scoring, so what is scored has no overlap either
    assert (audits["scored"] == audits["evaluated"] - audits["content_overlap"]).all()
    official = audits[~audits["split"].str.endswith("-subset")]
    assert (official["scored"] > 0.95 * official["evaluated"]).all()  # PAN-X en: 324 of 10,000 repeat training text


OFFLINE_TARGETS = ("xnli", "pawsx", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba", "bucc", "lareqa")


@pytest.mark.parametrize("name", OFFLINE_TARGETS)  # mewslix is not in the offline bundle
def test_the_audit_covers_every_offline_target_and_language(audits, data_dir, name):
    task = get_task(name)
    langs = {lg for lg in task.languages if DataSource(data_dir, "local").available(task, "test", lg)}
    assert langs and langs <= set(audits.loc[audits["target_task"] == name, "language"])


def test_split_labels_say_what_was_evaluated(audits):
    labels = audits.groupby("target_task")["split"].agg(lambda s: set(s))
    assert labels["xnli"] == {"dev-subset"} and labels["pawsx"] == {"dev-subset"}
    assert labels["mlqa"] == {"dev"} and labels["bucc"] == {"dev"}
    assert labels["tydiqa"] == {"train-subset", "train"}  # en held out; ko/sw are whole training files
    assert labels["xquad"] == {"test"} and labels["xcopa"] == {"test"}


# ---------------------------------------------------------------------------------------------
# provenance: no target data through the back door


@pytest.mark.parametrize("pool_task,target", [
    ("mnli", "xnli"), ("kornli", "xnli"), ("ocnli", "xnli"), ("squad", "xquad"), ("squad", "mlqa"),
    ("squad", "lareqa"), ("disfl-qa", "xquad"), ("tydiqa-ko", "tydiqa"), ("udpos-de", "udpos"), ("copa", "xcopa"),
    ("xquad", "tydiqa"),  # offline, XQuAD trains on TyDiQA's English training file
])
def test_target_data_in_the_pool_is_recognized(pool_task, target):
    assert pool_task in target_clashes(target, [pool_task, "anli"]) and target_in_pool(target, [pool_task])


@pytest.mark.parametrize("pool_task,target", [("anli", "xnli"), ("disfl-qa", "lareqa"), ("tydiqa-ko", "xquad"),
                                              ("multiemo-pl", "xnli"), ("polish-ner", "panx")])
def test_unrelated_pool_tasks_are_allowed(pool_task, target):
    assert not target_clashes(target, [pool_task])


def test_shared_provenance_is_documented():
    counts: dict[str, int] = {}
    for task in REGISTRY.values():
        for tag in task.provenance:
            counts[tag] = counts.get(tag, 0) + 1
    assert {tag for tag, n in counts.items() if n > 1} <= set(PROVENANCE)


@pytest.mark.parametrize("name,add", [("phang2020", ""), ("scaling", "mnli, squad, ")])
def test_shipped_designs_refuse_target_data_unless_allowed(tmp_path, name, add):
    text = (ROOT / "params" / f"{name}.yaml").read_text()
    text = text.replace("allow_target_in_pool: true", "allow_target_in_pool: false")
    text = text.replace("pool: [", f"pool: [{add}", 1)
    refused = tmp_path / f"{name}.yaml"
    refused.write_text(text)
    with pytest.raises(ParamsError, match=r"trains on \[.*'(mnli|squad)'.*\].*allow_target_in_pool: true"):
        load_params(refused)
    refused.write_text(text.replace("allow_target_in_pool: false", "allow_target_in_pool: true")
                       if "allow_target_in_pool" in text else text + "\nallow_target_in_pool: true\n")
    runs = expand(load_params(refused))
    flagged = [r for r in runs  # the equal-compute control trains on the target's own English split
               if target_in_pool(r.target, [t for t in r.intermediate_tasks if t != r.target])]
    assert flagged and all({"mnli", "squad"} & set(r.intermediate_tasks) for r in flagged)


def test_the_report_shows_the_flag_and_the_split():
    from intertask import report

    rows = [{"study": "s", "run": f"{c}__xnli__s1", "model": "m", "intermediate_tasks": c, "seed": 1,
             "target_task": "xnli", "language": "de", "split": "dev-subset", "metric": "accuracy", "value": 0.5,
             "n_examples": 10} for c in ("none", "mnli", "anli")]
    results = report.load_results_frame(pd.DataFrame(rows))  # an old table: no guard columns
    table = report.data_table(results)
    assert table.loc[("xnli", "mnli"), "target_in_pool"] and not table.loc[("xnli", "anli"), "target_in_pool"]
    assert table.loc[("xnli", "none"), "split"] == "dev-subset" and pd.isna(table.loc[("xnli", "none"), "not_scored_overlap"])
    assert "Not zero-shot" in report.header("s", "", results) and "mnli__xnli__s1" in report.header("s", "", results)


# ---------------------------------------------------------------------------------------------
# XQuAD's paragraphs never reach SQuAD training or model selection


def _squad_like(contexts: list[str]) -> list[dict]:
    return [{"id": str(i), "context": c, "question": f"What is {i}?", "answers": [{"text": c[:5], "answer_start": 0}]}
            for i, c in enumerate(contexts)]


def test_xquad_paragraphs_are_removed_from_squad(data_dir):
    xquad = json.loads((data_dir / "xtreme/xquad/xquad.en.json").read_text())
    real = [p["context"] for a in xquad["data"] for p in a["paragraphs"]]
    assert len(real) == 240
    # SQuAD-shaped input: 10 XQuAD paragraphs, re-tokenized and re-cased as copies often are, and 5 others
    copies = [" ".join(c.upper().replace(",", " ,").split()) for c in real[::24]]
    others = [f"Synthetic paragraph number {i} about nothing in XQuAD." for i in range(5)]
    kept, dropped = drop_protected_contexts(get_task("squad"), _squad_like(copies + others))
    assert dropped == 10 and [ex["context"] for ex in kept] == others
    assert drop_protected_contexts(get_task("anli"), _squad_like(copies))[1] == 0  # provenance decides, not format


def test_hub_squad_training_and_selection_never_see_xquad(data_dir, monkeypatch):
    import datasets

    xquad = json.loads((data_dir / "xtreme/xquad/xquad.en.json").read_text())
    real = [p["context"] for a in xquad["data"] for p in a["paragraphs"]][:3]
    rows = [{"id": ex["id"], "context": ex["context"], "question": ex["question"],
             "answers": {"text": [a["text"] for a in ex["answers"]], "answer_start": [0]}}
            for ex in _squad_like(real + ["An unrelated paragraph.", "Another one."])]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: rows)
    hub = DataSource(None, "hub")
    for task, split in (("squad", "train"), ("squad", "dev"), ("xquad", "train"), ("xquad", "dev")):
        assert sorted(ex["context"] for ex in hub.load(get_task(task), split)) == ["An unrelated paragraph.", "Another one."]
    assert len(hub.load(get_task("xquad"), "test", "en")) == 5  # the test set itself is XQuAD


# ---------------------------------------------------------------------------------------------
# the guard in the evaluation stage (tiny encoder)


def test_guard_round_trip_and_missing_file(tmp_path):
    g = ContentGuard()
    g.add("xnli", [{"text_a": "A premise.", "text_b": "A hypothesis."}], "classification")
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / GUARD_FILE).write_text(json.dumps(g.to_json()))
    assert load_guard(tmp_path / "ckpt").seen == g.seen
    assert load_guard(tmp_path / "no-such-model").seen == {}  # a pretrained model has seen nothing of ours
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "heads.json").write_text("{}")
    assert load_guard(tmp_path / "old") is None  # an intertask checkpoint from before the guard: unknown


def test_evaluation_leaves_out_and_counts_items_the_run_trained_on(tiny_model, data_dir, tmp_path):
    from intertask.stages import build_model, evaluate_zero_shot, load_features, train_and_save
    from intertask.train import TrainConfig

    src = DataSource(data_dir, "local")
    cfg = TrainConfig(epochs=1, batch_size=8, patience=None)
    # stage 1 trains on ANLI; stage 2 on English XNLI from stage 1's checkpoint
    model, tok = build_model(str(tiny_model), ["anli"])
    train_and_save(model, tok, load_features(src, ["anli"], "train", tok, 48, limit=8),
                   load_features(src, ["anli"], "dev", tok, 48, limit=4), cfg, tmp_path / "s1")
    model, tok = build_model(str(tmp_path / "s1" / "checkpoint"), ["xnli"])
    train_and_save(model, tok, load_features(src, ["xnli"], "train", tok, 48, limit=8),
                   load_features(src, ["xnli"], "dev", tok, 48, limit=4), cfg, tmp_path / "s2")
    guard = load_guard(tmp_path / "s2" / "checkpoint")
    assert set(guard.seen) == {"anli", "xnli"}  # the intermediate stage's inputs are inherited
    identity = {"study": "t", "run": "anli__xnli__s1", "model": "tiny", "intermediate_tasks": "anli", "seed": 1}
    clean = evaluate_zero_shot(tmp_path / "s2" / "checkpoint", "xnli", ["en", "de"], src, 12, 16, 48, identity,
                               tmp_path / "e1")
    assert (clean["overlap"] == 0).all() and (clean["n_examples"] == 12).all()
    assert set(clean["split"]) == {"dev-subset"} and not clean["target_in_pool"].any()
    # pretend stage 1 had trained on the premises of 5 evaluated English items: their German twins go too
    evaluated = src.load(get_task("xnli"), "test", "en", limit=12)
    guard.add("anli", [{"text_a": ex["text_a"]} for ex in evaluated[:5]], "classification")
    n = sum(ex["text_a"] in {x["text_a"] for x in evaluated[:5]} for ex in evaluated)  # 5, or more if premises repeat
    assert n >= 5
    (tmp_path / "s2" / "checkpoint" / GUARD_FILE).write_text(json.dumps(guard.to_json()))
    out = evaluate_zero_shot(tmp_path / "s2" / "checkpoint", "xnli", ["en", "de"], src, 12, 16, 48,
                             {**identity, "intermediate_tasks": "mnli"}, tmp_path / "e2")
    assert (out["overlap"] == n).all() and (out["n_examples"] == 12 - n).all() and out["target_in_pool"].all()
    written = pd.read_csv(tmp_path / "e2" / "results.csv")
    assert list(written["overlap"]) == [n, n] and written["target_in_pool"].all()


def test_cli_audit_reports_overlaps(data_dir, capsys):
    from intertask import cli

    assert cli.main(["audit", str(ROOT / "params" / "xtreme_r_smoke.yaml"), "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "0 id overlaps, 3 of 9000 evaluated items share content" in out and "panx       en  test" in out


def test_translated_pool_files_share_one_partition(data_dir):
    """MultiEmo pl translates MultiEmo en item by item: no item trained on in one is selected on in the other."""
    src = DataSource(data_dir, "local")
    en = {s: {ex["id"] for ex in src.load(get_task("multiemo-en"), s)} for s in ("train", "dev")}
    pl = {s: {ex["id"] for ex in src.load(get_task("multiemo-pl"), s)} for s in ("train", "dev")}
    assert len(pl["dev"]) > 5000 and not en["train"] & pl["dev"] and not en["dev"] & pl["train"]
