"""Metrics of the XTREME / XTREME-R benchmarks, re-implemented from their definitions.

Pure module: imports only the standard library and numpy.

Scales
------
Every function returns a fraction in [0, 1], EXCEPT ``squad_scores`` and
``mlqa_scores``, which return percentages in [0, 100] like the official SQuAD
v1.1 and MLQA evaluation scripts.  (XTREME's ``evaluate.py`` multiplies every
other metric by 100 when it prints them; do that at reporting time.)

Sources followed (definitions, not code):

* tagging: seqeval >= 1.0 default mode (``seqeval.metrics.f1_score`` without
  ``mode='strict'``), which is what XTREME's ``evaluate.py`` calls for both
  PAN-X and UD-POS;
* QA: SQuAD v1.1 ``evaluate-v1.1.py`` (XQuAD, TyDiQA-GoldP) and MLQA's
  ``mlqa_evaluation_v1.py`` (MLQA);
* retrieval: XTREME's Tatoeba accuracy, BUCC threshold optimisation
  (``bucc_optimize`` / ``bucc_extract``), LAReQA's ``average_precision_at_k``
  and Mewsli-X's MRR@20 (which equals the mAP@20 defined here for one gold);
* aggregation: XTREME's ``evaluate.py`` (per-language mean, per-task metric,
  overall mean over tasks).
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
import warnings
from collections import Counter
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "accuracy",
    "get_entities",
    "span_f1",
    "pos_f1",
    "token_accuracy",
    "normalize_answer",
    "exact_match",
    "f1",
    "squad_scores",
    "mlqa_normalize",
    "mlqa_exact_match",
    "mlqa_f1",
    "mlqa_scores",
    "tatoeba_accuracy",
    "average_precision_at_k",
    "mean_average_precision_at_k",
    "bucc_f1",
    "task_average",
    "qa_task_metric",
    "xtreme_r_score",
    "SCORERS",
    "score",
]

# --------------------------------------------------------------------------- #
# Classification
# --------------------------------------------------------------------------- #


def accuracy(predictions: Sequence, labels: Sequence) -> float:
    """Fraction (in [0, 1]) of positions where ``predictions[i] == labels[i]``.

    Used by XTREME for XNLI, PAWS-X (and XCOPA in XTREME-R).
    Raises ValueError on a length mismatch or empty input: the official script
    would silently truncate (zip) or divide by zero.
    """
    if len(predictions) != len(labels):
        raise ValueError(
            f"accuracy: {len(predictions)} predictions but {len(labels)} labels"
        )
    if len(labels) == 0:
        raise ValueError("accuracy: empty input (no examples to score)")
    correct = sum(1 for p, g in zip(predictions, labels) if p == g)
    return correct / len(labels)


# --------------------------------------------------------------------------- #
# Tagging (seqeval-compatible chunking)
# --------------------------------------------------------------------------- #


def _check_tag_lengths(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], name: str) -> None:
    """Validate sentence counts and per-sentence lengths (error names the index)."""
    if len(gold) != len(pred):
        raise ValueError(f"{name}: {len(gold)} gold sentences but {len(pred)} predicted sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(
                f"{name}: sentence {i} has {len(g)} gold tags but {len(p)} predicted tags"
            )


def _split_tag(tag: str) -> tuple[str, str]:
    """seqeval's (prefix, type) split: first character, and the rest after an optional '-'.

    'B-PER' -> ('B', 'PER'); 'O' -> ('O', '_'); 'NOUN' -> ('N', 'OUN');
    'X' -> ('X', '_').  The odd results for non-BIO tags are intentional: they
    are what seqeval does, hence what XTREME's UD-POS score measures.
    """
    if not isinstance(tag, str) or tag == "":
        raise ValueError(f"invalid tag {tag!r}: tags must be non-empty strings")
    return tag[0], (tag[1:].split("-", 1)[-1] or "_")


def _chunk_ends(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    # conlleval/seqeval rule: a chunk ends before `tag` when the previous token
    # closed it (E/S), when a B/S/O follows B/I, or when the type changes.
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _chunk_starts(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    # A chunk starts at B/S, at I/E that does not continue a chunk (the
    # non-strict "broken span" rule), or whenever the type changes.
    if tag in ("B", "S"):
        return True
    if tag in ("E", "I") and prev_tag in ("E", "S", "O"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def get_entities(sentences: Sequence[Sequence[str]]) -> list[tuple[str, int, int]]:
    """Chunks ``(type, start, end)`` (inclusive offsets) exactly as seqeval>=1.0 extracts them.

    Like seqeval, the sentences are concatenated with an ``'O'`` appended after
    each one (so offsets are global and most chunks close at sentence end), and
    the non-strict conlleval rules apply: ``I-X`` after ``O`` or after another
    type starts a new chunk, a type change ends the running chunk.
    """
    flat: list[str] = []
    for sent in sentences:
        flat.extend(sent)
        flat.append("O")  # seqeval's sentence separator
    chunks: list[tuple[str, int, int]] = []
    prev_tag, prev_type, begin = "O", "", 0  # seqeval starts with prev_type ''
    for i, label in enumerate(flat + ["O"]):
        tag, type_ = _split_tag(label)
        if _chunk_ends(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _chunk_starts(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def _prf(n_correct: int, n_pred: int, n_gold: int) -> dict[str, float]:
    # seqeval's zero_division='warn' behaves as 0 for every undefined ratio.
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    denom = precision + recall
    f = 2 * precision * recall / denom if denom else 0.0
    return {"precision": precision, "recall": recall, "f1": f}


def span_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro-averaged chunk precision/recall/F1 (fractions in [0, 1]), seqeval default mode.

    XTREME scores PAN-X with this F1.  BIO/IOB2 tags; broken spans are handled
    conlleval-style: ``O I-PER`` starts a PER chunk, ``B-PER I-ORG`` is two
    chunks (PER, ORG).  A predicted chunk is correct only if type, start and end
    all match a gold chunk.  No gold and no predicted chunks -> all zeros (as
    seqeval).  Raises ValueError naming the sentence whose lengths differ.
    """
    _check_tag_lengths(gold, pred, "span_f1")
    gold_chunks = set(get_entities(gold))
    pred_chunks = set(get_entities(pred))
    return _prf(len(gold_chunks & pred_chunks), len(pred_chunks), len(gold_chunks))


def pos_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """UD-POS score exactly as XTREME's ``evaluate.py`` computes it: seqeval F1 on raw UPOS tags.

    Fractions in [0, 1].  This is NOT token accuracy.  seqeval reads a UPOS tag
    as prefix = first letter, type = the rest (``NOUN`` -> ('N', 'OUN'),
    ``X`` -> ('X', '_')), so with seqeval >= 1.0:

    * a run of identical adjacent tags is ONE chunk (``NOUN NOUN`` = one
      'OUN' chunk spanning both tokens); a chunk counts as correct only if the
      whole run matches;
    * tags whose first letter is 'S' (SCONJ, SYM) are single-token chunks
      (prefix 'S' = singleton), even when repeated;
    * CCONJ and SCONJ share the type 'CONJ', so ``CCONJ SCONJ`` loses the CCONJ
      chunk and ``SCONJ CCONJ...`` yields overlapping chunks;
    * ``X`` has type '_' like ``O``: an X run is emitted only when followed by a
      different tag inside the sentence; an X run at sentence end is dropped,
      and may silently extend into an X-initial next sentence.

    seqeval 0.0.x (current when XTREME was released) used the whole tag as the
    type ('X' stays 'X'), which differs only in the X and CCONJ/SCONJ cases.
    Use ``token_accuracy`` for the conventional POS accuracy.
    """
    _check_tag_lengths(gold, pred, "pos_f1")
    return span_f1(gold, pred)


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Plain per-token accuracy over all sentences (fraction in [0, 1])."""
    _check_tag_lengths(gold, pred, "token_accuracy")
    total = sum(len(s) for s in gold)
    if total == 0:
        raise ValueError("token_accuracy: no tokens to score")
    correct = sum(1 for g, p in zip(gold, pred) for a, b in zip(g, p) if a == b)
    return correct / total


# --------------------------------------------------------------------------- #
# QA: SQuAD v1.1 (XQuAD, TyDiQA-GoldP in XTREME)
# --------------------------------------------------------------------------- #

_ASCII_PUNCT = frozenset(string.punctuation)
_EN_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower, drop ASCII punctuation, drop a/an/the, collapse whitespace.

    Thai (and Chinese) under this script: XTREME scores XQuAD (incl. th, zh)
    and TyDiQA-GoldP with the SQuAD v1.1 script, which tokenises on whitespace
    only.  Thai writes no spaces between words, so a Thai answer is usually a
    single "token": F1 then gives partial credit only across space-separated
    phrases and is close to exact match.  Non-ASCII punctuation (e.g. '。',
    '，', '«') is NOT removed here (only ``string.punctuation``).
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
    text = _EN_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold_answers: Sequence[str] | str) -> float:
    """SQuAD v1.1 exact match, max over gold answers: 1.0 or 0.0 (per question, not percent)."""
    golds = _as_answer_list(gold_answers)
    p = normalize_answer(prediction)
    return max(float(p == normalize_answer(g)) for g in golds)


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    # Official v1.1 returns 0 whenever there is no overlap, so an empty
    # prediction against an empty (normalised) gold gets F1 0 but EM 1.
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, gold_answers: Sequence[str] | str) -> float:
    """SQuAD v1.1 bag-of-token F1 in [0, 1], max over gold answers (per question, not percent)."""
    golds = _as_answer_list(gold_answers)
    p = normalize_answer(prediction).split()
    return max(_token_f1(p, normalize_answer(g).split()) for g in golds)


def _as_answer_list(gold_answers: Sequence[str] | str) -> list[str]:
    golds = [gold_answers] if isinstance(gold_answers, str) else list(gold_answers)
    if not golds:
        # The official scripts take max() over an empty list and crash.
        raise ValueError("no gold answers given")
    return golds


def _qa_scores(predictions: Mapping[Hashable, str], gold: Mapping[Hashable, Sequence[str]],
               em_fn, f1_fn, name: str) -> dict:
    if not gold:
        raise ValueError(f"{name}: no gold questions")
    em_sum = f1_sum = 0.0
    unanswered: list = []
    for qid, answers in gold.items():
        if qid not in predictions:
            unanswered.append(qid)  # official scripts: counts in the total, scores 0
            continue
        answers = [answers] if isinstance(answers, str) else list(answers)
        if not answers:
            raise ValueError(f"{name}: question {qid!r} has no gold answers")
        em_sum += em_fn(predictions[qid], answers)
        f1_sum += f1_fn(predictions[qid], answers)
    if unanswered:
        warnings.warn(f"{name}: {len(unanswered)} unanswered question(s) receive score 0",
                      stacklevel=3)
    total = len(gold)
    return {
        "exact_match": 100.0 * em_sum / total,
        "f1": 100.0 * f1_sum / total,
        "total": total,
        "unanswered": unanswered,
    }


def squad_scores(predictions: Mapping[Hashable, str],
                 gold: Mapping[Hashable, Sequence[str]]) -> dict:
    """SQuAD v1.1 corpus scores in PERCENT: ``{'exact_match', 'f1', 'total', 'unanswered'}``.

    Averaged over all gold questions; a question missing from ``predictions``
    scores 0 and is listed in ``unanswered`` (a warning is also issued).
    Predictions for ids not in ``gold`` are ignored, as in the official script.
    An empty prediction scores EM 0 unless the gold normalises to '' (then EM
    100 but F1 0, the official v1.1 behaviour).
    """
    return _qa_scores(predictions, gold, exact_match, f1, "squad_scores")


# --------------------------------------------------------------------------- #
# QA: MLQA multilingual variant
# --------------------------------------------------------------------------- #

_MLQA_ARTICLES: dict[str, re.Pattern | None] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    # MLQA's pattern verbatim.  '\sال^' can never match ('^' after text), so
    # in effect EVERY occurrence of 'ال' is replaced by a space, also inside words.
    "ar": re.compile("\\sال^|ال"),
    "hi": None,
    "zh": None,
}
# MLQA's Chinese-character test is the regex [\u4e00-\u9fa5], kept as is.
_MLQA_CJK = re.compile("[\u4e00-\u9fa5]")
_MIXED_SEGMENTATION_LANGS = frozenset({"zh"})


def _is_mlqa_punct(ch: str) -> bool:
    # MLQA's PUNCT = every code point with a 'P*' category, plus string.punctuation.
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
    """Each Chinese character (and punctuation char) is a token; other runs split on whitespace."""
    tokens: list[str] = []
    buf: list[str] = []
    for ch in text:
        if _MLQA_CJK.match(ch) or _is_mlqa_punct(ch):
            if buf:
                tokens.extend("".join(buf).split())
                buf = []
            tokens.append(ch)
        else:
            buf.append(ch)
    if buf:
        tokens.extend("".join(buf).split())
    return tokens


def mlqa_normalize(text: str, lang: str) -> str:
    """MLQA normalisation: lower, drop Unicode punctuation, drop ``lang`` articles, re-tokenise.

    Punctuation = every character whose Unicode category starts with 'P' plus
    ASCII ``string.punctuation``.  Articles: en a/an/the; es un/una/unos/unas/
    el/la/los/las; vi của/là/cái/chiếc/những; de ein/eine/einer/eines/einem/
    einen/der/die/das/des/dem/den; ar: every 'ال' is replaced by a space (MLQA's
    pattern, also mid-word); hi, zh: none.  zh uses mixed segmentation (each
    character in U+4E00..U+9FA5 is its own token, other runs split on
    whitespace); all other languages split on whitespace.

    Deviation: MLQA's script raises for languages outside en/es/hi/vi/de/ar/zh;
    here any other language (e.g. 'th') gets no article removal and whitespace
    tokenisation, so Thai is effectively compared as unsegmented strings (see
    ``normalize_answer``).
    """
    text = text.lower()
    text = "".join(ch for ch in text if not _is_mlqa_punct(ch))
    pattern = _MLQA_ARTICLES.get(lang)
    if pattern is not None:
        text = pattern.sub(" ", text)
    tokens = _mixed_segmentation(text) if lang in _MIXED_SEGMENTATION_LANGS else text.split()
    return " ".join(t for t in tokens if t.strip() != "")


def mlqa_exact_match(prediction: str, gold_answers: Sequence[str] | str, lang: str) -> float:
    """MLQA exact match for one question, max over gold answers: 1.0 or 0.0."""
    golds = _as_answer_list(gold_answers)
    p = mlqa_normalize(prediction, lang)
    return max(float(p == mlqa_normalize(g, lang)) for g in golds)


def mlqa_f1(prediction: str, gold_answers: Sequence[str] | str, lang: str) -> float:
    """MLQA token F1 in [0, 1] for one question, max over gold answers (zh: per character)."""
    golds = _as_answer_list(gold_answers)
    p = mlqa_normalize(prediction, lang).split()
    return max(_token_f1(p, mlqa_normalize(g, lang).split()) for g in golds)


def mlqa_scores(predictions: Mapping[Hashable, str],
                gold: Mapping[Hashable, Sequence[str]], lang: str) -> dict:
    """MLQA corpus scores in PERCENT: ``{'exact_match', 'f1', 'total', 'unanswered'}``.

    Same bookkeeping as ``squad_scores`` (missing ids score 0 and are listed;
    empty prediction scores 0 unless the gold normalises to '' -> EM 100, F1 0),
    with ``mlqa_normalize(., lang)``.
    """
    return _qa_scores(
        predictions, gold,
        lambda p, g: mlqa_exact_match(p, g, lang),
        lambda p, g: mlqa_f1(p, g, lang),
        "mlqa_scores",
    )


# --------------------------------------------------------------------------- #
# Retrieval
# --------------------------------------------------------------------------- #


def tatoeba_accuracy(similarity: np.ndarray) -> float:
    """Tatoeba accuracy (fraction in [0, 1]): row i's gold target is column i.

    The prediction for row i is ``argmax_j similarity[i, j]``; ties go to the
    LOWEST column index (numpy argmax), so a tie between the gold column and an
    earlier column counts as wrong.  Requires ``n_cols >= n_rows`` and finite
    values.
    """
    sim = np.asarray(similarity)
    if sim.ndim != 2:
        raise ValueError(f"tatoeba_accuracy: expected a 2-D matrix, got shape {sim.shape}")
    n_rows, n_cols = sim.shape
    if n_rows == 0 or n_cols == 0:
        raise ValueError("tatoeba_accuracy: empty similarity matrix")
    if n_cols < n_rows:
        raise ValueError(
            f"tatoeba_accuracy: {n_rows} queries but only {n_cols} targets; "
            "row i needs column i as its gold"
        )
    if not np.all(np.isfinite(sim)):
        raise ValueError("tatoeba_accuracy: similarity contains NaN or inf")
    predicted = np.argmax(sim, axis=1)
    return float(np.mean(predicted == np.arange(n_rows)))


def average_precision_at_k(ranked_ids: Sequence, relevant: Iterable, k: int = 20) -> float:
    """LAReQA AP@k in [0, 1] for one query.

    AP@k = (sum over ranks r <= k holding a relevant item: precision@r)
           / min(|relevant|, k).
    A repeated id is counted only at its first rank (later copies still use up
    a rank).  The divisor min(|relevant|, k) (not |relevant|) is what LAReQA's
    ``average_precision_at_k`` in the XTREME-R code uses, so a query with more
    than k relevant items can still reach 1.0.
    """
    rel = set(relevant)
    if not rel:
        raise ValueError("average_precision_at_k: empty relevant set (AP undefined)")
    if k <= 0:
        raise ValueError(f"average_precision_at_k: k must be positive, got {k}")
    seen: set = set()
    hits = 0
    score = 0.0
    for rank, item in enumerate(list(ranked_ids)[:k], start=1):
        if item in rel and item not in seen:
            hits += 1
            score += hits / rank
        seen.add(item)
    return score / min(len(rel), k)


def mean_average_precision_at_k(ranked_ids: Sequence[Sequence], relevant: Sequence[Iterable],
                                k: int = 20) -> float:
    """mAP@k (fraction in [0, 1]): mean over queries of ``average_precision_at_k``.

    XTREME-R reports mAP@20 for LAReQA and Mewsli-X.  For Mewsli-X (one gold
    entity per mention) AP@20 = 1/rank of the gold within the top 20, i.e. the
    official MRR@20; an absent prediction list (``[]``) scores 0.
    """
    if len(ranked_ids) != len(relevant):
        raise ValueError(
            f"mean_average_precision_at_k: {len(ranked_ids)} rankings but "
            f"{len(relevant)} relevant sets"
        )
    if len(ranked_ids) == 0:
        raise ValueError("mean_average_precision_at_k: no queries")
    aps = []
    for i, (ranking, rel) in enumerate(zip(ranked_ids, relevant)):
        try:
            aps.append(average_precision_at_k(ranking, rel, k))
        except ValueError as exc:
            raise ValueError(f"query {i}: {exc}") from None
    return float(sum(aps) / len(aps))


def bucc_f1(candidates: Sequence[tuple[Hashable, Hashable, float]],
            gold: Iterable[tuple[Hashable, Hashable]],
            threshold: float | None = None) -> dict[str, float]:
    """BUCC mining P/R/F1 (fractions in [0, 1]) and the threshold used.

    A candidate pair is extracted iff ``score >= threshold``; precision =
    correct / extracted, recall = correct / |gold| (gold pairs never proposed
    still count), all zero when nothing correct is extracted.

    ``threshold=None`` reproduces XTREME's ``bucc_optimize``: walk candidates
    by descending score, and at the first position where F1 is maximal put the
    threshold halfway between that score and the next lower one.  Choices made
    where the official code is undefined or ambiguous:

    * the F1 is only evaluated after a whole group of tied scores (a threshold
      cannot separate equal scores; the official loop would pick a midpoint
      equal to the tied score and then extract more pairs than it evaluated);
    * if the best cut is after the lowest score, the threshold is that score
      (official: IndexError);
    * if no candidate is correct, the threshold is 0.0 (official default).

    Without ties this is identical to the official selection.  XTREME tunes
    the threshold on the BUCC dev set and then applies it to test: pass it in.
    Duplicate (src, tgt) candidates raise ValueError.
    """
    gold_set = set(tuple(g) for g in gold)
    if not gold_set:
        raise ValueError("bucc_f1: empty gold set (recall undefined)")
    scores: dict[tuple, float] = {}
    for cand in candidates:
        src, tgt, score = cand
        score = float(score)
        if math.isnan(score):
            raise ValueError(f"bucc_f1: NaN score for pair {(src, tgt)!r}")
        if (src, tgt) in scores:
            raise ValueError(f"bucc_f1: duplicate candidate pair {(src, tgt)!r}")
        scores[(src, tgt)] = score

    if threshold is None:
        threshold = _bucc_optimize(scores, gold_set)

    extracted = [pair for pair, s in scores.items() if s >= threshold]
    n_correct = sum(1 for pair in extracted if pair in gold_set)
    if n_correct == 0:
        result = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    else:
        result = _prf(n_correct, len(extracted), len(gold_set))
    result["threshold"] = float(threshold)
    return result


def _bucc_optimize(scores: Mapping[tuple, float], gold: set) -> float:
    distinct = sorted(set(scores.values()), reverse=True)
    by_score: dict[float, list[tuple]] = {}
    for pair, s in scores.items():
        by_score.setdefault(s, []).append(pair)
    n_extracted = n_correct = 0
    best_f1, best_threshold = 0.0, 0.0
    for idx, s in enumerate(distinct):
        group = by_score[s]
        n_extracted += len(group)
        n_correct += sum(1 for pair in group if pair in gold)
        if n_correct == 0:
            continue
        f = _prf(n_correct, n_extracted, len(gold))["f1"]
        if f > best_f1:  # strict: the first (highest) threshold wins ties in F1
            best_f1 = f
            if idx + 1 < len(distinct):
                nxt = distinct[idx + 1]
                mid = (s + nxt) / 2
                # guard against float rounding putting the midpoint on `nxt`
                best_threshold = mid if nxt < mid <= s else s
            else:
                best_threshold = s
    return best_threshold


# --------------------------------------------------------------------------- #
# Aggregation (XTREME / XTREME-R scores)
# --------------------------------------------------------------------------- #


def task_average(scores_by_language: Mapping[str, float]) -> float:
    """Unweighted mean over languages, as XTREME's ``evaluate.py`` (``avg_<metric>``).

    Scale-preserving: returns whatever scale the inputs use (don't mix
    fractions and percentages).  Raises on empty input or non-finite values.
    """
    if not scores_by_language:
        raise ValueError("task_average: no languages")
    values = []
    for lang, v in scores_by_language.items():
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"task_average: non-finite score {v} for language {lang!r}")
        values.append(v)
    return sum(values) / len(values)


def qa_task_metric(f1_score: float, exact_match_score: float, mode: str = "mean") -> float:
    """Collapse a QA task's language-averaged F1 and EM into the single task number.

    ``mode='mean'`` (default): (F1 + EM) / 2 -- what XTREME's ``evaluate.py``
    (the one in google-research/xtreme, also used for XTREME-R submissions)
    stores as ``avg_metric`` for xquad/mlqa/tydiqa and averages into the
    overall score.  ``mode='f1'``: F1 only -- the XTREME/XTREME-R papers print
    QA as "F1 / EM"; use this if you want the paper-table convention of
    reporting F1.  This choice could not be verified against the XTREME-R
    paper text offline; the default follows the code.  Same scale as inputs.
    """
    if mode == "mean":
        return (float(f1_score) + float(exact_match_score)) / 2
    if mode == "f1":
        return float(f1_score)
    raise ValueError(f"qa_task_metric: unknown mode {mode!r} (use 'mean' or 'f1')")


def xtreme_r_score(task_scores: Mapping[str, float], required_tasks: Sequence[str]) -> dict:
    """Overall benchmark score: unweighted mean of the per-task metrics in ``required_tasks``.

    Returns ``{'score', 'partial', 'missing'}``.  Per-task numbers are expected
    already language-averaged (``task_average``) and, for QA, collapsed with
    ``qa_task_metric``; tasks in ``task_scores`` but not required are ignored.
    The official script reports no overall score unless every task is present;
    here the mean over the available required tasks is returned with
    ``partial=True`` and the absent ones listed in ``missing`` (in the order
    given).  If none is available, ``score`` is None.  Scale-preserving.
    """
    if not required_tasks:
        raise ValueError("xtreme_r_score: required_tasks is empty")
    if len(set(required_tasks)) != len(required_tasks):
        raise ValueError("xtreme_r_score: duplicate task in required_tasks")
    missing = [t for t in required_tasks if t not in task_scores]
    present = [t for t in required_tasks if t in task_scores]
    values = []
    for t in present:
        v = float(task_scores[t])
        if not math.isfinite(v):
            raise ValueError(f"xtreme_r_score: non-finite score {v} for task {t!r}")
        values.append(v)
    score = sum(values) / len(values) if values else None
    return {"score": score, "partial": bool(missing), "missing": missing}


# --------------------------------------------------------------------------- #
# The scorer table
# --------------------------------------------------------------------------- #
# One table from a scorer name to its function, as XTREME's evaluate.py keeps METRIC_FUNCS: a task
# entry names its `scorer`, its format extracts (gold, predictions) in the shape below and looks the
# function up here, so no code chooses a metric by a task's name. Every function returns named
# fractions in [0, 1]; the first key is the one used for model selection.


def accuracy_scores(gold: Sequence, predictions: Sequence, lang: str = "") -> dict[str, float]:
    """Labels (classification, multiple choice; Tatoeba's pair indices): ``{"accuracy"}``."""
    return {"accuracy": accuracy(predictions, gold)}


def span_scores(gold: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]], lang: str = "") -> dict[str, float]:
    """Tag sequences in BIO (PAN-X): seqeval span F1 first."""
    s = span_f1(gold, predictions)
    return {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"]}


def pos_scores(gold: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]], lang: str = "") -> dict[str, float]:
    """UPOS tag sequences: XTREME's UD-POS number (seqeval F1 on raw tags) first, plus token accuracy."""
    s = pos_f1(gold, predictions)
    return {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"],
            "accuracy": token_accuracy(gold, predictions)}


def io_span_scores(gold: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]],
                   lang: str = "") -> dict[str, float]:
    """Plain per-token tags with an "O" (BIG-bench polish NER): a run of one tag is one span (IO).

    Each tag T other than O is read as I-T, so seqeval's span F1 applies; accuracy is added.
    """
    def io(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [[t if t == "O" else f"I-{t}" for t in s] for s in sentences]

    s = span_f1(io(gold), io(predictions))
    return {"f1": s["f1"], "precision": s["precision"], "recall": s["recall"],
            "accuracy": token_accuracy(gold, predictions)}


def squad_fraction_scores(gold: Mapping[Hashable, Sequence[str]], predictions: Mapping[Hashable, str],
                          lang: str = "") -> dict[str, float]:
    """Span QA with SQuAD v1.1 scoring (XQuAD, TyDiQA): ``{"f1", "exact_match"}`` as fractions.

    The official scripts print percent; these are those numbers divided by 100, like every value in
    the results table, so multi-task model selection never mixes 0-100 with 0-1 scales.
    """
    r = squad_scores(predictions, gold)
    return {"f1": float(r["f1"]) / 100, "exact_match": float(r["exact_match"]) / 100}


def mlqa_fraction_scores(gold: Mapping[Hashable, Sequence[str]], predictions: Mapping[Hashable, str],
                         lang: str = "") -> dict[str, float]:
    """Span QA with MLQA's language-aware normalisation (every MLQA language, English included)."""
    r = mlqa_scores(predictions, gold, lang)
    return {"f1": float(r["f1"]) / 100, "exact_match": float(r["exact_match"]) / 100}


def bucc_scores(gold: Sequence[tuple[Hashable, Hashable]], predictions: Sequence[tuple[Hashable, Hashable, float]],
                lang: str = "") -> dict[str, float]:
    """Mined pairs ``(src, tgt, score)`` against gold pairs: F1 at the F1-optimal threshold (XTREME, dev)."""
    r = bucc_f1(predictions, gold, threshold=None)
    return {"f1": r["f1"], "precision": r["precision"], "recall": r["recall"], "threshold": r["threshold"]}


MAP_K = 20  # XTREME-R scores LAReQA and Mewsli-X on the top 20


def map_at_20_scores(gold: Sequence[Iterable], predictions: Sequence[Sequence], lang: str = "") -> dict[str, float]:
    """Ranked candidate ids per query against each query's relevant ids (LAReQA, Mewsli-X): mAP@20."""
    return {f"map@{MAP_K}": mean_average_precision_at_k(predictions, gold, MAP_K)}


SCORERS: dict = {
    "accuracy": accuracy_scores,
    "span_f1": span_scores,
    "pos": pos_scores,
    "io_span_f1": io_span_scores,
    "squad": squad_fraction_scores,
    "mlqa": mlqa_fraction_scores,
    "bucc_f1": bucc_scores,
    "map@20": map_at_20_scores,
}


def score(scorer: str, gold, predictions, lang: str = "") -> dict[str, float]:
    """``SCORERS[scorer](gold, predictions, lang)``; an unknown name lists the known ones."""
    try:
        fn = SCORERS[scorer]
    except KeyError:
        raise KeyError(f"unknown scorer {scorer!r}; the scorer table (intertask.metrics.SCORERS) has "
                       f"{', '.join(sorted(SCORERS))}") from None
    return fn(gold, predictions, lang)
