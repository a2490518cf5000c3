"""Load and validate the workflow config; hand each rule its slice.

Validation runs before any job starts: the JSON schema (workflow/schemas/) fills
defaults and rejects unknown keys, then cross-field checks catch what a schema
cannot say (a model name that is not defined, held-out occupations that overlap
training ones, ...). Every message names the key path and what is allowed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
# A cross-field check from a layer above this one: config -> the problems it finds (one line each).
Check = Callable[[dict], "list[str]"]

DEFAULT_SCHEMA = Path("workflow/schemas/config.schema.yaml")


class ConfigError(ValueError):
    """An invalid config; the message names the key path."""


def _strict_loader():
    """PyYAML's safe loader (libyaml's parser where PyYAML has it: every Snakemake invocation loads the
    config schemas, ~7x faster) that refuses a key given twice in one mapping: YAML would silently keep
    the last value, so `seeds: [1]` further down a file would quietly override an earlier `seeds:`."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ConfigError(
                        f"key {key!r} given twice in one mapping (lines {seen[key]} and "
                        f"{key_node.start_mark.line + 1}); YAML would keep only the last"
                    )
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def load_yaml(path: str | Path) -> Any:
    """A YAML file, refused with one line naming the file for a missing file, bytes that are not UTF-8,
    invalid YAML or a duplicate key."""
    import yaml

    from debiaslab.core.io import line_of

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path}: line {line_of(e.object, e.start)}: not UTF-8 (byte {e.start}: "
            f"{e.object[e.start : e.start + 1]!r}); save the file as UTF-8"
        ) from None
    try:
        return yaml.load(text, Loader=_strict_loader())
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None


def _key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _allowed(schema: dict, registry) -> list[str]:
    """Keys a (possibly $ref-composed) object schema allows, for error messages."""
    keys: set[str] = set(schema.get("properties", {}))
    ref = schema.get("$ref")
    if ref and registry is not None:
        target = _lookup(ref, registry)
        keys |= set(target.get("properties", {}))
    return sorted(keys)


def _lookup(ref: str, registry) -> dict:
    """Resolve `file.yaml#/a/b` (or `#/a/b` in the top-level schema) against the loaded schema files."""
    file, _, pointer = ref.partition("#")
    doc = registry["__root__"] if not file else registry[file]
    for part in [p for p in pointer.split("/") if p]:
        doc = doc[part]
    return doc


def _message(error, registry=None) -> str:
    path = _key_path(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = _allowed(error.schema, registry)
        extra = sorted(set(error.instance) - set(allowed))
        if not extra:  # additionalProperties given as a schema (e.g. the models map)
            return f"{path}: {error.message}"
        return f"{path}: unknown key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed) or '(none)'}"
    if error.validator == "enum":
        return f"{path}: {error.instance!r} is not allowed; allowed: {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        return f"{path}: {error.message}"
    if error.validator == "uniqueItems":
        seen, dupes = set(), []
        for item in error.instance:
            key = json.dumps(item, sort_keys=True)
            if key in seen:
                dupes.append(item)
            seen.add(key)
        return f"{path}: duplicate value(s) {dupes}; items must be unique"
    if error.validator == "minItems" and error.validator_value == 1:
        return f"{path}: must not be empty"
    if error.validator == "pattern" and error.schema.get("description"):
        return f"{path}: {error.instance!r} is not allowed; allowed: {error.schema['description']}"
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    if error.validator in bounds:
        return f"{path}: {error.instance!r} is not allowed; must be {bounds[error.validator]} {error.validator_value}"
    if error.validator == "propertyNames":
        pattern = error.schema.get("pattern", "the name pattern")
        return f"{path}: name {error.instance!r} must match {pattern} (letters, digits, . _ -)"
    return f"{path}: {error.message}"


def _schema_registry(schema_path: Path):
    """Every *.schema.yaml beside the top-level schema, so `$ref: "safety.schema.yaml"` resolves locally."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    docs = {p.name: load_yaml(p) for p in sorted(schema_path.parent.glob("*.schema.yaml"))}
    registry = Registry()
    for name, doc in docs.items():
        registry = registry.with_resource(name, Resource.from_contents(doc, default_specification=DRAFT202012))
    return registry, docs


def _default_filling_validator(schema: dict, registry):
    """jsonschema's Draft 2020-12 validator that also fills in `default`s (as Snakemake's `validate`)."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    # JSON Schema counts 42.0 as an integer; a config value that is one must be written as one (`seeds: [42.0]`
    # would name other files than `[42]`, and range(200.0) fails deep in a job)
    strict = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    cls = validators.extend(Draft202012Validator, {"properties": set_defaults}, type_checker=strict)
    return cls(schema, registry=registry)


def validate(
    config: dict,
    schema_path: str | Path = DEFAULT_SCHEMA,
    checks: Iterable[Check] = (),
    experiments: dict[str, str] | None = None,
) -> dict:
    """Validate `config` in place (defaults filled, `{results}` expanded: core.paths) and return it; raise
    ConfigError listing every problem.

    `experiments`: name -> schema fragment file (beside the main schema) of every experiment a config may
    run; `checks`: further cross-field checks, each config -> problems. Both come from the layers above this
    one (the experiment registry, experiments.registry.validate, passes its own)."""
    from debiaslab.core.paths import expand_results, results_root

    if not isinstance(config, dict):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    schema_path = Path(schema_path)
    registry, docs = _schema_registry(schema_path)
    schema = copy.deepcopy(docs[schema_path.name])
    schema["properties"]["experiments"]["properties"] = {
        name: {"$ref": file} for name, file in (experiments or {}).items()
    }
    docs["__root__"] = schema
    validator = _default_filling_validator(schema, registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    messages = list(dict.fromkeys(_message(e, docs) for e in errors))
    if not messages:
        expand_results(config, results_root(config))
        messages = check_semantics(config, checks)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
    return config


def check_semantics(config: dict, checks: Iterable[Check] = ()) -> list[str]:
    """Cross-field rules a JSON schema cannot express (those of this module, then `checks`)."""
    from debiaslab.core.paths import results_root

    problems: list[str] = []
    models = config.get("models", {})
    problems += _model_source_problems(models)
    for name, exp in config.get("experiments", {}).items():
        for i, model in enumerate(exp.get("models", [])):
            if model not in models:
                problems.append(
                    f"experiments.{name}.models[{i}]: model {model!r} is not defined under `models`; "
                    f"defined: {', '.join(sorted(models)) or '(none)'}"
                )
    for name, exp in config.get("experiments", {}).items():
        reference = exp.get("evaluations", {}).get("fluency", {}).get("reference")
        if reference is not None and reference not in models:
            problems.append(
                f"experiments.{name}.evaluations.fluency.reference: model {reference!r} is not defined "
                f"under `models`; defined: {', '.join(sorted(models)) or '(none)'}"
            )
        for evaluation, settings in exp.get("evaluations", {}).items():
            for key in ("models", "methods", "seeds"):
                known = list(exp.get(key, []))
                extra = [m for m in settings.get(key) or [] if m not in known]
                if extra:
                    problems.append(
                        f"experiments.{name}.evaluations.{evaluation}.{key}: {extra} not among the "
                        f"experiment's {key} {known}"
                    )
    testbed = f"{results_root(config)}/testbed/"
    testbed_paths = [m["path"] for m in models.values() if m.get("path", "").startswith(testbed)]
    if testbed_paths and "testbed" not in config:
        problems.append(f"models: {testbed_paths} are testbed models but the config has no `testbed` section")
    for check in checks:
        problems += check(config)
    return problems


def model_problems(config: dict, where: str, name: str) -> list[str]:
    """A model name an experiment's setting gives must be defined under `models`."""
    models = config.get("models", {})
    if name in models:
        return []
    return [f"{where}: model {name!r} is not defined under `models`; defined: {', '.join(sorted(models)) or '(none)'}"]


def _model_source_problems(models: dict) -> list[str]:
    """Each model names exactly one source, and a GGUF file that exists (in its package, if it names one)."""
    from debiaslab.core.io import DataError, locate_file

    problems = []
    for name, entry in models.items():
        if ("path" in entry) == ("gguf" in entry):
            problems.append(
                f"models.{name}: give exactly one of `path` (a Hub name or Hub-format folder) or `gguf` "
                f"(a GGUF file), got {'both' if 'path' in entry else 'neither'}"
            )
        elif "gguf" in entry:
            try:
                locate_file(entry["gguf"], where=f"models.{name}.gguf")
            except DataError as e:
                problems.append(str(e))
    return problems


def placeholder_problems(where: str, template: str, allowed: set[str]) -> list[str]:
    """A `str.format` template may name only the placeholders its stage fills in (else a KeyError in a job)."""
    import string

    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        return [f"{where}: not a valid template ({e}); write {{{{ and }}}} for literal braces"]
    unknown = sorted(fields - allowed)
    if unknown:
        return [
            f"{where}: unknown placeholder(s) {', '.join('{' + f + '}' for f in unknown)}; allowed: "
            f"{', '.join('{' + f + '}' for f in sorted(allowed))} (write {{{{ and }}}} for literal braces)"
        ]
    return []


def load(
    path: str | Path,
    schema_path: str | Path = DEFAULT_SCHEMA,
    checks: Iterable[Check] = (),
    experiments: dict[str, str] | None = None,
) -> dict:
    """Read and validate a config file (experiments.registry.load passes every experiment's schema and checks)."""
    config = load_yaml(path)
    if config is None:
        raise ConfigError(f"{path}: empty config")
    try:
        return validate(config, schema_path, checks, experiments)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


# Keys of a model entry that size or authorise its jobs but never change a result: kept out of the
# entry jobs get, so correcting a size estimate reruns nothing.
SCHEDULING_KEYS = ("size_b", "gated")


def model_entry(config: dict, name: str) -> dict:
    """Model `name`'s config entry as a job gets it: without the keys that only schedule jobs, and for a GGUF
    entry with `path` its converted folder (every stage loads it as any other Hub-format folder)."""
    from debiaslab.core.paths import Layout, results_root

    entry = {k: v for k, v in config["models"][name].items() if k not in SCHEDULING_KEYS}
    if "gguf" in entry:
        converted = Layout(results_root(config)).imported_model(name)["model"]
        entry = {k: v for k, v in entry.items() if k != "gguf"} | {"path": converted}
    return entry


def as_json(obj: Any) -> str:
    """Canonical JSON for a config slice: what rules pass on the command line and record as params."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build(cls: type[T], values: dict[str, Any] | None, where: str = "") -> T:
    """A typed, frozen view of a config slice: nested dataclasses built, lists made tuples.

    Unknown keys are rejected by name, so a typo in a hand-written --settings fails loudly.
    """
    import dataclasses
    import typing

    values = dict(values or {})
    where = where or cls.__name__
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown}; allowed {sorted(known)}")
    for name, value in list(values.items()):
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            values[name] = build(hint, value, f"{where}.{name}")
        elif isinstance(value, list):
            values[name] = tuple(value)
    return cls(**values)
