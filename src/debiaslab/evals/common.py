"""Load the model an evaluation scores: a base model, plus a method's adapter or INLP projection.

Adapters load robustly: where an adapter saved embedding rows (`modules_to_save` of the embedding
or LM head, or a LoRA on the embedding) for a vocabulary size other than the base checkpoint's,
the base's token embeddings are resized to the adapter's size first. lm-evaluation-harness resizes
to `len(tokenizer)` instead whenever the two differ (Qwen3: 151,936 rows, 151,669 tokens); that
also rewrites the untouched rows of an adapter trained without resizing, so debiaslab resizes only
when the adapter's own weights say so. (For scoring answer letters the two agree: every candidate
is scored against the same softmax normaliser.)
"""

from __future__ import annotations

from pathlib import Path

EMBEDDING_KEYS = ("embed_tokens.weight", "word_embeddings.weight", "lm_head.weight", "wte.weight")


def adapter_vocab_size(adapter: str | Path) -> int | None:
    """Vocabulary rows of embedding weights saved in an adapter, or None when it saves none."""
    from safetensors import safe_open

    path = Path(adapter) / "adapter_model.safetensors"
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            shape = f.get_slice(key).get_shape()
            if key.endswith(EMBEDDING_KEYS):
                return int(shape[0])
            if "lora_embedding_A" in key:  # LoRA on an embedding: A is (r, vocab)
                return int(shape[1])
    return None


def attach_adapter(model, adapter: str | Path):
    """PEFT adapter on `model`, resizing the base's embeddings first where the adapter's size differs."""
    from debiaslab import models

    rows = adapter_vocab_size(adapter)
    if rows is not None and rows != model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(rows)
    return models.attach_adapter(model, adapter)


def load_evaluated(spec, *, kind: str, adapter=None, projection=None, padding_side: str = "left", **kwargs):
    """(model, tokenizer) in eval mode: the base, its adapter (if any) and its INLP projection hook (if any)."""
    from debiaslab import models

    spec = models.ModelSpec.parse(spec)
    tokenizer = models.load_tokenizer(spec, padding_side=padding_side)
    model = models.load_model(spec, kind=kind, **kwargs)
    if adapter is not None:
        model = attach_adapter(model, adapter)
        model.eval()
    if projection is not None:
        from debiaslab.methods.inlp import add_projection_hook, load_projection

        add_projection_hook(model, load_projection(projection))
    return model, tokenizer
