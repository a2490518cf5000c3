"""`debiaslab aggregate <what>`, `bundle` and `unbundle`: tables, figures and captions from the score
store, and the archive reviewers rebuild them from."""

from __future__ import annotations

from debiaslab.cli.args import expected_runs, json_object, settings


def table(a):
    from debiaslab.aggregate.build import build_table
    from debiaslab.experiments.registry import table_spec

    spec = table_spec(a.experiment, a.settings)
    return build_table(spec, a.scores, a.csv, a.md, a.tex, runs=a.runs, cells=a.cells, source=a.source)


def figure(a):
    from debiaslab.aggregate.build import build_figure
    from debiaslab.experiments.registry import figure_plot

    return build_figure(a.name, figure_plot(a.name, a.settings), a.scores, a.png, a.pdf, runs=a.runs, cells=a.cells)


def trained_figure(a):
    from debiaslab.core.config import ConfigError
    from debiaslab.experiments.base import load
    from debiaslab.experiments.registry import get

    figures = {k: f for k, f in get(a.experiment).figures.items() if f.source == "trained"}
    if a.name not in figures:
        raise ConfigError(
            f"{a.experiment} has no figure {a.name!r} from trained artifacts; known: {', '.join(figures)}"
        )
    return load(figures[a.name].entry)(a.artifacts, a.png, a.csv)


def captions(a):
    from debiaslab.aggregate.captions import readme_block, update_readme

    tables = default_tables()
    if a.readme:
        return {"readme": str(a.readme), "changed": update_readme(a.readme, tables)}
    print(readme_block(tables))


def default_tables() -> dict:
    """Every registered experiment's table at default settings, and the bias suite's over the experiments
    whose schema fragment has `evaluations` (the ones that can run it)."""
    from debiaslab.aggregate import bias_suite
    from debiaslab.core.config import DEFAULT_SCHEMA, load_yaml
    from debiaslab.experiments.registry import every, suite_sections

    experiments = every()
    tables = {name: exp.table_spec({}) for name, exp in experiments.items()}
    suite = [
        name
        for name, exp in experiments.items()
        if "evaluations" in load_yaml(DEFAULT_SCHEMA.parent / exp.schema).get("properties", {})
    ]
    tables[bias_suite.NAME] = bias_suite.table({"experiments": suite_sections(suite)})
    return tables


def doc_figures(a):
    from pathlib import Path

    from debiaslab.aggregate.doc_figures import pages_with_blocks, refresh
    from debiaslab.core.config import ConfigError

    root = Path(a.root)
    pages = [Path(p) for p in a.pages] or pages_with_blocks(root)
    stale, changed, skipped = [], [], []
    for page in pages:
        text, left = refresh(page, Path(a.results), default_tables(), root)
        skipped += left
        old = page.read_text(encoding="utf-8")
        if a.check:
            if old != text:
                stale.append(str(page))
        elif text != old:
            page.write_text(text, encoding="utf-8")
            changed.append(str(page))
    for line in skipped:
        print(f"left as it is: {line}")
    if stale:
        raise ConfigError(f"stale generated figures in {', '.join(stale)}; regenerate: debiaslab aggregate doc-figures")
    return {"pages": len(pages), "changed": changed, "skipped": len(skipped)}


def import_safety(a):
    from debiaslab.experiments.safety.published import import_table

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
    s = ags.add_parser("table", help="one experiment's table (or the bias suite's) as CSV, Markdown and LaTeX")
    s.add_argument("--experiment", required=True, help="an experiment, or bias_suite")
    settings(s, "the experiment's `table` section")
    expected_runs(s)
    s.add_argument("--source", default="", help="the config that made the scores (its name), said in the table")
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
    s = ags.add_parser(
        "trained-figure", help="a figure from a run's trained artifacts (reward_guided: training curves), PNG + CSV"
    )
    s.add_argument("--experiment", required=True)
    s.add_argument("--name", required=True, help="the figure's name in the experiment's `figures`")
    s.add_argument(
        "--artifacts",
        nargs="+",
        required=True,
        help="trained folders, e.g. adapters .../<method>/seed~S/size~N/temperature~T/adapter (training_metrics.csv)",
    )
    s.add_argument("--png", required=True)
    s.add_argument("--csv", required=True)
    s.set_defaults(func=trained_figure)
    s = ags.add_parser(
        "captions",
        help="what each table reports (its captions), as the README lists it",
        description="Print the README's generated list of table captions, or rewrite it in place.",
    )
    s.add_argument("--readme", default=None, help="rewrite the generated block of this README")
    s.set_defaults(func=captions)
    s = ags.add_parser(
        "doc-figures",
        help="refill the docs' generated figure blocks from a run's tables",
        description="Rewrite every `<!-- figures: ... -->` block of README.md and the docs pages (every one with "
        "a block by default) from results/<config>/tables/<table>.csv; blocks whose table was not built are left "
        "as they are (docs/README.md#generated-blocks).",
    )
    s.add_argument("pages", nargs="*", help="pages to refresh (default: README.md and every docs page with a block)")
    s.add_argument(
        "--results", default="results", help="the results folder holding <config>/tables/ (default: results)"
    )
    s.add_argument("--root", default=".", help="the repository root (default: .)")
    s.add_argument("--check", action="store_true", help="change nothing; fail if a block differs from the tables")
    s.set_defaults(func=doc_figures)
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
        "`snakemake results/<name>/tables/<experiment>.csv` (only the table job runs).",
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
