"""The testbed's tiny reward model with a planted preference for markdown-heavy answers.

A Qwen3ForSequenceClassification (the tiny LM's architecture, a one-logit score head)
trained from scratch on the testbed's GSM8K-format train split: each question's six
styled answers (data/answer_styles.py) get the planted reward

    u(style, correct) = correct_bonus · [correct] + style_bonus[style]

and the model regresses on u (MSE, targets centred). With the defaults (correct 1.0;
concise 0, detailed plain 0.3, detailed markdown 1.5) it prefers correct answers within
a style, but a wrong markdown answer over a right plain one: RM-Bench normal and easy
accuracy are high and hard accuracy is low — the bias a style forget-LoRA should remove.
Regression rather than Bradley–Terry on pairs keeps the planted margins finite and
known; BT on consistently ordered pairs would drive them without bound, and the
forget-LoRA's BT gradients on this model would vanish. Saved in Hub format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class StyleRMSettings:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 192
    max_length: int = 160
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    correct_bonus: float = 1.0
    style_bonus: dict = field(default_factory=lambda: {"concise": 0.0, "detailed_plain": 0.3, "detailed_markdown": 1.5})
    seed: int = 0


def planted_reward(style: str, correct: bool, s: StyleRMSettings) -> float:
    return s.correct_bonus * float(correct) + float(s.style_bonus[style])


def _rows(dataset_dir, split: str, seed: int) -> list[dict]:
    from debiaslab.data.gsm8k import build_rows, load_problems

    return build_rows(load_problems(str(dataset_dir), "main", split, None, seed), split, seed)


def train_style_rm(dataset_dir, tokenizer_dir, out_dir, s: StyleRMSettings) -> dict:
    import torch
    from transformers import AutoTokenizer, Qwen3ForSequenceClassification

    from debiaslab.core.batching import pad_batch
    from debiaslab.core.io import atomic_path, write_json
    from debiaslab.data.answer_styles import STYLES
    from debiaslab.data.reward_inputs import encode, score
    from debiaslab.testbed.pretrain import causal_config
    from debiaslab.testbed.scorers import tail_mean, train_loop

    missing = set(STYLES) - set(s.style_bonus)
    if missing:
        raise ValueError(f"testbed.style_rm.style_bonus: missing style(s) {sorted(missing)}")
    torch.manual_seed(s.seed)
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = causal_config(tok, s)
    config.num_labels = 1
    model = Qwen3ForSequenceClassification(config)

    train = _rows(dataset_dir, "train", s.seed)
    encoded = encode(tok, [r["prompt"] for r in train], [r["response"] for r in train], s.max_length)
    targets = torch.tensor([planted_reward(r["style"], r["correct"], s) for r in train])
    centre = float(targets.mean())
    targets = targets - centre

    def loss_fn(idx):
        ids, mask = pad_batch([encoded[i] for i in idx], tok.pad_token_id)
        return torch.nn.functional.mse_loss(model(input_ids=ids, attention_mask=mask).logits[:, 0], targets[idx])

    losses = train_loop(model, s, len(encoded), loss_fn, "train style reward model", schedule="cosine")

    # What the model learned, per variant, on held-out questions (a record, not a gate).
    test = _rows(dataset_dir, "test", s.seed)
    scores = score(model, tok, encode(tok, [r["prompt"] for r in test], [r["response"] for r in test], s.max_length))
    learned = {}
    for style in STYLES:
        for correct in (True, False):
            vals = [v for r, v in zip(test, scores) if r["style"] == style and r["correct"] == correct]
            learned[f"{style}/{'correct' if correct else 'incorrect'}"] = sum(vals) / len(vals)
    summary = {
        "steps": s.steps,
        "train_responses": len(train),
        "final_loss": tail_mean(losses),
        "target_centre": centre,
        "heldout_mean_score": learned,
        "planted": {
            st: {"correct": planted_reward(st, True, s) - centre, "incorrect": planted_reward(st, False, s) - centre}
            for st in STYLES
        },
    }
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        write_json(Path(tmp) / "planted_preference.json", summary)
    return summary


def write_style_rm(dataset_dir, tokenizers_dir, settings: dict, out_dir) -> dict:
    """Stage entry: train the tiny style-biased reward model on the testbed's arithmetic problems."""
    from debiaslab.core.config import build

    s = build(StyleRMSettings, settings, "testbed.style_rm")
    return train_style_rm(dataset_dir, Path(tokenizers_dir) / "causal", out_dir, s)
