"""Re-analyse the committed scaling smoke report with the current analysis (the study's outputs are not kept).

    python docs/results/reanalyse_scaling_smoke.py

Data: the first report's own "Score per language" table (scaling_smoke_unstratified_first_analysis.html). XNLI
was scored on 100 items per language with one seed, so every accuracy is a multiple of 0.01 and the
table's values are the exact results; the condition metadata is re-expanded from
params/scaling_smoke.yaml (seeded, so identical to the run's conditions.csv). No per-item scores
were recorded then, so the re-rendered report has no item-level intervals.
Do not re-run it since the issue-7 design (stratified, nested draws, control): params/scaling_smoke.yaml
and the design generator now expand other conditions than that run had, so the tasks would be mislabelled.
Its output, scaling_smoke_unstratified_results.csv (tasks per run recorded), is what to re-analyse from now on.
Writes scaling_smoke_unstratified_results.csv, scaling_smoke_unstratified.html and scaling_smoke_unstratified_gain_vs_k.png here.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from intertask.results import RESULT_COLUMNS
from intertask.run import make_report
from intertask.study import condition_rows, load_params

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCE = HERE / "scaling_smoke_unstratified_first_analysis.html"


def score_table(report_html: str) -> pd.DataFrame:
    """The printed language_table of a rendered report: one row per condition, one column per language."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", report_html))
    after = text.index("Score per language")
    start = after + re.search(r"^[ \t]*language ", text[after:], re.M).start()
    lines = [ln.split() for ln in text[start:].splitlines()]
    header = lines[0][1:]                         # languages..., avg
    rows = {}
    for parts in lines[2:]:
        if not parts:
            break
        parts = parts[2:] if parts[0] == "xnli" else parts
        rows[parts[0]] = [float(x) for x in parts[1:]]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=header)
    return table.drop(columns="avg")


def results_frame(table: pd.DataFrame, params: dict) -> pd.DataFrame:
    conds = {r["condition"]: r for r in condition_rows(params)}
    rows = []
    for cond, scores in table.iterrows():
        tasks = conds[cond]["tasks"]
        for lang, value in scores.items():
            rows.append({"study": params["study"], "run": f"{cond}__xnli__s1", "model": params["model"],
                         "intermediate_tasks": tasks, "seed": 1, "target_task": "xnli", "language": lang,
                         "split": "test", "metric": "accuracy", "value": value,
                         "n_examples": params["budgets"]["eval"]["examples_per_language"], "condition": cond})
    return pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "condition"])


def main() -> int:
    params = load_params(ROOT / "params" / "scaling_smoke.yaml")
    table = score_table(SOURCE.read_text(encoding="utf-8"))
    assert (table * 100).sub((table * 100).round()).abs().max().max() < 1e-9, "scores are not multiples of 0.01"
    results = results_frame(table, params)
    results.to_csv(HERE / "scaling_smoke_unstratified_results.csv", index=False)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / params["study"]
        root.mkdir()
        results.to_csv(root / "results.csv", index=False)
        pd.DataFrame(condition_rows(params)).to_csv(root / "conditions.csv", index=False)
        report = make_report(params, tmp, force=True)
        shutil.copy(report, HERE / "scaling_smoke_unstratified.html")
        shutil.copy(root / "report" / "figures" / "gain_vs_k.png", HERE / "scaling_smoke_unstratified_gain_vs_k.png")
    print(f"{len(results)} result rows; wrote {HERE / 'scaling_smoke_unstratified.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
