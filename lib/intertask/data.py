"""Reading task data: local files (XTREME `download/` layout, original English releases) and the hub.

The readers themselves (one table, format name -> function) are in `intertask.readers`.

Splits are "train" and "dev" (in the task's training language, English) and "test" (any language).
Where only one labelled file exists (XNLI/PAWS-X dev offline, ANLI dev rounds, ...), it is partitioned
by *content* with a fixed seed (`partition_by_content`): items that share a premise, a
sentence or a paragraph stay in one part. Parallel files are grouped on the training language's file
and the same partition is used for every language, so no item trained on in one language is evaluated
in another (`assert_no_leakage` checks the ids, `leakage.ContentGuard` the content).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from .leakage import PARTITION_SEED, drop_protected_contexts, partition_by_content
from .readers import HUB_CONVERTERS, READERS
from .registry import get_task
from .tasks import DataError, Example, LeakageError, MalformedDataError, MissingDataError, Task

__all__ = ["DataSource", "DataError", "MissingDataError", "MalformedDataError", "LeakageError", "resolve_data_dir",
           "load_hub_split", "assert_no_leakage", "has_split", "ENV_DATA", "PARTITION_SEED", "SPLITS"]

ENV_DATA = "INTERTASK_DATA"
SPLITS = ("train", "dev", "test")


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


def decoding_error(path: Path) -> MalformedDataError:
    """`file:line:column` of the first byte that is not UTF-8, and what to do about it."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:  # decoding the whole file gives the absolute offset
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return MalformedDataError(
            f"{path}:{line}:{column}: byte 0x{raw[e.start]:02x} is not valid UTF-8; data files must be UTF-8 "
            f"encoded. Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or restore the original.")
    return MalformedDataError(f"{path}: not valid UTF-8; data files must be UTF-8 encoded")



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
        reader = READERS[task.local.reader]
        key = "all" if "all" in task.local.files else split
        paths = self._local_files(task, key, lang)
        if paths is None:
            raise MissingDataError(f"{task.name}: the local source has no {split!r} split")
        examples: list[Example] = []
        for p in paths:
            if p is None or not p.exists():
                raise _missing(task, p, lang)
            try:
                examples.extend(reader(p))
            except UnicodeDecodeError:
                raise decoding_error(p) from None
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
        # parallel files are grouped on the training language's file: line i of every language is the same
        # item; an aligned task's file on its partner's (same ids)
        ref = get_task(task.aligned_with) if task.aligned_with else task
        ref_paths = self._local_files(ref, "all", ref.train_language) if task.parallel or task.aligned_with else paths
        assert ref.local is not None
        n_reference, parts = _content_partition(tuple(_file_version(p) for p in ref_paths or []), ref.local.reader,
                                                ref.format, fractions)
        if task.parallel and n_reference != len(examples):
            raise MalformedDataError(
                f"{paths[0]}: {len(examples)} examples, but the {task.train_language} file has {n_reference}; "
                f"{task.name} files must be parallel (line i of every language is the same item)")
        by_id = {ex["id"]: ex for ex in examples}
        # an aligned file's items without a partner (dropped there as empty) belong to no part
        return [by_id[i] for i in parts[split] if i in by_id]

    def split_label(self, task: Task, lang: str) -> str:
        """What the evaluated items of `lang` really are, for the results' `split` column.

        "test" only for a benchmark's test set; "dev" for a dev set evaluated as the test (MLQA and
        BUCC offline); "<origin>-subset" for the held-out part of a partitioned file (XNLI's dev
        offline gives "dev-subset", TyDiQA's English training file "train-subset").
        """
        if self.choose(task, "test", lang) == "hub":
            assert task.hub is not None
            name = task.hub.splits.get("test", "test")
            return task.hub.origin.get("test", {"validation": "dev"}.get(name, name))
        assert task.local is not None
        key = "all" if "all" in task.local.files else "test"
        origin = task.local.origin.get(key, key)
        partitioned = key == "all" and (task.parallel or lang == task.train_language) and \
            (task.id_split or (1.0, 0.0, 0.0))[2] < 1.0
        return f"{origin}-subset" if partitioned else origin

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

    def _load_hub(self, task: Task, split: str, lang: str) -> list[Example]:
        return _load_hub_with_notice(self, task, split, lang)

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
            examples = self._load_hub(task, split, lang)
            if split == "train":  # hub files come in source order; shuffle once so prefixes are random
                random.Random(PARTITION_SEED).shuffle(examples)
        if split in ("train", "dev"):
            # training and model selection never see known test paragraphs (SQuAD dev holds XQuAD's)
            examples, dropped = drop_protected_contexts(task, examples)
            if dropped:
                print(f"[intertask] {task.name} {split}: dropped {dropped} example(s) whose paragraph is one of "
                      f"XQuAD's test paragraphs")
        for ex in examples:
            ex["lang"] = lang
        return examples[:limit] if limit else examples


def _absent_local_files(source: DataSource, task: Task, split: str, lang: str) -> list[str]:
    """The local files `auto` looked for and did not find (empty when the task has none to look for)."""
    if task.local is None or source.source != "auto":
        return []
    key = "all" if "all" in task.local.files else split
    paths = source._local_files(task, key, lang) or []
    return [str(p) if p is not None else "(no data folder set)" for p in paths if p is None or not p.exists()]


def _load_hub_with_notice(source: DataSource, task: Task, split: str, lang: str) -> list[Example]:
    absent = _absent_local_files(source, task, split, lang)
    if absent:  # say why the hub is tried before it is, and what was missing if it fails too
        print(f"{task.name} ({lang}): local file(s) not found: {', '.join(absent)}; data_source is auto, "
              f"so trying the Hugging Face hub ({task.hub.path if task.hub else '?'}) ...", flush=True)
    try:
        return load_hub_split(task, split, lang)
    except MissingDataError as e:
        if not absent:
            raise
        raise MissingDataError(
            f"{task.name} ({lang}): the expected local file(s) are missing ({', '.join(absent)}; data folder: "
            f"{source.data_dir}) and the hub could not be read either ({e.__cause__ or e}). Put the files in "
            f"that folder, point `--data DIR` or `data_dir:` at a folder that has them, or run where the hub "
            f"is reachable.") from e


def _file_version(path: Path | None) -> tuple[str, int, int]:
    st = Path(path).stat()  # type: ignore[arg-type]
    return str(path), st.st_mtime_ns, st.st_size


@lru_cache(maxsize=64)
def _content_partition(files: tuple[tuple[str, int, int], ...], reader: str, fmt: str,
                       fractions: tuple[float, float, float]) -> tuple[int, dict[str, list[str]]]:
    """(items, partition) of the files read as one split: computed once per file version, as every
    split and language of a task asks for the same partition."""
    examples: list[Example] = []
    for path, _mtime, _size in files:
        examples.extend(READERS[reader](Path(path)))
    return len(examples), partition_by_content(examples, fmt, fractions)


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
