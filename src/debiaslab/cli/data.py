"""`debiaslab data <experiment>`: an experiment's training data and prompt sets, as Parquet tables."""

from __future__ import annotations

from debiaslab.cli.args import settings


def occupations(a):
    from debiaslab.data import occupations

    writers = {
        "sft": lambda: occupations.write_sft_data(a.settings, a.seed, a.out),
        "dpo": lambda: occupations.write_dpo_data(a.settings, a.seed, a.out),
        "inlp": lambda: occupations.write_inlp_data(a.settings, a.out),
        "prompts": lambda: occupations.write_prompts(a.settings, a.out),
    }
    return writers[a.what]()


def reward_guided(a):
    from debiaslab.data.mcq import write_pool

    return write_pool(a.settings, a.out)


def rm_forget(a):
    from debiaslab.data.gsm8k_styles import write_style_data

    return write_style_data(a.settings, a.pairs, a.items)


def safety(a):
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


def desired_distribution(a):
    from debiaslab.data.desired_distribution import write_sentences

    return write_sentences(a.settings, a.out)


def add_commands(sub) -> None:
    d = sub.add_parser(
        "data",
        help="build an experiment's training data or prompts",
        description="Build training data and prompt sets as Parquet record tables.",
    )
    ds = d.add_subparsers(dest="experiment", required=True, metavar="<experiment>")
    s = ds.add_parser(
        "occupations", help="SFT examples, DPO pairs, INLP sentences or prompts (docs/experiments/occupations.md#data)"
    )
    s.add_argument("what", choices=["sft", "dpo", "inlp", "prompts"])
    settings(s, "occupation split, prompt and sizes")
    s.add_argument("--seed", type=int, default=0, help="generator seed (sft)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=occupations)
    s = ds.add_parser(
        "reward-guided", help="the multiple-choice pronoun prompt pool (docs/experiments/reward_guided.md#data)"
    )
    settings(s, "pool seed and number of evaluation prompts")
    s.add_argument("--out", required=True, help="pool Parquet file (train and eval rows)")
    s.set_defaults(func=reward_guided)
    s = ds.add_parser(
        "rm-forget",
        help="styled GSM8K answers: training pairs per mode and RM-Bench items (docs/experiments/rm_forget.md#data)",
    )
    settings(s, "the experiment's `data` section (dataset, question counts, seed)")
    s.add_argument("--pairs", required=True, help="training pairs Parquet file (every pair mode)")
    s.add_argument("--items", required=True, help="RM-Bench items Parquet file (held-out questions)")
    s.set_defaults(func=rm_forget)
    s = ds.add_parser(
        "safety",
        help="hh-rlhf SFT/DPO data or bias prompt sets (docs/experiments/safety.md#data)",
        description="train: a seeded sample of hh-rlhf-format rows as SFT messages and DPO pairs; "
        "prompts: per bias type, sampled rows of a biased-statement corpus.",
    )
    s.add_argument("what", choices=["train", "prompts"])
    settings(s, "train: dataset, split, n_rows; prompts: dataset, split, text_column, per_bias_type, seed, bias_types")
    s.add_argument("--seed", type=int, default=0, help="row-sampling seed (train)")
    s.add_argument("--sft-out", help="SFT table (train)")
    s.add_argument("--dpo-out", help="DPO table (train)")
    s.add_argument("--out", help="prompt table (prompts)")
    s.set_defaults(func=safety)
    s = ds.add_parser(
        "desired-distribution",
        help="template sentences over the 225 BLS occupations (docs/experiments/desired_distribution.md#data)",
    )
    settings(s, "data source (`path`: a directory of the same tables; null = the packaged ones)")
    s.add_argument("--out", required=True, help="sentence table (Parquet)")
    s.set_defaults(func=desired_distribution)
