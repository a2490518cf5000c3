"""Atomic artifacts, clear data errors, and source fingerprints."""

import json

import pandas as pd
import pytest

from debiaslab.core import provenance
from debiaslab.core.io import DataError, atomic_path, read_json, read_jsonl, read_table, write_json, write_parquet


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("job killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_directory_write_keeps_the_old_directory(tmp_path):
    target = tmp_path / "adapter"
    with atomic_path(target, directory=True) as tmp:
        (tmp / "a.txt").write_text("v1")
    with pytest.raises(RuntimeError):
        with atomic_path(target, directory=True) as tmp:
            (tmp / "a.txt").write_text("v2")
            raise RuntimeError
    assert (target / "a.txt").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_parquet_is_byte_identical_across_writes(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_parquet(tmp_path / "1.parquet", frame)
    write_parquet(tmp_path / "2.parquet", frame)
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


def test_bad_data_names_file_and_row(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"a": 1}\n{"a": 2\n')
    with pytest.raises(DataError, match=r"rows.jsonl: row 2: malformed JSON"):
        read_jsonl(bad)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'["caf\xe9"]')
    with pytest.raises(DataError, match="latin.json: not UTF-8"):
        read_json(latin)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(DataError, match="empty.json: no rows"):
        read_table(empty)
    table = tmp_path / "t.json"
    table.write_text(json.dumps([{"prompt": "x"}]))
    with pytest.raises(DataError, match=r"t.json: missing column\(s\) \['response'\]"):
        read_table(table, required=["response"])


def test_write_json_is_deterministic(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1.5]})
    assert (tmp_path / "a.json").read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'


def test_source_fingerprint_follows_imports():
    files = {p.name for p in provenance.module_closure("debiaslab.methods.train", "debiaslab.methods.sft")}
    assert {"train.py", "sft.py", "common.py", "models.py", "config.py"} <= files
    # the dispatcher names its trainers without importing them: an SFT job's fingerprint holds no other
    # trainer, so editing the DPO trainer leaves it (and the SFT jobs) alone
    assert not {"dpo.py", "reinforce.py", "desired_kl.py"} & files
    # the balance scoring does not run the trainer: its fingerprint must not include it
    assert "sft.py" not in {p.name for p in provenance.module_closure("debiaslab.experiments.occupations.scoring")}
    assert provenance.source_fingerprint("debiaslab.experiments.occupations.scoring") != provenance.source_fingerprint(
        "debiaslab.methods.train"
    )
    # nor the registries: adding a method or an experiment changes no job's fingerprint
    scoring = {
        p.relative_to(provenance.ROOT).as_posix()
        for p in provenance.module_closure("debiaslab.experiments.occupations.scoring")
    }
    assert not {"methods/registry.py", "experiments/registry.py", "experiments/occupations/experiment.py"} & scoring
    with pytest.raises(ValueError):
        provenance.module_closure("debiaslab.no_such_module")


def test_strip_thinking_keeps_plain_continuations_intact():
    from debiaslab.generation.autoregressive import strip_thinking

    assert strip_thinking(" caring and bold.") == " caring and bold."
    assert strip_thinking("<think>\nhmm, plan</think>\n\nThe answer.") == "The answer."
    assert strip_thinking("<think>never closed") == ""


def test_every_method_of_the_registry_resolves():
    import importlib

    from debiaslab.methods.registry import KINDS, METHODS

    for name, method in METHODS.items():
        assert method.kind in KINDS, name
        if method.trained:
            module = importlib.import_module(method.module)
            assert callable(getattr(module, method.trainer)) and isinstance(getattr(module, method.settings), type), (
                name
            )
        elif method.kind == "decoding":
            assert callable(importlib.import_module(method.module).decode), name


def test_generation_fingerprint_holds_only_the_method_s_decoder():
    import importlib

    from debiaslab.generation.responses import PROJECTION_MODULE

    files = {p.name for p in provenance.module_closure("debiaslab.generation.responses")}
    # plain sampling (prompt_only, sft, dpo, ...) does not carry the decoders' or INLP's code, nor any
    # experiment's criterion for a decoder
    assert "autoregressive.py" in files and not {"gen_filter.py", "constrained.py", "inlp.py", "registry.py"} & files
    assert not any("experiments" in p.parts for p in provenance.module_closure("debiaslab.generation.responses"))
    projection = importlib.import_module(PROJECTION_MODULE)
    assert callable(projection.add_projection_hook) and callable(projection.load_projection)


def test_trainers_with_a_loop_of_their_own_refuse_a_multi_gpu_launch(monkeypatch, tmp_path):
    """Under `accelerate launch` with N GPUs they would each run the whole job: refused before any work,
    naming the fix; TRL's trainers (which split the batch over the processes) get past the check."""
    from debiaslab.core.config import ConfigError
    from debiaslab.methods.registry import METHODS
    from debiaslab.methods.train import run

    trained = {name for name, m in METHODS.items() if m.trained}
    one_process = {name for name in trained if METHODS[name].one_process}
    assert one_process == {"inlp", "reinforce", "kl_equal", "kl_real_world"}
    monkeypatch.setenv("WORLD_SIZE", "4")
    common = dict(
        model="no/such/model",
        data=str(tmp_path / "none.parquet"),
        seed=0,
        out=tmp_path / "out",
        checkpoints=tmp_path / "ckpt",
    )
    for method in sorted(one_process):
        with pytest.raises(ConfigError, match=r"launched as 4 processes.*gpu: 1"):
            run(method, METHODS[method], settings={}, **common)
    for method in sorted(trained - one_process):  # the next check is the settings'
        with pytest.raises(ConfigError, match="no_such_setting"):
            run(method, METHODS[method], settings={"no_such_setting": 1}, **common)
    assert not (tmp_path / "out").exists()
