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


@pytest.mark.parametrize("text, message", [
    ("budgets:\n  target: {learning_rate: -1}\n", r"'budgets.target.learning_rate' must be > 0, got -1"),
    ("budgets:\n  target: {batch_size: 0}\n", r"'budgets.target.batch_size' must be >= 1, got 0"),
    ("budgets:\n  intermediate: {train_examples: -5}\n", r"'budgets.intermediate.train_examples' must be >= 1, got -5"),
    ("budgets:\n  target: {epochs: 0}\n", r"'budgets.target.epochs' must be > 0, got 0"),
    ("training: {warmup_ratio: 7}\n", r"'training.warmup_ratio' must be < 1, got 7"),
    ("training: {warmup_ratio: -0.1}\n", r"'training.warmup_ratio' must be >= 0, got -0.1"),
    ("training: {mixed_precision: fp64}\n", r"'training.mixed_precision' must be one of 'no', 'fp16', 'bf16' or 'auto', got 'fp64'"),
    ("seeds: [true]\n", r"'seeds' must be a list of integers, e.g. \[1, 2, 3\], got True"),
    ("seeds: []\n", r"'seeds' must not be empty, e.g. \[1, 2, 3\]"),
    ("training: {freeze_embeddings: 1}\n", r"'training.freeze_embeddings' must be bool, got 1"),
    ("budgets:\n  eval: {batch_size: yes}\n", r"'budgets.eval.batch_size' must be a number, not true/false, got True"),
])
def test_values_out_of_range_are_refused_with_field_value_and_range(tmp_path, text, message):
    with pytest.raises(ParamsError, match=r"study.yaml: " + message):
        load_params(write(tmp_path, text))


def test_numbers_written_as_yaml_strings_are_numbers(tmp_path):
    """YAML 1.1 reads 5e-5 as a string; it is the learning rate everyone writes, and the same stage as 5.0e-5."""
    p = load_params(write(tmp_path, "budgets:\n  target: {learning_rate: 5e-5, train_examples: 1e3}\n"))
    assert p["budgets"]["target"]["learning_rate"] == 5e-5 and isinstance(p["budgets"]["target"]["learning_rate"], float)
    assert p["budgets"]["target"]["train_examples"] == 1000
    q = load_params(write(tmp_path, "budgets:\n  target: {learning_rate: 5.0e-5, train_examples: 1000}\n"))
    assert [s.hash for s in expand(p)[0].stages] == [s.hash for s in expand(q)[0].stages]


def test_values_other_issues_add_are_allowed(tmp_path):
    assert load_params(write(tmp_path, "training: {mixed_precision: auto}\n"))["training"]["mixed_precision"] == "auto"


def test_duplicate_yaml_keys_are_refused_with_file_and_line(tmp_path):
    with pytest.raises(ParamsError, match=r"study.yaml:3:1: YAML error: duplicate key 'targets' \(first given on line 1\)"):
        load_params(write(tmp_path, "targets: [xnli]\nseeds: [1]\ntargets: [pawsx]\n"))
    with pytest.raises(ParamsError, match=r"study.yaml:2:23: YAML error: duplicate key 'epochs' \(first given on line 2\)"):
        load_params(write(tmp_path, "budgets:\n  target: {epochs: 1, epochs: 2}\n"))
