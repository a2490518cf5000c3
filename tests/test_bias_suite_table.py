"""The cross-experiment bias-suite table: one section per experiment, each compared with that experiment's
own baseline (reward_guided: the base at the same temperature), through the statistics path of every table;
and its figure."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from debiaslab.aggregate import tables
from debiaslab.aggregate.build import build_figure, build_table
from debiaslab.core.store import RunId, score_rows, write_scores
from debiaslab.experiments.registry import figure_plot, suite_sections, table_spec

T_975_1 = 12.706204736174707  # t_{0.975, 1}


def rows(experiment, method, seed, values, split="test"):
    return score_rows(
        RunId(experiment, "m", method, seed),
        [
            {"split": split, "subset": subset, "metric": metric, "value": value, "n": n}
            for subset, metric, value, n in values
        ],
        {},
    )


def suite_store():
    """occupations (prompt_only, sft) and reward_guided (base at T = 1, reinforce n = 64 at T = 1), two seeds."""
    frames = []
    for method, s_amb, crows, gotcha in (
        ("prompt_only", (0.40, 0.30), (0.9, 0.8), 0.30),
        ("sft", (0.10, 0.20), (0.6, 0.5), 0.45),
    ):
        for seed, a, c in zip((42, 123), s_amb, crows):
            frames.append(
                rows(
                    "occupations",
                    method,
                    seed,
                    [
                        ("all", "bbq_bias_ambig", a, 40),
                        ("religion", "bbq_bias_ambig", 0.9, 10),
                        ("all", "crows_stereotype_score", c, 10),
                        ("gotcha", "winogender_gotcha_share", gotcha, 12),
                    ],
                )
            )
    for method, split, values in (("base", "n=0,T=1", (0.50, 0.40)), ("reinforce", "n=64,T=1", (0.20, 0.30))):
        for seed, v in zip((42, 123), values):
            frames.append(rows("reward_guided", method, seed, [("all", "bbq_bias_ambig", v, 40)], split=split))
    return pd.concat(frames, ignore_index=True)


# each experiment's baseline and grid come from its interface (experiments/<name>/experiment.py), as the rules pass them
SECTIONS = suite_sections(["occupations", "reward_guided"])
SETTINGS = {
    "experiments": {
        "occupations": {"method_order": ["prompt_only", "sft"]} | SECTIONS["occupations"],
        "reward_guided": {"method_order": ["base", "reinforce"]} | SECTIONS["reward_guided"],
    }
}


def test_each_experiment_is_a_section_compared_with_its_own_baseline_by_hand():
    table = table_spec("bias_suite", SETTINGS)
    assert [s.experiment for s in table.sections] == ["occupations", "reward_guided"]
    occ, rg = tables.build(suite_store(), table)
    occ = occ.set_index(["model", "method", "metric"])
    sft = occ.loc[("m", "sft", "bbq_bias_ambig")]
    # the overall rows only (the religion subset's 0.9 is not averaged in): sft 0.10/0.20 vs prompt_only 0.40/0.30
    assert sft["mean"] == pytest.approx(0.15) and sft["diff"] == pytest.approx(-0.20)
    # Δ per seed −0.30, −0.10: mean −0.2, sd 0.1414; paired t over 2 seeds
    half = T_975_1 * math.sqrt(0.02) / math.sqrt(2)
    assert sft["diff_low"] == pytest.approx(-0.2 - half) and sft["diff_high"] == pytest.approx(-0.2 + half)
    assert sft["test"] == "paired t" and occ.loc[("m", "prompt_only", "bbq_bias_ambig")]["baseline"]
    # CrowS-Pairs is a share (Wilson interval over pairs, shown in %), and WinoGender's gotcha subset is kept
    crows = occ.loc[("m", "sft", "crows_stereotype_score")]
    assert crows["mean"] == pytest.approx(55.0) and crows["item_method"] == "Wilson"
    assert occ.loc[("m", "sft", "winogender_gotcha_share")]["mean"] == pytest.approx(0.45)
    # reward_guided: the trained cell against the base at the same temperature (n = 0)
    rg = rg.set_index(["method", "size", "temperature", "metric"])
    cell = rg.loc[("reinforce", 64, 1.0, "bbq_bias_ambig")]
    assert cell["diff"] == pytest.approx(-0.2) and rg.loc[("base", 0, 1.0, "bbq_bias_ambig")]["baseline"]


def test_the_table_and_figure_are_built_from_score_files_of_several_experiments(tmp_path):
    frame = suite_store()
    paths, runs = [], []
    for (experiment, method, seed), part in frame.groupby(["experiment", "method", "seed"], sort=False):
        path = tmp_path / experiment / method / f"seed~{seed}" / "eval_bias_suite.parquet"
        write_scores(path, part.reset_index(drop=True))
        paths.append(path)
        runs.append(RunId(experiment, "m", method, int(seed)))
    out = {ext: tmp_path / f"bias_suite.{ext}" for ext in ("csv", "md", "tex", "png", "pdf")}
    build_table(table_spec("bias_suite", SETTINGS), paths, out["csv"], out["md"], out["tex"], runs=runs, source="t")
    csv = pd.read_csv(out["csv"])
    assert list(dict.fromkeys(csv["table"])) == ["occupations", "reward_guided"]
    assert "BBQ s_AMB Δ" in csv and "CrowS-Pairs % item ci low" in csv
    assert "Bias suite (occupations runs)" in out["md"].read_text()
    assert out["md"].read_text().endswith("Made by config t.\n") and out["tex"].read_text().startswith(
        "% made by config t"
    )
    build_figure("bias_suite", figure_plot("bias_suite", SETTINGS), paths, out["png"], out["pdf"], runs=runs)
    assert out["png"].stat().st_size > 10_000 and out["pdf"].stat().st_size > 1_000
