"""Pack the score store with its provenance into one archive a reviewer can rebuild tables from.

The archive holds one config's `results/<name>/scores/**/scores.parquet` (and, with
`records=True`, the per-response records) at their workflow paths, plus
`results/<name>/bundle/config.yaml` (the run's config, defaults filled, in the run's key
order: it fixes e.g. the tables' method order) and `results/<name>/bundle/manifest.json`
(package versions, git commit, the sha256 of every other file).

`unpack_bundle` trusts nothing it has not checked: every file must be listed in the
manifest with its hash, and tables and figures are refused (they are always rebuilt).
What it unpacks marks the clone as a rebuild-only clone (`unpacked_bundle`): the workflow
then uses the bundle's config, has no rule that trains, generates or scores, and checks
before any job that every score file a table needs is present and unchanged
(`rebuild_problems`), so `snakemake results/<name>/tables/<table>.csv` runs the table job only.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

FORMAT = "debiaslab-bundle/3"  # /3: one config's results root (results/<name>/); /2: the config hashed, key order kept
MANIFEST_NAME = re.compile(r"^results/[^/]+/bundle/manifest\.json$")
REBUILD = "snakemake --cores 1 results/<name>/tables/<table>.csv"


def paths(root: str) -> dict[str, str]:
    """A bundle's places under a results root (results/<name>): its folder, manifest, config, the marker
    unpack_bundle writes (which archive the clone holds), the score store it carries, and the derived
    folders (tables, figures) it never carries."""
    folder = f"{root}/bundle"
    return {
        "folder": folder,
        "manifest": f"{folder}/manifest.json",
        "config": f"{folder}/config.yaml",
        "origin": f"{folder}/unpacked.json",
        "scores": f"{root}/scores/",
        "derived": (f"{root}/tables/", f"{root}/figures/"),
    }


PACKAGES = (
    "debiaslab",
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "pandas",
    "pyarrow",
    "snakemake",
    "scipy",
    "scikit-learn",
    "numpy",
)


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit(cwd: str | Path = ".") -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=10
    ).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_bundle(score_paths, config: dict, out: str | Path, records: bool = False) -> dict:
    """Write the archive; returns a summary (files, bytes). `config` keeps the run's key order; its name says
    which results root the scores live under."""
    import yaml

    from debiaslab.core.io import DataError, atomic_path
    from debiaslab.core.paths import results_root

    where = paths(results_root(config))
    files = []
    for path in map(Path, score_paths):
        if not path.is_file():
            raise DataError(f"{path}: score file not found")
        if not str(path).startswith(where["scores"]):
            raise DataError(
                f"{path}: not under {where['scores']}; a bundle carries this config's score-store files only"
            )
        files.append(path)
        sibling = path.with_name("records.parquet")
        if records and sibling.is_file():
            files.append(sibling)
    files = sorted(set(files))
    config_bytes = yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()
    hashes = {str(p): sha256_file(p) for p in files}
    hashes[where["config"]] = hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "format": FORMAT,
        "git_commit": git_commit(),
        "versions": versions(),
        "files": hashes,
        "rebuild": f"debiaslab unbundle <this archive>, then {REBUILD} (the bundle's config is used)",
    }
    newest = max((p.stat().st_mtime for p in files), default=0)
    with atomic_path(out) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for path in files:
                tar.add(str(path), arcname=str(path))
            _add_bytes(tar, where["config"], config_bytes, newest)
            _add_bytes(tar, where["manifest"], (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), newest)
    return {"files": len(files), "bytes": Path(out).stat().st_size}


def _refusal(archive, name: str, why: str):
    from debiaslab.core.io import DataError

    return DataError(f"{archive}: {name}: {why}; refusing the bundle (nothing was unpacked)")


def _checked_members(archive: Path, tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's members once every one is a listed score-store file (or the config) whose sha256
    matches the manifest's, and every listed file is present."""
    members = tar.getmembers()
    if not members:
        from debiaslab.core.io import DataError

        raise DataError(f"{archive}: empty archive, not a bundle (make one with `snakemake results/bundle.tar.gz`)")
    names = [m.name for m in members]
    for m in members:
        if not m.isfile() or not m.name.startswith("results/") or ".." in Path(m.name).parts:
            raise _refusal(archive, repr(m.name), "bundles hold regular files under results/ only")
        if names.count(m.name) > 1:
            raise _refusal(archive, m.name, "present twice in the archive")
    manifests = [name for name in names if MANIFEST_NAME.match(name)]
    if len(manifests) != 1:
        what = "missing" if not manifests else f"{len(manifests)} of them"
        raise _refusal(archive, "results/<name>/bundle/manifest.json", f"{what}: the archive is not a debiaslab bundle")
    where = paths(manifests[0].removesuffix("/bundle/manifest.json"))
    manifest_name, config_name, scores_dir = where["manifest"], where["config"], where["scores"]
    try:
        manifest = json.loads(tar.extractfile(manifest_name).read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _refusal(archive, manifest_name, f"not readable JSON ({e})") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("files"), dict)
    ):
        raise _refusal(
            archive,
            manifest_name,
            f"not a {FORMAT} manifest (format {manifest.get('format') if isinstance(manifest, dict) else None!r}); "
            "make the bundle again with this version (`snakemake results/bundle.tar.gz`)",
        )
    listed = manifest["files"]
    for m in members:
        if m.name == manifest_name:
            continue
        if m.name.startswith(where["derived"]):
            raise _refusal(
                archive, m.name, "a table or figure; those are always rebuilt from the scores, never unpacked"
            )
        if not (m.name == config_name or m.name.startswith(scores_dir)):
            raise _refusal(
                archive, m.name, f"not a score-store file (a bundle carries {scores_dir} and {where['folder']}/ only)"
            )
        if m.name not in listed:
            raise _refusal(archive, m.name, "not listed in the bundle's manifest")
        digest = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
        if digest != listed[m.name]:
            raise _refusal(
                archive, m.name, "sha256 differs from the manifest's (the file was changed after the bundle was made)"
            )
    absent = sorted(set(listed) - set(names))
    if absent:
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise _refusal(archive, absent[0], f"listed in the manifest but missing from the archive{more}")
    return members, where


def unpack_bundle(archive: str | Path, dest: str | Path = ".") -> list[str]:
    """Check a bundle against its manifest, then extract it into the clone at `dest`.

    Any mismatch, unlisted file, table or figure refuses the whole bundle before a file is written.
    Unpacked files get the current time, so that tables left in the clone from before are older
    than their scores and are rebuilt. `dest/results/<name>/bundle/unpacked.json` records the archive.
    """
    import os
    import zlib

    from debiaslab.core.io import DataError, write_json

    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DataError(f"{archive}: no such bundle file")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members, where = _checked_members(archive, tar)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataError(f"{archive}: not a readable .tar.gz bundle ({type(e).__name__}: {e})") from None
    for m in members:
        os.utime(dest / m.name)
    write_json(
        dest / where["origin"],
        {"archive": str(archive.resolve()), "sha256": sha256_file(archive), "files": len(members)},
    )
    return [m.name for m in members]


def unpacked_bundle(root: str | Path = ".") -> dict[str, Any] | None:
    """The bundle unpacked into the clone at `root` ({manifest, archive, config, root}), or None; a clone
    holds at most one (a DataError names them otherwise)."""
    root = Path(root)
    found = sorted(p.relative_to(root).as_posix() for p in root.glob("results/*/bundle/manifest.json"))
    if not found:
        return None
    if len(found) > 1:
        from debiaslab.core.io import DataError

        raise DataError(f"this clone holds {len(found)} unpacked bundles ({', '.join(found)}); keep one")
    where = paths(found[0].removesuffix("/bundle/manifest.json"))
    origin = root / where["origin"]
    archive = json.loads(origin.read_text(encoding="utf-8"))["archive"] if origin.is_file() else where["manifest"]
    manifest = json.loads((root / where["manifest"]).read_text(encoding="utf-8"))
    return {"manifest": manifest, "archive": archive, "config": where["config"], "root": where["folder"]}


def rebuild_problems(paths, bundle: dict[str, Any], root: str | Path = ".") -> list[str]:
    """Why the score files `paths` cannot be rebuilt from in this clone: each must be a file the bundle
    lists, present and with the manifest's sha256."""
    listed = bundle["manifest"].get("files", {})
    where = f"the bundle {bundle['archive']}"
    problems = []
    for path in dict.fromkeys(map(str, paths)):
        file = Path(root) / path
        if path not in listed:
            problems.append(
                f"{path}: not in {where} (its manifest does not list it); a rebuild only aggregates, "
                "so ask for a bundle of the complete run"
            )
        elif not file.is_file():
            problems.append(
                f"{path}: missing; it should have come from {where}: unpack it again (`debiaslab unbundle <archive>`)"
            )
        elif sha256_file(file) != listed[path]:
            problems.append(
                f"{path}: changed since it was unpacked from {where} (sha256 differs from the "
                "manifest's): unpack it again"
            )
    return problems
