"""Fetch every Hub model and dataset a config names into one cache, for offline compute nodes.

Compute nodes of many clusters have no network. The `hub_download` rule runs on the
login node (a Snakemake localrule) before any job that loads a Hub model or dataset;
every other job runs with HF_HUB_OFFLINE=1 against the same cache (`offline_environment`:
every job's shell command exports it, rules/common.smk), so `from_pretrained("meta-llama/...")`
and `load_dataset("Salesforce/wikitext", ...)` read local files through the same calls
that download them online.

What counts as a Hub reference: a model entry's `path`, and in experiment sections a
`dataset:` value (a name, or `{path, name}`) or a `{path, hub_config, ...}` entry, that
looks like a Hub repository id and is not a local path. Testbed folders and local files
need no download.

Gated repositories (Llama) take the token from the HF_TOKEN environment variable, which
huggingface_hub reads itself; the token is never passed on a command line, logged or
written to the manifest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# org/name or a legacy canonical name (bert-base-uncased); the Hub's own id grammar, roughly
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
# Model files a safetensors-only loader never reads (PyTorch/TF/Flax/ONNX duplicates, Meta's originals).
SKIP_MODEL_FILES = [
    "*.pth",
    "*.pt",
    "*.bin",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.tflite",
    "*.mlmodel",
    "original/*",
    "onnx/*",
    "coreml/*",
    "openvino/*",
]


# A name ending like a data file is a local file, never a repository.
DATA_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".tsv", ".txt", ".arrow", ".gz")


def looks_local(path: str, root: str | Path = ".") -> bool:
    """Written as a local path, never a Hub id: absolute, ./ ../ or ~, deeper than org/name, a data file, or
    inside a folder that exists here (`models/qwen3-typo` when `models/` is a folder of this clone)."""
    if path.startswith(("/", "./", "../", "~")) or path.count("/") > 1 or path.lower().endswith(DATA_FILE_SUFFIXES):
        return True
    return "/" in path and (Path(root) / path.split("/")[0]).is_dir()


def is_hub_id(path: str, root: str | Path = ".") -> bool:
    """A Hub repository id, not a local path (see looks_local; under results/ or data/; anything that
    exists relative to `root`)."""
    if not isinstance(path, str) or not HUB_ID.match(path) or path.startswith(("results/", "data/")):
        return False
    if looks_local(path, root):
        return False
    return not (Path(root) / path).exists()


def offline_environment(hub_cache: str) -> dict[str, str]:
    """The environment every job but the download runs in: Hub models and datasets from `hub_cache`, offline
    (compute nodes often have no network, and no job may fetch what the DAG did not declare)."""
    cache = str(Path(hub_cache).expanduser().resolve())
    return {
        "HF_HUB_CACHE": f"{cache}/hub",
        "HF_DATASETS_CACHE": f"{cache}/datasets",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


# Config keys whose string values name a local file or folder (or a Hub repository): the model entries'
# `path`, datasets, lm-eval's task folder, desired_distribution's tables, genbit's stanza models.
PATH_KEYS = ("path", "dataset", "include_path", "data_dir", "stanza_dir")


def _path_values(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}" if where else str(key)
            if key in PATH_KEYS and isinstance(value, str):
                yield here, value
            elif where.endswith("base_adapters") and isinstance(value, str):
                yield here, value
            else:
                yield from _path_values(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _path_values(item, f"{where}[{i}]")


def missing_local_paths(config: dict, root: str | Path = ".") -> list[str]:
    """Problems, by key path, for values written as local paths that do not exist here. Outputs of the
    workflow (results/...) are left to Snakemake, which builds them."""
    problems = []
    for where, value in _path_values(config):
        if value.startswith("results/") or not looks_local(value, root):
            continue
        resolved = Path(root) / Path(value).expanduser()
        if not resolved.exists():
            problems.append(
                f"{where}: {value!r} is a local path (not a Hub id) and does not exist ({resolved.resolve()})"
            )
    return problems


def _dataset_refs(node: Any) -> Iterator[dict[str, Any]]:
    """Dataset references anywhere in an experiment's section."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "dataset" and isinstance(value, str):
                yield {"path": value, "name": None, "revision": None}
            elif (
                key == "dataset" and isinstance(value, dict) and "path" in value and isinstance(node.get("tasks"), list)
            ):
                # a benchmark with one config per task (evaluations.glue: nyu-mll/glue, tasks [cola, ...])
                for task in node["tasks"]:
                    yield {"path": value["path"], "name": task, "revision": value.get("revision")}
            elif key == "dataset" and isinstance(value, dict) and "path" in value:
                yield {"path": value["path"], "name": value.get("name"), "revision": value.get("revision")}
            else:
                yield from _dataset_refs(value)
        if "path" in node and ("hub_config" in node or "hub_split" in node):
            yield {"path": node["path"], "name": node.get("hub_config"), "revision": node.get("revision")}
    elif isinstance(node, list):
        for item in node:
            yield from _dataset_refs(item)


def references(config: dict, root: str | Path = ".") -> dict[str, list[dict[str, Any]]]:
    """{"models": [...], "datasets": [...]}: the Hub repositories a (validated) config names, sorted."""
    models = {}
    for entry in config.get("models", {}).values():
        if "path" in entry and is_hub_id(entry["path"], root):  # not a GGUF file (`gguf`: converted locally)
            ref = {"repo": entry["path"], "revision": entry.get("revision"), "gated": bool(entry.get("gated"))}
            models[(ref["repo"], ref["revision"] or "")] = ref
    datasets = {}
    for ref in _dataset_refs(config.get("experiments", {})):
        if is_hub_id(ref["path"], root):
            item = {"repo": ref["path"], "name": ref["name"], "revision": ref["revision"]}
            datasets[(item["repo"], item["name"] or "", item["revision"] or "")] = item
    return {"models": [models[k] for k in sorted(models)], "datasets": [datasets[k] for k in sorted(datasets)]}


def needs_token(refs: dict[str, list[dict[str, Any]]]) -> bool:
    return any(m.get("gated") for m in refs.get("models", []))


def download(refs: dict[str, list[dict[str, Any]]], cache: str | Path, out: str | Path) -> dict[str, Any]:
    """Download every reference into `cache` (hub/ and datasets/ inside it); write a manifest.

    Already cached files are not fetched again, so rerunning after adding a model costs only
    the new model. The manifest records each repository's resolved commit (provenance).
    """
    from huggingface_hub import get_token, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    from debiaslab.core.io import write_json

    cache = Path(cache).expanduser().resolve()
    hub_cache, datasets_cache = cache / "hub", cache / "datasets"
    if needs_token(refs) and get_token() is None:
        from debiaslab.core.config import ConfigError

        gated = ", ".join(m["repo"] for m in refs["models"] if m.get("gated"))
        raise ConfigError(
            f"gated model(s) {gated}: export HF_TOKEN (a Hub token whose account accepted the "
            "licence) before running the workflow; it is read from the environment only"
        )
    manifest: dict[str, Any] = {"cache": str(cache), "models": [], "datasets": []}
    for ref in refs.get("models", []):
        log.info("model %s (revision %s)", ref["repo"], ref.get("revision") or "main")
        try:
            local = snapshot_download(
                ref["repo"], revision=ref.get("revision"), cache_dir=hub_cache, ignore_patterns=SKIP_MODEL_FILES
            )
        except (GatedRepoError, RepositoryNotFoundError) as e:
            from debiaslab.core.io import DataError

            raise DataError(
                f"model {ref['repo']!r}: cannot download ({type(e).__name__}); check the name, and for "
                "a gated model export HF_TOKEN for an account that accepted its licence"
            ) from e
        except Exception as e:  # offline, DNS, proxy, timeout: huggingface_hub and httpx raise many types
            raise unreachable("model", ref["repo"], e) from e
        manifest["models"].append(dict(ref, commit=Path(local).name))
    for ref in refs.get("datasets", []):
        try:
            commit = _prepare_dataset(ref, datasets_cache)
        except Exception as e:
            raise unreachable("dataset", ref["repo"], e) from e
        manifest["datasets"].append(dict(ref, commit=commit))
    write_json(out, manifest)
    return {"models": len(manifest["models"]), "datasets": len(manifest["datasets"]), "cache": str(cache)}


def unreachable(kind: str, repo: str, error: Exception):
    """One line for a Hub repository that could not be fetched: which one, why, and what to do."""
    from debiaslab.core.io import DataError

    cause = error
    while cause.__cause__ is not None or cause.__context__ is not None:  # the network error under the Hub's own
        cause = cause.__cause__ or cause.__context__
    reason = " ".join(str(cause).split())[:200] or type(cause).__name__
    return DataError(
        f"{kind} {repo!r}: not a local path here and not downloadable from the Hub "
        f"({type(cause).__name__}: {reason}); run the download where the Hub is reachable "
        f"(`snakemake hub_download` on a login node), or, if {repo!r} is a local folder, "
        "fix its path in the config"
    )


def _prepare_dataset(ref: dict[str, Any], datasets_cache: Path) -> str:
    """Download and prepare one dataset config; return the commit it resolved to.

    Offline, `load_dataset(name, config)` reads the *prepared* copy in HF_DATASETS_CACHE
    (datasets' cached-module fallback), not a raw Hub snapshot, so the dataset is loaded
    here once, through the same call the jobs make.
    """
    from datasets import load_dataset
    from huggingface_hub import HfApi

    log.info("dataset %s (config %s, revision %s)", ref["repo"], ref.get("name"), ref.get("revision") or "main")
    commit = HfApi().dataset_info(ref["repo"], revision=ref.get("revision")).sha
    load_dataset(ref["repo"], ref.get("name"), revision=ref.get("revision"), cache_dir=str(datasets_cache))
    return commit
