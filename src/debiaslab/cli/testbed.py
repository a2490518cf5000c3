"""`debiaslab testbed <step>`: the offline world: a planted-bias corpus, tokenizers, tiny models in Hub
format, and the small datasets the experiments read in place of the Hub's."""

from __future__ import annotations

from debiaslab.cli.args import settings


def corpus(a):
    from debiaslab.experiments.registry import corpus_sections
    from debiaslab.testbed.corpus import write_corpus

    return write_corpus(a.settings, a.out, corpus_sections())


def tokenizers(a):
    from debiaslab.testbed.tokenizer import write_tokenizers

    return write_tokenizers(a.corpus, a.settings, a.out)


def pretrain(a):
    from debiaslab.testbed.pretrain import write_pretrained

    return write_pretrained(a.kind, a.corpus, a.tokenizers, a.settings, a.out)


def arithmetic(a):
    from debiaslab.testbed.arithmetic import write_dataset

    return write_dataset(a.settings, a.out)


def style_rm(a):
    from debiaslab.testbed.style_rm import write_style_rm

    return write_style_rm(a.dataset, a.tokenizers, a.settings, a.out)


def mmlu(a):
    from debiaslab.testbed.mmlu import write_dataset

    return write_dataset(a.out)


def glue(a):
    from debiaslab.testbed.glue import write_dataset

    return write_dataset(a.settings, a.out)


def safety_data(a):
    from debiaslab.testbed.safety import write_files

    return write_files(a.settings, a.out)


def bias_suite(a):
    from debiaslab.testbed.bias_suite import write_sets

    return write_sets(a.settings, a.out)


def scorer(a):
    from debiaslab.testbed.scorers import write_scorer

    return write_scorer(a.kind, a.base, a.data, a.settings, a.out)


def desired_distribution_mlm(a):
    from debiaslab.testbed.desired_distribution_mlm import write_mlm

    return write_mlm(a.corpus, a.tokenizers, a.settings, a.out)


def add_commands(sub) -> None:
    t = sub.add_parser(
        "testbed",
        help="build the offline testbed (corpus, tokenizers, tiny models)",
        description="Build the testbed: a planted-bias corpus, tokenizers and tiny models in Hub format.",
    )
    ts = t.add_subparsers(dest="step", required=True, metavar="<step>")
    s = ts.add_parser("corpus", help="write the planted-bias corpus (Parquet)")
    settings(s, "the `testbed` config section")
    s.add_argument("--out", required=True, help="corpus Parquet file")
    s.set_defaults(func=corpus)
    s = ts.add_parser("tokenizers", help="train the causal (byte-level BPE) and MLM (WordPiece) tokenizers")
    s.add_argument("--corpus", required=True)
    settings(s, "testbed.tokenizer")
    s.add_argument("--out", required=True, help="directory; gets causal/ and mlm/ tokenizer folders")
    s.set_defaults(func=tokenizers)
    s = ts.add_parser("pretrain", help="pretrain a tiny causal LM (Qwen3) or masked LM (BERT)")
    s.add_argument("--kind", required=True, choices=["causal", "mlm"])
    s.add_argument("--corpus", required=True)
    s.add_argument("--tokenizers", required=True, help="directory written by `testbed tokenizers`")
    settings(s, "testbed.lm or testbed.mlm")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=pretrain)
    s = ts.add_parser("arithmetic", help="write GSM8K-format arithmetic word problems as a Hub-format dataset folder")
    settings(s, "testbed.arithmetic plus the testbed seed (n_train, n_test, seed)")
    s.add_argument("--out", required=True, help="dataset directory (load_dataset(<dir>, 'main'))")
    s.set_defaults(func=arithmetic)
    s = ts.add_parser("style-rm", help="train the tiny reward model with a planted markdown-style preference")
    s.add_argument("--dataset", required=True, help="directory written by `testbed arithmetic`")
    s.add_argument("--tokenizers", required=True, help="directory written by `testbed tokenizers`")
    settings(s, "testbed.style_rm")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=style_rm)
    s = ts.add_parser("bias-suite", help="write testbed-format BBQ, WinoGender, StereoSet and CrowS-Pairs sets")
    settings(s, "{bias_strength}: the testbed's planted strength (WinoGender's occupation statistics)")
    s.add_argument("--out", required=True, help="output folder (occupations/ and desired_distribution/ inside)")
    s.set_defaults(func=bias_suite)
    s = ts.add_parser("mmlu", help="write the testbed MMLU set (cais/mmlu format and Hub layout)")
    s.add_argument("--out", required=True, help="dataset directory (load_dataset(<dir>, 'all'))")
    s.set_defaults(func=mmlu)
    s = ts.add_parser("glue", help="write the synthetic GLUE-format tasks (nyu-mll/glue layout)")
    settings(s, "testbed.glue plus the testbed seed (n_train, n_validation, n_test, seed)")
    s.add_argument("--out", required=True, help="dataset directory (load_dataset(<dir>, <task>))")
    s.set_defaults(func=glue)
    s = ts.add_parser(
        "safety-data", help="write the safety testbed files (hh-rlhf and biased-corpus formats, scorer data)"
    )
    settings(s, "testbed.safety sizes and the testbed seed")
    s.add_argument(
        "--out",
        required=True,
        help="directory for hh-rlhf.jsonl, biased-corpus.jsonl, classifier.jsonl, preferences.jsonl",
    )
    s.set_defaults(func=safety_data)
    s = ts.add_parser("scorer", help="fine-tune a tiny sequence classifier or reward model (Hub format)")
    s.add_argument("--kind", required=True, choices=["classifier", "reward_model"])
    s.add_argument(
        "--base", required=True, help="checkpoint to start from (Hub name or folder), e.g. results/testbed/testbed/mlm"
    )
    s.add_argument(
        "--data", required=True, help="classifier: {text, label} rows; reward_model: {prompt, chosen, rejected}"
    )
    settings(s, "steps, batch_size, learning_rate, max_length, ...")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=scorer)
    s = ts.add_parser(
        "desired-distribution-mlm",
        help="pretrain the tiny BERT that carries the planted gender-occupation association (desired_distribution)",
    )
    s.add_argument("--corpus", required=True)
    s.add_argument("--tokenizers", required=True, help="directory written by `testbed tokenizers` (its mlm/ is used)")
    settings(s, "testbed.desired_distribution_mlm")
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.set_defaults(func=desired_distribution_mlm)
