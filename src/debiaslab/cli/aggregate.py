"""`debiaslab aggregate <what>`, `bundle` and `unbundle`: tables, figures and captions from the score
store, and the archive reviewers rebuild them from."""

from __future__ import annotations

from debiaslab.cli.args import expected_runs, json_object, settings


def table(a):
    from debiaslab.aggregate.build import build_table

    return build_table(a.experiment, a.scores, a.settings, a.csv, a.md, a.tex, runs=a.runs, cells=a.cells)


def figure(a):
    from debiaslab.aggregate.build import build_figure

    return build_figure(a.name, a.scores, a.settings, a.png, a.pdf, runs=a.runs, cells=a.cells)


def curves(a):
    from debiaslab.aggregate.reward_guided import write_curves

    return write_curves(a.adapters, a.png, a.csv)


def captions(a):
    from debiaslab.aggregate.captions import readme_block, update_readme

    if a.readme:
        return {"readme": str(a.readme), "changed": update_readme(a.readme)}
    print(readme_block())


def import_safety(a):
    from debiaslab.aggregate.safety_import import import_table

    return import_table(a.folder, a.model, a.seed, a.settings, a.csv, a.md, a.scores)


def bundle(a):
    from debiaslab.aggregate.bundle import make_bundle

    return make_bundle(a.scores, a.config, a.out, records=a.records)


def unbundle(a):
    from debiaslab.aggregate.bundle import REBUILD, unpack_bundle

    names = unpack_bundle(a.archive, a.dest)
    print(f"unpacked {len(names)} files, each checked against the bundle's manifest; rebuild a table with: {REBUILD}")


def add_commands(sub) -> None:
    ag = sub.add_parser(
        "aggregate",
        help="build results tables from the score store",
        description="Aggregate score-store files across seeds into tables.",
    )
    ags = ag.add_subparsers(dest="what", required=True, metavar="<what>")
    s = ags.add_parser("table", help="one experiment's table as CSV, Markdown and LaTeX")
    s.add_argument("--experiment", required=True)
    settings(s, "the experiment's `table` section")
    expected_runs(s)
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.add_argument("--tex", default=None, help="also write a LaTeX (booktabs) table at paper width")
    s.set_defaults(func=table)
    s = ags.add_parser("figure", help="a figure (PNG + PDF) from the score store")
    s.add_argument("--name", required=True, help="figure name, e.g. occupations_per_occupation")
    settings(s, "figure settings (e.g. method_order)")
    expected_runs(s)
    s.add_argument("--png", required=True)
    s.add_argument("--pdf", required=True)
    s.set_defaults(func=figure)
    s = ags.add_parser("curves", help="training curves of reward_guided runs (CSV + PNG figure)")
    s.add_argument(
        "--adapters",
        nargs="+",
        required=True,
        help="adapter folders .../<method>/seed~S/size~N/temperature~T/adapter with training_metrics.csv",
    )
    s.add_argument("--png", required=True)
    s.add_argument("--csv", required=True)
    s.set_defaults(func=curves)
    s = ags.add_parser(
        "captions",
        help="what each table reports (its captions), as the README lists it",
        description="Print the README's generated list of table captions, or rewrite it in place.",
    )
    s.add_argument("--readme", default=None, help="rewrite the generated block of this README")
    s.set_defaults(func=captions)
    s = ags.add_parser(
        "import-safety",
        help="the safety table from a folder of published per-response score files",
        description="Read <model>_model_<bias>_responses_scores.json files (lists of {prompt, response, "
        "deberta-rm-score, bias-type-score}) and build the safety table from them.",
    )
    s.add_argument("folder")
    s.add_argument("--model", default="qwen3-0.6b", help="model name for the table's `model` column")
    s.add_argument("--seed", type=int, default=42, help="seed recorded for the (single) published run")
    settings(s, "the safety `table` section")
    s.add_argument("--scores", default=None, help="also write the score-store rows here")
    s.add_argument("--csv", required=True)
    s.add_argument("--md", required=True)
    s.set_defaults(func=import_safety)

    s = sub.add_parser(
        "bundle",
        help="pack the score store + provenance into one archive for reviewers",
        description="Pack score-store files, the run's config, package versions and git commit into a "
        ".tar.gz; in a fresh clone, `debiaslab unbundle` it and rebuild any table with "
        "`snakemake results/tables/<experiment>.csv` (only the table job runs).",
    )
    s.add_argument("--scores", nargs="+", required=True, help="score-store Parquet files")
    s.add_argument(
        "--config", type=json_object, required=True, metavar="JSON", help="the run's config (defaults filled)"
    )
    s.add_argument("--records", action="store_true", help="also pack each run's per-response records")
    s.add_argument("--out", required=True, help="archive path (.tar.gz)")
    s.set_defaults(func=bundle)
    s = sub.add_parser("unbundle", help="unpack a bundle into a clone (regular files under results/ only)")
    s.add_argument("archive")
    s.add_argument("--dest", default=".", help="repository root to unpack into")
    s.set_defaults(func=unbundle)
