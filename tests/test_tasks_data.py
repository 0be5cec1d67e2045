"""Task registry and data readers on the real offline bundle; id splits and the leakage guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from intertask.data import (DataSource, LeakageError, MalformedDataError, MissingDataError, assert_no_leakage,
                            resolve_data_dir)
from intertask.leakage import partition_groups
from intertask.readers.text import read_copa_jsonl, read_mrpc_txt, read_xnli_tsv
from intertask.registry import REGISTRY, get_task
from intertask.tasks import UnknownLanguageError, UnknownTaskError


def test_unknown_task_suggests_closest():
    with pytest.raises(UnknownTaskError) as e:
        get_task("xnil")
    assert "Did you mean 'xnli'" in str(e.value) and "pawsx" in str(e.value)


def test_unknown_language_lists_valid_ones(data_dir):
    with pytest.raises(UnknownLanguageError) as e:
        DataSource(data_dir).load(get_task("xnli"), "test", "xx")
    assert "ar, bg, de" in str(e.value)


def test_registry_covers_issue_tasks():
    assert {"xnli", "pawsx", "anli", "qqp", "mrpc", "cosmosqa", "socialiqa", "copa", "mnli", "sst2", "hellaswag",
            "commonsenseqa"} <= set(REGISTRY)
    assert get_task("mnli").local is None and get_task("mnli").hub is not None


@pytest.mark.parametrize("name,split,n_min,n_labels", [
    ("xnli", "train", 1245, 3), ("pawsx", "train", 1000, 2), ("anli", "train", 2800, 3), ("qqp", "train", 21000, 2),
    ("mrpc", "train", 4000, 2), ("mrpc", "dev", 1700, 2), ("cosmosqa", "train", 2600, 4),
    ("socialiqa", "train", 1900, 3), ("socialiqa", "dev", 2000, 3), ("copa", "train", 400, 2), ("copa", "dev", 100, 2),
])
def test_every_offline_task_reads(data_dir, name, split, n_min, n_labels):
    task = get_task(name)
    examples = DataSource(data_dir, "local").load(task, split)
    assert len(examples) >= n_min
    labels = {ex["label"] for ex in examples}
    assert labels == set(range(n_labels))
    if task.format == "multiple_choice":
        assert all(len(ex["choices"]) == task.num_choices for ex in examples)
    else:
        assert all(ex["text_a"] and ex["text_b"] for ex in examples)


def test_qqp_skips_its_one_malformed_line(data_dir, capsys):
    examples = DataSource(data_dir, "local").load(get_task("qqp"), "train")
    assert "skipped 1 malformed line" in capsys.readouterr().out
    assert all(ex["id"] != "133273" for ex in examples)


@pytest.mark.parametrize("name", ["xnli", "pawsx"])
def test_parallel_split_never_evaluates_a_trained_item_in_any_language(data_dir, name):
    task = get_task(name)
    src = DataSource(data_dir, "local")
    train = {ex["id"] for ex in src.load(task, "train")}
    dev = {ex["id"] for ex in src.load(task, "dev")}
    assert not train & dev
    en_test = [ex["id"] for ex in src.load(task, "test", "en")]
    for lang in task.languages:
        test = src.load(task, "test", lang)
        ids = [ex["id"] for ex in test]
        assert ids == en_test  # the same items, in the same order, in every language
        assert not (train | dev) & set(ids)
    # and the texts differ: these really are translations of the same held-out items
    de = src.load(task, "test", "de", limit=5)
    en = src.load(task, "test", "en", limit=5)
    assert [e["id"] for e in de] == [e["id"] for e in en] and de[0]["text_a"] != en[0]["text_a"]


def test_leakage_guard_raises():
    with pytest.raises(LeakageError, match="2 evaluation item"):
        assert_no_leakage(["1", "2", "3"], ["3", "2", "9"], "xnli test (de)")
    assert_no_leakage(["1"], ["2"])


def test_partition_is_fixed_and_disjoint():
    ids = [str(i) for i in range(100)]
    singletons = list(range(100))
    a, b = partition_groups(ids, singletons, (0.5, 0.1, 0.4)), partition_groups(ids, singletons, (0.5, 0.1, 0.4))
    assert a == b and [len(a[k]) for k in ("train", "dev", "test")] == [50, 10, 40]
    assert sorted(a["train"] + a["dev"] + a["test"]) == sorted(ids)


def test_budget_limit_takes_nested_prefixes(data_dir):
    src = DataSource(data_dir, "local")
    small = src.load(get_task("xnli"), "train", limit=10)
    large = src.load(get_task("xnli"), "train", limit=100)
    assert [e["id"] for e in small] == [e["id"] for e in large[:10]]


def test_missing_file_names_path_and_both_fixes(tmp_path):
    with pytest.raises(MissingDataError) as e:
        DataSource(tmp_path, "local").load(get_task("xnli"), "test", "de")
    msg = str(e.value)
    assert str(tmp_path / "xtreme/xnli/dev-de.tsv") in msg or str(tmp_path / "xtreme/xnli/dev-en.tsv") in msg
    assert "--data DIR" in msg and "INTERTASK_DATA" in msg and "data_source: hub" in msg


def test_malformed_tsv_names_file_and_line(tmp_path):
    f = tmp_path / "dev-en.tsv"
    f.write_text("a\tb\tentailment\nonly two\tfields\n")
    with pytest.raises(MalformedDataError, match=r"dev-en.tsv:2: expected 3 tab-separated fields"):
        read_xnli_tsv(f)
    f.write_text("a\tb\tmaybe\n")
    with pytest.raises(MalformedDataError, match=r"dev-en.tsv:1: label 'maybe'"):
        read_xnli_tsv(f)


def test_malformed_jsonl_and_mrpc(tmp_path):
    f = tmp_path / "train-en.jsonl"
    f.write_text('{"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 0}\n{"premise": \n')
    with pytest.raises(MalformedDataError, match=r"train-en.jsonl:2: not valid JSON"):
        read_copa_jsonl(f)
    g = tmp_path / "msr.txt"
    g.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n2\t1\t2\ta\tb\n")
    with pytest.raises(MalformedDataError, match=r"msr.txt:2: label '2'"):
        read_mrpc_txt(g)


def test_non_parallel_file_is_refused(tmp_path, data_dir):
    xnli = tmp_path / "xtreme" / "xnli"
    xnli.mkdir(parents=True)
    (xnli / "dev-en.tsv").write_text((data_dir / "xtreme/xnli/dev-en.tsv").read_text())
    lines = (data_dir / "xtreme/xnli/dev-de.tsv").read_text().splitlines()[:-3]
    (xnli / "dev-de.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedDataError, match="must be parallel"):
        DataSource(tmp_path, "local").load(get_task("xnli"), "test", "de")


def test_data_dir_order_cli_then_params_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERTASK_DATA", str(tmp_path / "env"))
    assert resolve_data_dir("/x/cli", "/x/params") == Path("/x/cli")
    assert resolve_data_dir(None, "rel", base=tmp_path) == (tmp_path / "rel").resolve()
    assert resolve_data_dir(None, None) == (tmp_path / "env").resolve()
    monkeypatch.delenv("INTERTASK_DATA")
    assert resolve_data_dir(None, None) is None


def test_hub_failure_is_explained(monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(MissingDataError, match=r"could not load nyu-mll/glue/mnli .* use local files"):
        DataSource(None, "hub").load(get_task("mnli"), "train")


def test_ids_of_different_files_never_collide(data_dir):
    """COPA train and XCOPA test both number items 0, 1, ...: ids must name the file, or the
    leakage guard would refuse a correct evaluation (and miss a real overlap)."""
    src = DataSource(data_dir)
    train = {ex["id"] for ex in src.load(get_task("xcopa"), "train")}
    test = {ex["id"] for ex in src.load(get_task("xcopa"), "test", "et")}
    assert len(train) == 400 and len(test) == 500 and not train & test
    assert_no_leakage(train, test)


def test_other_language_files_of_a_non_parallel_task_get_their_own_ids(data_dir):
    src = DataSource(data_dir)
    task = get_task("tydiqa")
    train = {ex["id"] for ex in src.load(task, "train")} | {ex["id"] for ex in src.load(task, "dev")}
    ko = [ex["id"] for ex in src.load(task, "test", "ko")]
    en = [ex["id"] for ex in src.load(task, "test", "en")]
    assert all(i.startswith("tydiqa.goldp.ko.train:") for i in ko)
    assert not train & set(ko) and not train & set(en)
