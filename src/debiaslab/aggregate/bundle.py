"""Pack the score store with its provenance into one archive a reviewer can rebuild tables from.

The archive holds `results/scores/**/scores.parquet` (and, with `records=True`, the
per-response records) at their workflow paths, plus `results/bundle/manifest.json`
(package versions, git commit, the sha256 of every file) and `results/bundle/config.yaml`
(the config the run used, defaults filled). Unpacked into a fresh clone, the score
files are present and newer than nothing Snakemake can see, so
`snakemake results/tables/<name>.csv` runs only the table job.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

PACKAGES = ("debiaslab", "torch", "transformers", "peft", "trl", "datasets", "accelerate", "pandas", "pyarrow",
            "snakemake", "scipy", "scikit-learn", "numpy")


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
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True,
                           text=True, timeout=10).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def make_bundle(score_paths, config: dict, out: str | Path, records: bool = False) -> dict:
    """Write the archive; returns a summary (files, bytes)."""
    import yaml

    from debiaslab.io import DataError, atomic_path

    files = []
    for path in map(Path, score_paths):
        if not path.is_file():
            raise DataError(f"{path}: score file not found")
        files.append(path)
        sibling = path.with_name("records.parquet")
        if records and sibling.is_file():
            files.append(sibling)
    files = sorted(set(files))
    manifest = {
        "format": "debiaslab-bundle/1",
        "git_commit": git_commit(),
        "versions": versions(),
        "files": {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
        "rebuild": "snakemake --cores 1 results/tables/<experiment>.csv  (add --configfile results/bundle/config.yaml "
                   "when the run used a config other than config/config.yaml)",
    }
    newest = max((p.stat().st_mtime for p in files), default=0)
    with atomic_path(out) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for path in files:
                tar.add(str(path), arcname=str(path))
            _add_bytes(tar, "results/bundle/manifest.json",
                       (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), newest)
            _add_bytes(tar, "results/bundle/config.yaml",
                       yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode(), newest)
    return {"files": len(files), "bytes": Path(out).stat().st_size}


def unpack_bundle(archive: str | Path, dest: str | Path = ".") -> list[str]:
    """Extract a bundle (only regular files under results/), keeping file times."""
    from debiaslab.io import DataError

    names = []
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for m in members:
            if not m.isfile() or not m.name.startswith("results/") or ".." in Path(m.name).parts:
                raise DataError(f"{archive}: refusing member {m.name!r} (bundles hold regular files under results/)")
        tar.extractall(dest, members=members, filter="data")
        names = [m.name for m in members]
    return names
