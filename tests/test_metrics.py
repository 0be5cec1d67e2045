"""Hand-computed checks for intertask.metrics (expected values derived in comments)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from intertask import metrics as M
from intertask.registry import XTREME_R_TASKS

approx = pytest.approx


# --------------------------------------------------------------------------- #
# purity
# --------------------------------------------------------------------------- #


def test_module_imports_only_stdlib_and_numpy():
    tree = ast.parse(Path(M.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative (project) imports"
            roots.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    assert roots <= allowed, roots - allowed


# --------------------------------------------------------------------------- #
# accuracy
# --------------------------------------------------------------------------- #


def test_accuracy():
    # 3 of 4 equal -> 0.75
    assert M.accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75


def test_accuracy_errors():
    with pytest.raises(ValueError, match="3 predictions but 2 labels"):
        M.accuracy([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        M.accuracy([], [])


# --------------------------------------------------------------------------- #
# span_f1 (seqeval default mode)
# --------------------------------------------------------------------------- #


def test_span_f1_perfect():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert M.span_f1(gold, gold) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_broken_span_i_after_o_starts_chunk():
    # 'O I-PER O' -> PER(1,1), the same chunk as gold 'O B-PER O' -> all 1.0
    res = M.span_f1([["O", "B-PER", "O"]], [["O", "I-PER", "O"]])
    assert res == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert M.get_entities([["O", "I-PER", "O"]]) == [("PER", 1, 1)]


def test_b_per_i_org_is_two_chunks():
    # pred: PER(0,0), ORG(1,1), ORG(3,4); gold: PER(0,1), ORG(3,4)
    # correct = 1 (ORG 3-4): P = 1/3, R = 1/2, F1 = 2*(1/6)/(5/6) = 0.4
    gold = [["B-PER", "I-PER", "O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "I-ORG", "O", "B-ORG", "I-ORG"]]
    assert M.get_entities(pred) == [("PER", 0, 0), ("ORG", 1, 1), ("ORG", 3, 4)]
    res = M.span_f1(gold, pred)
    assert res["precision"] == approx(1 / 3)
    assert res["recall"] == approx(1 / 2)
    assert res["f1"] == approx(0.4)


def test_type_change_inside_span():
    # sentence 0: gold PER(0,2); pred PER(0,1) + LOC(2,2) (type change splits)
    # sentence 1 (offsets continue after the 'O' separator at 4): MISC(5,5) both
    # correct = 1, pred = 3, gold = 2 -> P = 1/3, R = 1/2, F1 = 0.4
    gold = [["B-PER", "I-PER", "I-PER", "O"], ["B-MISC", "O"]]
    pred = [["B-PER", "I-PER", "I-LOC", "O"], ["B-MISC", "O"]]
    assert M.get_entities(pred) == [("PER", 0, 1), ("LOC", 2, 2), ("MISC", 5, 5)]
    res = M.span_f1(gold, pred)
    assert (res["precision"], res["recall"], res["f1"]) == (approx(1 / 3), approx(0.5), approx(0.4))


def test_entities_at_sentence_end_and_sentence_boundary():
    # A chunk at the end of a sentence closes there; an I- starting the next
    # sentence opens a new chunk (offset 2 is the separator 'O').
    assert M.get_entities([["B-LOC"], ["I-LOC"]]) == [("LOC", 0, 0), ("LOC", 2, 2)]
    # gold: LOC(1,1), LOC(3,4); pred I-LOC I-LOC also gives LOC(3,4) -> perfect
    gold = [["O", "B-LOC"], ["B-LOC", "I-LOC"]]
    pred = [["O", "B-LOC"], ["I-LOC", "I-LOC"]]
    assert M.span_f1(gold, pred)["f1"] == 1.0
    # pred misses the last token of the final entity: LOC(3,3) != LOC(3,4)
    # correct 1 of pred 2 / gold 2 -> 0.5 each
    res = M.span_f1(gold, [["O", "B-LOC"], ["B-LOC", "O"]])
    assert res == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_span_f1_no_entities_is_zero():
    # seqeval's zero_division='warn' acts as 0
    assert M.span_f1([["O", "O"]], [["O", "O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # gold has entities, prediction none -> P undefined (0), R 0, F1 0
    assert M.span_f1([["B-PER"]], [["O"]])["f1"] == 0.0


def test_span_f1_length_mismatch_names_sentence():
    with pytest.raises(ValueError, match="sentence 1 has 2 gold tags but 1 predicted"):
        M.span_f1([["O"], ["B-PER", "O"]], [["O"], ["B-PER"]])
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        M.span_f1([["O"], ["O"]], [["O"]])


def test_empty_tag_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        M.span_f1([["O"]], [[""]])


# --------------------------------------------------------------------------- #
# pos_f1 / token_accuracy
# --------------------------------------------------------------------------- #


def test_pos_f1_merges_runs_of_identical_tags():
    # gold chunks: OUN(0,1), ERB(2,2); pred chunks: OUN(0,0), ERB(1,2)
    # -> no chunk matches: F1 = 0 although 2 of 3 tokens are right
    gold = [["NOUN", "NOUN", "VERB"]]
    pred = [["NOUN", "VERB", "VERB"]]
    assert M.get_entities(gold) == [("OUN", 0, 1), ("ERB", 2, 2)]
    assert M.pos_f1(gold, pred)["f1"] == 0.0
    assert M.token_accuracy(gold, pred) == approx(2 / 3)


def test_pos_f1_partial():
    # gold: ET(0,0) OUN(1,2) UNCT(3,3); pred: ET(0,0) OUN(1,2) ERB(3,3)
    # correct 2 / 3 each side -> P = R = F1 = 2/3; token accuracy 3/4
    gold = [["DET", "NOUN", "NOUN", "PUNCT"]]
    pred = [["DET", "NOUN", "NOUN", "VERB"]]
    res = M.pos_f1(gold, pred)
    assert (res["precision"], res["recall"], res["f1"]) == (approx(2 / 3),) * 3
    assert M.token_accuracy(gold, pred) == 0.75


def test_pos_f1_seqeval_quirks():
    # 'S'-initial tags are singletons even when repeated
    assert M.get_entities([["SCONJ", "SCONJ"]]) == [("CONJ", 0, 0), ("CONJ", 1, 1)]
    # X has type '_' like 'O': dropped at sentence end ...
    assert M.get_entities([["NOUN", "X"]]) == [("OUN", 0, 0)]
    # ... and extended over the separator into an X-initial next sentence
    assert M.get_entities([["NOUN", "X"], ["X", "NOUN"]]) == [
        ("OUN", 0, 0), ("_", 1, 3), ("OUN", 4, 4)]
    # X inside a sentence is kept: gold _(0,0) OUN(1,1); pred _(0,0) ERB(1,1) -> 1/2
    assert M.pos_f1([["X", "NOUN"]], [["X", "VERB"]])["f1"] == 0.5


def test_token_accuracy_and_errors():
    assert M.token_accuracy([["a", "b"], ["c"]], [["a", "x"], ["c"]]) == approx(2 / 3)
    with pytest.raises(ValueError, match="no tokens"):
        M.token_accuracy([[]], [[]])
    with pytest.raises(ValueError, match="sentence 0"):
        M.pos_f1([["NOUN"]], [["NOUN", "VERB"]])


# --------------------------------------------------------------------------- #
# SQuAD v1.1
# --------------------------------------------------------------------------- #


def test_normalize_answer():
    assert M.normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert M.normalize_answer("An apple a day") == "apple day"
    # non-ASCII punctuation is kept by the SQuAD script
    assert M.normalize_answer("北京。") == "北京。"


def test_exact_match_and_f1_max_over_golds():
    assert M.exact_match("the Eiffel Tower.", ["Eiffel Tower"]) == 1.0
    # vs 'eiffel tower': common 2, P = 2/4, R = 2/2 -> F1 = 2/3
    # vs 'paris': common 1, P = 1/4, R = 1 -> F1 = 0.4 ; max = 2/3
    assert M.f1("Eiffel Tower in Paris", ["the Eiffel Tower", "Paris"]) == approx(2 / 3)
    assert M.exact_match("Eiffel Tower in Paris", ["the Eiffel Tower", "Paris"]) == 0.0


def test_empty_prediction():
    # empty vs 'Paris': EM 0, F1 0
    assert M.exact_match("", ["Paris"]) == 0.0 and M.f1("", ["Paris"]) == 0.0
    # gold normalises to '' ('The' is an article): EM 1, but v1.1 F1 stays 0
    assert M.exact_match("", ["The"]) == 1.0
    assert M.f1("", ["The"]) == 0.0


def test_squad_scores_with_unanswered():
    gold = {"q1": ["Eiffel Tower"], "q2": ["1889"], "q3": ["Paris", "the capital Paris"]}
    preds = {"q1": "the Eiffel Tower", "q3": "Paris France", "extra": "ignored"}
    # q1: EM 1, F1 1.  q2: missing -> 0, 0.
    # q3: 'paris france' vs 'paris': P 1/2, R 1 -> 2/3; vs 'capital paris': 1/2 -> max 2/3; EM 0
    # EM = 100 * 1/3 ; F1 = 100 * (1 + 2/3) / 3 = 55.555...
    with pytest.warns(UserWarning, match="1 unanswered"):
        res = M.squad_scores(preds, gold)
    assert res["exact_match"] == approx(100 / 3)
    assert res["f1"] == approx(500 / 9)
    assert res["total"] == 3 and res["unanswered"] == ["q2"]


def test_squad_scores_errors():
    with pytest.raises(ValueError, match="no gold questions"):
        M.squad_scores({}, {})
    with pytest.raises(ValueError, match="'q1' has no gold answers"):
        M.squad_scores({"q1": "x"}, {"q1": []})


def test_thai_whitespace_tokens_under_squad():
    # Thai has no spaces: each side is one token -> no partial credit
    assert M.f1("กรุงเทพมหานคร", ["กรุงเทพ"]) == 0.0
    # with a space: tokens [กรุงเทพ, มหานคร] vs [กรุงเทพ] -> P 1/2, R 1 -> 2/3
    assert M.f1("กรุงเทพ มหานคร", ["กรุงเทพ"]) == approx(2 / 3)


# --------------------------------------------------------------------------- #
# MLQA
# --------------------------------------------------------------------------- #


def test_mlqa_german_articles():
    assert M.mlqa_normalize("Der Hund und die Katze", "de") == "hund und katze"
    # 'einer' and 'der' removed; 'deren' kept (word boundary); comma removed
    assert M.mlqa_normalize("Einer der Besten, deren Haus", "de") == "besten deren haus"
    assert M.mlqa_exact_match("dem Haus", ["das Haus"], "de") == 1.0


def test_mlqa_other_articles_and_unicode_punct():
    assert M.mlqa_normalize("¿Los Ángeles?", "es") == "ángeles"
    assert M.mlqa_normalize("«Hola»", "es") == "hola"
    assert M.mlqa_normalize("Cái bàn của tôi", "vi") == "bàn tôi"
    # curly quotes are Unicode punctuation (Pi/Pf), removed before articles
    assert M.mlqa_normalize("\u201cThe\u201d answer", "en") == "answer"
    # Hindi: no article list, 'the' stays
    assert M.mlqa_normalize("the भारत", "hi") == "the भारत"


def test_mlqa_arabic_al_removed_everywhere():
    assert M.mlqa_normalize("الكتاب", "ar") == "كتاب"
    # MLQA's pattern also hits 'ال' inside a word: م|ال|ك -> 'م ك'
    assert M.mlqa_normalize("مالك", "ar") == "م ك"


def test_mlqa_chinese_mixed_segmentation():
    assert M.mlqa_normalize("北京是中国的首都。", "zh") == "北 京 是 中 国 的 首 都"
    assert M.mlqa_normalize("iPhone 12手机", "zh") == "iphone 12 手 机"
    # '。' is removed in MLQA (it is not by the SQuAD script)
    assert M.mlqa_exact_match("北京。", ["北京"], "zh") == 1.0
    # chars [北,京,市] vs [北,京]: P 2/3, R 1 -> F1 = 0.8
    assert M.mlqa_f1("北京市", ["北京"], "zh") == approx(0.8)


def test_mlqa_scores_zh_with_missing():
    gold = {"a": ["北京"], "b": ["上海"]}
    # a: EM 0, F1 0.8 ; b missing -> 0 ; F1 = 100 * 0.8 / 2 = 40
    with pytest.warns(UserWarning):
        res = M.mlqa_scores({"a": "北京市"}, gold, "zh")
    assert res["exact_match"] == 0.0
    assert res["f1"] == approx(40.0)
    assert res["unanswered"] == ["b"]


def test_mlqa_empty_prediction_and_thai():
    res = M.mlqa_scores({"q": ""}, {"q": ["Haus"]}, "de")
    assert res["exact_match"] == 0.0 and res["f1"] == 0.0
    # gold 'die' normalises to '' -> EM 100, F1 0
    res = M.mlqa_scores({"q": ""}, {"q": ["die"]}, "de")
    assert res["exact_match"] == 100.0 and res["f1"] == 0.0
    # Thai (not an MLQA language): whitespace tokens, nothing else removed
    assert M.mlqa_normalize("กรุงเทพ มหานคร!", "th") == "กรุงเทพ มหานคร"
    assert M.mlqa_f1("กรุงเทพมหานคร", ["กรุงเทพ"], "th") == 0.0


# --------------------------------------------------------------------------- #
# Tatoeba
# --------------------------------------------------------------------------- #


def test_tatoeba_accuracy_with_ties():
    sim = np.array([
        [0.9, 0.1, 0.0],  # argmax 0 == gold 0 -> correct
        [0.5, 0.5, 0.2],  # tie 0/1 -> lowest index 0 != gold 1 -> wrong
        [0.1, 0.3, 0.3],  # tie 1/2 -> 1 != gold 2 -> wrong
    ])
    assert M.tatoeba_accuracy(sim) == approx(1 / 3)
    # tie where gold is the lowest index counts as correct: row0 -> 0 ok, row1 -> 0 wrong
    assert M.tatoeba_accuracy(np.array([[0.5, 0.5], [0.7, 0.7]])) == 0.5
    # rectangular (extra distractor column) is fine
    assert M.tatoeba_accuracy(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])) == 1.0


def test_tatoeba_errors():
    with pytest.raises(ValueError, match="only 1 targets"):
        M.tatoeba_accuracy(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="NaN"):
        M.tatoeba_accuracy(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="2-D"):
        M.tatoeba_accuracy(np.zeros(3))


# --------------------------------------------------------------------------- #
# mAP@k
# --------------------------------------------------------------------------- #


def test_average_precision_fewer_than_k_relevant():
    # hits at rank 1 (1/1) and 3 (2/3); divisor min(2, 20) = 2 -> 5/6
    assert M.average_precision_at_k(["a", "x", "b", "y"], {"a", "b"}, k=20) == approx(5 / 6)
    # 3 relevant, one hit at rank 2 (1/2); divisor 3 -> 1/6
    assert M.average_precision_at_k(["x", "c"], {"c", "d", "e"}, k=20) == approx(1 / 6)


def test_average_precision_more_relevant_than_k():
    # 5 relevant, k = 2, hits at ranks 1, 2: (1 + 1) / min(5, 2) = 1.0
    assert M.average_precision_at_k([1, 2, 9], {1, 2, 3, 4, 5}, k=2) == 1.0


def test_average_precision_duplicates_and_cutoff():
    # rank 2 repeats 'a': not a new hit; rank 3 hit -> (1 + 2/3) / 2 = 5/6
    assert M.average_precision_at_k(["a", "a", "b"], {"a", "b"}, k=3) == approx(5 / 6)
    # relevant item at rank 3 is beyond k = 2 -> 0
    assert M.average_precision_at_k(["x", "y", "a"], {"a"}, k=2) == 0.0


def test_mean_average_precision():
    # (5/6 + 1/6) / 2 = 0.5
    res = M.mean_average_precision_at_k(
        [["a", "x", "b", "y"], ["x", "c"]], [{"a", "b"}, {"c", "d", "e"}], k=20)
    assert res == approx(0.5)
    # Mewsli-X: single gold at rank 4 -> 1/4 (= MRR); missing predictions [] -> 0
    assert M.mean_average_precision_at_k([["p", "q", "r", "g"], []], [{"g"}, {"h"}]) == approx(0.125)


def test_mean_average_precision_errors():
    with pytest.raises(ValueError, match="query 1: .*empty relevant"):
        M.mean_average_precision_at_k([["a"], ["b"]], [{"a"}, set()])
    with pytest.raises(ValueError, match="2 rankings but 1"):
        M.mean_average_precision_at_k([["a"], ["b"]], [{"a"}])


# --------------------------------------------------------------------------- #
# BUCC
# --------------------------------------------------------------------------- #

BUCC_CANDS = [
    ("s1", "t1", 0.9),  # gold
    ("s2", "t2", 0.8),  # gold
    ("s3", "t3", 0.7),
    ("s4", "t4", 0.6),  # gold
    ("s5", "t5", 0.5),
]
BUCC_GOLD = {("s1", "t1"), ("s2", "t2"), ("s4", "t4"), ("s6", "t6")}  # s6 never proposed


def test_bucc_threshold_choice():
    # |gold| = 4.  Cut after score:
    #   0.9: P 1/1, R 1/4 -> F1 0.4
    #   0.8: P 2/2, R 2/4 -> 0.667
    #   0.7: P 2/3, R 2/4 -> 4/7 = 0.571
    #   0.6: P 3/4, R 3/4 -> 0.75   <- best
    #   0.5: P 3/5, R 3/4 -> 0.667
    # threshold = (0.6 + 0.5) / 2 = 0.55 ; extract s >= 0.55 -> P = R = F1 = 0.75
    res = M.bucc_f1(BUCC_CANDS, BUCC_GOLD)
    assert res["threshold"] == approx(0.55)
    assert (res["precision"], res["recall"], res["f1"]) == (approx(0.75),) * 3


def test_bucc_fixed_threshold():
    # s >= 0.85 extracts only s1: P 1, R 1/4, F1 0.4
    res = M.bucc_f1(BUCC_CANDS, BUCC_GOLD, threshold=0.85)
    assert res == {"precision": 1.0, "recall": 0.25, "f1": approx(0.4), "threshold": 0.85}


def test_bucc_ties_are_not_split():
    # group 0.9 = {a (gold), b}: P 1/2, R 1 -> 2/3 ; group 0.5 adds c: P 1/3 -> 0.5
    # best cut after the 0.9 group -> threshold (0.9 + 0.5) / 2 = 0.7, F1 2/3
    cands = [("a", "A", 0.9), ("b", "B", 0.9), ("c", "C", 0.5)]
    res = M.bucc_f1(cands, {("a", "A")})
    assert res["threshold"] == approx(0.7)
    assert res["f1"] == approx(2 / 3) and res["precision"] == 0.5 and res["recall"] == 1.0


def test_bucc_best_cut_after_last_score():
    # cut after 0.9: P 1/2, R 1/2 -> 0.5 ; after 0.5: P 2/3, R 1 -> 0.8 (best, last)
    # -> threshold = 0.5 itself (the official midpoint would index past the end)
    cands = [("a", "A", 0.9), ("b", "B", 0.9), ("c", "C", 0.5)]
    res = M.bucc_f1(cands, {("a", "A"), ("c", "C")})
    assert res["threshold"] == 0.5
    assert res["f1"] == approx(0.8)


def test_bucc_no_correct_candidate_and_errors():
    res = M.bucc_f1([("a", "A", 0.9)], {("z", "Z")})
    assert res == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "threshold": 0.0}
    with pytest.raises(ValueError, match="duplicate"):
        M.bucc_f1([("a", "A", 0.9), ("a", "A", 0.1)], {("a", "A")})
    with pytest.raises(ValueError, match="empty gold"):
        M.bucc_f1([("a", "A", 0.9)], set())


# --------------------------------------------------------------------------- #
# aggregation
# --------------------------------------------------------------------------- #


def test_task_average():
    assert M.task_average({"en": 80.0, "de": 70.0, "zh": 60.0}) == 70.0
    with pytest.raises(ValueError, match="no languages"):
        M.task_average({})
    with pytest.raises(ValueError, match="'de'"):
        M.task_average({"en": 1.0, "de": float("nan")})


def test_qa_task_metric():
    assert M.qa_task_metric(80.0, 70.0) == 75.0  # evaluate.py: (F1 + EM) / 2
    assert M.qa_task_metric(80.0, 70.0, mode="f1") == 80.0
    with pytest.raises(ValueError, match="unknown mode"):
        M.qa_task_metric(1.0, 1.0, mode="em")


def test_xtreme_r_score():
    res = M.xtreme_r_score({"xnli": 80.0, "panx": 70.0, "extra": 0.0}, ["xnli", "panx", "mlqa"])
    # mean of available required tasks (80 + 70) / 2; 'extra' ignored
    assert res == {"score": 75.0, "partial": True, "missing": ["mlqa"]}
    full = {t: 50.0 for t in XTREME_R_TASKS}
    assert M.xtreme_r_score(full, XTREME_R_TASKS) == {"score": 50.0, "partial": False, "missing": []}
    assert M.xtreme_r_score({}, ["xnli"]) == {"score": None, "partial": True, "missing": ["xnli"]}
    with pytest.raises(ValueError, match="empty"):
        M.xtreme_r_score({}, [])
