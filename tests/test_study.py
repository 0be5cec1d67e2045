"""Params files: clear errors naming file, line and field; expansion into runs with shared stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from intertask.study import ParamsError, expand, load_params

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(text)
    return p


def test_yaml_error_names_file_and_line(tmp_path):
    p = write(tmp_path, "study: s\ntargets: [xnli\nseeds: [1]\n")
    with pytest.raises(ParamsError, match=r"study.yaml:\d+:\d+: YAML error"):
        load_params(p)


def test_unknown_key_suggests_closest(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key 'target'. Did you mean 'targets'"):
        load_params(write(tmp_path, "targets: [xnli]\ntarget: [xnli]\n"))
    with pytest.raises(ParamsError, match=r"unknown key 'budgets.target.epoch'. Did you mean 'budgets.target.epochs'"):
        load_params(write(tmp_path, "budgets:\n  target: {epoch: 3}\n"))


def test_unknown_task_and_language(tmp_path):
    with pytest.raises(ParamsError, match=r"intermediate.x: unknown task 'anly'. Did you mean 'anli'"):
        load_params(write(tmp_path, "intermediate: {none: [], x: [anly]}\n"))
    with pytest.raises(ParamsError, match=r"xnli has no language\(s\) \['jp'\]; valid: ar, bg"):
        load_params(write(tmp_path, "languages: [de, jp]\n"))


def test_wrong_type_and_target_in_intermediate(tmp_path):
    with pytest.raises(ParamsError, match=r"'budgets.target.epochs' must be int or float, got 'three'"):
        load_params(write(tmp_path, "budgets:\n  target: {epochs: three}\n"))
    with pytest.raises(ParamsError, match=r"trains on \[.xnli.\], which share the target task .xnli..s data"):
        load_params(write(tmp_path, "intermediate: {none: [], leak: [xnli]}\n"))


def test_intermediate_stage_shared_across_targets_and_hashes_stable(tmp_path):
    p = write(tmp_path, "intermediate: {none: [], anli: [anli]}\ntargets: [xnli, pawsx]\nseeds: [1, 2]\n")
    runs = expand(load_params(p))
    assert len(runs) == 2 * 2 * 2
    inter = {r.stages[0].hash for r in runs if r.condition == "anli" and r.seed == 1}
    assert len(inter) == 1  # trained once, used by both targets
    assert [s.hash for s in expand(load_params(p))[0].stages] == [s.hash for s in runs[0].stages]
    none_runs = [r for r in runs if r.condition == "none"]
    assert all(len(r.stages) == 2 for r in none_runs)


def test_budget_change_invalidates_only_downstream(tmp_path):
    a = expand(load_params(write(tmp_path, "intermediate: {anli: [anli]}\n")))[0]
    b = expand(load_params(write(tmp_path, "intermediate: {anli: [anli]}\nbudgets:\n  eval: {examples_per_language: 10}\n")))[0]
    assert a.stages[0].hash == b.stages[0].hash and a.stages[1].hash == b.stages[1].hash
    assert a.stages[2].hash != b.stages[2].hash


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "params").glob("*.yaml")))
def test_shipped_params_files_are_valid(name):
    params = load_params(ROOT / "params" / name)
    assert expand(params)


def test_task_options_override_budgets_and_are_checked(tmp_path):
    p = write(tmp_path, "targets: [xnli, xquad]\ntask_options:\n  xquad: {train_examples: 50, max_length: 256, "
                        "doc_stride: 64, examples_per_language: 20}\n")
    runs = {r.target: r for r in expand(load_params(p))}
    target, ev = runs["xquad"].stages
    assert target.parameters["train_examples"] == 50 and target.parameters["options"] == {"max_length": 256, "doc_stride": 64}
    assert ev.parameters["examples_per_language"] == 20
    assert runs["xnli"].stages[0].parameters["train_examples"] == 1000
    with pytest.raises(ParamsError, match=r"unknown option\(s\) \['doc_strde'\]. Did you mean 'doc_stride'"):
        load_params(write(tmp_path, "targets: [xquad]\ntask_options:\n  xquad: {doc_strde: 64}\n"))


def test_retrieval_target_has_no_finetuning_stage(tmp_path):
    runs = expand(load_params(write(tmp_path, "intermediate: {none: [], anli: [anli]}\ntargets: [tatoeba]\n")))
    kinds = {r.condition: [s.kind for s in r.stages] for r in runs}
    assert kinds == {"none": ["evaluate"], "anli": ["intermediate", "evaluate"]}
