"""Results tables: one statistics path for every experiment, against hand-computed values; escaping;
captions generated from the specs (report page, docs/statistics.md); LaTeX that compiles at paper width."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debiaslab.aggregate import captions, tables
from debiaslab.cli.aggregate import default_tables
from debiaslab.core.statistics import Bootstrap, percentile_interval, wilson_interval
from debiaslab.core.store import RunId, score_rows
from debiaslab.experiments import registry
from debiaslab.experiments.registry import table_spec

TABLES = default_tables()  # every table at default settings (what docs/statistics.md lists)

REPO = Path(__file__).resolve().parents[1]
T_975_2 = 4.302652729911275  # t_{0.975, 2}


def rows(experiment, model, method, seed, values):
    """Score-store rows of one run from (split, subset, metric, value, n[, replicates]) tuples."""
    return score_rows(
        RunId(experiment, model, method, seed),
        [dict(zip(("split", "subset", "metric", "value", "n", "replicates"), v)) for v in values],
        {},
    )


def store(*frames):
    return pd.concat(frames, ignore_index=True)


def summary_of(scores, experiment, section=0):
    table = table_spec(experiment, {})
    return tables.build(scores, table)[section].set_index(list(table.sections[section].row_keys) + ["metric"])


# --- one statistics path: hand-computed cells --------------------------------------------------------------


def occupations_store():
    """prompt_only and sft, three seeds, 20 responses each: AND rates 0/1/1 and 16/18/17 of 20; all 20 compliant."""
    frames = []
    for method, ands in (("prompt_only", (0, 1, 1)), ("sft", (16, 18, 17))):
        for seed, k in zip((42, 123, 456), ands):
            frames.append(
                rows(
                    "occupations",
                    "m",
                    method,
                    seed,
                    [
                        ("heldout", "all", "and_balanced_rate", k / 20, 20, None),
                        ("heldout", "all", "length_compliant_rate", 1.0, 20, None),
                    ],
                )
            )
    return store(*frames)


def test_cell_statistics_by_hand():
    s = summary_of(occupations_store(), "occupations")
    base = s.loc[("m", "prompt_only", "heldout", "and_balanced_rate")]
    # prompt-only: 0, 5, 5 %: mean 3.333, sd 2.887; the t CI's lower end −3.84 % is cut to 0
    assert base["mean"] == pytest.approx(10 / 3) and base["std"] == pytest.approx(math.sqrt(25 / 3))
    assert base["ci_low"] == 0.0 and base["ci_high"] == pytest.approx(
        10 / 3 + T_975_2 * math.sqrt(25 / 3) / math.sqrt(3)
    )
    # the interval over responses of a share: Wilson of the 60 responses pooled over seeds (2 of 60)
    low, high = wilson_interval(2, 60)
    assert (base["item_low"], base["item_high"]) == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert base["item_method"] == "Wilson" and base["baseline"] and not base["compared"]
    sft = s.loc[("m", "sft", "heldout", "and_balanced_rate")]
    # Δ per seed 80, 85, 80 (points): mean 81.67, sd 2.887, t = 81.67 / (2.887 / √3) = 49 with 2 df
    from scipy.stats import t

    assert sft["diff"] == pytest.approx(245 / 3) and sft["test"] == "paired t"
    assert sft["p"] == pytest.approx(2 * t.sf(49.0, 2))
    half = T_975_2 * math.sqrt(25 / 3) / math.sqrt(3)
    assert (sft["diff_low"], sft["diff_high"]) == (pytest.approx(245 / 3 - half), pytest.approx(245 / 3 + half))
    # 8–15 words: 100 % everywhere — Δ = 0 in every seed: undefined, never p = 0
    same = s.loc[("m", "sft", "heldout", "length_compliant_rate")]
    assert same["test"] == "n/a: zero variance" and math.isnan(same["p"]) and math.isnan(same["p_holm"])
    # Holm over the table's defined p-values: only the AND comparison has one, so p_Holm = p
    assert sft["p_holm"] == pytest.approx(sft["p"])
    assert sft["items_test"] == "CMH" and sft["p_items"] < 1e-20 and sft["cohens_d"] > 2


def test_holm_spans_every_comparison_of_a_table():
    scores = occupations_store()
    dpo = occupations_store()
    dpo = dpo[dpo["method"] == "sft"].assign(method="dpo")
    dpo.loc[dpo["metric"] == "and_balanced_rate", "value"] = [0.5, 0.7, 0.55]
    s = summary_of(store(scores, dpo), "occupations")
    raw = [s.loc[("m", m, "heldout", "and_balanced_rate"), "p"] for m in ("sft", "dpo")]
    holm = [s.loc[("m", m, "heldout", "and_balanced_rate"), "p_holm"] for m in ("sft", "dpo")]
    low, high = sorted(raw)
    expected = [min(1.0, 2 * low), min(1.0, max(2 * low, high))]
    assert sorted(holm) == [pytest.approx(e) for e in expected]


def safety_one_seed(n=500):
    """One published run per method (seed 42): RM scores with sd ≈ 2.9 over n responses, with replicates."""
    rng = np.random.default_rng(0)
    frames = []
    for method, shift in (("base", -1.0), ("sft", -3.4)):
        boot = Bootstrap(42)
        rm, bias = rng.normal(shift, 2.9, n), rng.uniform(0, 1, n)
        values = [
            ("gender", "all", "rm_score", *boot.of_mean(rm).values()),
            ("gender", "all", "bias_type_score", *boot.of_mean(bias).values()),
        ]
        frames.append(rows("safety", "m", method, 42, values))
    return store(*frames)


def test_one_seed_shows_the_bootstrap_interval_over_items_never_pm_zero():
    scores = safety_one_seed()
    table = table_spec("safety", {})
    longs = tables.build(scores, table)
    text = tables.markdown(table, longs)
    assert "± 0.000" not in text and "±" not in text.split("\n\n", 1)[1]  # no SD with one seed
    long = longs[0].set_index(["method", "metric"])
    rm = long.loc[("base", "rm_score")]
    reps = scores[(scores.method == "base") & (scores.metric == "rm_score")]["replicates"].iloc[0]
    assert (rm["item_low"], rm["item_high"]) == pytest.approx(percentile_interval(reps))
    assert rm["item_high"] - rm["item_low"] == pytest.approx(2 * 1.96 * 2.9 / math.sqrt(500), rel=0.2)
    cell = tables.value_cell(rm, 3)
    assert (
        cell
        == f"{tables.number(rm['mean'], 3)} [{tables.number(rm['item_low'], 3)}, {tables.number(rm['item_high'], 3)}]"
    )
    sft = long.loc[("sft", "rm_score")]
    assert sft["test"] == "n/a: n < 2" and sft["diff_item_high"] < 0  # Δ's bootstrap interval excludes 0
    assert "n/a: n < 2" in text


def test_a_baseline_scored_once_is_compared_with_every_seed():
    def kl(method, seed, value):
        return rows("desired_distribution", "m", method, seed, [("test", "all", "kl_equal_mean", value, 10, None)])

    scores = store(kl("base", 42, 1.0), kl("kl_equal", 42, 0.2), kl("kl_equal", 52, 0.4))
    s = summary_of(scores, "desired_distribution")
    row = s.loc[("m", "kl_equal", "equal", "test", "all", "kl")]
    # Δ per seed −0.8, −0.6 against the one base value; change % −80, −60
    assert row["diff"] == pytest.approx(-0.7) and row["n_pairs"] == 2 and row["test"] == "paired t"
    assert row["change"] == pytest.approx(-70.0) and row["change_std"] == pytest.approx(math.sqrt(200))
    assert s.loc[("m", "base", "equal", "test", "all", "kl"), "baseline"]


def test_rm_forget_compares_with_lambda_zero_of_the_same_adapter():
    values = {("forget_style", 0): 0.3, ("forget_style", 1): 0.9, ("forget_cross", 0): 0.5, ("forget_cross", 1): 0.6}
    frames = [
        rows("rm_forget", "rm", method, 42, [("heldout", f"lambda={lam}", "rmbench_hard", v, 40, None)])
        for (method, lam), v in values.items()
    ]
    s = summary_of(store(*frames), "rm_forget")
    assert s.loc[("rm", "forget_style", 1.0, "rmbench_hard"), "diff"] == pytest.approx(60.0)
    assert s.loc[("rm", "forget_cross", 1.0, "rmbench_hard"), "diff"] == pytest.approx(10.0)
    assert s.loc[("rm", "forget_cross", 0.0, "rmbench_hard"), "baseline"]


def test_reward_guided_compares_with_the_base_at_the_same_temperature():
    frames = []
    for seed, shift in ((42, 0.0), (123, 0.1)):
        for method, cells in (
            ("base", {"n=0,T=0.7": 0.8, "n=0,T=1": 0.7}),
            ("reinforce", {"n=64,T=0.7": 0.1, "n=64,T=1": 0.5}),
        ):
            frames.append(
                rows(
                    "reward_guided",
                    "lm",
                    method,
                    seed,
                    [(cell, "all", "gendered_pronoun_rate", v + shift, 64, None) for cell, v in cells.items()],
                )
            )
    s = summary_of(store(*frames), "reward_guided")
    assert s.loc[("lm", "reinforce", 64, 0.7, "gendered_pronoun_rate"), "diff"] == pytest.approx(-0.7)
    assert s.loc[("lm", "reinforce", 64, 1.0, "gendered_pronoun_rate"), "diff"] == pytest.approx(-0.2)


# --- escaping --------------------------------------------------------------------------------------------


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_escapes_cell_text():
    assert tables.markdown_escape("mean |bias|") == r"mean \|bias\|"
    assert tables.markdown_escape("prompt_only *x* `y` <b> n < 2") == r"prompt\_only \*x\* \`y\` \<b> n < 2"
    assert tables.markdown_escape(r"a\b") == r"a\\b"


def test_markdown_table_rows_have_as_many_cells_as_the_header():
    scores = store(
        *[
            rows("reward_guided", "lm", "base", seed, [("n=0,T=1", "all", "mean_bias", 0.5, 64, None)])
            for seed in (1, 2)
        ]
    )
    text = tables.markdown(table_spec("reward_guided", {}), tables.build(scores, table_spec("reward_guided", {})))
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert "mean \\|bias\\|" in lines[0]
    assert len({unescaped_pipes(line) for line in lines}) == 1


def test_latex_escapes_symbols_to_ascii():
    text = tables.latex_escape("∞ λ ‖ − % _ & # $ { } ~ ^ \\ Δ ± ≥ “x”")
    assert text.isascii()
    for expected in (
        r"$\infty$",
        r"$\lambda$",
        r"$\Vert$",
        r"$-$",
        r"\%",
        r"\_",
        r"\&",
        r"\#",
        r"\$",
        r"\{",
        r"\}",
        r"\textasciitilde{}",
        r"\textasciicircum{}",
        r"\textbackslash{}",
        r"$\Delta$",
        r"$\pm$",
        r"$\geq$",
    ):
        assert expected in text, expected
    assert tables.latex_escape("ü") == "?"  # never a character pdflatex would stop on


# --- captions: generated from the specs, the same words everywhere -------------------------------------------


def test_every_caption_names_its_interval_test_and_correction():
    for experiment in TABLES:
        text = captions.table_caption(TABLES[experiment])
        for words in (
            "mean ± sample SD over seeds",
            "Student-t 95 % CI",
            "bootstrap replicates stratified by seed",
            "p = two-sided paired t-test over seeds, Holm-adjusted over all comparisons of this table",
            "n/a: zero variance",
            "n/a: n < 2",
        ):
            assert words in text, (experiment, words)
    assert "Wilson score interval" in captions.table_caption(TABLES["occupations"])
    assert "Cochran–Mantel–Haenszel" in captions.table_caption(TABLES["occupations"])
    assert "method = prompt_only" in captions.table_caption(TABLES["occupations"])
    assert "λ = 0" in captions.table_caption(TABLES["rm_forget"])
    assert "method = base, n = 0 and the same model, T" in captions.table_caption(TABLES["reward_guided"])
    assert "scored once" in captions.table_caption(TABLES["desired_distribution"])


def test_the_statistics_page_lists_the_generated_captions():
    page = (REPO / captions.CAPTIONS_PAGE).read_text()
    assert captions.readme_block(TABLES) in page, (
        f"{captions.CAPTIONS_PAGE}'s table captions are out of date: run "
        f"`debiaslab aggregate captions --readme {captions.CAPTIONS_PAGE}`"
    )


def report_html(template: str, **params) -> str:
    """A report caption rendered as Snakemake renders it: Jinja, then docutils — stopping at any warning."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    class Snakemake:
        pass

    snakemake = Snakemake()
    snakemake.params = Snakemake()
    snakemake.wildcards = Snakemake()
    for key, value in params.items():
        setattr(snakemake.params if key == "caption" else snakemake.wildcards, key, value)
    text = Environment(trim_blocks=True, lstrip_blocks=True).from_string(template).render(snakemake=snakemake)
    return publish_parts(text, writer="html", settings_overrides={"halt_level": 2, "report_level": 2})["body"]


def test_report_captions_render_without_docutils_warnings():
    table_rst = (REPO / "workflow/report/table.rst").read_text()
    figure_rst = (REPO / "workflow/report/figure.rst").read_text()
    for experiment, table in TABLES.items():
        html = report_html(table_rst, caption=captions.rst_escape(captions.table_caption(table)), experiment=experiment)
        assert "System Message" not in html and "Holm" in html
    for name, experiment in (
        ("occupations_per_occupation", None),
        ("rm_forget_lambda_curve", None),
        ("training_curves", "reward_guided"),
    ):
        html = report_html(figure_rst, caption=captions.rst_escape(registry.figure_caption(name, {}, experiment)))
        assert "System Message" not in html and len(html) > 200
    reward_guided = captions.rst_escape(captions.table_caption(TABLES["reward_guided"]))
    html = report_html(table_rst, caption=reward_guided, experiment="x")
    assert "mean |bias|" in html  # the pipes are text, not a substitution reference


# --- LaTeX: paper width, compiles ---------------------------------------------------------------------------


def synthetic_store():
    """Every experiment's metrics over its row keys, from simulated items (with replicates)."""
    from debiaslab.aggregate import bias_suite
    from debiaslab.experiments.occupations.table import METRICS as OCCUPATIONS_METRICS
    from debiaslab.experiments.reward_guided.table import METRICS as REWARD_GUIDED_METRICS
    from debiaslab.experiments.rm_forget.table import METRICS as RM_FORGET_METRICS
    from debiaslab.experiments.safety.table import METRICS as SAFETY_METRICS

    rng = np.random.default_rng(1)
    frames = []

    def run(experiment, model, method, seed, cells, metrics, n=50, metric_range=None):
        metric_range = metric_range or TABLES[experiment].sections[0].bounds  # the experiment's own ranges
        boot = Bootstrap(seed)
        values = []
        for split, subset in cells:
            for metric in metrics:
                bounds = metric_range(metric)
                items = (
                    rng.integers(0, 2, n).astype(float) if bounds == (0.0, 1.0) else rng.normal(2.0, 1.0, n) ** 2 + 1.0
                )
                items = -items if bounds == (-math.inf, 0.0) else items
                values.append((split, subset, metric, *boot.of_mean(items).values()))
        frames.append(rows(experiment, model, method, seed, values))

    occupation_metrics = [m for m in OCCUPATIONS_METRICS if m != "filter_acceptance_rate"]
    suite_metrics = [m for m in bias_suite.METRICS if m != "winogender_gotcha_share"]
    for method in ("prompt_only", "gen_filter", "sft", "dpo", "inlp", "constrained"):
        for seed in (42, 123, 456):
            run("occupations", "testbed-lm", method, seed, [("train", "all"), ("heldout", "all")], occupation_metrics)
            run(
                "occupations",
                "testbed-lm",
                method,
                seed,
                [("test", "all")],
                suite_metrics,
                metric_range=bias_suite.metric_range,
            )  # eval_bias_suite
    for method in ("base", "sft", "dpo"):
        for seed in (42, 123):
            run("safety", "testbed-lm", method, seed, [("gender", "all"), ("racial", "all")], list(SAFETY_METRICS))
    for seed in (42, 123):
        run(
            "reward_guided",
            "testbed-lm",
            "base",
            seed,
            [("n=0,T=0.7", "all"), ("n=0,T=1", "all")],
            list(REWARD_GUIDED_METRICS),
        )
        run(
            "reward_guided",
            "testbed-lm",
            "reinforce",
            seed,
            [("n=64,T=0.7", "all"), ("n=64,T=1", "all")],
            list(REWARD_GUIDED_METRICS),
        )
    for method in ("forget_style", "forget_correctness", "forget_cross"):
        run(
            "rm_forget",
            "testbed-style-rm",
            method,
            42,
            [("heldout", f"lambda={lam}") for lam in (-1, -0.5, 0, 0.2, 0.5, 1, 2, 3)],
            list(RM_FORGET_METRICS),
        )
    categories = [("test", c) for c in ("all", "male_dominated", "balanced", "female_dominated")]
    for method in ("base", "kl_equal", "kl_real_world"):
        run(
            "desired_distribution",
            "testbed-dd-mlm",
            method,
            42,
            categories,
            ["kl_equal_mean", "kl_real_world_mean", "p_male_mean"],
        )
        run(
            "desired_distribution",
            "testbed-dd-mlm",
            method,
            42,
            [("heldout", "all")],
            ["mlm_loss", "pseudo_perplexity"],
        )
    return store(*frames)


def latex_engine():
    for engine in ("pdflatex", "tectonic"):
        if shutil.which(engine):
            return engine
    return None


DOCUMENT = r"""\documentclass{article}
\usepackage[utf8]{inputenc}
\usepackage{graphicx}
\IfFileExists{booktabs.sty}{\usepackage{booktabs}}{\newcommand{\toprule}{\hline}\newcommand{\midrule}{\hline}\newcommand{\bottomrule}{\hline}}
\begin{document}
%s
\end{document}
"""


@pytest.mark.skipif(latex_engine() is None, reason="no LaTeX engine (pdflatex or tectonic) installed")
def test_latex_tables_compile_at_paper_width(tmp_path):
    scores = synthetic_store()
    for experiment in TABLES:
        # the bias suite's table: a section per experiment that ran it (here the occupations runs)
        settings = (
            {"experiments": registry.suite_sections(["occupations"])}
            if experiment == "bias_suite"
            else {"method_order": []}
        )
        table = table_spec(experiment, settings)
        tex = tables.latex(table, tables.build(scores, table))
        assert tex.isascii(), experiment
        source = tmp_path / f"{experiment}.tex"
        # after each table, the log gets the tabular's natural width and the text width
        source.write_text(
            DOCUMENT
            % tex.replace(
                r"\caption{",
                r"\typeout{WIDTH \the\wd\debiaslabtable\space OF "
                r"\the\linewidth}\caption{",
            )
        )
        engine = latex_engine()
        command = (
            [engine, "-interaction=nonstopmode", "-halt-on-error", source.name]
            if engine == "pdflatex"
            else [engine, "--keep-logs", source.name]
        )
        proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        log = (tmp_path / f"{experiment}.log").read_text(errors="replace")
        assert proc.returncode == 0, (experiment, proc.stdout[-2000:])
        assert "Overfull \\hbox" not in log, (experiment, tex)
        widths = [float(w) / float(t) for w, t in re.findall(r"WIDTH ([\d.]+)pt OF ([\d.]+)pt", log)]
        assert len(widths) == len(table.sections) and max(widths) <= 1.25, (experiment, widths)  # shrunk ≤ 20 %
