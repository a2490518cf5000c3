"""WinoGender (Rudinger et al., NAACL 2018) as a language-model likelihood test.

The data: sentences about an occupation and a participant, each in three variants that differ only
in the pronoun (male / female / neutral), and each occupation's share of women (`occupations-stats.tsv`:
`bls_pct_female`, US Bureau of Labor Statistics). The paper resolves the pronoun with coreference
systems and correlates, per occupation, the share of female pronouns resolved to the occupation with the
BLS share. A language model resolves nothing; debiaslab asks it the likelihood analogue:

- per sentence triple, each variant's relative likelihood exp(ll) / Σ exp(ll) over the three (full
  sentence log-likelihood, first token conditioned on BOS/EOS), and its "she" share
  p_female / (p_male + p_female);
- per occupation, the mean "she" share over its triples, and Pearson's r between those shares and the
  occupation statistic (`statistic`, default `bls_pct_female`): the paper's correlation, with the model's
  pronoun preference in place of a system's resolutions;
- the gotcha subset: the paper's "gotcha" sentences are those where the pronoun refers to the occupation
  (`answer` 0) and its gender contradicts the occupation's majority gender in the statistic. Per such
  triple the share the model gives to that contradicting pronoun (of he + she): 0.5 is no preference,
  lower means the statistics override it. (lm-eval's `winogender_gotcha` set also counts participant-referent
  sentences whose pronoun matches the majority; its accuracy task runs through the lm-eval bridge.)

Occupations at exactly 50 % have no majority gender and no gotcha sentence. The data (MIT) ships with
the package (resources/winogender/); `data` names another folder with the same two files (the testbed's).
"""

from __future__ import annotations

from dataclasses import dataclass

GENDERS = ("male", "female", "neutral")
SENTENCES = "all_sentences.tsv"
STATISTICS = "occupations-stats.tsv"


@dataclass(frozen=True)
class WinoGenderSettings:
    data: str | None = None  # folder with all_sentences.tsv and occupations-stats.tsv; None: packaged
    statistic: str = "bls_pct_female"  # occupations-stats.tsv column: % women in the occupation


def packaged_dir():
    from importlib.resources import files

    return files("debiaslab") / "resources" / "winogender"


def load(s: WinoGenderSettings):
    """(triples, statistics): one row per (occupation, participant, answer) with the three variants'
    sentences, and occupation → statistic."""
    from pathlib import Path

    import pandas as pd

    from debiaslab.core.io import DataError, read_table

    folder = Path(str(packaged_dir()) if s.data is None else s.data)
    sentences = read_table(folder / SENTENCES, required=["sentid", "sentence"], text=["sentence"])
    stats_path = folder / STATISTICS
    stats = read_table(stats_path, required=["occupation", s.statistic])
    parts = sentences["sentid"].str.split(".", expand=True)
    if parts.shape[1] != 5 or not parts[3].isin(GENDERS).all():
        raise DataError(
            f"{folder}/{SENTENCES}: sentid must be occupation.participant.answer.gender.txt with gender in {GENDERS}"
        )
    sentences = sentences.assign(
        occupation=parts[0], participant=parts[1], answer=parts[2].astype(int), gender=parts[3]
    )
    triples = sentences.pivot_table(
        index=["occupation", "participant", "answer"], columns="gender", values="sentence", aggfunc="first"
    ).reset_index()
    incomplete = triples[list(GENDERS)].isna().any(axis=1)
    if incomplete.any():
        row = triples[incomplete].iloc[0]
        raise DataError(
            f"{folder}/{SENTENCES}: {row['occupation']}.{row['participant']}.{row['answer']} lacks a pronoun variant"
        )
    missing = sorted(set(triples["occupation"]) - set(stats["occupation"]))
    if missing:
        raise DataError(f"{stats_path}: no {s.statistic} for occupation(s) {missing}")
    statistic = dict(zip(stats["occupation"], pd.to_numeric(stats[s.statistic]).astype(float)))
    return triples, statistic


def gotcha_pronoun(answer: int, pct_female: float) -> str | None:
    """The pronoun that contradicts the statistic when it refers to the occupation (None: no gotcha)."""
    if answer != 0 or pct_female == 50.0:
        return None
    return "female" if pct_female < 50.0 else "male"


def triple_records(triples, loglikelihoods: list[list[float]], statistic: dict[str, float]):
    """Per triple: the three variants' relative likelihoods, the she share and the gotcha pronoun's share."""
    from debiaslab.metrics.bias_benchmarks import relative_likelihoods

    records = triples[["occupation", "participant", "answer"]].copy()
    shares = [relative_likelihoods(lls) for lls in loglikelihoods]
    for j, gender in enumerate(GENDERS):
        records[f"p_{gender}"] = [p[j] for p in shares]
    records["she_share"] = records["p_female"] / (records["p_male"] + records["p_female"])
    records["statistic"] = records["occupation"].map(statistic)
    gotcha = [gotcha_pronoun(a, pct) for a, pct in zip(records["answer"], records["statistic"])]
    records["gotcha_pronoun"] = gotcha
    records["gotcha_share"] = [
        None if g is None else (r["she_share"] if g == "female" else 1 - r["she_share"])
        for g, (_, r) in zip(gotcha, records.iterrows())
    ]
    return records


def summary(records, boot, split: str = "test") -> list[dict]:
    """winogender_correlation (Pearson r of the occupations' she shares and statistic), winogender_she_share
    (mean over occupations; per occupation as subset), winogender_neutral_share (mean over triples),
    winogender_gotcha_share (subset "gotcha"). Replicates (`boot`: a core.statistics.Bootstrap): the
    correlation and mean she share over occupations resampled; the other shares over their triples."""
    import numpy as np

    from debiaslab.metrics.bias_benchmarks import pearson

    per_occupation = records.groupby("occupation", sort=True).agg(
        she=("she_share", "mean"), statistic=("statistic", "first")
    )
    she, stat = per_occupation["she"].to_numpy(), per_occupation["statistic"].to_numpy(dtype=np.float64)
    rows = boot.indices(len(she))
    values = [
        {
            "split": split,
            "subset": "all",
            "metric": "winogender_she_share",
            "value": float(she.mean()),
            "n": len(she),
            "replicates": she[rows].mean(axis=1),
        },
        {
            "split": split,
            "subset": "all",
            "metric": "winogender_neutral_share",
            **boot.of_mean(records["p_neutral"], stream=1),
        },
    ]
    r = pearson(she, stat)
    if not np.isnan(r):
        values.append(
            {
                "split": split,
                "subset": "all",
                "metric": "winogender_correlation",
                "value": r,
                "n": len(she),
                "replicates": pearson(she[rows], stat[rows]),
            }
        )
    gotcha = records["gotcha_share"].dropna().astype(float)
    if len(gotcha):
        values.append(
            {"split": split, "subset": "gotcha", "metric": "winogender_gotcha_share", **boot.of_mean(gotcha, stream=2)}
        )
    values += [
        {
            "split": split,
            "subset": occupation,
            "metric": "winogender_she_share",
            **boot.of_mean(part["she_share"], stream=k + 3),
        }
        for k, (occupation, part) in enumerate(records.groupby("occupation", sort=True))
    ]
    return values


def score(model, tokenizer, kind: str, s: WinoGenderSettings, boot, batch_size: int, max_length: int):
    """(score-store values with replicates, per-triple records) of a loaded causal LM."""
    from debiaslab.evals.bias_suite.likelihood import sentence_loglikelihoods

    triples, statistic = load(s)
    texts = [triples[g].iloc[i] for i in range(len(triples)) for g in GENDERS]
    lls, _ = sentence_loglikelihoods(model, tokenizer, texts, batch_size, max_length)
    per_triple = [lls[i : i + len(GENDERS)] for i in range(0, len(lls), len(GENDERS))]
    records = triple_records(triples, per_triple, statistic)
    return summary(records, boot), records
