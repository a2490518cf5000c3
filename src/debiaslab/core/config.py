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


def validate(config: dict, schema_path: str | Path = DEFAULT_SCHEMA, checks: Iterable[Check] = ()) -> dict:
    """Validate `config` in place (defaults filled) and return it; raise ConfigError listing every problem.

    `checks`: further cross-field checks, each config -> problems, from the layers above this one
    (an experiment's data, say); the workflow and `debiaslab check-config` pass theirs."""
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    schema_path = Path(schema_path)
    registry, docs = _schema_registry(schema_path)
    schema = docs[schema_path.name]
    docs["__root__"] = schema
    validator = _default_filling_validator(schema, registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    messages = list(dict.fromkeys(_message(e, docs) for e in errors))
    if not messages:
        messages = check_semantics(config, checks)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
    return config


def check_semantics(config: dict, checks: Iterable[Check] = ()) -> list[str]:
    """Cross-field rules a JSON schema cannot express (those of this module, then `checks`)."""
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
            extra = [m for m in settings.get("models") or [] if m not in exp.get("models", [])]
            if extra:
                problems.append(
                    f"experiments.{name}.evaluations.{evaluation}.models: {extra} not among the "
                    f"experiment's models {exp.get('models', [])}"
                )
    occ = config.get("experiments", {}).get("occupations")
    if occ:
        problems += placeholder_problems("experiments.occupations.prompt", occ["prompt"], {"occupation"})
        overlap = sorted(set(occ["train_occupations"]) & set(occ["heldout_occupations"]))
        if overlap:
            problems.append(
                f"experiments.occupations.heldout_occupations: {overlap} also in train_occupations; "
                "held-out occupations must not be trained on"
            )
    rg = config.get("experiments", {}).get("reward_guided")
    if rg:
        problems += reward_guided_problems(rg, models)
    problems += _rm_forget_semantics(config)
    safety = config.get("experiments", {}).get("safety")
    if safety:
        for role in ("bias_classifier", "reward_model"):
            name = safety["scoring"][role]["model"]
            if name not in models:
                problems.append(
                    f"experiments.safety.scoring.{role}.model: model {name!r} is not defined under `models`; "
                    f"defined: {', '.join(sorted(models)) or '(none)'}"
                )
        unlabelled = [b for b in safety["bias_types"] if b not in safety["scoring"]["bias_classifier"]["labels"]]
        if unlabelled:
            problems.append(
                f"experiments.safety.scoring.bias_classifier.labels: no classifier label for bias type(s) "
                f"{unlabelled}; give one per entry of experiments.safety.bias_types"
            )
    dd = config.get("experiments", {}).get("desired_distribution")
    if dd:
        for method, settings in dd["methods"].items():
            extra = sorted(set(settings.get("models") or []) - set(dd["models"]))
            if extra:
                problems.append(
                    f"experiments.desired_distribution.methods.{method}.models: {extra} not in the "
                    f"experiment's models {dd['models']}"
                )
        missing = sorted(set(dd["table"]["splits"]) - set(dd["evaluation"]["splits"]))
        if missing:
            problems.append(
                f"experiments.desired_distribution.table.splits: {missing} not scored; "
                f"add them to evaluation.splits {dd['evaluation']['splits']}"
            )
    testbed_paths = [m["path"] for m in models.values() if m.get("path", "").startswith("results/testbed/")]
    if testbed_paths and "testbed" not in config:
        problems.append(f"models: {testbed_paths} are testbed models but the config has no `testbed` section")
    for check in checks:
        problems += check(config)
    return problems


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


def reward_guided_problems(exp: dict, models: dict) -> list[str]:
    """Batch and diffusion-schedule rules of `reward_guided` (docs/experiments/reward_guided.md#method); its
    pool-size rule is `debiaslab.data.mcq.pool_problems`."""
    where = "experiments.reward_guided"
    problems: list[str] = []
    methods = exp.get("methods", {})
    for method in ("reinforce", "rloo"):
        train = (methods.get(method) or {}).get("train")
        if train and train["batch_size"] % train["micro_batch_size"]:
            problems.append(
                f"{where}.methods.{method}.train.batch_size: {train['batch_size']} is not a multiple of "
                f"micro_batch_size {train['micro_batch_size']}"
            )
    rloo = (methods.get("rloo") or {}).get("train")
    if rloo and rloo["batch_size"] % rloo["num_generations"]:
        problems.append(
            f"{where}.methods.rloo.train.batch_size: {rloo['batch_size']} is not a multiple of "
            f"num_generations {rloo['num_generations']}"
        )
    if "rloo" in methods:
        causal = [m for m in exp.get("models", []) if m in models and not models[m].get("diffusion")]
        if not causal or not any(t > 0 for t in exp["temperatures"]):
            problems.append(
                f"{where}.methods.rloo: no cell to run; RLOOTrainer needs a causal (non-diffusion) model "
                "and a temperature > 0"
            )
    gen = exp["generation"]
    if any(models.get(m, {}).get("diffusion") for m in exp.get("models", [])):
        if gen["gen_length"] % gen["block_length"]:
            problems.append(
                f"{where}.generation.gen_length: {gen['gen_length']} is not a multiple of "
                f"block_length {gen['block_length']}"
            )
        elif gen["steps"] % (gen["gen_length"] // gen["block_length"]):
            problems.append(
                f"{where}.generation.steps: {gen['steps']} is not a multiple of the number of blocks "
                f"({gen['gen_length'] // gen['block_length']} = gen_length / block_length)"
            )
    return problems


def _rm_forget_semantics(config: dict) -> list[str]:
    exp = config.get("experiments", {}).get("rm_forget")
    if not exp:
        return []
    problems = []
    where = "experiments.rm_forget"
    models = config.get("models", {})
    for i, name in enumerate(exp["models"]):
        kind = models.get(name, {}).get("kind", "auto")
        if kind in ("causal", "mlm"):
            problems.append(
                f"{where}.models[{i}]: model {name!r} has kind {kind!r}; a reward model is a "
                "sequence-classification model (kind seq-cls or auto)"
            )
    extra = sorted(set(exp["base_adapters"]) - set(exp["models"]))
    if extra:
        problems.append(f"{where}.base_adapters: {extra} not in {where}.models")
    dataset = exp["data"]["dataset"]
    if dataset["train_split"] == dataset["eval_split"]:
        problems.append(
            f"{where}.data.dataset.eval_split: {dataset['eval_split']!r} is also the train split; "
            "evaluation is on held-out questions"
        )
    pool = _testbed_arithmetic_pool(config, dataset)
    for key, split in (("n_train_questions", "n_train"), ("n_eval_questions", "n_test")):
        wanted = exp["data"][key]
        if pool and wanted is not None and wanted > pool[split]:
            problems.append(
                f"{where}.data.{key}: {wanted} exceeds the {pool[split]} questions of the testbed's "
                f"{'train' if split == 'n_train' else 'test'} split (testbed.arithmetic.{split})"
            )
    if 0 not in exp["sweep"]["lambdas"]:
        problems.append(f"{where}.sweep.lambdas: must include 0 (the base reward model every λ is compared with)")
    for method, spec in exp["methods"].items():
        saved = spec["train"]["lora"]["modules_to_save"]
        if saved:
            problems.append(
                f"{where}.methods.{method}.train.lora.modules_to_save: must be empty; a saved module "
                f"(e.g. the score head) is neither scaled nor subtracted by λ, got {saved}"
            )
    return problems


def _testbed_arithmetic_pool(config: dict, dataset: dict) -> dict | None:
    """The testbed GSM8K set's split sizes when `dataset` is it (a Hub set's size is known only once loaded)."""
    if dataset["path"].rstrip("/") != "results/testbed/arithmetic" or "testbed" not in config:
        return None
    return config["testbed"].get("arithmetic")


def load(path: str | Path, schema_path: str | Path = DEFAULT_SCHEMA, checks: Iterable[Check] = ()) -> dict:
    """Read and validate a config file (what `debiaslab check-config` and the tests use)."""
    config = load_yaml(path)
    if config is None:
        raise ConfigError(f"{path}: empty config")
    try:
        return validate(config, schema_path, checks)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


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
