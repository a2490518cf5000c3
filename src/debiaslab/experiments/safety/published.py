"""Rebuild the `safety` table from published per-response score files (`debiaslab aggregate import-safety`).

The source published one JSON file per model and bias type — a list of
{prompt, response, deberta-rm-score, bias-type-score} — named
`<model>_model_<bias>_responses_scores.json` (its README writes
`<model>_<bias>_response_scores.json`; both names are read). The files become
score-store rows through the same summary the scoring job uses, then the same
TableSpec renders them, so a reviewer rebuilds a published table from the
published scores alone — one seed, so its intervals are bootstrap intervals over the published
responses — and prints its Markdown. The source's model "instruct" is debiaslab's method "base".
"""

from __future__ import annotations

import re
from pathlib import Path

from debiaslab.core.io import DataError

FILE_NAME = re.compile(r"^(?P<method>[A-Za-z0-9-]+?)(?:_model)?_(?P<bias>[A-Za-z_]+?)_responses?_scores\.json$")
METHOD_ALIASES = {"instruct": "base"}


def _score(value, where: str) -> float:
    """A published score: a number, or a one-element list (a tensor's `.tolist()`)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{where}: expected a number, got {value!r}")
    return float(value)


def read_published(folder) -> object:
    """All records of a folder of published files: columns method, bias_type, prompt, response, both scores."""
    import pandas as pd

    from debiaslab.core.io import read_json
    from debiaslab.experiments.safety.scoring import BIAS_KEY, RM_KEY

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    rows = []
    files = sorted(p for p in folder.iterdir() if FILE_NAME.match(p.name))
    if not files:
        raise DataError(f"{folder}: no files named <model>_model_<bias>_responses_scores.json")
    for path in files:
        match = FILE_NAME.match(path.name)
        method = METHOD_ALIASES.get(match["method"].lower(), match["method"].lower())
        records = read_json(path)
        if not isinstance(records, list) or not records:
            raise DataError(f"{path}: expected a non-empty JSON list of records")
        for i, record in enumerate(records):
            where = f"{path}: record {i}"
            if not isinstance(record, dict) or {RM_KEY, BIAS_KEY} - set(record):
                raise DataError(f"{where}: expected an object with {RM_KEY!r} and {BIAS_KEY!r}")
            rows.append(
                {
                    "method": method,
                    "bias_type": match["bias"],
                    "prompt": record.get("prompt"),
                    "response": record.get("response"),
                    RM_KEY: _score(record[RM_KEY], f"{where} {RM_KEY}"),
                    BIAS_KEY: _score(record[BIAS_KEY], f"{where} {BIAS_KEY}"),
                }
            )
    return pd.DataFrame(rows)


def import_table(folder, model: str, seed: int, settings: dict, csv_out, md_out, scores_out=None) -> dict:
    """Stage entry: published files → score-store rows (optionally written) → the safety table."""
    import pandas as pd

    from debiaslab.aggregate.tables import write_table
    from debiaslab.core.store import RunId, score_rows, write_scores
    from debiaslab.experiments.safety.experiment import EXPERIMENT
    from debiaslab.experiments.safety.scoring import summarize

    records = read_published(folder)
    provenance = {"imported_from": str(folder)}
    frames = [
        score_rows(RunId("safety", model, method, seed), summarize(part, seed), provenance)
        for method, part in records.groupby("method", sort=False)
    ]
    scores = pd.concat(frames, ignore_index=True)
    if scores_out:
        write_scores(scores_out, scores)
    order = [m for m in ("base", "sft", "dpo") if m in set(records["method"])]
    print(write_table(scores, EXPERIMENT.table_spec({"method_order": order, **settings}), csv_out, md_out), end="")
    return {"files": int(records.groupby(["method", "bias_type"]).ngroups), "responses": len(records)}
