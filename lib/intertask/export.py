"""Predictions in the benchmark's own submission layout, and a check of a submission folder.

An evaluation stage writes one prediction file per language under `predictions/<task>/`. This module
rewrites those files into the folder, file name and line format that XTREME's and XTREME-R's own
prediction writers produce (`benchmarks.LAYOUTS` says which, and where each fact comes from), one
folder per model, so the benchmark's `evaluate.py` reads them unchanged. It only converts files that
exist: a language that was not evaluated is reported missing, never filled in. No torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .benchmarks import LAYOUTS, LINE_FORMATS, Benchmark, Layout, get_benchmark
from .registry import get_task


class ExportError(ValueError):
    """A stage's prediction file that cannot be put into the benchmark's format (names file:line)."""


@dataclass(frozen=True)
class Evaluation:
    """One finished evaluation: whose predictions (model folder name), of which task, where."""

    model: str  # the submission folder, e.g. "none__s1" (condition and seed)
    task: str
    predictions: Path  # the stage's predictions/<task>/ folder of test-<lang>.<ext> files
    examples_per_language: int | None = None  # a cap: fewer items than the benchmark's test set


# ---------------------------------------------------------------------------------------------
# converting one file: the stage's format -> the benchmark's


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _label_index(label: str, labels: tuple[str, ...] | None, where: str) -> int:
    if label.isdigit():
        return int(label)
    if labels and label in labels:
        return labels.index(label)
    raise ExportError(f"{where}: label {label!r} is neither an index nor one of {list(labels or [])}")


def _to_label_name(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    out = []
    for i, line in enumerate(_lines(text), 1):
        name = labels[int(line)] if labels and line.isdigit() else line
        if labels and name not in labels:
            raise ExportError(f"{path}:{i}: label {line!r} is not one of {list(labels)}")
        out.append(name)
    return "".join(f"{x}\n" for x in out)


def _to_label_index(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    return "".join(f"{_label_index(line, labels, f'{path}:{i}')}\n" for i, line in enumerate(_lines(text), 1))


def _to_jsonl_label(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    # json.dumps with default separators, one object and a newline per line, as run_xcopa.py writes
    return "".join(json.dumps({"label": _label_index(line, labels, f"{path}:{i}")}) + "\n"
                   for i, line in enumerate(_lines(text), 1))


def _to_tags(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    lines = _lines(text)
    for i, line in enumerate(lines, 1):
        if line != line.strip() or len(line.split()) > 1:
            raise ExportError(f"{path}:{i}: {line!r} is not a single tag")
    return "".join(f"{x}\n" for x in lines)


def _to_qa_json(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    # indent 4 as transformers' compute_predictions_logits writes for run_squad.py; ASCII escapes so
    # the scorer's open() without an encoding reads it under any locale
    return json.dumps(_json_object(text, path), indent=4) + "\n"


def _to_ranking_json(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    return json.dumps(_json_object(text, path))  # json.dump(obj, f), as evaluate_retrieval.py writes Mewsli-X


def _to_plain(text: str, labels: tuple[str, ...] | None, path: Path) -> str:
    # BUCC with no pair above the threshold is an empty file, not one blank line
    return "".join(f"{x}\n" for x in _lines(text) if x)


def _json_object(text: str, path: Path) -> dict:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ExportError(f"{path}:{e.lineno}: not JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise ExportError(f"{path}: expected a JSON object (id -> prediction), got {type(obj).__name__}")
    return obj


CONVERTERS: dict[str, Callable[[str, tuple[str, ...] | None, Path], str]] = {
    "label_name": _to_label_name, "label_index": _to_label_index, "jsonl_label": _to_jsonl_label,
    "tags": _to_tags, "qa_json": _to_qa_json, "index": _to_plain, "pairs": _to_plain,
    "ranking_json": _to_ranking_json,
}
assert set(CONVERTERS) == set(LINE_FORMATS)


def convert_file(src: Path, task: str, layout: Layout) -> str:
    """The text of `src` (a stage's prediction file) in the benchmark's line format."""
    labels = get_task(task).labels
    return CONVERTERS[layout.line_format](src.read_text(encoding="utf-8"), labels, src)


# ---------------------------------------------------------------------------------------------
# a whole export


@dataclass
class ModelExport:
    """What one model folder holds, measured against the benchmark (if one was named)."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    missing_tasks: list[str] = field(default_factory=list)
    missing_languages: dict[str, list[str]] = field(default_factory=dict)
    extra_languages: dict[str, list[str]] = field(default_factory=dict)  # evaluated, not in the benchmark list
    left_out: list[str] = field(default_factory=list)  # evaluated tasks the benchmark does not have
    capped: dict[str, int] = field(default_factory=dict)  # task -> examples_per_language

    @property
    def complete(self) -> bool:
        return not self.missing_tasks and not any(self.missing_languages.values())


@dataclass
class ExportReport:
    benchmark: Benchmark | None
    models: list[ModelExport]

    @property
    def files(self) -> list[Path]:
        return [f for m in self.models for f in m.files]

    def text(self) -> str:
        """Per model folder: complete, or the missing tasks and, per task, the missing languages."""
        lines = [f"{len(self.files)} prediction files in {len(self.models)} model folder(s)"]
        for m in self.models:
            lines.append(_model_text(m, self.benchmark))
        return "\n".join(lines)


def _model_text(m: ModelExport, bench: Benchmark | None) -> str:
    head = f"{m.folder}: {len(m.files)} files"
    if bench is None:
        return head + " (no --benchmark given: not checked for completeness)"
    out = [head + (f": complete {bench.title} submission" if m.complete else f": INCOMPLETE {bench.title} submission")]
    for task in m.missing_tasks:
        out.append(f"  missing task {task} ({len(bench.languages(task))} languages)")
    for task, langs in m.missing_languages.items():
        if langs:
            n = len(bench.languages(task))
            out.append(f"  {task}: missing {len(langs)} of {n} languages: {', '.join(langs)}")
    for task, langs in m.extra_languages.items():
        out.append(f"  {task}: also wrote {', '.join(langs)} (not in {bench.title}'s list; its scorer ignores them)")
    if m.left_out:
        out.append(f"  not part of {bench.title}, not written: {', '.join(m.left_out)}")
    for task, cap in m.capped.items():
        out.append(f"  {task}: at most {cap} items per language were evaluated; the official scorer needs every "
                   f"test item (set budgets.eval.examples_per_language: null)")
    unofficial = [t for t in bench.task_names if not LAYOUTS[t].official and t not in m.missing_tasks]
    for task in unofficial:
        out.append(f"  {task}: {bench.title}'s evaluate.py has no reader for it; written as {LAYOUTS[task].source}")
    return "\n".join(out)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic: a half-written prediction file would be scored as a short one


def _language_files(folder: Path) -> dict[str, Path]:
    """language -> the stage's prediction file (test-<lang>.<ext>)."""
    out = {}
    for f in sorted(folder.glob("test-*.*")):
        if not f.name.endswith(".tmp"):
            out[f.name[len("test-"):].rsplit(".", 1)[0]] = f
    return out


def export(evaluations: list[Evaluation], dest: str | Path, benchmark: str | None = None) -> ExportReport:
    """Write every evaluation's predictions under `dest/<model>/<folder>/test-<lang>.<suffix>`.

    With a benchmark, only its tasks are written and each model folder is measured against it: the
    tasks and, per task, the languages its scorer requires. Nothing is written for what was not
    evaluated.
    """
    bench = get_benchmark(benchmark) if benchmark else None
    by_model: dict[str, ModelExport] = {}
    for ev in evaluations:
        m = by_model.setdefault(ev.model, ModelExport(Path(dest) / ev.model))
        layout = LAYOUTS.get(ev.task)
        if layout is None or (bench is not None and ev.task not in bench.task_names):
            m.left_out.append(ev.task)
            continue
        files = _language_files(ev.predictions)
        for lang, src in files.items():
            out = m.folder / layout.path(lang)
            _write(out, convert_file(src, ev.task, layout))
            m.files.append(out)
        if ev.examples_per_language is not None and files:
            m.capped[ev.task] = ev.examples_per_language
    if bench is not None:
        for m in by_model.values():
            _measure(m, bench)
    return ExportReport(bench, list(by_model.values()))


def _measure(m: ModelExport, bench: Benchmark) -> None:
    for bt in bench.tasks:
        have = {f.name[len("test-"):].rsplit(".", 1)[0] for f in m.files if f.parent.name == bt.layout.folder}
        if not have:
            m.missing_tasks.append(bt.task)
            continue
        m.missing_languages[bt.task] = [lg for lg in bt.languages if lg not in have]
        extra = sorted(have - set(bt.languages))
        if extra:
            m.extra_languages[bt.task] = extra


# ---------------------------------------------------------------------------------------------
# checking a submission folder against the published layout


def _problem_label_name(line: str, labels: tuple[str, ...] | None) -> str | None:
    return None if labels is None or line in labels else f"{line!r} is not one of {list(labels)}"


def _problem_label_index(line: str, labels: tuple[str, ...] | None) -> str | None:
    n = len(labels) if labels else None
    if not line.isdigit() or (n is not None and int(line) >= n):
        return f"{line!r} is not a label index (0..{(n or 1) - 1})"
    return None


def _problem_jsonl_label(line: str, labels: tuple[str, ...] | None) -> str | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return f"{line!r} is not a JSON object"
    if not isinstance(obj, dict) or set(obj) != {"label"} or type(obj["label"]) is not int:
        return f'{line!r} is not {{"label": <int>}}'
    return None


def _problem_index(line: str, labels: tuple[str, ...] | None) -> str | None:
    return None if line.isdigit() else f"{line!r} is not a non-negative integer"


def _problem_pairs(line: str, labels: tuple[str, ...] | None) -> str | None:
    parts = line.split("\t")
    return None if len(parts) == 2 and all(p.strip() for p in parts) else f"{line!r} is not 'source id<TAB>target id'"


LINE_CHECKS: dict[str, Callable[[str, tuple[str, ...] | None], str | None]] = {
    "label_name": _problem_label_name, "label_index": _problem_label_index, "jsonl_label": _problem_jsonl_label,
    "index": _problem_index, "pairs": _problem_pairs,
}


def _check_tags(path: Path, text: str) -> list[str]:
    lines = text.splitlines()
    problems = []
    if lines and not lines[0]:
        problems.append(f"{path}:1: starts with a blank line (read as an empty sentence)")
    for i, (a, b) in enumerate(zip(lines, lines[1:]), 2):
        if not a and not b:
            problems.append(f"{path}:{i}: two blank lines in a row (an empty sentence)")
    for i, line in enumerate(lines, 1):
        if line and (line != line.strip() or len(line.split()) != 1):
            problems.append(f"{path}:{i}: {line!r} is not a single tag")
    return problems


def _check_json(path: Path, text: str, value_ok: Callable[[object], bool], shape: str) -> list[str]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return [f"{path}:{e.lineno}: not JSON ({e.msg})"]
    if not isinstance(obj, dict):
        return [f"{path}: expected a JSON object {shape}, got {type(obj).__name__}"]
    bad = [k for k, v in obj.items() if not value_ok(v)]
    return [f"{path}: {len(bad)} entries are not {shape}, e.g. {bad[0]!r}: {obj[bad[0]]!r}"] if bad else []


def check_file(path: Path, layout: Layout, labels: tuple[str, ...] | None = None) -> list[str]:
    """Problems of one prediction file against its line format (empty: it reads as the scorer expects)."""
    text = path.read_text(encoding="utf-8")
    fmt = layout.line_format
    if fmt == "tags":
        return _check_tags(path, text)
    if fmt == "qa_json":
        return _check_json(path, text, lambda v: isinstance(v, str), "{question id: answer text}")
    if fmt == "ranking_json":
        return _check_json(path, text, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                           "{query id: [candidate ids]}")
    check = LINE_CHECKS[fmt]
    problems = []
    for i, line in enumerate(text.splitlines(), 1):
        why = check(line, labels)
        if why:
            problems.append(f"{path}:{i}: {why} ({LINE_FORMATS[fmt]})")
            if len(problems) >= 3:
                break
    return problems


def check_submission(folder: str | Path, benchmark: str) -> list[str]:
    """Every problem that keeps `folder` from being a complete submission: task folders, file names, lines."""
    bench = get_benchmark(benchmark)
    root = Path(folder)
    problems = []
    for bt in bench.tasks:
        task_dir = root / bt.layout.folder
        if not task_dir.is_dir():
            problems.append(f"{task_dir}: missing task folder ({bt.task}, {len(bt.languages)} languages)")
            continue
        labels = get_task(bt.task).labels
        for lang in bt.languages:
            path = task_dir / bt.layout.file_name(lang)
            if not path.is_file():
                problems.append(f"{path}: missing ({LINE_FORMATS[bt.layout.line_format]})")
                continue
            problems += check_file(path, bt.layout, labels)
    return problems
