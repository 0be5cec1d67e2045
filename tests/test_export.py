"""Exports the official XTREME / XTREME-R scorer reads: a round trip per offline task, and the layout check.

The readers below are written here from the published format (google-research/xtreme README
"Leaderboard Submission", evaluate.py's readers, mock_test_data/predictions), not taken from
intertask, so an exporter that drifts from the format fails here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from intertask import benchmarks
from intertask.data import DataSource
from intertask.export import Evaluation, ExportError, check_file, check_submission, export
from intertask.metrics import mlqa_scores, pos_f1, span_f1, squad_scores
from intertask.registry import benchmark_tasks, get_task

# ---------------------------------------------------------------------------------------------
# independent readers of the published format


def read_label_lines(path: Path) -> list[str]:
    """One prediction per line (XNLI, PAWS-X, Tatoeba, BUCC); evaluate.py strips each line."""
    return [line.strip() for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


def read_tag_sentences(path: Path) -> list[list[str]]:
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line.strip())
        else:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def read_jsonl_labels(path: Path) -> list[int]:
    return [json.loads(line)["label"] for line in path.read_text(encoding="utf-8").splitlines()]


def read_json(path: Path) -> dict:
    with open(path) as f:  # no encoding, as evaluate.py opens it: the file must be ASCII-safe
        return json.load(f)


# file names and folders as the README and evaluate.py's get_suffix give them
XTREME_FOLDERS = {"udpos", "panx", "xnli", "pawsx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"}
XTREME_R_FOLDERS = {"xnli", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba", "mewslix", "lareqa"}
SUFFIX = {"xquad": "json", "mlqa": "json", "tydiqa": "json", "mewslix": "json", "lareqa": "json", "xcopa": "jsonl"}
README_40 = set("af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta "
                "te th tl tr ur vi yo zh".split())


# ---------------------------------------------------------------------------------------------
# real predictions of every offline task (a tiny random encoder; untrained heads predict real labels)

TRAINED = {"xnli": ["en", "de", "sw"], "pawsx": ["de", "ja"], "xcopa": ["et", "zh"], "udpos": ["ar", "en"],
           "panx": ["de", "ar"], "xquad": ["de", "zh"], "mlqa": ["de", "hi"], "tydiqa": ["en", "ko"]}
RETRIEVAL = {"tatoeba": ["de", "fr"], "bucc": ["zh"], "lareqa": ["de", "en"]}
LIMIT = {"bucc": 200}  # enough BUCC sources to hold gold pairs
QA_OPTIONS = {"max_length": 128, "doc_stride": 64}


@pytest.fixture(scope="module")
def source(data_dir) -> DataSource:
    return DataSource(data_dir, "local")


@pytest.fixture(scope="module")
def evaluated(tiny_model, source, tmp_path_factory) -> dict[str, Path]:
    """One evaluation stage folder per offline task, written by the pipeline's own evaluation call."""
    from intertask.models import save_checkpoint
    from intertask.offline_model import ensure_offline_model
    from intertask.stages import build_model, evaluate_zero_shot

    tmp = tmp_path_factory.mktemp("stages")
    model, tok = build_model(str(tiny_model), list(TRAINED), seed=1)
    checkpoint = save_checkpoint(model, tok, tmp / "checkpoint", {})
    folders = {}
    for target, langs in {**TRAINED, **RETRIEVAL}.items():
        out = tmp / target
        # BUCC: a random encoder mines no gold pair (F1 0 either way); the real one mines them, so the
        # round trip shows the file's sentence ids are the benchmark's
        ckpt = checkpoint if target in TRAINED else ensure_offline_model() if target == "bucc" else tiny_model
        opts = QA_OPTIONS if get_task(target).format == "span_qa" else {"max_length": 64} if target == "bucc" else None
        evaluate_zero_shot(ckpt, target, langs, source, LIMIT.get(target, 12), batch_size=16, max_length=64,
                           identity={"study": "x", "run": f"none__{target}__s1", "model": "tiny",
                                     "intermediate_tasks": "none", "seed": 1},
                           output_dir=out, options=opts)
        folders[target] = out
    return folders


@pytest.fixture(scope="module")
def exported(evaluated, tmp_path_factory) -> tuple[Path, object]:
    dest = tmp_path_factory.mktemp("export")
    evs = [Evaluation("none__s1", t, folder / "predictions" / t) for t, folder in evaluated.items()]
    return dest / "none__s1", export(evs, dest)


def _results(folder: Path) -> dict[tuple[str, str], float]:
    df = pd.read_csv(folder / "results.csv")
    return {(r.language, r.metric): r.value for r in df.itertuples()}


def _gold(source: DataSource, task: str, lang: str) -> list[dict]:
    return source.load(get_task(task), "test", lang, limit=LIMIT.get(task, 12))


def _accuracy(pred: list, gold: list) -> float:
    assert len(pred) == len(gold)
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


@pytest.mark.parametrize("task", ["xnli", "pawsx", "xcopa", "tatoeba"])
def test_round_trip_accuracy_tasks(task, exported, evaluated, source):
    folder, _ = exported
    labels = get_task(task).labels
    folder_name = {"xnli": "xnli", "pawsx": "pawsx", "xcopa": "xcopa", "tatoeba": "tatoeba"}[task]
    for lang in {**TRAINED, **RETRIEVAL}[task]:
        gold = _gold(source, task, lang)
        if task == "xcopa":
            pred = read_jsonl_labels(folder / "xcopa" / f"test-{lang}.jsonl")
            truth = [int(ex["label"]) for ex in gold]
        elif task == "tatoeba":
            pred = [int(x) for x in read_label_lines(folder / "tatoeba" / f"test-{lang}.tsv")]
            truth = list(range(len(gold)))  # line i of the x file translates line i of the English file
        elif task == "pawsx":
            pred = read_label_lines(folder / folder_name / f"test-{lang}.tsv")
            assert set(pred) <= {"0", "1"}  # the benchmark's labels, not label names
            truth = [str(int(ex["label"])) for ex in gold]
        else:
            pred = read_label_lines(folder / folder_name / f"test-{lang}.tsv")
            truth = [labels[int(ex["label"])] for ex in gold]
        assert _accuracy(pred, truth) == pytest.approx(_results(evaluated[task])[(lang, "accuracy")], abs=1e-12)


@pytest.mark.parametrize("task,scorer", [("udpos", pos_f1), ("panx", span_f1)])
def test_round_trip_tagging(task, scorer, exported, evaluated, source):
    folder, _ = exported
    for lang in TRAINED[task]:
        gold = [list(ex["tags"]) for ex in _gold(source, task, lang)]
        pred = read_tag_sentences(folder / task / f"test-{lang}.tsv")
        assert [len(s) for s in pred] == [len(s) for s in gold]
        assert scorer(gold, pred)["f1"] == pytest.approx(_results(evaluated[task])[(lang, "f1")], abs=1e-12)


@pytest.mark.parametrize("task", ["xquad", "mlqa", "tydiqa"])
def test_round_trip_qa(task, exported, evaluated, source):
    folder, _ = exported
    for lang in TRAINED[task]:
        examples = _gold(source, task, lang)
        pred = read_json(folder / task / f"test-{lang}.json")
        # the dataset's question ids, or the reader's unique ids where a file repeats them
        key = "qid" if set(pred) == {ex.get("qid") for ex in examples} else "id"
        assert set(pred) == {ex[key] for ex in examples}
        gold = {ex[key]: [a["text"] for a in ex["answers"]] for ex in examples}
        scores = mlqa_scores(pred, gold, lang) if task == "mlqa" else squad_scores(pred, gold)
        res = _results(evaluated[task])
        assert scores["f1"] / 100 == pytest.approx(res[(lang, "f1")], abs=1e-12)
        assert scores["exact_match"] / 100 == pytest.approx(res[(lang, "exact_match")], abs=1e-12)


def test_round_trip_bucc(exported, evaluated, source):
    folder, _ = exported
    assert not (folder / "bucc").exists()
    pred = {tuple(line.split("\t")) for line in read_label_lines(folder / "bucc2018" / "test-zh.tsv")}
    gold = {(ex["id"], t) for ex in _gold(source, "bucc", "zh") for t in ex["gold"]}
    correct = len(pred & gold)
    assert gold and 0 < correct  # the real encoder mines gold pairs: ids in the file must match the data's
    f1 = 2 * correct / (len(pred) + len(gold)) if correct else 0.0  # evaluate.py's bucc_f1, as a fraction
    assert f1 == pytest.approx(_results(evaluated["bucc"])[("zh", "f1")], abs=1e-12)


def test_round_trip_lareqa(exported, evaluated, source):
    folder, _ = exported
    langs = RETRIEVAL["lareqa"]
    per_lang = {lang: _gold(source, "lareqa", lang) for lang in langs}
    relevant: dict[str, set] = {}
    for exs in per_lang.values():  # XQuAD-R is parallel: a question's answer in every evaluated language
        for ex in exs:
            relevant.setdefault(ex["id"], set()).update(ex["answers"])
    for lang in langs:
        ranking = read_json(folder / "lareqa" / f"test-{lang}.json")
        aps = []
        for ex in per_lang[lang]:
            rel, hits, total = relevant[ex["id"]], 0, 0.0
            for i, cand in enumerate(ranking[ex["id"]][:20], 1):
                if cand in rel:
                    hits += 1
                    total += hits / i
            aps.append(total / min(len(rel), 20))
        assert sum(aps) / len(aps) == pytest.approx(_results(evaluated["lareqa"])[(lang, "map@20")], abs=1e-12)


def test_exported_files_pass_the_layout_check(exported):
    folder, report = exported
    for f in report.files:
        task = next(t for t, lay in benchmarks.LAYOUTS.items() if lay.folder == f.parent.name)
        assert check_file(f, benchmarks.LAYOUTS[task], get_task(task).labels) == []
    # what was evaluated is written, nothing else
    assert {f.parent.name for f in report.files} == {benchmarks.LAYOUTS[t].folder for t in {**TRAINED, **RETRIEVAL}}
    assert len(report.files) == sum(len(v) for v in {**TRAINED, **RETRIEVAL}.values())


def test_benchmark_export_names_missing_languages(evaluated, tmp_path):
    evs = [Evaluation("none__s1", t, folder / "predictions" / t, 12) for t, folder in evaluated.items()]
    report = export(evs, tmp_path, "xtreme-r")
    (m,) = report.models
    assert not m.complete and m.missing_tasks == ["mewslix"]
    assert m.missing_languages["xcopa"] == [lg for lg in benchmarks.XTREME_R.languages("xcopa") if lg not in ("et", "zh")]
    assert m.left_out == ["pawsx", "bucc"]  # not XTREME-R tasks: not written
    assert not (tmp_path / "none__s1" / "pawsx").exists() and not (tmp_path / "none__s1" / "bucc2018").exists()
    text = report.text()
    assert "INCOMPLETE XTREME-R" in text and "missing task mewslix" in text
    assert "xnli: missing 12 of 15 languages: ar, bg, el, es, fr, hi, ru, th, tr, ur, vi, zh" in text
    assert "at most 12 items per language" in text
    # only real files: every written file came from an evaluated language
    assert {p.name for p in (tmp_path / "none__s1" / "xnli").iterdir()} == {"test-en.tsv", "test-de.tsv", "test-sw.tsv"}
    problems = check_submission(tmp_path / "none__s1", "xtreme-r")
    assert any(p.endswith("mewslix: missing task folder (mewslix, 11 languages)") for p in problems)
    assert any("xnli/test-ar.tsv: missing" in p for p in problems)


# ---------------------------------------------------------------------------------------------
# a complete synthetic submission


def _stage_file(task: str, lang: str) -> tuple[str, str]:
    """A small prediction file in the evaluation stage's own format (what an evaluation writes)."""
    fmt = get_task(task).format
    if fmt == "classification":
        return "tsv", "".join(f"{get_task(task).labels[i % 2]}\n" for i in range(5))
    if fmt == "multiple_choice":
        return "tsv", "0\n1\n1\n"
    if fmt == "tagging":
        return "tsv", "NOUN\nVERB\n\nDET\n" if task == "udpos" else "B-PER\nI-PER\nO\n\nO\n"
    if fmt == "span_qa":
        return "json", json.dumps({f"{lang}-q1": "Ganesha", f"{lang}-q2": "élan"}, ensure_ascii=False)
    if task == "tatoeba":
        return "tsv", "2\n0\n1\n"
    if task == "bucc":
        return "tsv", f"{lang}-000001\ten-000004\n{lang}-000002\ten-000009\n"
    return "json", json.dumps({f"{lang}-q1": [f"c{i}" for i in range(20)]})


def _synthetic_stages(root: Path, bench: benchmarks.Benchmark) -> list[Evaluation]:
    evs = []
    for bt in bench.tasks:
        folder = root / bt.task / "predictions" / bt.task
        folder.mkdir(parents=True)
        for lang in bt.languages:
            ext, text = _stage_file(bt.task, lang)
            (folder / f"test-{lang}.{ext}").write_text(text, encoding="utf-8")
        evs.append(Evaluation("model__s1", bt.task, folder))
    return evs


@pytest.mark.parametrize("name,folders", [("xtreme", XTREME_FOLDERS), ("xtreme-r", XTREME_R_FOLDERS)])
def test_complete_synthetic_submission_passes_the_layout_check(name, folders, tmp_path):
    bench = benchmarks.get_benchmark(name)
    report = export(_synthetic_stages(tmp_path / "stages", bench), tmp_path / "out", name)
    (m,) = report.models
    assert m.complete, report.text()
    assert f"complete {bench.title} submission" in report.text()
    sub = tmp_path / "out" / "model__s1"
    assert check_submission(sub, name) == []
    # the layout, checked from the published description: task folders, file names, line formats
    assert {p.name for p in sub.iterdir()} == folders
    for task_dir in sub.iterdir():
        suffix = SUFFIX.get(task_dir.name, "tsv")
        task = next(t for t in bench.task_names if benchmarks.LAYOUTS[t].folder == task_dir.name)
        assert sorted(p.name for p in task_dir.iterdir()) == sorted(f"test-{lg}.{suffix}" for lg in bench.languages(task))
        for f in task_dir.iterdir():
            _assert_line_format(task_dir.name, f)


def _assert_line_format(folder: str, f: Path) -> None:
    if folder == "xnli":
        assert set(read_label_lines(f)) <= {"entailment", "neutral", "contradiction"}
    elif folder in ("pawsx", "tatoeba"):
        assert all(x.isdigit() for x in read_label_lines(f))
    elif folder == "xcopa":
        assert read_jsonl_labels(f) == [0, 1, 1]
        assert f.read_text() == '{"label": 0}\n{"label": 1}\n{"label": 1}\n'
    elif folder in ("udpos", "panx"):
        assert [len(s) for s in read_tag_sentences(f)] in ([2, 1], [3, 1])
    elif folder == "bucc2018":
        assert all(len(x.split("\t")) == 2 for x in read_label_lines(f))
    elif folder in ("xquad", "mlqa", "tydiqa"):
        obj = read_json(f)
        assert all(isinstance(v, str) for v in obj.values()) and "élan" in obj.values()
        assert f.read_text().isascii()
    else:  # mewslix, lareqa
        obj = read_json(f)
        assert all(isinstance(v, list) and len(v) == 20 for v in obj.values())


def test_layout_check_names_what_is_wrong(tmp_path):
    bench = benchmarks.XTREME
    export(_synthetic_stages(tmp_path / "stages", bench), tmp_path / "out", "xtreme")
    sub = tmp_path / "out" / "model__s1"
    (sub / "tatoeba" / "test-hu.tsv").unlink()
    (sub / "pawsx" / "test-ja.tsv").write_text("0\nparaphrase\n")
    (sub / "udpos" / "test-de.tsv").write_text("NOUN\n\n\nVERB\n")
    (sub / "xquad" / "test-de.json").write_text('{"q1": ["not", "a", "string"]}')
    problems = check_submission(sub, "xtreme")
    assert len(problems) == 4, problems
    assert any(p.endswith("tatoeba/test-hu.tsv: missing (one integer per line: the index of the English sentence "
                          "retrieved for that line)") for p in problems)
    assert any("pawsx/test-ja.tsv:2: 'paraphrase' is not a label index" in p for p in problems)
    assert any("udpos/test-de.tsv:3: two blank lines in a row" in p for p in problems)
    assert any("xquad/test-de.json: 1 entries are not {question id: answer text}" in p for p in problems)


def test_benchmark_table_matches_the_published_lists():
    xtreme, xr = benchmarks.XTREME, benchmarks.XTREME_R
    # XTREME covers the README's 40 languages; XTREME-R 50 (paper); 9 and 10 tasks
    assert set().union(*(t.languages for t in xtreme.tasks)) == README_40
    assert len(set().union(*(t.languages for t in xr.tasks))) == 50
    assert len(xtreme.tasks) == 9 and len(xr.tasks) == 10
    assert {t: len(xr.languages(t)) for t in xr.task_names} == {
        "xnli": 15, "xcopa": 11, "udpos": 38, "panx": 48, "xquad": 12, "mlqa": 7, "tydiqa": 9, "tatoeba": 41,
        "mewslix": 11, "lareqa": 11}
    assert {g: xr.group_tasks(g) for g in xr.groups} == {
        "classification": ("xnli", "xcopa"), "structured prediction": ("udpos", "panx"),
        "question answering": ("xquad", "mlqa", "tydiqa"), "retrieval": ("tatoeba", "mewslix", "lareqa")}
    assert benchmarks.benchmarks_of("pawsx") == ("xtreme",) and benchmarks.benchmarks_of("xnli") == ("xtreme", "xtreme-r")
    assert benchmarks.benchmarks_of("anli") == ()
    # the registry entries' own `benchmarks` declarations agree with this table
    for bench in benchmarks.BENCHMARKS.values():
        assert set(benchmark_tasks(bench.name)) == set(bench.task_names), bench.name
    with pytest.raises(ValueError, match="unknown benchmark 'xtreme-s'.*Known benchmarks: xtreme, xtreme-r"):
        benchmarks.get_benchmark("xtreme-s")


def test_every_benchmark_language_can_be_evaluated(data_dir, source):
    """A complete submission needs every listed language: each is a language of the task's registry entry,
    and the offline bundle holds XTREME-R's five new Tatoeba languages."""
    for bench in benchmarks.BENCHMARKS.values():
        for bt in bench.tasks:
            assert set(bt.languages) <= set(get_task(bt.task).languages), (bench.name, bt.task)
    tatoeba = get_task("tatoeba")
    for lang in ("az", "lt", "pl", "uk", "ro"):
        (ex,) = source.load(tatoeba, "test", lang, limit=1)
        assert ex["text"] and ex["target"]


def test_a_bad_stage_file_is_named_not_exported(tmp_path):
    stage = tmp_path / "predictions" / "xnli"
    stage.mkdir(parents=True)
    (stage / "test-de.tsv").write_text("entailment\nmaybe\n")
    with pytest.raises(ExportError, match=r"test-de.tsv:2: label 'maybe' is not one of \['entailment', 'neutral', "
                                          r"'contradiction'\]"):
        export([Evaluation("m", "xnli", stage)], tmp_path / "out", "xtreme")
    assert not (tmp_path / "out" / "m" / "xnli" / "test-de.tsv").exists()  # nothing half-written


# ---------------------------------------------------------------------------------------------
# the benchmark's own scorer, where a checkout of google-research/xtreme is at hand


def _official_labels(task: str, lang: str, examples: list[dict], prediction: Path, out: Path) -> Path:
    """The gold of the evaluated items as the benchmark's label files hold them (mock_test_data/labels)."""
    layout = benchmarks.LAYOUTS[task]
    path = out / layout.folder / layout.file_name(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = layout.line_format
    if fmt == "label_name":
        text = "".join(get_task(task).labels[int(ex["label"])] + "\n" for ex in examples)
    elif fmt == "label_index":
        text = "".join(f"{int(ex['label'])}\n" for ex in examples)
    elif fmt == "jsonl_label":
        text = "".join(json.dumps({"label": int(ex["label"])}) + "\n" for ex in examples)
    elif fmt == "tags":
        text = "\n".join("\n".join(ex["tags"]) + "\n" for ex in examples)
    elif fmt == "qa_json":
        keys = read_json(prediction)
        key = "qid" if set(keys) == {ex.get("qid") for ex in examples} else "id"
        data = [{"title": "", "paragraphs": [{"context": ex["context"], "qas": [
            {"id": ex[key], "question": ex["question"], "answers": list(ex["answers"])}]}]} for ex in examples]
        text = json.dumps({"data": data})
    elif fmt == "index":
        text = "".join(f"{i}\n" for i in range(len(examples)))
    else:  # pairs
        text = "".join(f"{ex['id']}\t{t}\n" for ex in examples for t in ex["gold"])
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def official():
    """google-research/xtreme's evaluate.py, from the checkout XTREME_REPO names (needs seqeval)."""
    repo = os.environ.get("XTREME_REPO")
    if not repo or not (Path(repo) / "evaluate.py").exists():
        pytest.skip("set XTREME_REPO to a google-research/xtreme checkout to score with its evaluate.py")
    pytest.importorskip("seqeval")
    sys.path.insert(0, repo)
    sys.modules.pop("evaluate", None)
    try:
        import evaluate

        yield evaluate
    finally:
        sys.path.remove(repo)
        sys.modules.pop("evaluate", None)


def test_official_evaluate_py_scores_the_export_as_results_csv(official, exported, evaluated, source, tmp_path):
    folder, _ = exported
    for task, langs in {**TRAINED, **RETRIEVAL}.items():
        layout = benchmarks.LAYOUTS[task]
        if not layout.official:
            continue  # LAReQA: evaluate.py has no reader for it
        results = _results(evaluated[task])
        for lang in langs:
            pred = folder / layout.path(lang)
            label = _official_labels(task, lang, _gold(source, task, lang), pred, tmp_path)
            scores = official.evaluate_one_task(str(pred), str(label), layout.folder, language=lang)
            for metric, value in scores.items():
                if (lang, metric) in results:
                    assert value / 100 == pytest.approx(results[(lang, metric)], abs=1e-12), (task, lang, metric)
