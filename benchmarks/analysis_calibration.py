"""Coverage and false-claim rates of the scaling analysis on simulated studies with known truth.

    python benchmarks/analysis_calibration.py --which new --studies 200
    python benchmarks/analysis_calibration.py --which old --studies 200   # the analysis of commit 837f580

Each study goes through the same path as a real one: results table -> report.gains -> analysis.
Designs: params/scaling_smoke.yaml's sizes (k 1,4; 2 draws; 1 seed) and params/scaling.yaml's
(k 1,2,4,8; 3 draws; 3 seeds), 8 XNLI languages, draw SD 1.5, seed SD 0.5, item SD 1.0 points.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from intertask import report
from intertask.analysis.simulate import SimSpec, simulate, to_tables

DESIGNS = {"scaling_smoke": SimSpec(ks=(1, 4), draws=2, seeds=1), "scaling": SimSpec()}
CLAIM = re.compile(r"\b(rises|falls|is ahead|associated|higher|lower)\b")


def old_module():
    """analysis.py as of commit 837f580 (before the calibrated statistics), imported from git."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", "837f580:lib/intertask/analysis.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    src = src.replace("from .report import _save", "from .figures import save_figure as _save")
    path = Path(tempfile.mkdtemp()) / "old_analysis.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("intertask._old_analysis", path)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "intertask"
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def analyse_old(mod, results, conditions) -> dict:
    gains = report.gains(results)
    frame = mod.scaling_frame(gains, conditions)
    curve = mod.gain_curve(frame, n_boot=2000, seed=0)
    units = mod.unit_table(frame)
    slopes = mod.arm_slopes(units, 2000, 0).set_index("arm")
    diff = mod.arm_difference(units, 2000, 0).iloc[0]
    reg = mod.regression(frame, n_boot=1000, seed=0)
    text = mod.conclusion(curve, reg, frame, 2000, 0)
    statements = [ln for ln in text.splitlines() if ln.startswith("- ")]
    return {"slopes": {a: (r["ci_low"], r["ci_high"], r["slope"]) for a, r in slopes.iterrows()},
            "diff": (diff["ci_low"], diff["ci_high"], diff["diff"]),
            "claims": sum(bool(CLAIM.search(s)) for s in statements), "statements": len(statements)}


def analyse_new(results, conditions) -> dict:
    from intertask import analysis

    gains = report.gains(results)
    rep = analysis.scaling_report(gains, conditions, figures_dir=None, n_boot=400, seed=0, mixed_model=False)
    slopes = rep.slopes.set_index("arm")
    diff = rep.differences.iloc[0]
    statements = rep.claims
    return {"slopes": {a: (r["ci_low"], r["ci_high"], r["estimate"]) for a, r in slopes.iterrows()},
            "diff": (diff["ci_low"], diff["ci_high"], diff["estimate"]),
            "claims": int(statements["verdict"].isin(["positive", "negative"]).sum()),
            "statements": len(statements)}


def covers(ci: tuple, truth: float) -> float:
    low, high = ci[0], ci[1]
    return np.nan if np.isnan(low) or np.isnan(high) else float(low <= truth <= high)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--which", choices=["old", "new"], default="new")
    ap.add_argument("--studies", type=int, default=200)
    ap.add_argument("--slope", type=float, default=0.0, help="true slope of the diverse arm (points per task)")
    args = ap.parse_args()
    mod = old_module() if args.which == "old" else None
    for name, spec in DESIGNS.items():
        spec = SimSpec(**{**spec.__dict__, "slope": {"diverse": args.slope}})
        sims = simulate(spec, args.studies, seed=2026)
        cov_s, cov_d, est, claims, studies_with_claim, n_st, nan_s = [], [], [], 0, 0, 0, 0
        for i in range(args.studies):
            results, conditions = to_tables(sims, i)
            out = analyse_old(mod, results, conditions) if mod else analyse_new(results, conditions)
            for arm, ci in out["slopes"].items():
                c = covers(ci, spec.slope.get(arm, 0.0))
                nan_s += np.isnan(c)
                cov_s.append(c)
                if arm == "diverse":
                    est.append(ci[2])
            cov_d.append(covers(out["diff"], spec.arm_difference("diverse", "english")))
            claims += out["claims"]
            n_st += out["statements"]
            studies_with_claim += out["claims"] > 0
        print(f"[{args.which}] {name} ({args.studies} studies, true diverse slope {args.slope}): "
              f"slope CI coverage {np.nanmean(cov_s):.3f} ({nan_s} of {len(cov_s)} not identified), "
              f"arm-difference coverage {np.nanmean(cov_d) if not np.all(np.isnan(cov_d)) else float('nan'):.3f}, "
              f"mean diverse slope {np.nanmean(est):+.3f}, "
              f"claims {claims}/{n_st} statements ({claims / max(n_st, 1):.1%}), "
              f"studies with >= 1 claim {studies_with_claim / args.studies:.1%}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
