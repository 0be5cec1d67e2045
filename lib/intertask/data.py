"""Reading task data: local files (XTREME `download/` layout, original English releases) and the hub.

Every reader returns plain dicts in one shape per format family:
- classification: {"id", "text_a", "text_b" (or None), "label" (int)}
- multiple_choice: {"id", "context", "question", "choices" (list[str]), "label" (int)}

Splits are "train" and "dev" (in the task's training language, English) and "test" (any language).
Where only one labelled file exists (XNLI/PAWS-X dev offline, ANLI dev rounds, ...), it is partitioned
by *example id* with a fixed seed, the same partition for every language, so no item that is trained
on in one language is evaluated in another language (`assert_no_leakage` checks it).
"""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .tasks import NLI_LABELS, Task

ENV_DATA = "INTERTASK_DATA"
# Fixed, task-independent seed for id partitions: the split must not change with the run's seed,
# or different seeds would be evaluated on different items.
PARTITION_SEED = 20200000
SPLITS = ("train", "dev", "test")
# QQP's public dev file has a malformed first line; tolerate a handful of such lines, loudly.
MAX_MALFORMED_FRACTION = 0.001


class DataError(Exception):
    """Base class for every data problem; messages name the file (and line) and the fix."""


class MissingDataError(DataError):
    pass


class MalformedDataError(DataError):
    pass


class LeakageError(DataError):
    pass


Example = dict


# ---------------------------------------------------------------------------------------------
# where the data lives


def resolve_data_dir(cli_value: str | os.PathLike | None = None, params_value: str | os.PathLike | None = None,
                     base: Path | None = None) -> Path | None:
    """The data directory: the CLI flag, else the params file's `data_dir`, else $INTERTASK_DATA.

    A relative `params_value` is taken relative to `base` (the params file's folder) so that a
    study file means the same thing from whatever directory it is run.
    """
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    if params_value:
        p = Path(params_value).expanduser()
        if not p.is_absolute() and base is not None:
            p = base / p
        return p.resolve()
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser().resolve()
    return None


def _missing(task: Task, path: Path | None, lang: str) -> MissingDataError:
    where = f"expected file: {path}" if path else "no data directory is set"
    hub = (f" or read it from the Hugging Face hub ({task.hub.path}) with `data_source: hub` in the params file"
           " on a machine with internet access" if task.hub else "")
    return MissingDataError(
        f"{task.name} ({lang}): {where}. Point intertask at a folder in the XTREME `download/` layout "
        f"(`--data DIR`, `data_dir:` in the params file, or ${ENV_DATA}){hub}."
    )


# ---------------------------------------------------------------------------------------------
# local readers: path -> list of examples with ids local to the file


def _read_lines(path: Path) -> list[str]:
    # split on "\n" only: str.splitlines() also breaks on U+2028 and friends, which occur inside
    # real sentences (PAWS-X ko) and would shift every later line
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _nli_label(value: str, path: Path, lineno: int) -> int:
    v = value.strip().lower()
    v = {"contradictory": "contradiction", "e": "entailment", "n": "neutral", "c": "contradiction"}.get(v, v)
    if v not in NLI_LABELS:
        raise MalformedDataError(f"{path}:{lineno}: label {value!r} is not one of {NLI_LABELS}")
    return NLI_LABELS.index(v)


def _binary_label(value: str, path: Path, lineno: int) -> int:
    v = value.strip()
    if v not in ("0", "1"):
        raise MalformedDataError(f"{path}:{lineno}: label {value!r} is not 0 or 1")
    return int(v)


def _tsv_fields(path: Path, n_fields: int, what: str, tolerate: bool = False) -> Iterable[tuple[int, list[str]]]:
    lines = _read_lines(path)
    bad: list[int] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != n_fields:
            if not tolerate:
                raise MalformedDataError(
                    f"{path}:{i}: expected {n_fields} tab-separated fields ({what}), found {len(fields)}")
            bad.append(i)
            continue
        yield i, fields
    if bad:
        if len(bad) > max(1, MAX_MALFORMED_FRACTION * len(lines)):
            raise MalformedDataError(
                f"{path}: {len(bad)} lines do not have {n_fields} tab-separated fields ({what}), "
                f"first at line {bad[0]}; the file looks truncated or in another format")
        print(f"[intertask] {path}: skipped {len(bad)} malformed line(s) (line {', '.join(map(str, bad[:5]))})")


def read_xnli_tsv(path: Path) -> list[Example]:
    out = []
    for i, (lineno, (a, b, label)) in enumerate(_tsv_fields(path, 3, "premise, hypothesis, label")):
        out.append({"id": str(i), "text_a": a, "text_b": b, "label": _nli_label(label, path, lineno)})
    return out


def read_pawsx_tsv(path: Path) -> list[Example]:
    out = []
    for i, (lineno, (a, b, label)) in enumerate(_tsv_fields(path, 3, "sentence1, sentence2, label")):
        out.append({"id": str(i), "text_a": a, "text_b": b, "label": _binary_label(label, path, lineno)})
    return out


def read_qqp_tsv(path: Path) -> list[Example]:
    out = []
    for lineno, (pair_id, _q1, _q2, a, b, label) in _tsv_fields(
            path, 6, "id, qid1, qid2, question1, question2, is_duplicate", tolerate=True):
        if pair_id == "id":  # GLUE-style header
            continue
        out.append({"id": pair_id, "text_a": a, "text_b": b, "label": _binary_label(label, path, lineno)})
    return out


def read_mrpc_txt(path: Path) -> list[Example]:
    out = []
    for lineno, (quality, id1, id2, a, b) in _tsv_fields(path, 5, "Quality, #1 ID, #2 ID, #1 String, #2 String"):
        if quality == "Quality":
            continue
        out.append({"id": f"{id1}-{id2}", "text_a": a, "text_b": b, "label": _binary_label(quality, path, lineno)})
    return out


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MalformedDataError(f"{path}:1: missing column(s) {missing}; found {reader.fieldnames}")
        rows = []
        for row in reader:
            if any(row.get(c) is None for c in required):
                raise MalformedDataError(f"{path}:{reader.line_num}: row has too few fields")
            rows.append((reader.line_num, row))
        return rows


def read_anli_csv(path: Path) -> list[Example]:
    return [{"id": row["uid"], "text_a": row["context"], "text_b": row["statement"],
             "label": _nli_label(row["gold_label"], path, lineno)}
            for lineno, row in _csv_rows(path, ("uid", "context", "statement", "gold_label"))]


def read_cosmosqa_csv(path: Path) -> list[Example]:
    cols = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    out = []
    for lineno, row in _csv_rows(path, cols):
        label = row["label"].strip()
        if label not in ("0", "1", "2", "3"):
            raise MalformedDataError(f"{path}:{lineno}: label {label!r} is not 0-3")
        out.append({"id": row["id"], "context": row["context"], "question": row["question"],
                    "choices": [row[f"answer{k}"] for k in range(4)], "label": int(label)})
    return out


def read_json(path: Path) -> object:
    """A whole JSON file; a syntax error names `file:line`."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise MalformedDataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    for i, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedDataError(f"{path}:{i}: not valid JSON ({e.msg})") from None


def _require(obj: dict, keys: tuple[str, ...], path: Path, lineno: int) -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise MalformedDataError(f"{path}:{lineno}: missing field(s) {missing}")


def read_socialiqa_jsonl(path: Path) -> list[Example]:
    out = []
    for i, (lineno, obj) in enumerate(_jsonl(path)):
        _require(obj, ("context", "question", "answerA", "answerB", "answerC", "correct"), path, lineno)
        if obj["correct"] not in ("A", "B", "C"):
            raise MalformedDataError(f"{path}:{lineno}: 'correct' is {obj['correct']!r}, expected A, B or C")
        out.append({"id": str(i), "context": obj["context"], "question": obj["question"],
                    "choices": [obj["answerA"], obj["answerB"], obj["answerC"]], "label": "ABC".index(obj["correct"])})
    return out


COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}


def read_copa_jsonl(path: Path) -> list[Example]:
    out = []
    for lineno, obj in _jsonl(path):
        _require(obj, ("premise", "choice1", "choice2", "question", "label"), path, lineno)
        if obj["question"] not in COPA_QUESTIONS or obj["label"] not in (0, 1):
            raise MalformedDataError(f"{path}:{lineno}: question must be cause/effect and label 0/1")
        out.append({"id": str(obj.get("idx", lineno)), "context": obj["premise"],
                    "question": COPA_QUESTIONS[obj["question"]],
                    "choices": [obj["choice1"], obj["choice2"]], "label": obj["label"]})
    return out


READERS: dict[str, Callable[[Path], list[Example]]] = {
    "xnli_tsv": read_xnli_tsv,
    "pawsx_tsv": read_pawsx_tsv,
    "qqp_tsv": read_qqp_tsv,
    "mrpc_txt": read_mrpc_txt,
    "anli_csv": read_anli_csv,
    "cosmosqa_csv": read_cosmosqa_csv,
    "socialiqa_jsonl": read_socialiqa_jsonl,
    "copa_jsonl": read_copa_jsonl,
}


# ---------------------------------------------------------------------------------------------
# hub converters: one dataset row -> one example (None drops unlabeled rows)


def _hub_label(row: dict) -> int | None:
    label = int(row["label"])
    return None if label < 0 else label


HUB_CONVERTERS: dict[str, Callable[[dict], Example | None]] = {
    "nli_hub": lambda r: {"text_a": r["premise"], "text_b": r["hypothesis"], "label": _hub_label(r)},
    "paraphrase_hub": lambda r: {"text_a": r["sentence1"], "text_b": r["sentence2"], "label": _hub_label(r)},
    "glue_pair": lambda r: {"text_a": r.get("question1", r.get("sentence1")),
                            "text_b": r.get("question2", r.get("sentence2")), "label": _hub_label(r)},
    "glue_single": lambda r: {"text_a": r["sentence"], "text_b": None, "label": _hub_label(r)},
    "cosmosqa_hub": lambda r: {"context": r["context"], "question": r["question"],
                               "choices": [r[f"answer{k}"] for k in range(4)], "label": int(r["label"])},
    "socialiqa_hub": lambda r: {"context": r["context"], "question": r["question"],
                                "choices": [r["answerA"], r["answerB"], r["answerC"]], "label": int(r["label"]) - 1},
    "copa_hub": lambda r: {"context": r["premise"], "question": COPA_QUESTIONS[r["question"]],
                           "choices": [r["choice1"], r["choice2"]], "label": _hub_label(r)},
    "hellaswag_hub": lambda r: ({"context": r["ctx"], "question": "", "choices": list(r["endings"]),
                                 "label": int(r["label"])} if str(r["label"]).strip() else None),
    "commonsenseqa_hub": lambda r: ({"context": "", "question": r["question"], "choices": list(r["choices"]["text"]),
                                     "label": list(r["choices"]["label"]).index(r["answerKey"])}
                                    if r["answerKey"] else None),
}


def load_hub_split(task: Task, split: str, lang: str) -> list[Example]:
    """Read one split from the Hugging Face hub (needs internet); ids are namespaced by hub split."""
    assert task.hub is not None
    try:
        import datasets  # heavy; only needed online
    except ImportError as e:  # pragma: no cover - datasets is a dependency
        raise MissingDataError("the `datasets` package is needed for hub sources: pip install datasets") from e
    hub_split = task.hub.splits.get(split)
    if hub_split is None:
        raise MissingDataError(f"{task.name}: the hub source has no {split!r} split")
    name = task.hub.name.format(lang=task.file_codes.get(lang, lang)) if task.hub.name else None
    if task.hub.converter not in HUB_CONVERTERS:
        import intertask.families  # noqa: F401  (families register their hub converters)
    convert = HUB_CONVERTERS[task.hub.converter]
    out: list[Example] = []
    for part in hub_split.split("+"):
        path, this_name = task.hub.path, name
        if ":" in part:  # another dataset's split, e.g. SQuAD v1.1 as XQuAD's English training data
            path, part = part.split(":", 1)
            this_name = None
        try:
            ds = datasets.load_dataset(path, this_name, split=part, revision=task.hub.revision)
        except Exception as e:  # network, auth or a renamed dataset: all need the same advice
            raise MissingDataError(
                f"{task.name} ({lang}): could not load {path}"
                f"{'/' + this_name if this_name else ''} split {part!r} from the Hugging Face hub ({type(e).__name__}: {e}). "
                f"Without internet, use local files: `data_source: local` and a data directory "
                f"(`--data DIR`, `data_dir:` or ${ENV_DATA}).") from e
        for i, row in enumerate(ds):
            ex = convert(dict(row))
            if ex is None or ("label" in ex and ex["label"] is None):  # unlabeled rows (test splits)
                continue
            ex["id"] = f"{part}:{i}"
            out.append(ex)
    return out


# ---------------------------------------------------------------------------------------------
# splits


def partition_ids(ids: list[str], fractions: tuple[float, float, float], seed: int = PARTITION_SEED) -> dict[str, list[str]]:
    """Split ids into train/dev/test by fixed-seed shuffle; each part keeps the shuffled order."""
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    order = list(ids)
    random.Random(seed).shuffle(order)
    n = len(order)
    n_train = int(round(fractions[0] * n))
    n_dev = int(round(fractions[1] * n))
    return {"train": order[:n_train], "dev": order[n_train:n_train + n_dev], "test": order[n_train + n_dev:]}


def assert_no_leakage(train_ids: Iterable[str], eval_ids: Iterable[str], what: str = "") -> None:
    """Refuse to evaluate on any item whose id was trained on (in any language)."""
    overlap = set(train_ids) & set(eval_ids)
    if overlap:
        sample = ", ".join(sorted(overlap)[:5])
        raise LeakageError(f"{what}: {len(overlap)} evaluation item(s) were also used for training (ids {sample}...)")


@dataclass
class DataSource:
    """Where a task's data is read from, resolved once per stage and recorded in the results."""

    data_dir: Path | None
    source: str = "auto"  # auto | local | hub

    def __post_init__(self) -> None:
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir)
        if self.source not in ("auto", "local", "hub"):
            raise ValueError(f"data source must be auto, local or hub, got {self.source!r}")

    def local_path(self, template: str, lang: str) -> Path | None:
        return None if self.data_dir is None else self.data_dir / template.format(lang=lang)

    def _local_files(self, task: Task, split_key: str, lang: str) -> list[Path] | None:
        if task.local is None or split_key not in task.local.files:
            return None
        spec = task.local.files[split_key]
        templates = spec if isinstance(spec, tuple) else (spec,)
        code = task.file_codes.get(lang, lang)
        return [self.local_path(t, code) for t in templates]  # type: ignore[misc]

    def choose(self, task: Task, split: str, lang: str) -> str:
        """'local' or 'hub' for this task/split/language, following `source`."""
        if task.local and split not in task.local.files and "all" not in task.local.files and task.hub \
                and self.source != "local":
            return "hub"  # e.g. SQuAD training data for XQuAD comes from the hub when online
        if self.source == "hub":
            if task.hub is None:
                raise MissingDataError(f"{task.name} has no hub source; use `data_source: local`")
            return "hub"
        key = "all" if task.local and "all" in task.local.files else split
        paths = self._local_files(task, key, lang)
        if self.source == "local" or task.hub is None:
            if paths is None:
                if task.local is None:
                    raise MissingDataError(
                        f"{task.name} has no local data (the public files are not in the offline bundle); read it "
                        f"from the Hugging Face hub ({task.hub.path if task.hub else '?'}) with `data_source: hub` "
                        f"or `auto` on a machine with internet access, or drop it from the study")
                raise MissingDataError(f"{task.name}: the local source has no {split!r} split")
            return "local"
        if paths is not None and all(p is not None and p.exists() for p in paths):
            return "local"
        return "hub"

    def read_local(self, task: Task, split: str, lang: str) -> list[Example]:
        assert task.local is not None
        if task.local.reader not in READERS:
            import intertask.families  # noqa: F401  (families register the readers of their formats)
        reader = READERS[task.local.reader]
        key = "all" if "all" in task.local.files else split
        paths = self._local_files(task, key, lang)
        if paths is None:
            raise MissingDataError(f"{task.name}: the local source has no {split!r} split")
        examples: list[Example] = []
        for p in paths:
            if p is None or not p.exists():
                raise _missing(task, p, lang)
            examples.extend(reader(p))
        if not examples:
            raise MalformedDataError(f"{paths[0]}: no examples in file")
        seen: set[str] = set()
        for ex in examples:
            if ex["id"] in seen:
                raise MalformedDataError(f"{paths[0]}: duplicate example id {ex['id']!r}")
            seen.add(ex["id"])
        if key != "all":
            if len(task.local.files) == 1:
                return examples  # one file, no other split to collide with: keep the benchmark's own ids
            # splits read from different files number their items independently ("0", "1", ...):
            # name the file in the id, so the leakage guard compares items, not line numbers
            for ex, stem in zip(examples, _stems(paths, examples, reader)):
                if not ex["id"].startswith(stem + ":"):
                    ex["id"] = f"{stem}:{ex['id']}"
            return examples
        if not task.parallel and lang != task.train_language:
            # another language's file holds different items, all of them test data; its ids restart
            # where the training file's did (TyDiQA "105-0-0" in en and ko), so name the file in them
            for ex, stem in zip(examples, _stems(paths, examples, reader)):
                ex["id"] = f"{stem}:{ex['id']}"
            return examples
        fractions = task.id_split or (1.0, 0.0, 0.0)
        if task.parallel and lang != task.train_language:
            reference = reader(self._local_files(task, "all", task.train_language)[0])  # type: ignore[index]
            if len(reference) != len(examples):
                raise MalformedDataError(
                    f"{paths[0]}: {len(examples)} examples, but the {task.train_language} file has {len(reference)}; "
                    f"{task.name} files must be parallel (line i of every language is the same item)")
        parts = partition_ids([ex["id"] for ex in examples], fractions)
        by_id = {ex["id"]: ex for ex in examples}
        return [by_id[i] for i in parts[split]]

    def available(self, task: Task, split: str, lang: str) -> bool:
        """Whether this split and language can be read: local files exist, or the hub is the source.

        With a data folder set, `auto` counts only local files: whether the hub is reachable is not
        probed, and a study should not silently mix sources.
        """
        if self.source == "hub" or (self.source == "auto" and self.data_dir is None):
            return task.hub is not None
        if task.local is None:
            return False
        key = "all" if "all" in task.local.files else split
        paths = self._local_files(task, key, lang)
        return bool(paths) and all(p is not None and p.exists() for p in paths)  # type: ignore[union-attr]

    def load(self, task: Task, split: str, lang: str | None = None, limit: int | None = None) -> list[Example]:
        """Examples of one split and language; `limit` takes a fixed prefix (nested across budgets)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        lang = lang or task.train_language
        task.check_language(lang)
        if split in ("train", "dev") and lang != task.train_language:
            raise ValueError(f"{task.name}: {split} data is {task.train_language} only (zero-shot transfer)")
        if self.choose(task, split, lang) == "local":
            examples = self.read_local(task, split, lang)
        else:
            examples = load_hub_split(task, split, lang)
            if split == "train":  # hub files come in source order; shuffle once so prefixes are random
                random.Random(PARTITION_SEED).shuffle(examples)
        for ex in examples:
            ex["lang"] = lang
        return examples[:limit] if limit else examples


def _stems(paths: list, examples: list[Example], reader: Callable) -> list[str]:
    """The file stem of each example (several files can make one split)."""
    if len(paths) == 1:
        return [paths[0].stem] * len(examples)
    stems: list[str] = []
    for p in paths:
        stems += [p.stem] * len(reader(p))
    return stems


def has_split(task: Task, split: str, source: "DataSource | None" = None) -> bool:
    """Whether a task offers a split from the source that will be used (offline sets may lack a dev)."""
    local = task.local is not None and (source is None or source.source != "hub") and (
        source is None or task.hub is None or source.choose(task, "train", task.train_language) == "local")
    if local and task.local:
        if "all" in task.local.files:
            frac = task.id_split or (1.0, 0.0, 0.0)
            return frac[SPLITS.index(split)] > 0
        return split in task.local.files
    return bool(task.hub and split in task.hub.splits)
