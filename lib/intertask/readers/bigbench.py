"""BIG-bench ``task.json`` files parsed back into the project's example shapes (span QA, tagging,
classification), for the intermediate-task pool; and the pool's one extra hub converter (OCNLI).

Disfl-QA is built on SQuAD v2 dev, which contains 173 of XQuAD's 240 paragraphs (XQuAD and LAReQA
evaluate on their translations): its reader drops every example whose context is an XQuAD paragraph
(`XQUAD_EN_CONTEXT_KEYS`), so ``disfl-qa`` is safe with XQuAD/LAReQA targets.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple

from ..tasks import NLI_LABELS, MalformedDataError
from .text import read_json


# MultiEmo's classes in the order of the file's `target_scores` keys.
MULTIEMO_LABELS: tuple[str, ...] = ("ambivalent", "positive", "negative", "neutral")
# Every tag of BIG-bench polish_sequence_labeling (the task prompt lists fewer, and misspells i_state).
POLISH_NER_TAGS: tuple[str, ...] = (
    "O", "action", "aspectual", "dont_know", "i_action", "i_state", "light_predicate", "modality",
    "nam_adj", "nam_eve", "nam_fac", "nam_liv", "nam_loc", "nam_num", "nam_num2", "nam_org", "nam_oth", "nam_pro",
    "perception", "reporting", "state", "t3_date", "t3_duration", "t3_set", "t3_time")
# CLUE's ocnli ClassLabel order (clue/clue, config "ocnli"); mapped onto NLI_LABELS by `ocnli_hub`.
OCNLI_HUB_LABELS: tuple[str, ...] = ("neutral", "entailment", "contradiction")

# sha1(normalized context)[:16] of the 240 English XQuAD paragraphs (xtreme/xquad/xquad.en.json), where
# normalized = lower-cased with every non-word character removed (Disfl-QA's contexts are re-tokenized).
XQUAD_EN_CONTEXT_KEYS: frozenset[str] = frozenset("""
    019b7b30c2168b54 02907d583f839c09 0295c21a7ef813f6 029a9ac4b0b9eea9 0329442f8f73bd5c 03a758f9f3f2b2ca
    04157390317cc091 057965910a74c880 069069f44e99e873 085fbd9da7a0369e 08c63030e55ad22c 09de10544dcfb409
    0a2ee0ba755ac351 0c3487184b2c0206 0c9b8dcb7d693230 0cdfdb91a18dc0ee 0d0450b49bdf96b6 1144f4e58600de61
    1167bf981307b7bc 11b0a537b580c31c 12e18562e6391fa2 13caf0850ff3503f 13d03b30a5002970 14a8d7d85a0f08ca
    1557478963fa9484 156cddc38ceac132 168bf11e5e15d74e 16e7800ca0098bc1 17285bcb7a3dcbbf 178fde94ccce7f0d
    17b8a427e9f80f0c 18c13b198cbc3c3d 197f7ab23151b02e 1ab3c7f2bd7638c2 1b799da85c6b5f5b 1d286720f871eaec
    1e902f09e7017e4f 1fd808112f5b3734 1ff17b475a9e8e4a 202e5ddd32282f60 22c741a771fb0bad 233edd7b1245e110
    23d8e3db11913ad1 24aa2abae5dc2ff5 2679e2308a3aacdf 274fb81402c9efbf 276fbb849215a473 28a51fcef6f2fc07
    2aa061fbd067103c 2b82262143da5089 2b9ad26327bf712d 2d1a27ba63dcff77 2e9f900752cd2467 2ead55c56ed67dda
    2fa07271a8700b0d 3074b38c681296df 32d2622d93336579 32e1d208abf3e3d0 3504d6090eb13054 359cd3a3a08b5463
    35c1f13fa64fcd2c 3660cddd1d368575 3801c1a81f11dd3e 3840baf025ce989a 39179a8fb8b037a0 3aa0c33cdc11f39a
    3bbeefc53e2c540c 3bde0f507cb4c198 3c60ac825be9ed09 40799ef02519c38d 409d34ad776db220 41d618d4ba0f197a
    4318338d48900f6c 44d9e9dbd59edd2a 46182b4839876451 47964d0cbfebd0b3 48e14ff493c9ab0b 49c43ee656c53fd7
    4ab1c2f4fcde6ab3 4ac64ae13bcd3e49 4b305b99075138c1 4cfce54d8bd43ea7 4e6db6c7cbe9aa23 4eda1f7f843031b0
    5007deba52662bcc 52302beb3735934a 53738845db66ba11 5448cbddf36c96ad 55619b6f4d3d6e2c 557286520457e968
    5687df32c43930a8 5723ae4a886b59c9 58970b3f312f14d8 58e0490712156963 5a36891860300b8d 5cc8b0e9fa36ed8e
    5ce542b9c855a184 5f5c5b6ce0824416 6016f9f837c28218 60198caa570182d9 627481c6308116d0 637a95553cbd93e2
    651f991d5dddcf01 65ae9f414a15ddd1 66dc86abca75ba12 66fe90d14267b87b 6785ac61d6c5cb73 69b3eccfc87e6ad2
    69b52d98335f88b0 6a3f2e200d6b3040 6ab4d3aa8658da71 6ada46144565d6ce 6b656499d715b40e 6c60bcdd077c39c8
    6c94e32ed0ade442 6cbd03687e77344a 6d3b0b48bb1a6f62 6ea1df828863ea88 6f88b7a77f541e12 6fa07a09b1933e63
    73873359d8f53d41 75340a539dafe53c 75f4839b7a292114 7653f6f804d98dcf 771290ecc39bc2e0 774968479e588152
    7756d614de652d1b 78b5d82a9aecf20c 78c02d75ebde3268 80553dd6c932605e 8272669e9ceb199d 85aa8d21ad67a69d
    860211fc6b6a45ba 860fe35a150d5639 871b0a12891fc94a 8740b6a8b0b3389c 88d63e2244107be5 88fbf5ca7c9f157c
    8adc67151497cf76 8b686b013fa91615 8cee14ccd27ba408 8e08a4abcd3969a6 9015798bba137f7a 9154c9e66db540ed
    93700a21fe2e2df6 9515e76c247e008c 9537ee78ec3f6b57 960da612d0f3743d 96271f5c003c9ecd 99041dc13010ebe5
    99414ef73105ecc6 99bc0c199f1a387e 9a78148f8986c026 9bae539f4b5d824c 9df255252fd44e78 9e7cd978c5cbbd8c
    a0f632548729e841 a1650913cacd79f6 a1ed49754f986265 a2578c4457845c26 a2d63eab0da1789c a3b112ca352b9a33
    a43907b465ca67b6 a4aad6408675052a a7596881405ab5f5 a79aebe9cd6b6e6b a8a5cd2ec0b9f200 aa0adf688830e292
    ad6dc4c4437db718 adc183f25340fa61 adc35f27d94b85e3 ae576084e70289de aee207049ca65fb2 aeeb37b092fe4c5c
    aff22c812a5f61c8 b14eaed08d13f89d b16d7aa79a4a21c7 b205b0e3cee32e0b b24d6ed3056e4aa8 b33d6782b1d75f07
    b37997680dbf320c b456c27c1edd33d2 b4f66b560b71ecad b66b101ac5d3e1d6 b702739affcafb1c b93d1a0d031a7c92
    bd29a17db286b276 beca27ed708afbb7 bf0716ad8783d221 c035670b43b16af4 c3695cbb99388861 c394e218e8058a5d
    c3a88196d580a5ff c4bcf840c174106a c6e79784997e124e c700cafacd65398b c882ecfe84464163 ca69bf58423420d2
    cb202009a75d872a cc9f935a884a4ade ccd70cf5482d70b7 cce6416024788d6e ce83b4d230bfd607 ce8fec57aa3a16ba
    ce94fc30760146b6 ced5c0b90023febf ceff1fac48fe21e2 d7429ac74029f6ed dfbad1318b495567 e33f57c82f81bf87
    e3abd99f077f7163 e673a4d57cba9704 e8a86e2e736e1651 e8fe7f9ee721422b e91d753df43af530 ebccca694cd80c0e
    ec20fc4ac26ddbd6 ecd5bfee6a84ff70 ed789483f0f76f3f edaaa6a9da98d5ab ee07f4b9680879fc ee3709881d00884e
    ee4e4cc41b5f6098 eebb27f51df8ce8e efb7d6707c9ebc4a f0002167ba4068d7 f13d31957594d263 f1854ad9a3102749
    f223f7b66a1b2b97 f3dec3667b1a90ee f4595b74cded3bd5 f4e5d580b8b35cf8 f580ef3ee502f36d f5ed85542a79e3d3
    f7cba08e6b1c6e67 f98921e204a31127 fa641c8201b4f09a fb0d8b2fbc55628c fbb4eafb7bf1e14b fc9559e3a1c0da55
""".split())


# ---------------------------------------------------------------------------------------------
# parsing BIG-bench task.json files


class ParseResult(NamedTuple):
    """A parsed file: its examples and how many were dropped, by reason."""

    examples: list[dict]
    dropped: dict[str, int]


def _bigbench_examples(path: Path) -> list[dict]:
    """The `examples` list of a BIG-bench task.json (each a dict), or MalformedDataError naming the file."""
    obj = read_json(path)
    examples = obj.get("examples") if isinstance(obj, dict) else None
    if not isinstance(examples, list):
        raise MalformedDataError(f"{path}: expected a BIG-bench task.json object with an 'examples' list")
    for i, ex in enumerate(examples):
        if not isinstance(ex, dict) or not isinstance(ex.get("input"), str):
            raise MalformedDataError(f"{path}: example {i}: expected an object with a string 'input'")
    return examples


def _targets(ex: dict, path: Path, i: int) -> list[str]:
    target = ex.get("target")
    targets = [target] if isinstance(target, str) else target
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise MalformedDataError(f"{path}: example {i}: 'target' must be a string or a non-empty list of strings, "
                         f"got {target!r}")
    return targets


def _at_boundary(context: str, start: int, end: int) -> bool:
    return (start == 0 or not context[start - 1].isalnum()) and (end == len(context) or not context[end].isalnum())


@lru_cache(maxsize=64)  # consecutive questions share their context
def _squeeze(context: str) -> tuple[tuple[int, ...], str]:
    """The context without whitespace, and the original index of each character kept."""
    keep = tuple(i for i, ch in enumerate(context) if not ch.isspace())
    return keep, "".join(context[i] for i in keep)


def find_answer(context: str, answer: str) -> tuple[int, str, str] | None:
    """(answer_start, span text, how) of `answer` in `context`, or None when it is not there.

    First the exact string (`how` = "exact"), else the same characters with any whitespace between
    them ("whitespace": BIG-bench's Disfl-QA contexts are tokenized, "40 , 000" for "40,000"); the
    span text is always the context's own, so ``context[start:start + len(text)] == text``. Of several
    occurrences the first that starts and ends at a word boundary wins, else the first.
    """
    answer = answer.strip()
    if not answer:
        return None
    first: tuple[int, str] | None = None
    start = context.find(answer)
    while start >= 0:
        if _at_boundary(context, start, start + len(answer)):
            return start, answer, "exact"
        first = first or (start, answer)
        start = context.find(answer, start + 1)
    if first:
        return first[0], first[1], "exact"
    # the same non-space characters, whitespace ignored: search the squeezed strings, map back
    keep, squeezed = _squeeze(context)
    needle = "".join(ch for ch in answer if not ch.isspace())
    fallback = None
    k = squeezed.find(needle)
    while k >= 0:
        start, end = keep[k], keep[k + len(needle) - 1] + 1
        if _at_boundary(context, start, end):
            return start, context[start:end], "whitespace"
        fallback = fallback or (start, context[start:end], "whitespace")
        k = squeezed.find(needle, k + 1)
    return fallback


def _answers(context: str, targets: list[str], counts: Counter) -> list[dict]:
    out: list[dict] = []
    for t in targets:
        found = find_answer(context, t)
        if found is None:
            counts["answer_not_in_context"] += 1
            continue
        start, text, how = found
        counts[f"answer_found_{how}"] += 1
        if not any(a["answer_start"] == start and a["text"] == text for a in out):
            out.append({"text": text, "answer_start": start})
    return out


PARSINLU_PASSAGE = "passage: '"
PARSINLU_QUESTION = "' question: '"


def parse_parsinlu_rc(path: str | Path) -> ParseResult:
    """BIG-bench parsinlu_reading_comprehension: ``passage: '<p>' question: '<q>'`` -> span-QA examples.

    `target` lists the gold answer strings; each is located in the passage (`find_answer`). An
    example none of whose answers is in the passage is dropped ("no_answer_in_passage"); an input
    that is not exactly one passage and one question is MalformedDataError (file and example index).
    """
    path = Path(path)
    counts: Counter = Counter()
    out: list[dict] = []
    for i, ex in enumerate(_bigbench_examples(path)):
        text = ex["input"].strip()
        if not (text.startswith(PARSINLU_PASSAGE) and text.endswith("'") and text.count(PARSINLU_QUESTION) == 1):
            raise MalformedDataError(f"{path}: example {i}: input cannot be split into passage and question "
                             f"(expected exactly \"passage: '...' question: '...'\"): {text[:80]!r}...")
        passage, question = text[len(PARSINLU_PASSAGE):-1].split(PARSINLU_QUESTION)
        if not passage.strip() or not question.strip():
            raise MalformedDataError(f"{path}: example {i}: empty passage or question")
        answers = _answers(passage, _targets(ex, path, i), counts)
        if not answers:
            counts["dropped:no_answer_in_passage"] += 1
            continue
        out.append({"id": str(i), "context": passage, "question": question.strip(), "answers": answers})
    return ParseResult(out, dict(counts))


DISFL_CONTEXT = "\ncontext: "
DISFL_UNANSWERABLE = "unknown"  # Disfl-QA keeps SQuAD v2's unanswerable questions, with this target


def xquad_context_key(context: str) -> str:
    """The key of a paragraph in `XQUAD_EN_CONTEXT_KEYS` (robust to re-tokenization and case)."""
    return hashlib.sha1(re.sub(r"\W+", "", context).lower().encode("utf-8")).hexdigest()[:16]


def parse_disfl_qa(path: str | Path) -> ParseResult:
    """BIG-bench disfl_qa: ``<disfluent question>\\ncontext: <context>`` and the answer text -> span QA.

    Dropped (and counted): paragraphs of XQuAD ("xquad_overlap", see the module docstring),
    unanswerable questions (target "unknown"), empty questions, and answers not found in the context. An input
    without exactly one ``\\ncontext: `` is MalformedDataError (file and example index).
    """
    path = Path(path)
    counts: Counter = Counter()
    out: list[dict] = []
    keys: dict[str, str] = {}  # 8,000 questions share about 1,200 contexts
    for i, ex in enumerate(_bigbench_examples(path)):
        text = ex["input"]
        if text.count(DISFL_CONTEXT) != 1:
            raise MalformedDataError(f"{path}: example {i}: input cannot be split into question and context "
                             f"(expected exactly one {DISFL_CONTEXT!r}): {text[:80]!r}...")
        question, context = text.split(DISFL_CONTEXT)
        question, context = question.strip(), context.rstrip()
        targets = _targets(ex, path, i)
        if not question or not context.strip():  # one real example (7464) has an empty question
            counts["dropped:empty_question_or_context"] += 1
            continue
        if context not in keys:
            keys[context] = xquad_context_key(context)
        if keys[context] in XQUAD_EN_CONTEXT_KEYS:
            counts["dropped:xquad_overlap"] += 1
            continue
        if [t.strip().lower() for t in targets] == [DISFL_UNANSWERABLE]:
            counts["dropped:unanswerable"] += 1
            continue
        answers = _answers(context, targets, counts)
        if not answers:
            counts["dropped:answer_not_in_context"] += 1
            continue
        out.append({"id": str(i), "context": context, "question": question, "answers": answers})
    return ParseResult(out, dict(counts))


def parse_polish_ner(path: str | Path) -> ParseResult:
    """BIG-bench polish_sequence_labeling: whitespace-separated tokens (`input`) and tags (`target`).

    An example without tokens and tags is dropped ("empty"); a token/tag count mismatch or a tag
    outside `POLISH_NER_TAGS` is MalformedDataError (file and example index).
    """
    path = Path(path)
    known = set(POLISH_NER_TAGS)
    counts: Counter = Counter()
    out: list[dict] = []
    for i, ex in enumerate(_bigbench_examples(path)):
        targets = _targets(ex, path, i)
        if len(targets) != 1:
            raise MalformedDataError(f"{path}: example {i}: expected one target string of tags, got {len(targets)}")
        tokens, tags = ex["input"].split(), targets[0].split()
        if len(tokens) != len(tags):
            raise MalformedDataError(f"{path}: example {i}: {len(tokens)} tokens but {len(tags)} tags")
        if not tokens:
            counts["dropped:empty"] += 1
            continue
        bad = sorted(set(tags) - known)
        if bad:
            raise MalformedDataError(f"{path}: example {i}: unknown tag(s) {bad}; known: {list(POLISH_NER_TAGS)}")
        out.append({"id": str(i), "tokens": tokens, "tags": tags})
    return ParseResult(out, dict(counts))


_MULTIEMO_LABEL_SET = frozenset(MULTIEMO_LABELS)


def _multiemo_label(ex: dict, path: Path, i: int) -> int:
    scores = ex.get("target_scores")
    if scores is not None:
        if not isinstance(scores, dict) or scores.keys() != _MULTIEMO_LABEL_SET:
            raise MalformedDataError(f"{path}: example {i}: target_scores keys {sorted(scores) if isinstance(scores, dict) else scores!r}"
                             f" are not the labels {list(MULTIEMO_LABELS)}")
        best = max(scores.values())
        winners = [k for k, v in scores.items() if v == best]
        if len(winners) != 1:
            raise MalformedDataError(f"{path}: example {i}: target_scores has no single best label: {scores}")
        return MULTIEMO_LABELS.index(winners[0])
    targets = _targets(ex, path, i)
    if len(targets) != 1 or targets[0].strip() not in MULTIEMO_LABELS:
        raise MalformedDataError(f"{path}: example {i}: target {targets!r} is not one of {list(MULTIEMO_LABELS)}")
    return MULTIEMO_LABELS.index(targets[0].strip())


def parse_multiemo(path: str | Path) -> ParseResult:
    """BIG-bench multiemo/all_sentence_xx: one sentence and its sentiment (4 classes) per example.

    The label is the `target_scores` key scoring 1 (or the `target` string). Ids are the example
    index, the same item in every language's file; sentences that are empty are dropped ("empty_text").
    """
    path = Path(path)
    counts: Counter = Counter()
    out: list[dict] = []
    for i, ex in enumerate(_bigbench_examples(path)):
        label = _multiemo_label(ex, path, i)
        text = ex["input"].strip()
        if not text:
            counts["dropped:empty_text"] += 1
            continue
        out.append({"id": str(i), "text_a": text, "text_b": None, "label": label})
    return ParseResult(out, dict(counts))


# ---------------------------------------------------------------------------------------------
# readers (path -> examples), memoized per file version


_REPORTED: set[str] = set()


@lru_cache(maxsize=8)
def _parse_cached(parser: Callable[[Path], ParseResult], path: str, mtime_ns: int, size: int) -> ParseResult:
    return parser(Path(path))


def parse_cached(parser: Callable[[Path], ParseResult], path: str | Path) -> ParseResult:
    """`parser(path)`, memoized per file version (DataSource reads a file once per split).

    The result is shared: copy examples before changing them (the readers do).
    """
    path = Path(path).resolve()
    st = path.stat()
    return _parse_cached(parser, str(path), st.st_mtime_ns, st.st_size)


def _copy(ex: dict) -> dict:
    """A copy of an example down to its lists (tokens, tags) and answer dicts."""
    return {k: [dict(a) if isinstance(a, dict) else a for a in v] if isinstance(v, list) else v for k, v in ex.items()}


def _reader(parser: Callable[[Path], ParseResult]) -> Callable[[Path], list[dict]]:
    def read(path: Path) -> list[dict]:
        path = Path(path)
        result = parse_cached(parser, path)
        dropped = {k: v for k, v in result.dropped.items() if k.startswith("dropped:")}
        if dropped and str(path) not in _REPORTED:
            _REPORTED.add(str(path))
            print(f"[intertask] {path}: dropped " + ", ".join(f"{v} ({k[8:]})" for k, v in sorted(dropped.items())))
        return [_copy(ex) for ex in result.examples]  # the parse is shared; DataSource adds "lang" to examples

    read.__name__ = f"read_{parser.__name__.removeprefix('parse_')}"
    read.__doc__ = f"Reader for DataSource: {parser.__doc__.splitlines()[0] if parser.__doc__ else ''}"
    return read


read_parsinlu_rc = _reader(parse_parsinlu_rc)
read_disfl_qa = _reader(parse_disfl_qa)
read_polish_ner = _reader(parse_polish_ner)
read_multiemo = _reader(parse_multiemo)


def ocnli_hub(row: dict) -> dict | None:
    """A clue/clue ``ocnli`` row -> classification example with NLI_LABELS ids (None: no gold label)."""
    label = int(row["label"])
    if not 0 <= label < len(OCNLI_HUB_LABELS):
        return None  # -1: the hidden test labels / no annotator majority
    return {"text_a": row["sentence1"], "text_b": row["sentence2"],
            "label": NLI_LABELS.index(OCNLI_HUB_LABELS[label])}
