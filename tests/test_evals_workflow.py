"""Evaluations on the testbed: the acceptance points of the evaluation suite, and their wiring into the workflow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ENV, REPO, edited_config, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def testbed(default_run):
    import torch

    torch.set_num_threads(2)
    return default_run / "results/testbed/testbed"


@pytest.fixture(scope="module")
def testbed_lm(testbed):
    from debiaslab.evals.common import load_evaluated

    return load_evaluated(str(testbed / "lm"), kind="causal")


def mmlu_settings(testbed, **kw):
    from debiaslab.evals.mmlu import MMLUDataset, MMLUSettings

    return MMLUSettings(dataset=MMLUDataset(path=str(testbed / "mmlu")), **kw)


@pytest.mark.parametrize("template,k_shot", [("lm_eval", 0), ("cs329r", 0), ("lm_eval", 3)])
def test_mmlu_one_forward_predicts_the_letters_of_four_requests(testbed, testbed_lm, template, k_shot):
    """Acceptance 1: identical predicted letters for both methods on the testbed set — and above chance."""
    from debiaslab.evals.mmlu import load_rows, score_questions

    s = mmlu_settings(testbed, template=template, k_shot=k_shot)
    rows, dev = load_rows(s)
    model, tokenizer = testbed_lm
    one = score_questions(model, tokenizer, rows, dev, s, "one_forward")
    four = score_questions(model, tokenizer, rows, dev, s, "four_requests")
    assert (one["scoring"] == "one_forward").all(), "the testbed tokenizer has single-token answer letters"
    assert one["prediction"].tolist() == four["prediction"].tolist()
    for a, b in zip(one["loglikelihoods"], four["loglikelihoods"]):
        assert a == pytest.approx(b, abs=1e-4)
    # the corpus teaches these facts in lm-eval's zero-shot rendering: far above the 25% of guessing (and the
    # 33% of always "A"). The other renderings are parity checks only: the tiny LM never saw them.
    if (template, k_shot) == ("lm_eval", 0):
        assert one["correct"].mean() >= 0.6, one.groupby("subject")["correct"].mean()


@pytest.mark.parametrize("with_adapter", [False, True], ids=["base", "lora"])
def test_mmlu_predictions_equal_lm_evaluation_harness(testbed, testbed_lm, tmp_path, with_adapter):
    """The bridge runs lm-eval's own MMLU prompt (packaged testbed task) through HFLM — with the method's
    LoRA adapter through `peft=` where a run has one; its per-question log-likelihoods and predictions equal
    debiaslab's one-forward scoring of the same model. lm-eval is part of the test install (the `lmeval`
    extra): this test never skips."""
    from debiaslab.core.store import RunId
    from debiaslab.evals import lm_eval_bridge
    from debiaslab.evals.common import load_evaluated
    from debiaslab.evals.mmlu import load_rows, score_questions

    adapter = None
    model, tokenizer = testbed_lm
    if with_adapter:  # a randomly initialised LoRA (B ≠ 0): it moves every log-likelihood
        import torch
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)
        lora = get_peft_model(
            load_evaluated(str(testbed / "lm"), kind="causal")[0],
            LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        )
        adapter = tmp_path / "adapter"
        lora.save_pretrained(adapter)
        model, tokenizer = load_evaluated(str(testbed / "lm"), kind="causal", adapter=adapter)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    yaml_text = Path(lm_eval_bridge.packaged_tasks(), "testbed_mmlu.yaml").read_text()
    # an absolute path and a fresh datasets cache (a local folder is cached under its name)
    yaml_text = yaml_text.replace(
        "dataset_path: results/testbed/testbed/mmlu",
        f"dataset_path: {testbed / 'mmlu'}\ndataset_kwargs:\n  cache_dir: {tmp_path / 'cache'}",
    )
    (tasks / "testbed_mmlu.yaml").write_text(yaml_text)
    settings = {"tasks": ["testbed_mmlu"], "include_path": str(tasks), "batch_size": 16, "log_samples": True}
    lm_eval_bridge.evaluate(
        str(testbed / "lm"),
        settings,
        RunId("occupations", "testbed-lm", "prompt_only", 42),
        tmp_path / "results.json",
        tmp_path / "eval_lm_eval.parquet",
        adapter=adapter,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    samples = sorted(results["samples"]["testbed_mmlu"], key=lambda r: r["doc_id"])
    theirs = [[resp[0] for resp in sample["filtered_resps"]] for sample in samples]

    s = mmlu_settings(testbed)
    rows, dev = load_rows(s)
    ours = score_questions(model, tokenizer, rows, dev, s)
    assert [max(range(4), key=lambda j: (ll[j], -j)) for ll in theirs] == ours["prediction"].tolist()
    for a, b in zip(theirs, ours["loglikelihoods"]):
        assert a == pytest.approx(b, abs=1e-3)
    if with_adapter:  # the adapter matters: the base model's log-likelihoods are far from these
        base = score_questions(*testbed_lm, rows, dev, s)
        assert (
            max(abs(x - y) for a, b in zip(base["loglikelihoods"], ours["loglikelihoods"]) for x, y in zip(a, b)) > 0.1
        )
    scores = pd.read_parquet(tmp_path / "eval_lm_eval.parquet")
    acc = scores.loc[scores.metric == "lmeval_testbed_mmlu_acc", "value"].item()
    assert acc == pytest.approx(ours["correct"].mean())


def test_benchmark_prints_a_throughput_ratio_of_at_least_three(testbed):
    """Acceptance 1: benchmarks/mmlu_throughput.py on the testbed model."""
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "mmlu_throughput.py"),
            "--model",
            str(testbed / "lm"),
            "--data",
            str(testbed / "mmlu"),
            "--repeats",
            "5",
            "--replicate",
            "2",
        ],
        capture_output=True,
        text=True,
        env=ENV | {"PYTHONPATH": str(REPO / "src")},
        timeout=600,
    )
    ratio = float(re.search(r"ratio\s*:\s*([\d.]+)x", proc.stdout).group(1))
    assert "identical predictions    : True" in proc.stdout, proc.stdout
    assert ratio >= 3.0 and proc.returncode == 0, proc.stdout


def test_glue_fine_tunes_the_testbed_mlm_on_both_tasks(testbed, tmp_path):
    from debiaslab.core.store import RunId
    from debiaslab.evals import glue

    # the run_glue defaults (lr 2e-5, 3 epochs of 8 steps) barely move a from-scratch head; the testbed needs more
    settings = {"dataset": {"path": str(testbed / "glue")}, "tasks": ["sst2", "cola"], "learning_rate": 0.001}
    glue.evaluate(
        str(testbed / "mlm"),
        settings,
        RunId("desired_distribution", "testbed-mlm", "base", 0),
        tmp_path / "glue.parquet",
    )
    scores = pd.read_parquet(tmp_path / "glue.parquet").set_index("metric")["value"]
    assert set(scores.index) == {"glue_sst2_accuracy", "glue_cola_matthews_corr", "glue_score"}
    assert scores["glue_sst2_accuracy"] >= 0.75  # sentiment words decide the label
    assert scores["glue_score"] == pytest.approx((scores["glue_sst2_accuracy"] + scores["glue_cola_matthews_corr"]) / 2)


def test_glue_fine_tunes_in_float32_where_auto_means_bf16(testbed, tmp_path, monkeypatch):
    """On a GPU a spec's dtype "auto" is bf16, where plain AdamW steps of lr 2e-5 round away: GLUE's
    fully fine-tuned model is loaded in float32 (here "auto" is made to mean bf16, as on a GPU)."""
    import torch

    from debiaslab import models
    from debiaslab.core.store import RunId
    from debiaslab.evals import glue

    as_on_a_gpu = models.torch_dtype
    monkeypatch.setattr(
        models, "torch_dtype", lambda spec: torch.bfloat16 if spec.dtype == "auto" else as_on_a_gpu(spec)
    )
    loaded, load = [], models.load_model

    def recording_load(*args, **kwargs):
        model = load(*args, **kwargs)
        loaded.append(next(model.parameters()).dtype)
        return model

    monkeypatch.setattr(models, "load_model", recording_load)
    settings = {"dataset": {"path": str(testbed / "glue")}, "tasks": ["sst2"], "learning_rate": 0.001}
    glue.evaluate(
        str(testbed / "mlm"),
        settings,
        RunId("desired_distribution", "testbed-mlm", "base", 0),
        tmp_path / "glue.parquet",
    )
    assert loaded == [torch.float32]


def test_crows_pairs_scores_all_pairs_with_the_testbed_mlm_in_under_a_minute(testbed, tmp_path):
    """Acceptance 3: all 1,508 real pairs, Nangia et al.'s PLL, 2 threads, model loading included.

    Timed in CPU seconds of this process (all its threads): under a minute of CPU is under a minute
    of wall time on two dedicated cores, whatever else shares the test machine."""
    from debiaslab.core.store import RunId
    from debiaslab.evals.bias_suite import crows_pairs

    start, cpu = time.perf_counter(), time.process_time()
    summary = crows_pairs.evaluate(
        str(testbed / "mlm"),
        {},
        RunId("x", "testbed-mlm", "base", 0),
        tmp_path / "crows.parquet",
        records_out=tmp_path / "records.parquet",
    )
    cpu, elapsed = time.process_time() - cpu, time.perf_counter() - start
    assert summary["pairs"] == 1508 and summary["scoring"] == "pll"
    assert cpu < 60, f"{cpu:.1f} CPU s ({elapsed:.1f} s wall)"
    scores = pd.read_parquet(tmp_path / "crows.parquet")
    per_type = scores[(scores.metric == "crows_stereotype_score") & (scores.subset != "all")]
    assert len(per_type) == 9 and per_type["n"].sum() == 1508
    assert 0 < summary["stereotype_score"] < 1


def test_crows_pairs_native_scorer_equals_lm_eval_on_the_testbed_lm(testbed, testbed_lm, tmp_path):
    """The bridge runs lm-eval's own crows_pairs_english task (its YAML included, only the data source
    replaced by the packaged CSV) on the testbed LM: per-pair log-likelihoods and decisions equal the
    native scorer's, and so does the share preferring sent_more."""
    pytest.importorskip("lm_eval")
    import lm_eval

    from debiaslab.core.store import RunId
    from debiaslab.evals import lm_eval_bridge
    from debiaslab.evals.bias_suite import crows_pairs

    builtin = Path(lm_eval.__file__).parent / "tasks" / "crows_pairs" / "crows_pairs_english.yaml"
    data = crows_pairs.packaged_data()
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "local_crows.yaml").write_text(
        f"include: {builtin}\ntask: local_crows_pairs_english\ndataset_path: csv\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files: {{test: {data}}}\n  cache_dir: {tmp_path / 'cache'}\n"
    )
    settings = {
        "tasks": ["local_crows_pairs_english"],
        "include_path": str(tmp_path / "tasks"),
        "batch_size": 64,
        "log_samples": True,
    }
    lm_eval_bridge.evaluate(
        str(testbed / "lm"),
        settings,
        RunId("occupations", "testbed-lm", "prompt_only", 42),
        tmp_path / "results.json",
        tmp_path / "eval_lm_eval.parquet",
    )
    results = json.loads((tmp_path / "results.json").read_text())
    samples = sorted(results["samples"]["local_crows_pairs_english"], key=lambda r: r["doc_id"])
    theirs = [[resp[0] for resp in sample["filtered_resps"]] for sample in samples]

    s = crows_pairs.CrowsSettings()
    ours = crows_pairs.score_pairs(*testbed_lm, "causal", crows_pairs.load_pairs(s), s)
    assert len(theirs) == len(ours) == 1508
    assert [a > b for a, b in theirs] == ours["prefers_more"].tolist()
    for (more, less), (_, row) in zip(theirs, ours.iterrows()):
        assert (more, less) == (pytest.approx(row["score_more"], abs=1e-3), pytest.approx(row["score_less"], abs=1e-3))
    scores = pd.read_parquet(tmp_path / "eval_lm_eval.parquet").set_index("metric")["value"]
    assert scores["lmeval_local_crows_pairs_english_pct_stereotype"] == pytest.approx(ours["prefers_more"].mean())


def test_lm_eval_bias_tasks_are_registered():
    """Every task the bridge documents (BIAS_TASKS) is a task of the installed lm-eval."""
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    from debiaslab.evals.lm_eval_bridge import BIAS_TASKS

    registered = set(TaskManager().all_tasks)
    assert sorted(set(BIAS_TASKS) - registered) == []


def test_bias_suite_scores_every_run_and_sees_the_planted_bias(default_run):
    """Acceptance: eval_bias_suite.parquet for every run of occupations, safety, reward_guided (every grid
    cell) and desired_distribution; on the untrained models the suite sees the planted bias."""
    scores = {}
    for name, runs in (("occupations", 18), ("safety", 6), ("reward_guided", 4), ("desired_distribution", 3)):
        files = sorted((default_run / "results/testbed/scores" / name).rglob("eval_bias_suite.parquet"))
        assert len(files) == runs, name
        scores[name] = pd.concat(pd.read_parquet(f) for f in files)

    def value(frame, metric, subset="all"):
        return frame.loc[(frame.metric == metric) & (frame.subset == subset), "value"]

    base = scores["occupations"][scores["occupations"].method == "prompt_only"]
    # WinoGender: the she share follows the planted share of women (10 % / 90 %) across occupations
    assert (value(base, "winogender_correlation") > 0.8).all()
    assert (value(base, "winogender_gotcha_share", "gotcha") < 0.45).all()
    # BBQ: the stereotyped answer wins in disambiguated contexts even where the context says otherwise
    assert (value(base, "bbq_bias_disambig") > 0.5).all() and (value(base, "bbq_bias_ambig") > 0).all()
    assert (value(base, "crows_stereotype_score") > 0.9).all() and (value(base, "stereoset_ss") > 80).all()
    dd = scores["desired_distribution"]
    dd_base = dd[dd.method == "base"]
    assert set(dd["metric"]) == {
        "crows_stereotype_score",
        "crows_stereo_score",
        "crows_tie_rate",
        "stereoset_ss",
        "stereoset_lms",
        "stereoset_icat",
    }  # a masked LM: no BBQ, no WinoGender
    assert (value(dd_base, "crows_stereotype_score") > 0.8).all() and (value(dd_base, "stereoset_ss") > 80).all()
    rg = scores["reward_guided"]
    assert set(rg["split"]) == {"n=0,T=0.7", "n=0,T=1", "n=64,T=0.7", "n=64,T=1"}
    assert set(scores["safety"]["method"]) == {"base", "sft", "dpo"}


def test_bias_suite_table_has_every_method_and_a_mitigations_change_with_its_ci(default_run):
    """Acceptance (issue 27): results/testbed/tables/bias_suite.* has a row for every method of every experiment that
    runs the suite, each compared with its experiment's baseline; SFT's change of BBQ s_AMB on the occupations
    runs comes with its Student-t CI and a named test; the figure is drawn."""
    csv = pd.read_csv(default_run / "results/testbed/tables/bias_suite.csv")
    config = yaml.safe_load((default_run / "config/config.yaml").read_text())["experiments"]
    for name in ("occupations", "safety", "reward_guided", "desired_distribution"):
        assert set(csv.loc[csv["table"] == name, "method"]) == set(config[name]["methods"]), name
    occ = csv[csv["table"] == "occupations"].set_index("method")
    assert occ.loc["prompt_only", "BBQ s_AMB test"] == "baseline"
    sft = occ.loc["sft"]
    assert sft["BBQ s_AMB Δ ci low"] <= sft["BBQ s_AMB Δ"] <= sft["BBQ s_AMB Δ ci high"]
    assert sft["BBQ s_AMB test"] in ("paired t", "n/a: zero variance") and sft["n seeds"] == 3
    rg = csv[csv["table"] == "reward_guided"]
    assert (
        set(rg.loc[rg["method"] == "base", "size"]) == {0}
        and rg.loc[rg["method"] == "reinforce", "BBQ s_AMB Δ"].notna().all()
    )
    assert "Bias suite (occupations runs)" in (default_run / "results/testbed/tables/bias_suite.md").read_text()
    assert (default_run / "results/testbed/figures/bias_suite.png").stat().st_size > 10_000


def test_perplexity_evaluation_causal_strided_and_mlm(testbed, tmp_path):
    from debiaslab.core.store import RunId
    from debiaslab.evals import corpus_perplexity

    sentences = ["The capital of France is Paris.", "A dog makes the sound bark.", "A carpenter uses a hammer most."]
    pd.DataFrame({"text": sentences}).to_csv(tmp_path / "corpus.tsv", sep="\t", index=False)
    scrambled = [" ".join(reversed(s.split())) for s in sentences]
    pd.DataFrame({"text": scrambled}).to_csv(tmp_path / "scrambled.tsv", sep="\t", index=False)
    run = RunId("x", "m", "base", 0)
    out = {}
    for name in ("corpus", "scrambled"):
        for kind in ("lm", "mlm"):
            settings = {"dataset": {"path": str(tmp_path / f"{name}.tsv")}, "max_length": 6, "stride": 3}
            corpus_perplexity.evaluate(str(testbed / kind), settings, run, tmp_path / f"{name}_{kind}.parquet")
            scores = pd.read_parquet(tmp_path / f"{name}_{kind}.parquet").set_index("metric")["value"]
            out[name, kind] = scores["perplexity" if kind == "lm" else "pseudo_perplexity"]
    # texts the models were trained on are likelier than the same words in reverse
    assert out["corpus", "lm"] < out["scrambled", "lm"]
    assert out["corpus", "mlm"] < out["scrambled", "mlm"]


# --- wiring: evaluations in the occupations table, rerun scoping ------------------------------------------


def test_occupations_table_has_fluency_of_every_run(default_run):
    table = pd.read_csv(default_run / "results/testbed/tables/occupations.csv")
    assert table["fluency PPL mean"].notna().all() and (table["fluency PPL mean"] > 1).all()
    assert "fluency PPL" in (default_run / "results/testbed/tables/occupations.md").read_text()
    files = sorted((default_run / "results/testbed/scores/occupations").rglob("eval_fluency.parquet"))
    assert len(files) == 18
    scores = pd.concat(pd.read_parquet(f) for f in files)
    assert set(scores["split"]) == {"train", "heldout"} and set(scores["metric"]) == {"fluency_perplexity"}


def test_editing_fluency_settings_reruns_only_the_fluency_job_and_aggregates(default_run):
    def edit(config):
        config["experiments"]["occupations"]["evaluations"]["fluency"]["batch_size"] = 16

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "fluency.yaml")))
    assert {j for j in jobs if j[0] != "all"} == {
        (
            "fluency_occupations",
            "results/testbed/scores/occupations/testbed-lm/prompt_only/seed~42/eval_fluency.parquet",
        ),
        ("table", "results/testbed/tables/occupations.csv"),
        ("figure", "results/testbed/figures/occupations_per_occupation.png"),
    }


def test_adding_evaluations_adds_one_job_per_run_and_evaluation(default_run):
    """Dry-runs only: lm-eval need not be installed to plan its jobs (the packaged offline task)."""

    def edit(config):
        config["experiments"]["occupations"]["evaluations"]["mmlu"] = {
            "dataset": {"path": "results/testbed/testbed/mmlu"}
        }
        config["experiments"]["occupations"]["evaluations"]["lm_eval"] = {
            "tasks": ["testbed_mmlu"],
            "include_path": "packaged",
        }

    jobs = {
        j
        for j in planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "mmlu.yaml")))
        if j[0] != "all"
    }
    evaluate = {out for rule, out in jobs if rule == "evaluate"}
    assert len(evaluate) == 18 and all(out.endswith("/eval_mmlu.parquet") for out in evaluate)
    lm = {out for rule, out in jobs if rule == "lm_eval"}
    assert len(lm) == 18 and all(
        o.startswith("results/testbed/lm_eval/occupations/") and o.endswith("/results.json") for o in lm
    )
    assert {rule for rule, _ in jobs} == {"evaluate", "lm_eval", "table", "figure"}


def test_model_evaluation_rule_scores_a_run_with_its_adapter(default_run):
    """The generic `evaluate` rule end to end: MMLU of SFT (base + adapter), one job."""

    def edit(config):
        config["experiments"]["occupations"]["evaluations"]["mmlu"] = {
            "dataset": {"path": "results/testbed/testbed/mmlu"}
        }

    target = "results/testbed/scores/occupations/testbed-lm/sft/seed~42/eval_mmlu.parquet"
    configfile = str(edited_config(default_run, edit, "mmlu_run.yaml"))
    snakemake(default_run, "--cores", "1", target, "--configfile", configfile)
    scores = pd.read_parquet(default_run / target)
    assert set(scores["method"]) == {"sft"} and set(scores["seed"]) == {42}
    micro = scores[(scores.metric == "mmlu_acc") & (scores.subset == "all")]["value"].item()
    assert 0 <= micro <= 1
    assert set(scores[scores.metric == "mmlu_acc"]["subset"]) == {
        "all",
        "world_capitals",
        "animal_sounds",
        "trade_tools",
    }
    log = (default_run / "results/testbed/logs/evaluate/occupations/testbed-lm/sft/seed~42/mmlu.log").read_text()
    assert 'four_request_fallbacks": 0' in log
    (default_run / target).unlink()
