"""No content leakage: content fingerprints, content-grouped partitions, the evaluation guard, provenance.

Ids say nothing about content: offline XNLI has 2,490 lines per language but 830 premises, and PAWS-X
pairs share sentences, so a split by line id puts the premise of most evaluated items into training.
This module works on *content* instead:

- `fingerprint` normalizes text (Unicode NFKC, casefold, punctuation and whitespace collapsed) and
  hashes it; `content_keys` gives an example's fingerprints from the fields its **format** declares
  (`CONTENT_FIELDS`), never from a task's name.
- `content_groups` joins examples that share any fingerprint (union-find), and `partition_groups`
  splits whole groups into train/dev/test with a fixed seed, independent of the run's seed.
- `ContentGuard` holds the fingerprints of every training and model-selection input of a run (all
  tasks, all stages) and removes evaluated items that share one, counting them per language.
- `target_clashes` compares declared provenance (`Task.provenance`): an intermediate task that
  contains the target's training data or its test items is refused unless `allow_target_in_pool`.
- `drop_protected_contexts` removes XQuAD's paragraphs from SQuAD-derived training/selection data.

No torch (only `tasks`, `registry` and `readers`): the orchestrator (study, run) uses it too.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .readers.bigbench import XQUAD_EN_CONTEXT_KEYS, xquad_context_key
from .registry import get_task
from .tasks import FORMATS, Task

# The partition must not change with the run's seed, or different seeds would be evaluated on
# different items; the value is the one the id partition used.
PARTITION_SEED = 20200000
FINGERPRINT_CHARS = 16  # 64 bits: no chance collision among the few million inputs of a study

# Which fields of an example are its content, per format. Each entry is one fingerprint; fields in
# one entry are joined first. Single fields (a premise, a sentence, a paragraph) are compared on
# their own, so sharing one is enough to be "the same content"; fields that are constant or generic
# on their own (COPA's "What was the cause?") are only compared together with the answer options.
CONTENT_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "classification": (("text_a",), ("text_b",)),              # premise / hypothesis, sentence pairs
    "multiple_choice": (("context",), ("question", "choices")),  # passage; question with its options
    "tagging": (("tokens",),),                                   # the sentence
    "span_qa": (("context",), ("question",)),                    # paragraph; question
    "retrieval": (("text",), ("target",)),                       # query sentence; its gold translation
}
assert set(CONTENT_FIELDS) == set(FORMATS), "every format declares its content fields"

_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)

# Collections whose paragraphs are known, by fingerprint, without reading any file: a task whose
# provenance names one has those paragraphs removed from its training and selection splits.
# XQuAD's 240 English paragraphs come from SQuAD v1.1 dev (`readers.bigbench.XQUAD_EN_CONTEXT_KEYS`); the keys
# are precomputed because hub users have no local XQuAD file to fingerprint.
PROTECTED_PARAGRAPHS: dict[str, frozenset[str]] = {"xquad": XQUAD_EN_CONTEXT_KEYS}

# What each provenance tag shared by several tasks stands for (`Task.provenance` uses these names;
# a tag of one task only is that task's own dataset).
PROVENANCE: dict[str, str] = {
    "xnli": "XNLI dev/test items (premises and hypotheses, translated into 15 languages)",
    "mnli": "MultiNLI training data: XNLI's English training set on the hub; KorNLI translates it",
    "mnli-protocol": "NLI pairs written to MultiNLI's protocol: MNLI, XNLI, KorNLI, OCNLI (XNLI's kind of training data)",
    "paws": "PAWS-Wiki: PAWS-X's English training data; PAWS-X dev/test translate its dev/test",
    "copa": "COPA: XCOPA's English training data; XCOPA translates COPA's val and test sets",
    "ud": "Universal Dependencies treebanks (UD-POS train/dev/test, the UD dev sets of the pool)",
    "wikiann": "WikiANN / PAN-X named entities",
    "squad": "SQuAD v1.1 (train and dev): XQuAD's and MLQA's English training data on the hub; Disfl-QA rewrites its dev",
    "xquad": "XQuAD's 240 paragraphs (from SQuAD v1.1 dev) and translations; LAReQA's XQuAD-R is built from them",
    "tydiqa": "TyDiQA-GoldP, any language (the tydiqa target's test items; the tydiqa-ko/-sw pool tasks)",
    "tydiqa-en": "TyDiQA-GoldP's English training file: the tydiqa target's and, offline, XQuAD's and MLQA's training data",
    "mlqa": "MLQA dev/test",
    "multiemo": "MultiEmo sentences: the en and pl files are sentence-aligned translations (same items)",
}


# ---------------------------------------------------------------------------------------------
# fingerprints


def normalize(text: str) -> str:
    """NFKC, casefold, and every run of punctuation/whitespace as one space (tokenized copies match)."""
    return _PUNCT_OR_SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def fingerprint(text: str) -> str | None:
    """The hash of the normalized text, or None when nothing is left (empty or punctuation only)."""
    norm = normalize(text)
    if not norm:
        return None
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=FINGERPRINT_CHARS // 2).hexdigest()


def _field_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_field_text(v) for v in value)
    return str(value)


def content_keys(example: Mapping, fmt: str) -> list[str]:
    """The fingerprints of one example's content fields, as its format declares them."""
    try:
        declared = CONTENT_FIELDS[fmt]
    except KeyError:
        raise ValueError(f"format {fmt!r} declares no content fields; expected one of {sorted(CONTENT_FIELDS)}") from None
    keys = []
    for fields in declared:
        text = _field_text(example.get(fields[0])) if len(fields) == 1 else \
            " ".join(_field_text(example.get(f)) for f in fields)
        fp = fingerprint(text)
        if fp is not None:
            keys.append(fp)
    return keys


def item_keys(example: Mapping, fmt: str, counterparts: Mapping[str, Mapping] | None = None) -> set[str]:
    """An evaluated item's keys: its own and, for parallel data, its training-language twin's."""
    keys = set(content_keys(example, fmt))
    twin = (counterparts or {}).get(example.get("id"))  # type: ignore[arg-type]
    if twin is not None:
        keys |= set(content_keys(twin, fmt))
    return keys


def fingerprints(examples: Iterable[Mapping], fmt: str) -> set[str]:
    return {k for ex in examples for k in content_keys(ex, fmt)}


# ---------------------------------------------------------------------------------------------
# content-grouped partitions


def content_groups(examples: Sequence[Mapping], fmt: str) -> list[int]:
    """For each example, the index of its group: examples sharing any content key are one group.

    Union-find over examples with one "first owner" per key: a few lines, and no graph library is
    needed for connected components of ~10^5 items (PAWS-X pairs chained by shared sentences).
    """
    parent = list(range(len(examples)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, ex in enumerate(examples):
        for key in content_keys(ex, fmt):
            j = owner.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(len(examples))]


def partition_groups(ids: Sequence[str], groups: Sequence[int], fractions: tuple[float, float, float],
                     seed: int = PARTITION_SEED) -> dict[str, list[str]]:
    """Split ids into train/dev/test so that every group lies in exactly one part.

    Groups are shuffled with the fixed seed and filled into train, then dev, then test up to each
    part's share of the items; each part's items are then shuffled (same seed), so a budget's prefix
    is a random sample of items rather than whole groups in a row.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    if len(ids) != len(groups):
        raise ValueError(f"{len(ids)} ids but {len(groups)} group labels")
    members: dict[int, list[str]] = {}
    for i, g in zip(ids, groups):
        members.setdefault(g, []).append(i)
    order = list(members)
    rng = random.Random(seed)
    rng.shuffle(order)
    n = len(ids)
    bounds = (round(fractions[0] * n), round((fractions[0] + fractions[1]) * n))
    parts: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    filled = 0
    for g in order:
        # a group goes to the first part that still has room for its first item
        part = "train" if filled < bounds[0] else "dev" if filled < bounds[1] else "test"
        parts[part].extend(members[g])
        filled += len(members[g])
    for name in parts:
        random.Random(f"{seed}-{name}").shuffle(parts[name])
    return parts


def partition_by_content(examples: Sequence[Mapping], fmt: str, fractions: tuple[float, float, float],
                         seed: int = PARTITION_SEED) -> dict[str, list[str]]:
    """`partition_groups` over the content groups of `examples` (for parallel data: the English file)."""
    return partition_groups([ex["id"] for ex in examples], content_groups(examples, fmt), fractions, seed)


# ---------------------------------------------------------------------------------------------
# the evaluation guard


@dataclass
class ContentGuard:
    """Fingerprints of every training and model-selection input a model has seen, per task.

    Kept with each checkpoint (`content_fingerprints.json`) and inherited by the stages trained
    from it, so the evaluation compares against all stages of the run.
    """

    seen: dict[str, set[str]] = field(default_factory=dict)

    def add(self, task: str, examples: Iterable[Mapping], fmt: str) -> None:
        self.seen.setdefault(task, set()).update(fingerprints(examples, fmt))

    def merge(self, other: "ContentGuard") -> "ContentGuard":
        out = ContentGuard({t: set(v) for t, v in self.seen.items()})
        for t, v in other.seen.items():
            out.seen.setdefault(t, set()).update(v)
        return out

    def sources(self, keys: Iterable[str]) -> list[str]:
        """The tasks whose inputs hold any of `keys`."""
        keys = set(keys)
        return sorted(t for t, v in self.seen.items() if keys & v)

    def split(self, examples: Sequence[dict], fmt: str,
              counterparts: Mapping[str, Mapping] | None = None) -> tuple[list[dict], list[dict]]:
        """(kept, dropped): an item is dropped when its content, or its parallel English item's
        (`counterparts`: id -> example), was trained on or used for model selection."""
        every = set().union(*self.seen.values()) if self.seen else set()
        kept, dropped = [], []
        for ex in examples:
            (dropped if item_keys(ex, fmt, counterparts) & every else kept).append(ex)
        return kept, dropped

    def to_json(self) -> dict:
        return {"fingerprint": f"blake2b-{FINGERPRINT_CHARS * 4}(NFKC casefold, punctuation/space collapsed)",
                "tasks": {t: sorted(v) for t, v in sorted(self.seen.items())}}

    @classmethod
    def from_json(cls, obj: Mapping) -> "ContentGuard":
        return cls({t: set(v) for t, v in obj.get("tasks", {}).items()})


# ---------------------------------------------------------------------------------------------
# provenance: no target data through the back door


def target_clashes(target: str, tasks: Iterable[str]) -> dict[str, list[str]]:
    """Intermediate task -> the collections it shares with the target (its training data or test items)."""
    protected = set(get_task(target).provenance)
    out: dict[str, list[str]] = {}
    for name in tasks:
        shared = sorted(protected & set(get_task(name).provenance))
        if name == target or shared:
            out[name] = shared or [target]
    return out


def target_in_pool(target: str, tasks: Iterable[str]) -> bool:
    """Whether a condition trains on the target's own data (only possible with allow_target_in_pool)."""
    return bool(target_clashes(target, tasks))


def protected_contexts(task: Task) -> frozenset[str]:
    """Fingerprint keys of known test paragraphs that this task's training data may contain."""
    return frozenset().union(*(PROTECTED_PARAGRAPHS.get(tag, frozenset()) for tag in task.provenance))


def drop_protected_contexts(task: Task, examples: list[dict]) -> tuple[list[dict], int]:
    """Training/selection examples without the test paragraphs they are known to contain (SQuAD dev
    holds XQuAD's paragraphs); returns the kept examples and how many were dropped."""
    keys = protected_contexts(task)
    if not keys:
        return examples, 0
    # these keys are lower-cased with every non-word character removed (robust to SQuAD's re-tokenized copies)
    kept = [ex for ex in examples if xquad_context_key(_field_text(ex.get("context"))) not in keys]
    return kept, len(examples) - len(kept)


# ---------------------------------------------------------------------------------------------
# the guard's file, kept in every checkpoint

GUARD_FILE = "content_fingerprints.json"


def load_guard(checkpoint: str | Path) -> ContentGuard | None:
    """The fingerprints a checkpoint was trained and selected on (all its stages); an empty guard for
    a pretrained model (no intertask checkpoint), None for a checkpoint written without them."""
    path = Path(checkpoint)
    if (path / GUARD_FILE).exists():
        return ContentGuard.from_json(json.loads((path / GUARD_FILE).read_text()))
    return None if (path / "heads.json").exists() else ContentGuard()  # models.HEADS_META (models needs torch)


def save_guard(guard: ContentGuard, checkpoint: str | Path) -> Path:
    path = Path(checkpoint) / GUARD_FILE
    path.write_text(json.dumps(guard.to_json()))
    return path
