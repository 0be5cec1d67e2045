"""The rendered report (04_report on a study folder, as `intertask report` makes it): answer first.

Renders the committed tiny study once (about 20 s) and checks the page a reader gets: the title and
heading name the study, the summary block (gains with intervals, verdict, provenance) comes before the
evidence, figures are embedded, tables are styled HTML, and nothing is a traceback, a text dump of a
DataFrame, a NaN cell or an empty section. The summary's statistics are checked on small frames.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intertask import analysis, report
from intertask.integrity import build_manifest, manifest_digest
from intertask.provenance import environment, study_provenance
from intertask.results import RESULT_COLUMNS
from intertask.run import make_report, report_key
from intertask.study import load_params

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "outputs" / "tiny"


def _flip_copa_items(study: Path) -> None:
    """Make the copy's copa run answer the first 12 items of each language right (a real gain with an
    interval, where the tiny record's copa and baseline happen to score the same), results to match."""
    stage = next(study.glob("stages/3-evaluate-copa-*"))
    items = pd.read_csv(stage / "items.csv", dtype={"item": str})
    items.loc[items.groupby("language").cumcount() < 12, "score"] = 1.0
    items.to_csv(stage / "items.csv", index=False)
    # re-seal the edited record as the runner would, so it is a verifiably done evaluation again
    # (the report reads item scores only from such stages)
    record = json.loads((stage / "status.json").read_text())
    record["outputs"] = build_manifest(stage)
    record["digest"] = manifest_digest(record["outputs"])
    (stage / "status.json").write_text(json.dumps(record, indent=2))
    results = pd.read_csv(study / "results.csv", keep_default_na=False)
    means = items.groupby("language")["score"].mean()
    copa = results["condition"] == "copa"
    results.loc[copa, "value"] = results.loc[copa, "language"].map(means)
    results.to_csv(study / "results.csv", index=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    outputs = tmp_path_factory.mktemp("outputs")
    shutil.copytree(TINY, outputs / "tiny", ignore=shutil.ignore_patterns("report", "checkpoint"))
    _flip_copa_items(outputs / "tiny")
    html = make_report(load_params(ROOT / "params" / "tiny.yaml"), outputs, force=True)
    return html.read_text(encoding="utf-8")


def text_of(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_title_and_heading_name_the_study(page):
    assert re.search(r"<title>tiny: intertask study report</title>", page)
    assert "Study report: tiny" in text_of(page)


def test_summary_comes_first_with_intervals_verdict_and_provenance(page):
    text = text_of(page)
    summary, evidence = text.index("Summary"), text.index("Score per language")
    assert text.index("Question.") < summary < text.index("Verdict.") < text.index("Provenance") < evidence
    assert "Baseline (no intermediate task" in text
    block = text[summary:evidence]
    assert re.search(r"copa copa \d+\.\d \+\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]", block), block[:600]
    assert "not identified (1 seed)" in block                     # one seed: no seed interval
    assert "git commit" in block and "Budgets:" in block and "Compute:" in block
    assert "4-bit dequantized" in text


def test_figures_are_embedded_and_tables_styled(page):
    assert len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", page)) >= 2   # score bars, item heatmap
    assert page.count('<table id="T_') >= 6                                    # pandas Styler tables


def test_no_tracebacks_dumps_nan_or_empty_sections(page):
    text = text_of(page)
    for bad in ("Traceback", "nothing to plot", "no gains to plot", "NaN", " nan ", "None", "recorded values"):
        assert bad not in text, bad
    assert not re.search(r"\w+(Error|Warning)\b", text), re.search(r".{80}\w+(Error|Warning)\b.{80}", text)
    body = page.split("<body", 1)[1]
    # every output is Markdown, a styled table or a figure: no stderr, no printed text (a DataFrame dump)
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in body
    assert 'data-mime-type="application/vnd.jupyter.stdout"' not in body
    assert 'data-mime-type="text/plain"' not in body
    assert "jp-OutputArea-output" in body                                   # the check looks at real outputs


# ---------------------------------------------------------------------------------------------
# the summary's statistics on small frames


def items_frame(gain_items: int, noise: bool, n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Baseline and one condition on the same items of xnli de and sw (+ en)."""
    rng = np.random.default_rng(seed)
    rows = []
    for lang in ("en", "de", "sw"):
        base = rng.integers(0, 2, n).astype(float)
        cond = base.copy()
        cond[:gain_items] = 1.0
        if noise:
            flip = rng.choice(n, 40, replace=False)
            cond[flip] = 1 - cond[flip]
        for name, scores in (("none", base), ("anli", cond)):
            rows += [{"condition": name, "seed": 1, "target_task": "xnli", "language": lang, "item": str(i),
                      "metric": "accuracy", "score": s, "baseline": name == "none"} for i, s in enumerate(scores)]
    return pd.DataFrame(rows)


def results_of(items: pd.DataFrame) -> pd.DataFrame:
    means = items.groupby(["condition", "target_task", "metric", "language"])["score"].agg(["mean", "size"]).reset_index()
    rows = [{"study": "s", "run": f"{r['condition']}__{r['target_task']}__s1", "model": "m",
             "intermediate_tasks": r["condition"], "seed": 1, "target_task": r["target_task"], "language": r["language"],
             "split": "test", "metric": r["metric"], "value": r["mean"], "n_examples": r["size"]}
            for _, r in means.iterrows()]
    return report.load_results_frame(pd.DataFrame(rows, columns=RESULT_COLUMNS))


def summary_of(items: pd.DataFrame):
    results = results_of(items)
    gains = report.gains(report.main_metric(results))
    _, means = analysis.item_gains(items)
    conditions = pd.DataFrame({"condition": ["none", "anli"], "tasks": ["none", "anli"]})
    return analysis.summarize(results, gains, means, conditions, None, study_provenance("/nonexistent"),
                              {"budgets": {"target": {"epochs": 3}}, "seeds": [1]})


def test_the_report_is_rendered_again_when_the_code_that_analyses_it_changes(tmp_path):
    """The cache key of a rendered report covers the package's sources, not only the study's results."""
    package = tmp_path / "intertask"
    shutil.copytree(ROOT / "lib" / "intertask", package, ignore=shutil.ignore_patterns("__pycache__"))
    key = report_key(TINY, package)
    assert report_key(TINY, package) == key  # nothing changed: the rendered report is reused
    summary = package / "analysis" / "summary.py"
    summary.write_text(summary.read_text().replace("not told apart from 0", "not distinguished from 0"))
    assert report_key(TINY, package) != key


def test_a_clear_gain_is_claimed_with_its_corrected_interval():
    s = summary_of(items_frame(gain_items=60, noise=False))
    row = s.table.loc[("xnli", "anli")]
    low, high = map(float, re.findall(r"[+-]\d+\.\d", row["item interval (Holm)"]))
    assert 0 < low < row["gain"] < high and row["verdict"] == "above the baseline"
    assert "1 of 1 statements claim a direction" in s.verdict and "above the baseline" in s.verdict
    assert "with 1 seed, the spread between training runs is not in them" in s.verdict


def test_a_scaling_verdict_says_its_item_level_claims_are_about_single_runs():
    """With one seed an item bootstrap holds both trained models fixed: a gain it carries is this run's."""
    _, means = analysis.item_gains(items_frame(gain_items=60, noise=False))
    text = analysis.summary.scaling_verdict(analysis.summary.item_claims(means))
    assert "1 of 1 testable statements claim a direction after Holm's correction (1 of them item-level" in text
    assert "the condition's runs are above the baseline's on these test items" in text
    assert text.endswith(analysis.summary.ITEM_LEVEL_CAVEAT)


def test_noise_alone_claims_no_direction():
    s = summary_of(items_frame(gain_items=0, noise=True))
    row = s.table.loc[("xnli", "anli")]
    low, high = map(float, re.findall(r"[+-]\d+\.\d", row["item interval (Holm)"]))
    assert low < 0 < high and row["verdict"] == "not told apart from 0"
    assert "no intermediate-task condition is told apart from the baseline" in s.verdict
    assert "above the baseline" not in s.verdict.split("\n")[0]


def test_qa_summary_rows_use_the_main_metric():
    """XQuAD items score F1 and exact match: one summary row per condition, on F1 (its main metric)."""
    f1 = items_frame(gain_items=60, noise=False).assign(target_task="xquad", metric="f1")
    em = items_frame(gain_items=0, noise=True, seed=1).assign(target_task="xquad", metric="exact_match")
    s = summary_of(pd.concat([f1, em], ignore_index=True))
    assert len(s.table) == 1 and s.table.iloc[0]["verdict"] == "above the baseline"
    assert s.verdict.count("Item-level gain") == 2          # both statements are corrected and listed


def test_seed_interval_needs_three_seeds():
    g = pd.DataFrame({"target_task": "xnli", "condition": "anli", "language": "de", "seed": [1, 2, 3],
                      "gain": [0.01, 0.02, 0.03]})
    iv = analysis.summary.seed_intervals(g).iloc[0]
    assert iv["seeds"] == 3 and iv["seed_low"] < 2.0 < iv["seed_high"]
    assert np.isnan(analysis.summary.seed_intervals(g[g["seed"] < 3]).iloc[0]["seed_low"])


def test_provenance_reads_stage_records_and_the_runner_records_the_environment(tmp_path):
    env = environment()
    assert env["packages"]["pandas"] == pd.__version__ and env["cpus"] >= 1 and env["python"]
    import json

    for name, seconds, finished in (("1-intermediate-a", 60.0, "2026-01-01T10:01:00"),
                                    ("2-target-a", 120.0, "2026-01-01T10:03:00")):
        folder = tmp_path / "stages" / name
        folder.mkdir(parents=True)
        (folder / "status.json").write_text(json.dumps({"status": "done", "seconds": seconds, "finished": finished}))
        (folder / "params.json").write_text(json.dumps({"stage": name.split("-")[1], "code": {"git": "abc123",
                                                        "intertask": "0.1.0"}, "environment": env}))
    prov = study_provenance(tmp_path)
    assert prov.stages == 2 and prov.seconds == 180.0 and prov.commits == ["abc123"]
    assert prov.started.isoformat() == "2026-01-01T10:00:00" and prov.unrecorded == 0
    assert prov.packages["pandas"] == [pd.__version__]
    text = analysis.summary.provenance_text(prov, {"budgets": {"target": {"epochs": 3, "batch_size": 32}}},
                                            pd.DataFrame({"model": ["m"], "seed": [1]}))
    assert "2026-01-01 10:00 to 2026-01-01 10:03" in text and "3 min 00 s" in text and "target: epochs 3" in text
