"""The stage contract: each notebook's parameters cell is its dataclass, field for field, and the runner
injects exactly those names."""

from __future__ import annotations

import ast
import json
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from intertask.contracts import CONTRACTS, ContractError, EvaluateParams, IntermediateParams, TargetParams
from intertask.run import injected_parameters
from intertask.study import NOTEBOOKS, expand, load_params
from intertask.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def parameters_cell(notebook: Path) -> dict[str, object]:
    """Name -> value of the plain assignments in the cell tagged `parameters`."""
    cells = [c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
             if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{notebook.name}: expected one cell tagged 'parameters', found {len(cells)}"
    out: dict[str, object] = {}
    for node in ast.parse("".join(cells[0]["source"])).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{notebook.name}: not a plain assignment"
        out[node.targets[0].id] = ast.literal_eval(node.value)  # type: ignore[attr-defined]
    return out


def defaults(cls: type) -> dict[str, object]:
    return {f.name: f.default if f.default is not MISSING else f.default_factory() for f in fields(cls)}  # type: ignore[misc]


@pytest.mark.parametrize("kind", sorted(CONTRACTS))
def test_parameters_cell_matches_its_dataclass(kind):
    cell = parameters_cell(ROOT / "notebooks" / NOTEBOOKS[kind])
    declared = defaults(CONTRACTS[kind])
    assert list(cell) == list(declared), f"{NOTEBOOKS[kind]}: names or order differ from {CONTRACTS[kind].__name__}"
    for name, value in declared.items():
        assert cell[name] == value and type(cell[name]) is type(value), (
            f"{NOTEBOOKS[kind]}: {name} = {cell[name]!r}, the contract says {value!r}")


def test_the_checker_catches_a_drifted_cell(tmp_path):
    nb = json.loads((ROOT / "notebooks" / "03_evaluate.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell["source"] = [line.replace("batch_size = 32", "batch_size = 48") for line in cell["source"]]
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert parameters_cell(tmp_path / "nb.ipynb")["batch_size"] != defaults(EvaluateParams)["batch_size"]


def test_injected_parameters_are_exactly_the_contract(tmp_path):
    runs = expand(load_params(ROOT / "params" / "tiny.yaml"))
    kinds = set()
    for run in runs:
        for stage in run.stages:
            p = injected_parameters(stage, "/data")
            assert list(p) == list(CONTRACTS[stage.kind].names())
            assert p["data_dir"] == "/data" and p["output_dir"] == "."
            kinds.add(stage.kind)
    assert kinds == {"intermediate", "target", "evaluate"}


def test_a_parameter_outside_the_contract_is_refused():
    with pytest.raises(ContractError, match="evaluate stage.*unknown \\['lr'\\].*missing \\['target'\\]"):
        EvaluateParams.checked({**{k: v for k, v in defaults(EvaluateParams).items() if k != "target"}, "lr": 1},
                               "evaluate")


def test_train_config_from_params():
    inter = IntermediateParams(epochs=2.0, sampler="uniform", total_examples=96, task_options={"anli": {"x": 1}})
    cfg = TrainConfig.from_params(inter)
    assert (cfg.epochs, cfg.sampler, cfg.total_examples, cfg.task_options) == (2.0, "uniform", 96, {"anli": {"x": 1}})
    assert cfg.batch_size == inter.batch_size and cfg.seed == inter.seed
    target = TargetParams(target="pawsx", options={"max_length": 64}, learning_rate=1e-5)
    cfg = TrainConfig.from_params(target)
    assert cfg.task_options == {"pawsx": {"max_length": 64}} and cfg.learning_rate == 1e-5
    assert cfg.total_examples is None  # not a target-stage parameter: TrainConfig's default


def test_from_namespace_reads_exactly_the_fields():
    ns = {**defaults(TargetParams), "target": "xcopa", "unrelated": object()}
    assert TargetParams.from_namespace(ns) == TargetParams(target="xcopa")
