"""`intertask power`: the design's minimal detectable effects and the draws needed, with and without a pilot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intertask import cli
from intertask.analysis.simulate import spec_from_params, write_study
from intertask.study import load_params

PARAMS = Path(__file__).resolve().parents[1] / "params"


def _numbers(text: str, label: str) -> list[int]:
    return [int(x) for x in re.findall(rf"(\d+) draws for the {label}", text)]


def test_power_defaults_and_pilot(tmp_path, capsys):
    assert cli.main(["power", str(PARAMS / "scaling.yaml")]) == 0
    default = capsys.readouterr().out
    assert "stated defaults" in default and "3 draws per (arm, k); 3 seed(s)" in default
    assert re.search(r"minimal detectable slope: \d+\.\d\d points per added task", default)
    assert len(_numbers(default, "slope")) == 4 and len(_numbers(default, "arm difference")) == 4
    # a noisier pilot (draw SD 3) needs more draws than the defaults (1.5) for the same effect
    pilot = write_study(tmp_path / "pilot", spec_from_params(load_params(PARAMS / "scaling_smoke.yaml"), draw_sd=3.0,
                                                             draws=6), seed=2)
    assert cli.main(["power", str(PARAMS / "scaling.yaml"), "--pilot", str(pilot)]) == 0
    noisy = capsys.readouterr().out
    assert "pilot (" in noisy
    assert all(n > d for n, d in zip(_numbers(noisy, "slope"), _numbers(default, "slope")))
    assert cli.main(["power", str(PARAMS / "scaling_smoke.yaml")]) == 0
    assert "minimal detectable slope: not identified" in capsys.readouterr().out


def test_power_errors_name_the_fix(tmp_path):
    with pytest.raises(SystemExit, match="no `design:` section"):
        cli.main(["power", str(PARAMS / "smoke.yaml")])
    with pytest.raises(SystemExit, match="results.csv: no pilot results here"):
        cli.main(["power", str(PARAMS / "scaling.yaml"), "--pilot", str(tmp_path)])
