"""environment.yml (conda users) and pyproject.toml (pip) list the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from intertask.verify import SANITIZE

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r): r for r in pip}
    assert listed.keys() == wanted.keys(), f"only in one file: {sorted(listed.keys() ^ wanted.keys())}"
    for name, req in wanted.items():
        assert listed[name].replace(" ", "") == req.replace(" ", ""), f"{name}: {listed[name]} vs {req}"


def test_nbval_sanitizers_match_verify():
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    pairs = re.findall(r"regex: (.*)\nreplace: (.*)", text)
    assert pairs == SANITIZE
