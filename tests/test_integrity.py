"""Output manifests: what a stage wrote, checked by size always, by hash for small files or on request."""

from __future__ import annotations

import os

from intertask.integrity import ALWAYS_HASH, build_manifest, check_manifest, manifest_digest


def test_manifest_lists_outputs_not_bookkeeping_and_names_what_changed(tmp_path):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "model.safetensors").write_bytes(b"w" * (ALWAYS_HASH + 10))
    (tmp_path / "results.csv").write_text("metric,value\naccuracy,0.41\n")
    for name in ("status.json", "claim", "attempts.jsonl", ".progress", "results.csv.host.1.tmp"):
        (tmp_path / name).write_text("runner bookkeeping")
    m = build_manifest(tmp_path)
    assert sorted(m) == ["checkpoint/model.safetensors", "results.csv"]
    assert m["results.csv"]["size"] == 27 and len(m["results.csv"]["sha256"]) == 64
    assert check_manifest(tmp_path, m) is None and check_manifest(tmp_path, m, full=True) is None
    digest = manifest_digest(m)

    (tmp_path / "results.csv").write_text("metric,value\naccuracy,0.99\n")  # same size, forged
    assert check_manifest(tmp_path, m) == "results.csv changed content (sha256 differs from the record)"
    (tmp_path / "results.csv").write_text("metric,value\naccuracy,0.41\n")

    big = tmp_path / "checkpoint" / "model.safetensors"
    big.write_bytes(b"x" * (ALWAYS_HASH + 10))  # same size: large files are hashed only on request
    assert check_manifest(tmp_path, m) is None
    assert check_manifest(tmp_path, m, full=True) == ("checkpoint/model.safetensors changed content "
                                                      "(sha256 differs from the record)")
    os.truncate(big, 5)
    assert check_manifest(tmp_path, m) == f"checkpoint/model.safetensors changed size ({ALWAYS_HASH + 10} -> 5 bytes)"
    big.unlink()
    assert check_manifest(tmp_path, m) == "checkpoint/model.safetensors is missing"
    assert manifest_digest(build_manifest(tmp_path)) != digest
