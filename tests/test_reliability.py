"""Reliability (issue 11): bad config and bad data fail clearly, nothing half-written is left,
runs are deterministic, one failing job spoils nothing else, and the defaults are secure.

    python -m pytest -q tests/test_reliability.py
"""

from __future__ import annotations

import contextlib
import copy
import filecmp
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TEST_TOKEN, copy_workflow, snakemake
from debiaslab.cli import main
from debiaslab.core.config import ConfigError, load_yaml
from debiaslab.experiments.registry import validate

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def _exp(config, name):
    return config["experiments"][name]


def _set(*keys, value):
    """An edit that sets config[k1][k2]... = value."""

    def edit(config):
        node = config
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return edit


# (what is wrong, edit of config/config.yaml, fragments the message must contain: key path + what is allowed)
INVALID_CONFIGS = [
    (
        "wrong type",
        _set("experiments", "occupations", "seeds", value="forty-two"),
        ["experiments.occupations.seeds: 'forty-two' is not of type 'array'"],
    ),
    (
        "unknown experiment",
        _set("experiments", "occupation", value={}),
        [
            "experiments: unknown key(s) 'occupation'",
            "allowed: desired_distribution, occupations, reward_guided, rm_forget, safety",
        ],
    ),
    (
        "unknown method",
        _set("experiments", "occupations", "methods", "sfft", value={}),
        ["experiments.occupations.methods: unknown key(s) 'sfft'", "allowed: constrained, dpo, gen_filter, inlp"],
    ),
    (
        "unknown metric/evaluation key",
        _set("experiments", "occupations", "evaluations", "mmlux", value={}),
        [
            "experiments.occupations.evaluations: unknown key(s) 'mmlux'",
            "allowed: bias_suite, crows_pairs, fluency, glue",
        ],
    ),
    (
        "unknown setting key",
        _set("experiments", "occupations", "methods", "sft", "train", "lr", value=1e-4),
        ["experiments.occupations.methods.sft.train: unknown key(s) 'lr'", "learning_rate"],
    ),
    (
        "missing model",
        _set("experiments", "occupations", "models", value=["llama-9b"]),
        ["experiments.occupations.models[0]: model 'llama-9b' is not defined under `models`", "defined: testbed-"],
    ),
    (
        "model entry without a path",
        _set("models", "extra-lm", value={"kind": "causal"}),
        [
            "models.extra-lm: give exactly one of `path` (a Hub name or Hub-format folder) or `gguf` (a GGUF file), "
            "got neither"
        ],
    ),
    (
        "unknown model kind",
        _set("models", "testbed-lm", "kind", value="rnn"),
        ["models.testbed-lm.kind: 'rnn' is not allowed; allowed: auto, causal, mlm, seq-cls"],
    ),
    (
        "zero learning rate",
        _set("experiments", "occupations", "methods", "sft", "train", "learning_rate", value=0),
        ["experiments.occupations.methods.sft.train.learning_rate: 0 is not allowed; must be > 0"],
    ),
    (
        "negative learning rate",
        _set("experiments", "reward_guided", "methods", "reinforce", "train", "learning_rate", value=-1e-5),
        ["experiments.reward_guided.methods.reinforce.train.learning_rate: -1e-05 is not allowed; must be > 0"],
    ),
    (
        "empty seed list",
        _set("experiments", "safety", "seeds", value=[]),
        ["experiments.safety.seeds: must not be empty"],
    ),
    (
        "duplicate seeds",
        _set("experiments", "reward_guided", "seeds", value=[42, 42]),
        ["experiments.reward_guided.seeds: duplicate value(s) [42]"],
    ),
    (
        "held-out occupations overlap training ones",
        _set("experiments", "occupations", "heldout_occupations", value=["nurse"]),
        ["experiments.occupations.heldout_occupations: ['nurse'] also in train_occupations"],
    ),
    (
        "unknown occupation",
        _set("experiments", "occupations", "train_occupations", value=["astronaut"]),
        ["experiments.occupations.train_occupations[0]: 'astronaut' is not allowed; allowed: architect"],
    ),
    (
        "unknown split",
        _set("experiments", "rm_forget", "data", "dataset", "eval_split", value="tset"),
        ["experiments.rm_forget.data.dataset.eval_split: 'tset' is not allowed; allowed: train, validation, test"],
    ),
    (
        "evaluation on the training split",
        _set("experiments", "rm_forget", "data", "dataset", "eval_split", value="train"),
        ["experiments.rm_forget.data.dataset.eval_split: 'train' is also the train split"],
    ),
    (
        "λ grid empty",
        _set("experiments", "rm_forget", "sweep", "lambdas", value=[]),
        ["experiments.rm_forget.sweep.lambdas: must not be empty"],
    ),
    (
        "λ grid without 0",
        _set("experiments", "rm_forget", "sweep", "lambdas", value=[0.5, 1.0]),
        ["experiments.rm_forget.sweep.lambdas: must include 0"],
    ),
    (
        "dataset size larger than the prompt pool",
        _set("experiments", "reward_guided", "dataset_sizes", value=[100000]),
        ["experiments.reward_guided.dataset_sizes: 100000 training prompts", "exceed the 5760 distinct MCQ prompts"],
    ),
    (
        "evaluation questions beyond the testbed split",
        _set("experiments", "rm_forget", "data", "n_eval_questions", value=1000),
        ["experiments.rm_forget.data.n_eval_questions: 1000 exceeds the 40 questions", "testbed.arithmetic.n_test"],
    ),
    (
        "probability above 1",
        _set("experiments", "occupations", "generation", "top_p", value=1.5),
        ["experiments.occupations.generation.top_p: 1.5 is not allowed; must be <= 1"],
    ),
    (
        "negative temperature",
        _set("experiments", "reward_guided", "temperatures", value=[-1.0]),
        ["experiments.reward_guided.temperatures[0]: -1.0 is not allowed; must be >= 0"],
    ),
    (
        "batch not a multiple of the microbatch",
        _set("experiments", "reward_guided", "methods", "reinforce", "train", "micro_batch_size", value=5),
        ["experiments.reward_guided.methods.reinforce.train.batch_size: 16 is not a multiple of micro_batch_size 5"],
    ),
    (
        "LoRA rank 0",
        _set("experiments", "occupations", "methods", "dpo", "train", "lora", "r", value=0),
        ["experiments.occupations.methods.dpo.train.lora.r: 0 is not allowed; must be >= 1"],
    ),
    (
        "prompt without its placeholder",
        _set("experiments", "occupations", "prompt", value="Describe a person."),
        ["experiments.occupations.prompt: 'Describe a person.' does not match"],
    ),
    (
        "scorer model undefined",
        _set("experiments", "safety", "scoring", "bias_classifier", "model", value="nope"),
        ["experiments.safety.scoring.bias_classifier.model: model 'nope' is not defined under `models`"],
    ),
    (
        "trust_remote_code not a boolean",
        _set("models", "testbed-lm", "trust_remote_code", value="yes"),
        ["models.testbed-lm.trust_remote_code: 'yes' is not of type 'boolean'"],
    ),
    (
        "zero training steps",
        _set("testbed", "lm", "steps", value=0),
        ["testbed.lm.steps: 0 is not allowed; must be >= 1"],
    ),
    # issue 28: `seeds: [42.0]` was valid, and `snakemake -n` then kept the 3-seed table as current
    (
        "seed written as a float",
        _set("experiments", "occupations", "seeds", value=[42.0]),
        ["experiments.occupations.seeds[0]: 42.0 is not of type 'integer'"],
    ),
    (
        "seed beyond 2**32",
        _set("experiments", "occupations", "seeds", value=[2**32]),
        ["experiments.occupations.seeds[0]: 4294967296 is not allowed; must be <= 4294967295"],
    ),
    (
        "whole number written as a float",
        _set("testbed", "lm", "steps", value=200.0),
        ["testbed.lm.steps: 200.0 is not of type 'integer'"],
    ),
    (
        "unknown prompt placeholder",
        _set("experiments", "occupations", "prompt", value="The {occupation} {oops} was"),
        ["experiments.occupations.prompt: unknown placeholder(s) {oops}; allowed: {occupation}"],
    ),
]


def test_at_least_twenty_kinds_of_invalid_config_are_listed():
    assert len({name for name, _, _ in INVALID_CONFIGS}) >= 20


@pytest.mark.parametrize("name, edit, fragments", INVALID_CONFIGS, ids=[c[0] for c in INVALID_CONFIGS])
def test_invalid_config_is_rejected_naming_the_key_and_what_is_allowed(name, edit, fragments):
    config = load_yaml(REPO / "config/config.yaml")
    edit(config)
    with pytest.raises(ConfigError) as err:
        validate(config, SCHEMA)  # the checks the workflow runs
    for fragment in fragments:
        assert fragment in str(err.value), f"{name}: {err.value}"


# One config per layer of checks, through Snakemake: the schema (types, unknown keys), the registries
# (experiments, methods), the cross-field checks of the core and of each experiment, and the strict YAML
# reading. The test above runs every case through registry.validate, the function the workflow calls while
# parsing; this one shows the workflow calls it before any job (each Snakemake start costs ~5 s).
THROUGH_SNAKEMAKE = {
    "wrong type",
    "unknown setting key",
    "unknown experiment",
    "unknown method",
    "missing model",
    "held-out occupations overlap training ones",
    "λ grid without 0",
    "dataset size larger than the prompt pool",
    "seed written as a float",
    "unknown prompt placeholder",
}


def test_every_layer_of_checks_stops_snakemake_before_any_job(tmp_path):
    """Configs of THROUGH_SNAKEMAKE through `snakemake --cores 1 all`: the run stops while parsing the
    workflow, with the message, before a single job (no results/testbed/ folder, no log) — two snakemakes
    at a time."""
    workdir = copy_workflow(tmp_path / "wf")
    base = yaml.safe_load((workdir / "config/config.yaml").read_text())

    def attempt(case):
        name, edit, fragments = case
        config = copy.deepcopy(base)
        edit(config)
        path = tmp_path / f"{name.replace(' ', '_').replace('/', '_')}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        proc = snakemake(workdir, "--cores", "1", "all", "--configfile", str(path), check=False)
        output = proc.stdout + proc.stderr
        missing = [f for f in fragments if f not in output]
        return name, proc.returncode, missing, output[-800:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(attempt, [case for case in INVALID_CONFIGS if case[0] in THROUGH_SNAKEMAKE]))
    assert len(outcomes) == len(THROUGH_SNAKEMAKE)
    for name, returncode, missing, tail in outcomes:
        assert returncode != 0 and not missing, f"{name}: rc={returncode}, missing {missing}:\n{tail}"
    assert not (workdir / "results").exists(), "a job ran although the config was invalid"


# --- bad data: one clear error naming the file (and row), nothing left behind ----------------------


BAD_FILES = {
    # name: (bytes, fragments of the error)
    "malformed.jsonl": (
        b'{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c"\n',
        ["malformed.jsonl: row 3: malformed JSON"],
    ),
    "latin1.jsonl": (
        '{"prompt": "a"}\n{"prompt": "caf\u00e9"}\n'.encode("latin-1"),
        ["latin1.jsonl: row 2: not UTF-8"],
    ),
    "empty.jsonl": (b"\n", ["empty.jsonl: no rows"]),
    "missing_column.jsonl": (b'{"text": "a"}\n', ["missing_column.jsonl: missing column(s) ['prompt']"]),
    "wrong_type.jsonl": (
        b'{"prompt": "a"}\n{"prompt": 5}\n',
        ["wrong_type.jsonl: row 2: column 'prompt' must be text, got int 5"],
    ),
    "not_records.jsonl": (b'{"prompt": "a"}\n[1, 2]\n', ["not_records.jsonl: row 2: expected a JSON object, got list"]),
    "malformed.json": (b'[{"prompt": "a"},\n {"prompt": }]', ["malformed.json: malformed JSON at line 2"]),
    "corrupt.parquet": (b"PAR1 this is not parquet", ["corrupt.parquet: not a readable Parquet file"]),
    "unsupported.txt": (b"prompt\n", ["unsupported.txt: unsupported table format '.txt'"]),
}


def build_safety_training(dataset: str, out: Path) -> int:
    """`debiaslab data build` of safety's SFT and DPO data from `dataset`, with the default config's other
    data settings, into `out` (what the workflow's data job runs)."""
    data = validate(load_yaml(REPO / "config/config.yaml"), SCHEMA)["experiments"]["safety"]["data"]
    data["dataset"] = dataset
    return main(
        [
            "data",
            "build",
            "--experiment",
            "safety",
            "--artifact",
            "training",
            "--settings",
            json.dumps(data),
            "--seed",
            "0",
            "--out",
            f"sft_out={out / 'sft.parquet'}",
            "--out",
            f"dpo_out={out / 'dpo.parquet'}",
        ]
    )


def _left_behind(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.workflow
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_prompt_file_fails_naming_file_and_row_and_leaves_nothing(default_run, tmp_path, capsys, name):
    data, fragments = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(
        [
            "generate",
            "--model",
            str(default_run / "results/testbed/testbed/lm"),
            "--prompts",
            str(path),
            "--settings",
            '{"max_new_tokens": 4}',
            "--seed",
            "0",
            "--out",
            str(out_dir / "responses.parquet"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, err
    assert "Traceback" not in err
    assert _left_behind(out_dir) == []


def test_unreachable_hub_model_and_dataset_fail_with_one_line_naming_them(tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "a"}\n')
    out = tmp_path / "out"
    out.mkdir()
    code = main(
        [
            "generate",
            "--model",
            "nobody/no-such-model",
            "--prompts",
            str(prompts),
            "--seed",
            "0",
            "--out",
            str(out / "responses.parquet"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "'nobody/no-such-model' is not a local folder and could not be fetched from the Hub" in err
    assert "hub_download" in err and "Traceback" not in err

    code = build_safety_training("nobody/no-such-hh-rlhf", out)
    err = capsys.readouterr().err
    assert (
        code == 2
        and "dataset 'nobody/no-such-hh-rlhf': not a local folder or file and not available from the Hub" in err
    )
    assert "hub_download" in err and "Traceback" not in err
    assert _left_behind(out) == []


def test_malformed_local_dataset_file_names_the_file(tmp_path, capsys):
    bad = tmp_path / "hh.jsonl"
    bad.write_text('{"chosen": "Human: hi Assistant: hello", "rejected": "Human: hi Assistant: go"}\n{"chosen": \n')
    out = tmp_path / "out"
    out.mkdir()
    code = build_safety_training(str(bad), out)
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}: unreadable dataset" in err, err
    assert _left_behind(out) == []


# --- determinism and isolation: two clean runs of a reduced default config --------------------------


def reduced_config(config: dict, broken_model: Path | None = None) -> dict:
    """The default config, small: a briefly trained testbed, occupations with one seed and three methods.
    With `broken_model`, also reward_guided on a model folder whose config.json is not JSON: its jobs fail."""
    config["testbed"]["lm"]["steps"] = 200
    config["testbed"]["mlm"]["steps"] = 10
    occupations = config["experiments"]["occupations"]
    occupations["seeds"] = [42]
    occupations["methods"] = {k: occupations["methods"][k] for k in ("prompt_only", "gen_filter", "sft")}
    occupations["methods"]["sft"]["train"]["epochs"] = 1
    occupations["generation"].update(samples_per_occupation=4, max_new_tokens=16)
    experiments = {"occupations": occupations}
    if broken_model is not None:
        config["models"]["broken-lm"] = {"path": str(broken_model), "kind": "causal"}
        guided = config["experiments"]["reward_guided"]
        guided.update(models=["broken-lm"], seeds=[42], temperatures=[1.0], methods={"base": {}})
        experiments["reward_guided"] = guided
    config["experiments"] = experiments
    return config


def _files(root: Path, *parts: str) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for part in parts for p in sorted((root / part).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")  # session: the tests that also need the default run come later (conftest)
def two_runs(tmp_path_factory):
    """Run A: the reduced config. Run B, from scratch at the same time: the same config plus an experiment on
    a broken model, with --keep-going. Both carry HF_TOKEN (conftest.TEST_TOKEN) in their environment."""
    root = tmp_path_factory.mktemp("reliability")
    broken = root / "broken-lm"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "qwen3", ')
    runs = {}
    for name, extra in (("a", None), ("b", broken)):
        workdir = copy_workflow(root / name)
        config = reduced_config(yaml.safe_load((workdir / "config/config.yaml").read_text()), extra)
        (workdir / "reduced.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        runs[name] = workdir

    def run(name):
        args = ("--cores", "1", "all", "--configfile", "reduced.yaml") + (("--keep-going",) if name == "b" else ())
        return snakemake(runs[name], *args, check=False, timeout=1800)

    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(runs, pool.map(run, runs)))
    return runs, procs


@pytest.mark.workflow
def test_two_clean_runs_give_byte_identical_scores_tables_and_testbed(two_runs):
    runs, procs = two_runs
    assert procs["a"].returncode == 0, procs["a"].stderr[-3000:]
    a, b = runs["a"], runs["b"]
    compared = [
        "results/testbed/scores/occupations",
        "results/testbed/tables",
        "results/testbed/testbed/tokenizers",
        "results/testbed/testbed/lm",
    ]
    # run b's reward_guided model is broken: its results, and the bias suite's table across experiments, are missing
    files_a = {k: v for k, v in _files(a, *compared).items() if "reward_guided" not in k and "bias_suite" not in k}
    files_b = {k: v for k, v in _files(b, *compared).items() if "reward_guided" not in k and "bias_suite" not in k}
    assert any(k.endswith("scores.parquet") for k in files_a) and "results/testbed/tables/occupations.csv" in files_a
    assert sorted(files_a) == sorted(files_b)
    different = [k for k in files_a if not filecmp.cmp(files_a[k], files_b[k], shallow=False)]
    assert different == [], f"differ between two clean runs: {different}"


@pytest.mark.workflow
def test_keep_going_a_failing_job_leaves_every_other_result_complete(two_runs):
    runs, procs = two_runs
    b = runs["b"]
    assert procs["b"].returncode != 0
    # every occupations result (scores and the table) is complete, and what the failing experiment could
    # build without the model (its prompt pool) is there too; nothing of the broken model is
    assert (b / "results/testbed/tables/occupations.csv").is_file() and (
        b / "results/testbed/tables/occupations.md"
    ).is_file()
    assert len(list((b / "results/testbed/scores/occupations").rglob("scores.parquet"))) == 3
    assert (b / "results/testbed/data/reward_guided/mcq.parquet").is_file()
    assert (
        not list((b / "results/testbed/scores/reward_guided").rglob("*.parquet"))
        if (b / "results/testbed/scores/reward_guided").exists()
        else True
    )
    assert not list((b / "results").rglob("*.tmp")), "a half-written temporary file was left behind"
    # the failing job's log says why, naming the model folder and the file
    logs = list((b / "results/testbed/logs/score/reward_guided/broken-lm").rglob("*.log"))
    assert logs, sorted(str(p) for p in (b / "results/testbed/logs").rglob("*.log"))
    text = logs[0].read_text()
    assert "broken-lm" in text and "is not a loadable model" in text and "config.json" in text, text[-2000:]


@pytest.mark.workflow
def test_the_hub_token_is_written_nowhere(two_runs, default_run, tmp_path):
    """The runs carried HF_TOKEN in their environment; a gated model's download job also ran (and failed,
    offline). No file of any of them — results, logs, benchmarks, Snakemake's metadata — holds the token."""
    workdir = copy_workflow(tmp_path / "gated")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["models"]["gated-lm"] = {"path": "meta-llama/Llama-3.2-1B", "kind": "causal", "gated": True}
    config["experiments"]["occupations"]["models"] = ["gated-lm"]
    (workdir / "gated.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(
        workdir, "--cores", "1", "results/testbed/hub/manifest.json", "--configfile", "gated.yaml", check=False
    )
    assert proc.returncode != 0  # offline: the download cannot succeed
    assert (workdir / "results/testbed/logs/hub/download.log").is_file()
    token = TEST_TOKEN.encode()
    roots = [*two_runs[0].values(), default_run, workdir]
    leaks = [str(p) for root in roots for p in root.rglob("*") if p.is_file() and token in p.read_bytes()]
    assert leaks == []
    assert TEST_TOKEN not in proc.stdout + proc.stderr


def _without_token(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    import sys

    from conftest import ENV

    env = {k: v for k, v in ENV.items() if k != "HF_TOKEN"} | {"HF_HOME": str(workdir / "hf_home")}  # no stored token
    return subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_gated_model_needs_hf_token_before_any_job_but_a_dry_run_needs_none(tmp_path):
    """While a gated model's download is pending, a run without HF_TOKEN stops before any job (`onstart`);
    the README's "see the plan first" dry-run of the gated full-scale config needs no token (issue 28)."""
    workdir = copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["models"]["gated-lm"] = {"path": "meta-llama/Llama-3.2-1B", "kind": "causal", "gated": True}
    config["experiments"]["occupations"]["models"] = ["gated-lm"]
    (workdir / "gated.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = _without_token(workdir, "--cores", "1", "all", "--configfile", "gated.yaml")
    assert proc.returncode != 0 and "HF_TOKEN is not set: gated model(s) meta-llama/Llama-3.2-1B" in proc.stderr
    assert not (workdir / "results").exists()
    readme = (REPO / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.rstrip().endswith("# see the plan")).split("  #")[0]
    args = command.split()
    assert args[0] == "snakemake" and "-n" in args and "gated: true" in (workdir / args[-1]).read_text()
    proc = _without_token(workdir, *args[1:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "hub_download" in proc.stdout and not (workdir / "results").exists()


# --- secure defaults: remote code only by opt-in, safetensors only ---------------------------------

REMOTE_CODE = """
import os
from pathlib import Path

from transformers import Qwen3ForCausalLM

Path(os.environ["DEBIASLAB_REMOTE_CODE_MARKER"]).write_text("remote code ran")


class CustomLM(Qwen3ForCausalLM):
    pass
"""


@pytest.mark.workflow
def test_remote_code_runs_only_when_the_model_entry_opts_in(default_run, tmp_path, monkeypatch):
    from debiaslab.models import ModelSpec, load_model

    model_dir = tmp_path / "custom-lm"
    shutil.copytree(default_run / "results/testbed/testbed/lm", model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "custom_lm.CustomLM"}
    (model_dir / "config.json").write_text(json.dumps(config))
    (model_dir / "custom_lm.py").write_text(REMOTE_CODE)
    marker = tmp_path / "marker"
    monkeypatch.setenv("DEBIASLAB_REMOTE_CODE_MARKER", str(marker))

    assert ModelSpec.parse(str(model_dir)).trust_remote_code is False  # the default
    model = load_model(str(model_dir), kind="causal")
    assert type(model).__name__ == "Qwen3ForCausalLM" and not marker.exists()
    model = load_model({"path": str(model_dir), "trust_remote_code": True}, kind="causal")
    assert type(model).__name__ == "CustomLM" and marker.read_text() == "remote code ran"


@pytest.mark.workflow
def test_pickled_weights_are_refused(default_run, tmp_path):
    import torch
    from safetensors.torch import load_file

    from debiaslab.core.io import DataError
    from debiaslab.models import attach_adapter, load_model

    model_dir = tmp_path / "pickled-lm"
    shutil.copytree(default_run / "results/testbed/testbed/lm", model_dir)
    torch.save(load_file(model_dir / "model.safetensors"), model_dir / "pytorch_model.bin")
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(DataError, match="model.safetensors"):
        load_model(str(model_dir), kind="causal")

    adapter = next((default_run / "results/testbed/train/occupations").rglob("adapter_model.safetensors")).parent
    pickled = tmp_path / "pickled-adapter"
    shutil.copytree(adapter, pickled)
    torch.save(load_file(pickled / "adapter_model.safetensors"), pickled / "adapter_model.bin")
    (pickled / "adapter_model.safetensors").unlink()
    model = load_model(str(default_run / "results/testbed/testbed/lm"), kind="causal")
    with pytest.raises(DataError, match="no adapter_model.safetensors"):
        attach_adapter(model, pickled)


# --- issue 28: config files, paths, cluster sizes and by-hand commands fail with one line, before any job -----


def _check_config(path: Path, capsys) -> tuple[int, str]:
    code = main(["check-config", str(path), "--schema", str(SCHEMA)])
    return code, capsys.readouterr().err


def test_a_duplicate_key_or_non_utf8_config_is_rejected_before_any_job_naming_it(tmp_path, capsys):
    """YAML keeps the last of two equal keys (Snakemake's loader did, silently); a byte that is not UTF-8 was a
    traceback. Both: one line from check-config and from Snakemake, naming the key or line, before any job."""
    workdir = copy_workflow(tmp_path / "wf")
    text = (workdir / "config/config.yaml").read_bytes()
    duplicate = workdir / "duplicate.yaml"
    duplicate.write_bytes(text + b"hub_cache: /elsewhere\nhub_cache: results/hub_cache\n")
    code, err = _check_config(duplicate, capsys)
    assert code == 2 and "key 'hub_cache' given twice in one mapping" in err and err.count("\n") == 1, err
    proc = snakemake(workdir, "--cores", "1", "all", "--configfile", str(duplicate), check=False)
    assert proc.returncode != 0 and "key 'hub_cache' given twice in one mapping" in proc.stderr
    latin1 = workdir / "latin1.yaml"
    latin1.write_bytes(text + "# caf\u00e9\n".encode("latin-1"))
    code, err = _check_config(latin1, capsys)
    line = text.count(b"\n") + 1
    assert code == 2 and f"{latin1}: line {line}: not UTF-8" in err and "Traceback" not in err, err
    # Snakemake decodes a --configfile itself before the workflow runs; the embedded config is ours to read
    (workdir / "config/config.yaml").write_bytes(latin1.read_bytes())
    proc = snakemake(workdir, "--cores", "1", "all", check=False)
    assert proc.returncode != 0 and "config/config.yaml: line" in proc.stderr and "not UTF-8" in proc.stderr
    assert "UnicodeDecodeError" not in proc.stderr
    assert not (workdir / "results").exists()


def test_a_local_path_with_a_typo_is_rejected_before_any_job_not_taken_for_a_hub_id(tmp_path, capsys):
    """`models/lm-typo` (with models/ a folder here) used to be taken for a Hub id and failed in hub_download
    with "check your internet connection"."""
    from debiaslab.hub.download import is_hub_id

    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "models").mkdir()
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["models"]["local-lm"] = {"path": "models/lm-typo", "kind": "causal"}
    config["experiments"]["occupations"]["models"] = ["local-lm"]
    config["experiments"]["safety"]["data"] = {"dataset": "/nonexistent/hh-rlhf.jsonl"}
    path = workdir / "typo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    expected = [
        "models.local-lm.path: 'models/lm-typo' is a local path (not a Hub id) and does not exist",
        "experiments.safety.data.dataset: '/nonexistent/hh-rlhf.jsonl' is a local path (not a Hub id)",
    ]
    with contextlib.chdir(workdir):
        assert not is_hub_id("models/lm-typo") and is_hub_id("openai-community/gpt2")
        code, err = _check_config(path, capsys)
    assert code == 2 and all(e in err for e in expected), err
    proc = snakemake(workdir, "--cores", "1", "all", "--configfile", "typo.yaml", check=False)
    assert proc.returncode != 0 and all(e in proc.stderr for e in expected), proc.stderr[-2000:]
    assert not (workdir / "results").exists()


def test_a_hub_model_without_size_b_is_refused_under_the_slurm_profile(tmp_path):
    """Without `size_b` a Hub model's jobs would ask the cluster for the smallest memory and runtime."""
    workdir = copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["models"]["gpt2"] = {"path": "openai-community/gpt2", "kind": "causal"}
    config["experiments"] = {"occupations": dict(config["experiments"]["occupations"], models=["gpt2"])}
    (workdir / "unsized.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(workdir, "--profile", "slurm", "-n", "all", "--configfile", "unsized.yaml", check=False)
    assert proc.returncode != 0 and "models.gpt2.size_b: required under the SLURM profile" in proc.stdout + proc.stderr
    assert snakemake(workdir, "-n", "all", "--configfile", "unsized.yaml").returncode == 0  # a local run needs none
    config["models"]["gpt2"]["size_b"] = 0.12
    (workdir / "sized.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert snakemake(workdir, "--profile", "slurm", "-n", "all", "--configfile", "sized.yaml").returncode == 0


def test_hub_download_that_cannot_reach_the_hub_fails_with_one_line_naming_the_repository(tmp_path):
    """Offline (here: a Hub endpoint nothing listens on), hub_download was a 40-line httpx traceback."""
    import subprocess
    import sys

    from conftest import ENV

    env = dict(ENV, HF_HUB_OFFLINE="0", HF_DATASETS_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9")
    for kind, refs in (
        ("model", {"models": [{"repo": "nobody/no-model", "revision": None, "gated": False}], "datasets": []}),
        ("dataset", {"models": [], "datasets": [{"repo": "nobody/no-data", "name": None, "revision": None}]}),
    ):
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "debiaslab"),
                "hub",
                "download",
                "--references",
                json.dumps(refs),
                "--cache",
                str(tmp_path / "cache"),
                "--out",
                str(tmp_path / "m.json"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        errors = [line for line in proc.stderr.splitlines() if " error: " in line]
        assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        name = refs["models"][0]["repo"] if kind == "model" else refs["datasets"][0]["repo"]
        assert f"{kind} '{name}': not a local path here and not downloadable from the Hub" in errors[0]
        assert "`snakemake hub_download`" in errors[0] and "fix its path" in errors[0]
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threads", "0", "check-config"], "argument --threads: expected a whole number >= 1, got 0"),
        (["--threads", "-3", "check-config"], "argument --threads: expected a whole number >= 1, got -3"),
        (
            [
                "data",
                "build",
                "--experiment",
                "occupations",
                "--artifact",
                "prompts",
                "--out",
                "out={tmp}/prompts.parquet",
            ],
            "--settings not given and this command needs key 'train_occupations'",
        ),
    ],
)
def test_a_bad_by_hand_command_line_fails_with_one_line(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors: usage, then one error line
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and message in err.strip().splitlines()[-1] and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_non_utf8_bytes_in_a_jsonl_read_through_datasets_name_the_file_and_row(tmp_path, capsys):
    """`datasets` reads such bytes into Arrow unchecked; the job then failed on first access with 40 lines."""
    bad = tmp_path / "hh.jsonl"
    bad.write_bytes(
        b'{"chosen": "Human: hi Assistant: hello", "rejected": "Human: hi Assistant: go"}\n'
        + '{"chosen": "Human: caf\u00e9 Assistant: yes", "rejected": "Human: x Assistant: no"}\n'.encode("latin-1")
    )
    out = tmp_path / "out"
    code = build_safety_training(str(bad), out)
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}: row 2: not UTF-8" in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """A 1-layer Qwen3 with a word-level tokenizer, in Hub format: enough to load and start a trainer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    folder = tmp_path_factory.mktemp("tiny") / "lm"
    words = ["<pad>", "<unk>", "<eos>", "the", "nurse", "was", "kind", "and", "bold"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>"
    ).save_pretrained(folder)
    torch.manual_seed(0)
    Qwen3ForCausalLM(
        Qwen3Config(
            vocab_size=len(words),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
        )
    ).save_pretrained(folder)
    return folder


def _train_sft(model: Path, rows: list[dict], settings: dict, tmp_path: Path, capsys) -> tuple[int, str]:
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(
        [
            "train",
            "--method",
            "sft",
            "--model",
            str(model),
            "--data",
            str(data),
            "--settings",
            json.dumps(settings),
            "--seed",
            "0",
            "--out",
            str(tmp_path / "adapter"),
            "--checkpoints",
            str(tmp_path / "checkpoints"),
        ]
    )
    return code, capsys.readouterr().err


def test_lora_target_modules_the_model_lacks_fail_with_one_line_listing_its_modules(tiny_lm, tmp_path, capsys):
    rows = [{"prompt": "the nurse was", "completion": " kind and bold"}] * 4
    code, err = _train_sft(tiny_lm, rows, {"lora": {"target_modules": ["c_attn", "c_proj"]}}, tmp_path, capsys)
    errors = [line for line in err.splitlines() if " error: " in line]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert (
        f"lora.target_modules: ['c_attn', 'c_proj'] match no module of model {tiny_lm}; it has: down_proj, "
        "embed_tokens, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj" in errors[0]
    ), err
    assert not (tmp_path / "adapter").exists()


def test_a_null_sft_prompt_or_completion_fails_naming_the_row(tiny_lm, tmp_path, capsys):
    rows = [{"prompt": "the nurse was", "completion": " kind"}, {"prompt": None, "completion": " bold"}]
    code, err = _train_sft(tiny_lm, rows, {}, tmp_path, capsys)
    assert code == 2 and "sft.jsonl: row 2: column 'prompt' must be text, got null" in err, err
    assert err.count("\n") == 1 and not (tmp_path / "adapter").exists()


# --- issue 24: every experiment runs exactly the methods its config lists -------------------------------------

NARROWED = {  # experiment: (methods kept, a method the default config runs that must not be scheduled)
    "occupations": (["prompt_only", "dpo"], "sft"),
    "reward_guided": (["base"], "reinforce"),
    "rm_forget": (["forget_style"], "forget_cross"),
    "safety": (["base", "sft"], "dpo"),
    "desired_distribution": (["base", "kl_real_world"], "kl_equal"),
}


def test_no_schema_gives_a_method_a_default():
    """A `default` on a method would make the default-filling validator add it to every config."""
    for path in sorted(SCHEMA.parent.glob("*.schema.yaml")):
        schema = load_yaml(path)
        methods = schema.get("properties", {}).get("methods", {}).get("properties", {})
        assert [m for m, spec in methods.items() if "default" in spec] == [], path.name


@pytest.mark.parametrize("experiment", sorted(NARROWED))
def test_a_narrowed_method_list_schedules_only_those_methods(experiment, tmp_path, capsys):
    from conftest import planned_jobs

    kept, dropped = NARROWED[experiment]
    workdir = copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    section = config["experiments"][experiment]
    section["methods"] = {m: section.get("methods", {}).get(m) or {} for m in kept}
    config["experiments"] = {experiment: section}
    path = workdir / "narrowed.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["check-config", str(path), "--schema", str(SCHEMA), "--show"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out.split("\n", 1)[1])
    assert list(shown["experiments"][experiment]["methods"]) == kept
    jobs = planned_jobs(workdir, "all", "--configfile", "narrowed.yaml")
    methods = {
        part
        for _, output in jobs
        for part in output.split("/")
        if part in section["methods"] or part in (dropped,) or part.startswith("forget_")
    }
    assert methods and methods <= set(kept), f"scheduled methods {sorted(methods)}, config lists {kept}"
