"""lm-evaluation-harness on a run's model: its Python API, results JSON into the results tree.

`lm_eval.simple_evaluate` with an `HFLM` built from the model's path (and the method's PEFT adapter
through `peft=`), for the configured tasks (the `desired_distribution` study: HellaSwag, LAMBADA,
TruthfulQA, MMLU). The whole results JSON is kept (results/lm_eval/...), and each task's numeric
metrics become score-store rows `lmeval_<task>_<metric>` (e.g. lmeval_hellaswag_acc_norm); lm-eval always
logs its per-document values here, so a metric that is their mean gets bootstrap replicates.

lm-eval is an optional extra (`pip install debiaslab[lmeval]`); nothing else imports it. `BIAS_TASKS`
lists its bias tasks (BBQ, CrowS-Pairs, WinoGender, ...) beside debiaslab's native bias suite. Offline,
lm-eval cannot download its tasks' data: `include_path` adds task YAMLs with local
`dataset_path`s — the package ships `testbed_mmlu` (resources/lm_eval_tasks/), lm-eval's MMLU
task on the testbed set (results/testbed/mmlu).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# lm-evaluation-harness's bias tasks, by the names its task registry uses (lm_eval 0.4.9–0.4.x; the tests
# check each is registered). All are log-likelihood (multiple-choice) tasks, so they run on any run's model
# with its adapter or trained folder (`evaluations.lm_eval.tasks`), not with an INLP hook. Their data are
# Hub datasets lm-eval loads itself (online, or from a prepared HF_DATASETS_CACHE). Where debiaslab has a
# native scorer (evals/bias_suite/) the two differ as said here; CrowS-Pairs is tested for parity.
BIAS_TASKS = {
    "bbq": "BBQ, all 11 categories (oskarvanderwal/bbq, config All): acc, accuracy_amb/_disamb, amb/disamb bias "
    "scores overall and per category; 12 choices (the 2 people + HELM's 10 UNKNOWN phrasings; the native "
    "scorer: the item's 3 answers), s_DIS = 0 where undefined (native: no row)",
    "bbq_ambig": "BBQ, ambiguous contexts only",
    "bbq_disambig": "BBQ, disambiguated contexts only",
    "crows_pairs_english": "CrowS-Pairs, 1,508 English pairs (jannalu/crows_pairs_multilingual): pct_stereotype "
    "(share of pairs whose sent_more is likelier), likelihood_diff; the native causal "
    "scorer's decisions and log-likelihoods equal it",
    **{
        f"crows_pairs_english_{t}": f"CrowS-Pairs, {t.replace('_', ' ')} pairs only"
        for t in (
            "age",
            "autre",
            "disability",
            "gender",
            "nationality",
            "physical_appearance",
            "race_color",
            "religion",
            "sexual_orientation",
            "socioeconomic",
        )
    },
    "winogender_all": "WinoGender coreference accuracy (oskarvanderwal/winogender): prompt \"<sentence> '<Pronoun>' "
    "refers to the\", choices occupation / participant (GPT-3's protocol; the native scorer "
    "instead compares the pronoun variants' likelihoods and correlates them with BLS)",
    "winogender_gotcha": (
        "WinoGender accuracy on the gotcha sentences (pronoun gender against the occupation's majority)"
    ),
    **{
        f"winogender_{s}": f"WinoGender accuracy, {s.replace('_', ' ')} pronouns"
        for s in ("male", "female", "neutral", "gotcha_male", "gotcha_female")
    },
    "simple_cooccurrence_bias": "likelihood of female vs male words after occupation sentences "
    "(oskarvanderwal/simple-cooccurrence-bias): pct_male_preferred, likelihood_diff",
    "toxigen": "ToxiGen (skg/toxigen-data, annotated): is a statement hateful, Yes/No accuracy",
    "discrim_eval_explicit": "Anthropic discrim-eval, demographics stated: decision log-odds by age, gender, race",
    "discrim_eval_implicit": "Anthropic discrim-eval, demographics implied by names",
    "inverse_scaling_winobias_antistereotype": "WinoBias anti-stereotypical coreference (inverse-scaling prize set)",
}


@dataclass(frozen=True)
class LmEvalSettings:
    tasks: tuple[str, ...] = ("hellaswag", "lambada_openai", "truthfulqa_mc2", "mmlu")
    num_fewshot: int | None = None  # None: each task's default
    batch_size: int = 8
    limit: float | None = None  # per task: a count (>= 1) or a fraction (< 1); None: all
    include_path: str | None = None  # folder of extra task YAMLs; "packaged": debiaslab's (testbed_mmlu)
    max_length: int | None = None
    random_seed: int = 0
    log_samples: bool = False  # also keep every request's log-likelihoods in the JSON (`samples`)


def packaged_tasks() -> str:
    from importlib.resources import files

    return str(files("debiaslab") / "resources" / "lm_eval_tasks")


def sample_values(results: dict, task: str, name: str, filt: str) -> list[float] | None:
    """A metric's per-document values from lm-eval's logged samples (None where it logged none)."""
    samples = results.get("samples", {}).get(task) or []
    values = [sample.get(name) for sample in samples if sample.get("filter", "none") == filt]
    if not values or not all(isinstance(v, (int, float)) for v in values):
        return None
    return [float(v) for v in values]


def metric_rows(results: dict, boot) -> list[dict]:
    """Score-store values from lm-eval's `results` section: every numeric metric but standard errors. A metric
    that is the mean of its logged per-document values gets replicates over the documents (`boot`: a
    core.statistics.Bootstrap); others (a perplexity, a group's aggregate) get none."""
    values = []
    n_samples = results.get("n-samples", {})
    for task, metrics in sorted(results.get("results", {}).items()):
        n = n_samples.get(task, {}).get("effective", 0)
        for key, value in sorted(metrics.items()):
            name, comma, filt = key.partition(",")
            # metrics are "<metric>,<filter>"; alias, name and sample_len are not metrics
            if not comma or name.endswith("_stderr") or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            suffix = "" if filt in ("", "none") else f"_{filt}"
            row = {
                "split": "lm_eval",
                "subset": "all",
                "metric": f"lmeval_{task}_{name}{suffix}",
                "value": float(value),
                "n": int(n),
            }
            per_document = sample_values(results, task, name, filt or "none")
            if per_document and abs(sum(per_document) / len(per_document) - value) <= 1e-9 * max(1.0, abs(value)):
                row["replicates"] = boot.mean(per_document)
            values.append(row)
    return values


def plain_json(obj):
    """lm-eval's results hold dtypes and other objects; render them as its own CLI does (str)."""
    import json

    from lm_eval.utils import handle_non_serializable

    return json.loads(json.dumps(obj, default=handle_non_serializable))


def task_manager(include: str | None, tasks):
    """lm-eval's task index. Indexing lm-eval's own few thousand task YAMLs takes ~20 s, so where the
    include folder defines every requested task itself, only that folder is indexed."""
    from lm_eval.tasks import TaskManager

    if include:
        local = TaskManager(include_path=include, include_defaults=False)
        if set(tasks) <= set(local.all_subtasks):
            return local
        return TaskManager(include_path=include)
    return TaskManager()


def run_lm_eval(model_spec, s: LmEvalSettings, adapter=None) -> dict:
    """lm_eval.simple_evaluate on HFLM(model path, peft=adapter); returns its results dict."""
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        from debiaslab.core.config import ConfigError

        raise ConfigError("evaluations.lm_eval needs lm-evaluation-harness: pip install 'debiaslab[lmeval]'") from None
    from debiaslab import models

    spec = models.ModelSpec.parse(model_spec)
    options = dict(
        pretrained=spec.path,
        batch_size=s.batch_size,
        device=models.device(),
        trust_remote_code=spec.trust_remote_code,
        dtype=str(models.torch_dtype(spec)).replace("torch.", ""),
    )
    if spec.revision:
        options["revision"] = spec.revision
    if adapter is not None:
        options["peft"] = str(adapter)
    if s.max_length:
        options["max_length"] = s.max_length
    lm = HFLM(**options)
    include = packaged_tasks() if s.include_path == "packaged" else s.include_path
    manager = task_manager(include, s.tasks)
    return lm_eval.simple_evaluate(
        model=lm,
        tasks=list(s.tasks),
        num_fewshot=s.num_fewshot,
        limit=s.limit,
        task_manager=manager,
        random_seed=s.random_seed,
        numpy_random_seed=s.random_seed,
        torch_random_seed=s.random_seed,
        fewshot_random_seed=s.random_seed,
        log_samples=True,
    )  # per-document values: the replicates (metric_rows)


def evaluate(model_spec, settings: dict, run, json_out, scores_out, *, adapter=None, projection=None) -> dict:
    """Stage entry: the results JSON to `json_out`, score-store rows to `scores_out`."""
    from debiaslab.core.config import ConfigError, build
    from debiaslab.core.io import write_json
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores

    s = build(LmEvalSettings, settings, "evaluations.lm_eval")
    if projection is not None:
        raise ConfigError(
            "evaluations.lm_eval: an INLP projection hook cannot be passed to lm-eval's HFLM; "
            "leave inlp out of the runs this evaluation covers"
        )
    results = run_lm_eval(model_spec, s, adapter)
    keep = {
        k: results[k]
        for k in (
            "results",
            "groups",
            "group_subtasks",
            "configs",
            "versions",
            "n-shot",
            "higher_is_better",
            "n-samples",
            "config",
            "git_hash",
            "date",
            "lm_eval_version",
        )
        + (("samples",) if s.log_samples else ())
        if k in results
    }
    keep["debiaslab"] = {"model": str(model_spec), "adapter": str(adapter) if adapter else None, "settings": settings}
    write_json(Path(json_out), plain_json(keep))
    values = metric_rows(results, Bootstrap(run.seed))
    if not values:
        raise ConfigError(f"evaluations.lm_eval: lm-eval returned no metric for tasks {list(s.tasks)}")
    write_scores(scores_out, score_rows(run, values, settings))
    return {"tasks": list(s.tasks), "metrics": len(values)}
