"""`debiaslab check-config`: validate a config file before anything runs."""

from __future__ import annotations


def check_config(a):
    from debiaslab.core import config
    from debiaslab.experiments import registry
    from debiaslab.hub.download import missing_local_paths

    cfg = registry.load(a.config, a.schema)
    problems = missing_local_paths(cfg)
    if problems:
        raise config.ConfigError(f"{a.config}: invalid config:\n  " + "\n  ".join(problems))
    print(f"{a.config}: valid; experiments: {', '.join(cfg['experiments']) or '(none)'}")
    if a.show:
        import yaml

        print(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def add_commands(sub) -> None:
    c = sub.add_parser(
        "check-config",
        help="validate a config file against the schema (defaults filled)",
        description="Validate a config file: JSON schema (unknown keys rejected) plus cross-field checks.",
    )
    c.add_argument("config", nargs="?", default="config/config.yaml")
    c.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    c.add_argument("--show", action="store_true", help="print the config with defaults filled in")
    c.set_defaults(func=check_config)
