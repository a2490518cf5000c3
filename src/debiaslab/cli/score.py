"""`debiaslab score <metric>`: one run's metrics into the score store (plus per-response records)."""

from __future__ import annotations

from debiaslab.cli.args import json_list, model, run, settings


def balance(a):
    from debiaslab.metrics.score import score_balance

    return score_balance(a.responses, a.settings, a.run, a.scores, a.records)


def reward_guided(a):
    from debiaslab.metrics.reward_guided import score_reward_guided

    return score_reward_guided(a.model, a.pool, a.cells, a.settings, a.run, a.scores, a.records)


def rm_sweep(a):
    from debiaslab.metrics.rm_sweep import score_sweep

    return score_sweep(a.model, a.adapter, a.items, a.settings, a.run, a.scores, a.records)


def safety(a):
    from debiaslab.metrics.response_scores import score_safety

    return score_safety(a.responses, a.settings, a.run, a.scores, a.records, a.out_dir)


def desired_distribution(a):
    from debiaslab.metrics.desired_distribution import score_desired_distribution

    return score_desired_distribution(a.model, a.trained, a.sentences, a.settings, a.run, a.scores, a.records)


def add_commands(sub) -> None:
    sc = sub.add_parser(
        "score",
        help="score responses into the tidy score store",
        description="Compute metrics for one run and write score-store rows (plus per-response records).",
    )
    scs = sc.add_subparsers(dest="metric", required=True, metavar="<metric>")
    s = scs.add_parser("balance", help="agentic/communal balance and 8–15 word compliance (occupations)")
    s.add_argument("--responses", required=True)
    settings(s, "min_words/max_words")
    run(s)
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response records Parquet file")
    s.set_defaults(func=balance)
    s = scs.add_parser(
        "reward-guided",
        help="sample the MCQ evaluation prompts per grid cell; GenBit, pronoun "
        "rates, KL to base, reward (reward_guided)",
    )
    model(s)
    s.add_argument("--pool", required=True, help="MCQ pool written by `data reward-guided`")
    s.add_argument(
        "--cells",
        type=json_list,
        required=True,
        metavar="JSON",
        help='grid cells: [{"size": N, "temperature": T, "adapter": DIR or null}, ...]',
    )
    settings(s, "evaluation settings (n_prompts, reward, generation)")
    run(s)
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response records Parquet file")
    s.set_defaults(func=reward_guided)
    s = scs.add_parser(
        "rm-sweep", help="a reward model minus λ × a forget-LoRA, for every λ: RM-Bench and pair accuracy"
    )
    model(s)
    s.add_argument("--adapter", required=True, help="forget-LoRA adapter directory")
    s.add_argument("--items", required=True, help="RM-Bench items table (id, prompt, chosen[3], rejected[3])")
    settings(s, "the sweep (lambdas, batch_size, base_adapter)")
    run(s)
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response, per-λ scores Parquet file")
    s.set_defaults(func=rm_sweep)
    s = scs.add_parser("safety", help="bias-classifier probability and reward-model logit per response (safety)")
    s.add_argument("--responses", required=True, help="responses with bias_type, prompt and response columns")
    settings(s, "bias_types, bias_classifier {model, labels, batch_size, max_length}, reward_model {...}")
    run(s)
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-response records Parquet file (all bias types)")
    s.add_argument(
        "--out-dir",
        required=True,
        help="folder for <method>_model_<bias>_responses_scores.json (+ .parquet), the source's files",
    )
    s.set_defaults(func=safety)
    s = scs.add_parser(
        "desired-distribution",
        help="KL to the equal / real-world gender distribution per occupation",
        description="P_male/P_female per occupation and KL(desired || predicted) per split and "
        "prof_gender (docs/experiments/desired_distribution.md#metrics); utility comes "
        "from the experiment's `evaluations`.",
    )
    model(s)
    s.add_argument(
        "--trained", default=None, help="fine-tuned model folder or LoRA adapter folder (omit for the base model)"
    )
    s.add_argument("--sentences", required=True, help="sentence table from `debiaslab data desired-distribution`")
    settings(s, "the experiment's `evaluation` section")
    run(s)
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-occupation records Parquet file")
    s.set_defaults(func=desired_distribution)
