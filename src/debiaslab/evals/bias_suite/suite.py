"""The `bias_suite` evaluation: BBQ, WinoGender, StereoSet and CrowS-Pairs on one loaded model.

Which benchmarks run: `benchmarks` if given (each must define a score for the model's kind), else
every benchmark that does and has data — causal LMs: all four; masked LMs: CrowS-Pairs and StereoSet
(pseudo-log-likelihood and masked-word probability); StereoSet only where `stereoset.dataset.path`
is given (no StereoSet data ships). Every benchmark's rows go to one score-store file; their metric
names say which benchmark they are (bbq_*, winogender_*, stereoset_*, crows_*).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from debiaslab.evals.bias_suite.bbq import BBQSettings
from debiaslab.evals.bias_suite.crows_pairs import CrowsSettings
from debiaslab.evals.bias_suite.stereoset import StereoSetSettings
from debiaslab.evals.bias_suite.winogender import WinoGenderSettings

log = logging.getLogger(__name__)
BENCHMARKS = ("bbq", "winogender", "stereoset", "crows_pairs")
KINDS = {
    "bbq": ("causal",),
    "winogender": ("causal",),
    "stereoset": ("causal", "mlm"),
    "crows_pairs": ("causal", "mlm"),
}


@dataclass(frozen=True)
class BiasSuiteSettings:
    benchmarks: tuple[str, ...] | None = None  # None: every benchmark that fits the model and has data
    batch_size: int = 64
    max_length: int = 128
    bbq: BBQSettings = field(default_factory=BBQSettings)
    winogender: WinoGenderSettings = field(default_factory=WinoGenderSettings)
    stereoset: StereoSetSettings = field(default_factory=StereoSetSettings)
    crows_pairs: CrowsSettings = field(default_factory=CrowsSettings)


def chosen(s: BiasSuiteSettings, kind: str) -> list[str]:
    from debiaslab.core.config import ConfigError

    if s.benchmarks is None:
        return [b for b in BENCHMARKS if kind in KINDS[b] and (b != "stereoset" or s.stereoset.dataset.path)]
    for b in s.benchmarks:
        if b not in KINDS:
            raise ConfigError(
                f"evaluations.bias_suite.benchmarks: unknown benchmark {b!r}; known: {', '.join(BENCHMARKS)}"
            )
        if kind not in KINDS[b]:
            raise ConfigError(
                f"evaluations.bias_suite.benchmarks: {b} defines no score for a {kind} model "
                f"(it needs {' or '.join(KINDS[b])})"
            )
    if "stereoset" in s.benchmarks and not s.stereoset.dataset.path:
        raise ConfigError(
            "evaluations.bias_suite.stereoset.dataset.path: no StereoSet data ships with debiaslab; "
            "name a file or Hub dataset"
        )
    return list(s.benchmarks)


def run_benchmark(name: str, model, tokenizer, kind: str, s: BiasSuiteSettings, boot):
    """(values with replicates, per-item records) of one benchmark; `boot`: the run's Bootstrap."""
    from debiaslab.evals.bias_suite import bbq, crows_pairs, stereoset, winogender

    if name == "bbq":
        return bbq.score(model, tokenizer, kind, s.bbq, boot, s.batch_size)
    if name == "winogender":
        return winogender.score(model, tokenizer, kind, s.winogender, boot, s.batch_size, s.max_length)
    if name == "stereoset":
        return stereoset.score(model, tokenizer, kind, s.stereoset, boot, s.batch_size, s.max_length)
    return crows_pairs.score(model, tokenizer, kind, s.crows_pairs, boot)


def evaluate(model_spec, settings: dict, run, out, *, adapter=None, projection=None, records_out=None) -> dict:
    """Stage entry: the chosen benchmarks' score-store rows of the model (+ the run's artifact) to `out`."""
    import time

    from debiaslab import models
    from debiaslab.core.config import ConfigError, build
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.evals.common import load_evaluated

    s = build(BiasSuiteSettings, settings, "evaluations.bias_suite")
    spec = models.ModelSpec.parse(model_spec)
    kind = spec.kind if spec.kind != "auto" else models.infer_kind(spec)
    if kind not in ("causal", "mlm") or spec.diffusion:
        what = "a diffusion model (no sentence likelihood)" if spec.diffusion else f"a {kind} model"
        raise ConfigError(
            f"evaluations.bias_suite: model {spec.path} is {what}; needs a causal or masked LM "
            "(leave it out of evaluations.bias_suite.models)"
        )
    names = chosen(s, kind)
    if not names:
        raise ConfigError(f"evaluations.bias_suite: no benchmark to run on the {kind} model {spec.path}")
    model, tokenizer = load_evaluated(spec, kind=kind, adapter=adapter, projection=projection, padding_side="right")
    values, summary = [], {}
    for name in names:
        start = time.perf_counter()
        found, records = run_benchmark(name, model, tokenizer, kind, s, Bootstrap(run.seed))
        log.info("%s: %d items, %d score rows in %.1f s", name, len(records), len(found), time.perf_counter() - start)
        values += found
        summary[name] = len(records)
        if records_out:
            from pathlib import Path

            from debiaslab.core.io import write_parquet

            write_parquet(Path(records_out).with_name(f"{Path(records_out).stem}_{name}.parquet"), records)
    write_scores(out, score_rows(run, values, settings))
    return {"kind": kind, "items": summary, "rows": len(values)}
