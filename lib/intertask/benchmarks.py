"""The XTREME and XTREME-R benchmarks as data: tasks, official language lists, grouping, submission layout.

This table is the single source of benchmark membership: which intertask task belongs to which
benchmark, over which languages the benchmark averages it, in which group it is reported, and how its
predictions must be laid out for the benchmark's own scorer. No torch, no project imports: any layer
may read it.

Where each fact comes from (read, not copied; google-research/xtreme at its current master):
- Language lists: `evaluate.py`, `XTREME_TASK2LANGS` and `XTREME_R_TASK2LANGS`. That file lists
  LAReQA with an *empty* language list (it has no reader for it); its languages here are the eleven
  XQuAD-R languages the XTREME-R paper (Ruder et al. 2021, Table 1) and `third_party/utils_lareqa.py`
  use.
- Grouping: XTREME, `evaluate.py` `XTREME_GROUP2TASK` and the XTREME paper (Hu et al. 2020, Table 1):
  classification, structured prediction, QA, retrieval. XTREME-R: the paper's Table 1 grouping
  (classification XNLI + XCOPA; structured prediction UD-POS + WikiANN; QA XQuAD + MLQA + TyDiQA-GoldP;
  retrieval Tatoeba + Mewsli-X + LAReQA). `evaluate.py`'s `XTREME_R_GROUP2TASK` differs: it leaves
  LAReQA out of retrieval and lists XCOPA a second time as 'multi_choice'; we follow the paper.
- Submission layout: README "Leaderboard Submission" (one folder per task named as in `evaluate.py`,
  files `test-{language}.{extension}`), `evaluate.py` `get_suffix` (json for QA and Mewsli-X, jsonl
  for XCOPA, tsv otherwise) and `READER_FUNCTION`, the files under `mock_test_data/predictions/`, and
  the prediction writers: `third_party/run_classify.py` (one label per line; PAWS-X labels are the
  strings "0"/"1" of `processors/pawsx.py`, XNLI's are label names), `third_party/run_xcopa.py`
  (`{"label": n}` per line), `third_party/run_tag.py` `save_predictions` (one tag per line, a blank
  line between sentences), `scripts/predict_qa.sh` + `run_squad.py` (a JSON object question id ->
  answer text, written by transformers' `compute_predictions_logits` with indent 4), `evaluate_retrieval.py`
  (Tatoeba: one retrieved index per line; BUCC: `bucc_extract`, "source id TAB target id" per mined
  pair at the threshold; Mewsli-X: a JSON object example id -> ranked entity ids).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# How one prediction file is written; the exporter and the layout check both go by these names.
LINE_FORMATS: dict[str, str] = {
    "label_name": "one label name per line, in test-file order",
    "label_index": "one label index per line (0, 1, ...), in test-file order",
    "jsonl_label": 'one JSON object {"label": n} per line, n the index of the chosen alternative',
    "tags": "one tag per line for every word; a blank line between sentences",
    "qa_json": "one JSON object mapping each question id to its answer text",
    "index": "one integer per line: the index of the English sentence retrieved for that line",
    "pairs": "one line per mined pair: source sentence id, a tab, target sentence id",
    "ranking_json": "one JSON object mapping each query id to its candidate ids, best first",
}


@dataclass(frozen=True)
class Layout:
    """Where and how one task's predictions go in a submission folder."""

    folder: str  # the task's folder name in the submission (the benchmark's task identifier)
    suffix: str  # tsv | json | jsonl
    line_format: str  # a key of LINE_FORMATS
    source: str  # the file(s) of google-research/xtreme that fix this layout
    official: bool = True  # False: the benchmark publishes no prediction file for this task

    def file_name(self, lang: str) -> str:
        return f"test-{lang}.{self.suffix}"

    def path(self, lang: str) -> str:
        return f"{self.folder}/{self.file_name(lang)}"


# intertask task name -> layout; the same in both benchmarks for the tasks they share
LAYOUTS: dict[str, Layout] = {
    "xnli": Layout("xnli", "tsv", "label_name", "run_classify.py; mock_test_data/predictions/xnli"),
    "pawsx": Layout("pawsx", "tsv", "label_index", "run_classify.py, processors/pawsx.py get_labels; "
                    "mock_test_data/predictions/pawsx"),
    "xcopa": Layout("xcopa", "jsonl", "jsonl_label", "run_xcopa.py; evaluate.py read_xcopa, get_suffix"),
    "udpos": Layout("udpos", "tsv", "tags", "run_tag.py save_predictions; evaluate.py read_tag"),
    "panx": Layout("panx", "tsv", "tags", "run_tag.py save_predictions; evaluate.py read_tag"),
    "xquad": Layout("xquad", "json", "qa_json", "scripts/predict_qa.sh, run_squad.py; evaluate.py read_squad"),
    "mlqa": Layout("mlqa", "json", "qa_json", "scripts/predict_qa.sh, run_squad.py; evaluate.py read_squad"),
    "tydiqa": Layout("tydiqa", "json", "qa_json", "scripts/predict_qa.sh, run_squad.py; evaluate.py read_squad"),
    "tatoeba": Layout("tatoeba", "tsv", "index", "evaluate_retrieval.py (tatoeba); evaluate.py read_label"),
    "bucc": Layout("bucc2018", "tsv", "pairs", "evaluate_retrieval.py, utils_retrieve.py bucc_extract; "
                   "evaluate.py bucc_f1"),
    "mewslix": Layout("mewslix", "json", "ranking_json", "evaluate_retrieval.py (mewslix); evaluate.py "
                      "mewslix_map20"),
    # evaluate.py has no reader and no languages for LAReQA (its score is computed inside
    # evaluate_retrieval.py); we write Mewsli-X's ranking shape so the file can be scored the same way
    "lareqa": Layout("lareqa", "json", "ranking_json", "none published: the Mewsli-X shape, by analogy",
                     official=False),
}


@dataclass(frozen=True)
class BenchmarkTask:
    task: str  # intertask task name
    languages: tuple[str, ...]  # the benchmark's test languages, as its evaluate.py orders them
    group: str

    @property
    def layout(self) -> Layout:
        return LAYOUTS[self.task]


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    tasks: tuple[BenchmarkTask, ...]
    groups: tuple[str, ...]  # report order
    reference: str

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.task for t in self.tasks)

    def task(self, name: str) -> BenchmarkTask:
        for t in self.tasks:
            if t.task == name:
                return t
        raise KeyError(f"{self.title} has no task {name!r}; its tasks: {', '.join(self.task_names)}")

    def languages(self, name: str) -> tuple[str, ...]:
        return self.task(name).languages

    def group_tasks(self, group: str) -> tuple[str, ...]:
        return tuple(t.task for t in self.tasks if t.group == group)


def _langs(csv: str) -> tuple[str, ...]:
    return tuple(csv.split(","))


_XNLI = _langs("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh")
_PAWSX = _langs("de,en,es,fr,ja,ko,zh")
_PANX_XTREME = _langs("ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,"
                      "th,sw,yo,my,zh,kk,tr,et,fi,hu")
_UDPOS_XTREME = _langs("af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,ur,"
                       "vi,yo,zh")
_TATOEBA_XTREME = _langs("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,"
                         "sw,zh,kk,tr,et,fi,hu")
_XQUAD_XTREME = _langs("en,es,de,el,ru,tr,ar,vi,th,zh,hi")
_MLQA = _langs("en,es,de,ar,hi,vi,zh")
_TYDIQA = _langs("en,ar,bn,fi,id,ko,ru,sw,te")
_BUCC = _langs("de,fr,ru,zh")
# XTREME-R adds languages to four XTREME tasks (evaluate.py appends them at the end of each list)
_PANX_R = _PANX_XTREME + _langs("qu,pl,uk,az,lt,pa,gu,ro")
_UDPOS_R = _UDPOS_XTREME + _langs("lt,pl,uk,wo,ro")
_TATOEBA_R = _TATOEBA_XTREME + _langs("az,lt,pl,uk,ro")
_XQUAD_R = _XQUAD_XTREME + ("ro",)
_XCOPA = _langs("et,ht,id,it,qu,sw,ta,th,tr,vi,zh")
_MEWSLIX = _langs("ar,de,en,es,fa,ja,pl,ro,ta,tr,uk")
_LAREQA = _langs("ar,de,el,en,es,hi,ru,th,tr,vi,zh")  # XQuAD-R: XQuAD's languages without Romanian

CLASSIFICATION, STRUCTURED, QA, RETRIEVAL = "classification", "structured prediction", "question answering", "retrieval"

XTREME = Benchmark(
    name="xtreme", title="XTREME", reference="Hu et al. 2020; google-research/xtreme evaluate.py",
    groups=(CLASSIFICATION, STRUCTURED, QA, RETRIEVAL),
    tasks=(BenchmarkTask("xnli", _XNLI, CLASSIFICATION), BenchmarkTask("pawsx", _PAWSX, CLASSIFICATION),
           BenchmarkTask("udpos", _UDPOS_XTREME, STRUCTURED), BenchmarkTask("panx", _PANX_XTREME, STRUCTURED),
           BenchmarkTask("xquad", _XQUAD_XTREME, QA), BenchmarkTask("mlqa", _MLQA, QA),
           BenchmarkTask("tydiqa", _TYDIQA, QA),
           BenchmarkTask("bucc", _BUCC, RETRIEVAL), BenchmarkTask("tatoeba", _TATOEBA_XTREME, RETRIEVAL)),
)

XTREME_R = Benchmark(
    name="xtreme-r", title="XTREME-R", reference="Ruder et al. 2021; google-research/xtreme evaluate.py",
    groups=(CLASSIFICATION, STRUCTURED, QA, RETRIEVAL),
    tasks=(BenchmarkTask("xnli", _XNLI, CLASSIFICATION), BenchmarkTask("xcopa", _XCOPA, CLASSIFICATION),
           BenchmarkTask("udpos", _UDPOS_R, STRUCTURED), BenchmarkTask("panx", _PANX_R, STRUCTURED),
           BenchmarkTask("xquad", _XQUAD_R, QA), BenchmarkTask("mlqa", _MLQA, QA),
           BenchmarkTask("tydiqa", _TYDIQA, QA),
           BenchmarkTask("tatoeba", _TATOEBA_R, RETRIEVAL), BenchmarkTask("mewslix", _MEWSLIX, RETRIEVAL),
           BenchmarkTask("lareqa", _LAREQA, RETRIEVAL)),
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (XTREME, XTREME_R)}


def get_benchmark(name: str) -> Benchmark:
    """A benchmark by name (xtreme | xtreme-r); an unknown name lists the valid ones."""
    key = name.lower().replace("_", "-")
    if key in BENCHMARKS:
        return BENCHMARKS[key]
    close = difflib.get_close_matches(key, BENCHMARKS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown benchmark {name!r}.{hint} Known benchmarks: {', '.join(BENCHMARKS)}")


def benchmarks_of(task: str) -> tuple[str, ...]:
    """The benchmarks a task belongs to (derived from the table, never declared twice)."""
    return tuple(b.name for b in BENCHMARKS.values() if task in b.task_names)


def layout_of(task: str) -> Layout | None:
    return LAYOUTS.get(task)
