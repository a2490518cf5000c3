"""Load models and tokenizers by Hub name or local path; LoRA configs; adapters.

One code path for tiny and real models: the testbed writes Hub-format folders, and
`load_model("results/testbed/lm")` goes through the same `from_pretrained` call as
`load_model("Qwen/Qwen3-0.6B")`. Weights load from safetensors only (no pickle), and
`trust_remote_code` is on only where a model's config entry opts in.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("auto", "causal", "mlm", "seq-cls")


@dataclass(frozen=True)
class ModelSpec:
    """A model as config names it: where it lives and how to load it."""

    path: str
    kind: str = "auto"  # auto: read from the checkpoint's config.json `architectures`
    trust_remote_code: bool = False
    dtype: str = "auto"  # auto: bfloat16 on a GPU that supports it, float32 on CPU
    load_in_4bit: bool = False
    revision: str | None = None
    diffusion: bool = False  # a mask predictor sampled LLaDA-style (see generation.diffusion)
    size_b: float = 0.0  # billions of parameters, for SLURM resource scaling only
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str | dict | ModelSpec) -> ModelSpec:
        """Accept a name/path, a dict, or a JSON object string (what rules pass)."""
        if isinstance(value, ModelSpec):
            return value
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("{") else {"path": value}
        unknown = set(value) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"model spec: unknown key(s) {sorted(unknown)}; allowed {sorted(cls.__dataclass_fields__)}"
            )
        spec = cls(**value)
        if spec.kind not in KINDS:
            raise ValueError(f"model spec {spec.path}: kind must be one of {KINDS}, got {spec.kind!r}")
        return spec

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def device() -> str:
    """cuda (under a multi-GPU `accelerate launch`: this process's own GPU, LOCAL_RANK), else cpu."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{os.environ['LOCAL_RANK']}" if "LOCAL_RANK" in os.environ else "cuda"


def _fsdp_launch() -> bool:
    """Under an FSDP launch the trainer shards the model itself: loading it whole onto one GPU first
    would need that GPU to hold it all."""
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


def torch_dtype(spec: ModelSpec):
    import torch

    if spec.dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, spec.dtype)


def unavailable(spec: ModelSpec, error: Exception):
    """The error for a model that is neither a local folder nor downloadable now (e.g. offline)."""
    from debiaslab.core.io import DataError

    local = Path(spec.path).exists()
    where = (
        f"local folder {spec.path!r} is not a loadable model"
        if local
        else f"{spec.path!r} is not a local folder and could not be fetched from the Hub"
        + (
            " (HF_HUB_OFFLINE=1: run `snakemake hub_download` on a machine with network first)"
            if os.environ.get("HF_HUB_OFFLINE") == "1"
            else ""
        )
    )
    return DataError(f"model {where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")


def load_tokenizer(spec: ModelSpec | str, *, padding_side: str | None = None):
    from transformers import AutoTokenizer

    spec = ModelSpec.parse(spec)
    try:
        tok = AutoTokenizer.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code, revision=spec.revision)
    except (OSError, ValueError) as e:
        raise unavailable(spec, e) from e
    if tok.pad_token is None:
        # Llama-style tokenizers ship without a pad token; reuse EOS (masked out by attention).
        tok.pad_token = tok.eos_token
    if padding_side:
        tok.padding_side = padding_side
    return tok


def _auto_class(kind: str):
    import transformers

    return {
        "causal": transformers.AutoModelForCausalLM,
        "mlm": transformers.AutoModelForMaskedLM,
        "seq-cls": transformers.AutoModelForSequenceClassification,
    }[kind]


def infer_kind(spec: ModelSpec) -> str:
    """The head a checkpoint was saved with, from `architectures` in its config.json."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code, revision=spec.revision)
    except (OSError, ValueError) as e:
        raise unavailable(spec, e) from e
    for arch in config.architectures or []:
        if arch.endswith("ForMaskedLM"):
            return "mlm"
        if arch.endswith("ForSequenceClassification"):
            return "seq-cls"
        if arch.endswith("ForCausalLM") or arch.endswith("LMHeadModel"):
            return "causal"
    raise ValueError(
        f"model {spec.path}: cannot tell its kind from architectures={config.architectures}; "
        f"set `kind` ({', '.join(KINDS[1:])}) in its config entry"
    )


def load_model(
    spec: ModelSpec | str,
    *,
    kind: str | None = None,
    adapter: str | Path | None = None,
    trainable: bool = False,
    **kwargs,
):
    """Load a model by name or path (optionally with a PEFT adapter) on the best device."""
    spec = ModelSpec.parse(spec)
    kind = kind or spec.kind
    if kind == "auto":
        kind = infer_kind(spec)
    options: dict[str, Any] = dict(
        trust_remote_code=spec.trust_remote_code,
        revision=spec.revision,
        dtype=torch_dtype(spec),
        use_safetensors=True,
    )
    if spec.load_in_4bit:
        if not device().startswith("cuda"):
            raise ValueError(f"model {spec.path}: load_in_4bit needs a CUDA GPU; set it false on CPU")
        import torch
        from transformers import BitsAndBytesConfig

        options["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
        # a quantized model cannot be moved after loading: place it on this process's GPU (under a multi-GPU
        # launch, LOCAL_RANK's; without a device_map bitsandbytes would use the current device, cuda:0)
        options["device_map"] = {"": device()}
    options.update(kwargs)
    try:
        model = _auto_class(kind).from_pretrained(spec.path, **options)
    except OSError as e:
        raise unavailable(spec, e) from e
    if not spec.load_in_4bit and not _fsdp_launch():
        model.to(device())
    if adapter is not None:
        model = attach_adapter(model, adapter, trainable=trainable)
    if not trainable:
        model.eval()
    return model


def safe_adapter(adapter: str | Path) -> str:
    """The adapter directory, refused unless its weights are safetensors (PEFT would unpickle a .bin)."""
    from debiaslab.core.io import DataError

    path = Path(adapter)
    if not (path / "adapter_model.safetensors").is_file():
        found = sorted(p.name for p in path.iterdir()) if path.is_dir() else "no such directory"
        raise DataError(
            f"adapter {path}: no adapter_model.safetensors (pickled .bin weights are refused); found {found}"
        )
    return str(path)


def attach_adapter(model, adapter: str | Path, *, trainable: bool = False, name: str = "default"):
    from peft import PeftModel

    return PeftModel.from_pretrained(model, safe_adapter(adapter), adapter_name=name, is_trainable=trainable)


def lora_config(settings: dict, task_type: str | None = "CAUSAL_LM", *, model=None):
    """A PEFT LoraConfig from a config slice {r, alpha, dropout, target_modules, modules_to_save}, its
    target modules checked against `model` where given (check_target_modules)."""
    from peft import LoraConfig

    if model is not None:
        check_target_modules(model, settings["target_modules"])

    return LoraConfig(
        r=settings["r"],
        lora_alpha=settings["alpha"],
        lora_dropout=settings["dropout"],
        target_modules=list(settings["target_modules"]),
        modules_to_save=list(settings.get("modules_to_save") or []) or None,
        bias="none",
        task_type=task_type,
    )


def check_target_modules(model, targets) -> None:
    """LoRA target modules must name modules the model has: PEFT fails deep inside a trainer when none
    matches, and adapts fewer modules without a word when some do not. None matching: one line listing the
    model's own (linear, embedding, convolution) module names; some not matching: a warning."""
    import logging

    import torch
    from transformers.pytorch_utils import Conv1D

    from debiaslab.core.config import ConfigError

    if isinstance(targets, str):  # "all-linear" and regular expressions: PEFT resolves them
        return
    names = [name for name, _ in model.named_modules()]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if not missing:
        return
    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, Conv1D)
    has = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, kinds)})
    model_name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
    if len(missing) == len(targets):
        raise ConfigError(
            f"lora.target_modules: {list(targets)} match no module of model {model_name}; it has: {', '.join(has)}"
        )
    logging.getLogger(__name__).warning(
        "lora.target_modules: %s not in model %s (adapting the others); it has: %s", missing, model_name, ", ".join(has)
    )


def set_threads(threads: int | None) -> None:
    """Use exactly the cores Snakemake gave this job (oversubscription slows 2-core runs), and never
    more than the CPUs this process may run on (a cluster job's CPU binding can allow fewer)."""
    if threads:
        import torch

        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else threads
        torch.set_num_threads(max(1, min(threads, available)))


def apply_trained(model_spec, trained=None, adapter=None):
    """(model spec, adapter) for a run whose method saved a `trained` folder (desired_distribution):
    a PEFT adapter folder is the run's adapter; any other folder is a complete fine-tuned model that
    replaces the base checkpoint (same kind, dtype and loading options; its own tokenizer)."""
    from dataclasses import replace

    if trained is None:
        return model_spec, adapter
    if adapter is not None:
        from debiaslab.core.config import ConfigError

        raise ConfigError("give a run's adapter or its trained folder, not both")
    if (Path(trained) / "adapter_config.json").is_file():
        return model_spec, str(trained)
    return replace(ModelSpec.parse(model_spec), path=str(trained), revision=None).to_json(), None


def model_device(model):
    """The device of the model's (first) parameters: where its inputs go."""
    return next(model.parameters()).device


# --- the prediction head: where a (masked) LM maps hidden states to vocabulary logits ---


def prediction_head(model):
    """The module that maps final hidden states to vocabulary logits: BERT's `cls` (transform +
    decoder), RoBERTa's `lm_head`, else the output embedding (the decoder alone)."""
    import torch

    for name in ("cls", "lm_head"):
        head = getattr(model, name, None)
        if isinstance(head, torch.nn.Module) and not isinstance(head, torch.nn.Linear):
            return head
    return model.get_output_embeddings()


@contextlib.contextmanager
def _head_input(model, select):
    """Within the block, the prediction head's input hidden states [B, L, H] are replaced by select(them)."""
    handle = prediction_head(model).register_forward_pre_hook(lambda module, args: (select(args[0]),) + tuple(args[1:]))
    try:
        yield
    finally:
        handle.remove()


def head_at(model, positions):
    """Within the block, the prediction head sees only the hidden state at positions[b] of row b
    (a masked LM's head then runs at the masked position only): logits [B, 1, V]."""
    import torch

    rows = torch.arange(len(positions), device=positions.device)
    return _head_input(model, lambda hidden: hidden[rows, positions].unsqueeze(1))


def head_on(model, selected):
    """Within the block, the prediction head runs only where the [B, L] mask `selected` is True:
    logits [1, N, V], the selected positions in row-major order (several per row, with gradient)."""
    return _head_input(model, lambda hidden: hidden[selected].unsqueeze(0))


def mask_choice(candidates: Sequence[int], probability: float, generator=None) -> list[int]:
    """Exactly max(1, ⌊p·n⌋) of the n candidate positions, drawn without replacement (none of none)."""
    import torch

    if not candidates:
        return []
    k = max(1, math.floor(len(candidates) * probability))
    return sorted(candidates[i] for i in torch.randperm(len(candidates), generator=generator)[:k].tolist())
