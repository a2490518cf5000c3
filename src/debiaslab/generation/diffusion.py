"""Masked-diffusion sampling for mask-predictor models, as LLaDA's `generate`
(docs/experiments/reward_guided.md#generation).

The prompt is followed by `gen_length` mask tokens, cut into blocks of `block_length`
filled left to right; the `steps` are split evenly over the blocks. At each step the model
predicts every position; a token is drawn per masked position by Gumbel-max at
`temperature` (0: argmax); its confidence is the softmax probability of the drawn token
(`low_confidence`) or uniform noise (`random`); of the *masked positions of the current
block*, the k most confident are unmasked, k following LLaDA's schedule (the block's masks
spread evenly over its steps, the remainder going to the first steps). `cfg_scale` > 0 mixes
in the prediction with the prompt masked (classifier-free guidance), as LLaDA does.

Any model whose forward maps token ids to per-position logits over a bidirectional context
works: LLaDA (remote code), and the testbed's BERT MLM. Prompts are batched by exact token
length, so no padding enters a bidirectional model (LLaDA's forward has no position ids to
correct for left padding). Trailing special tokens the tokenizer appends (BERT's [SEP]) stay
after the generated block, where the model saw them in pretraining.

`sample(..., record=True)` keeps the trajectory (the state before every step and which
positions it unmasked), from which methods.policy computes the log-probability of the
sampled trajectory for REINFORCE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

REMASKING = ("low_confidence", "random")


@dataclass(frozen=True)
class DiffusionSettings:
    """LLaDA `generate` arguments; defaults are LLaDA's (docs/experiments/reward_guided.md#generation)."""

    gen_length: int = 128
    steps: int = 128
    block_length: int = 32
    temperature: float = 0.0
    cfg_scale: float = 0.0
    remasking: str = "low_confidence"
    mask_token_id: int | None = None  # None: the tokenizer's mask token

    def check(self) -> None:
        if self.remasking not in REMASKING:
            raise ValueError(f"remasking must be one of {REMASKING}, got {self.remasking!r}")
        if self.gen_length % self.block_length:
            raise ValueError(f"gen_length ({self.gen_length}) must be a multiple of block_length ({self.block_length})")
        blocks = self.gen_length // self.block_length
        if self.steps % blocks:
            raise ValueError(f"steps ({self.steps}) must be a multiple of the number of blocks ({blocks})")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


@dataclass
class Trajectory:
    """A sampled batch: final sequences plus, when recorded, every intermediate state."""

    sequences: torch.Tensor  # (B, L) final token ids  # noqa: F821
    prompt_length: int  # generated block = [prompt_length, prompt_length + gen_length)
    gen_length: int
    states: torch.Tensor | None = None  # (S, B, L) the sequence before each step  # noqa: F821
    transfers: torch.Tensor | None = None  # (S, B, L) bool: positions unmasked at each step  # noqa: F821

    @property
    def generated(self):
        return self.sequences[:, self.prompt_length : self.prompt_length + self.gen_length]


def num_transfer_tokens(mask_index, steps: int):
    """Tokens to unmask at each of `steps` steps, per row (LLaDA's `get_num_transfer_tokens`)."""
    import torch

    mask_num = mask_index.sum(dim=1, keepdim=True)
    base = mask_num // steps
    remainder = mask_num % steps
    counts = torch.zeros(mask_num.size(0), steps, device=mask_index.device, dtype=torch.int64) + base
    for i in range(mask_num.size(0)):
        counts[i, : int(remainder[i])] += 1
    return counts


def add_gumbel_noise(logits, temperature: float, generator=None):
    """exp(logits) / (-log U)^T, U ~ Uniform(0, 1): its argmax samples softmax(logits / T) (LLaDA, in float64)."""
    import torch

    if temperature == 0:
        return logits
    logits = logits.to(torch.float64)
    noise = torch.rand(logits.shape, dtype=torch.float64, device=logits.device, generator=generator)
    return logits.exp() / (-torch.log(noise)) ** temperature


def model_logits(model, x, prompt_mask, mask_id: int, cfg_scale: float):
    """Per-position logits of the current state; with cfg_scale > 0, LLaDA's classifier-free guidance."""
    import torch

    if cfg_scale > 0:
        unconditional = x.clone()
        unconditional[prompt_mask] = mask_id
        logits = model(input_ids=torch.cat([x, unconditional], dim=0)).logits
        conditional, uncond = torch.chunk(logits, 2, dim=0)
        return uncond + (cfg_scale + 1) * (conditional - uncond)
    return model(input_ids=x).logits


def sample(
    model,
    prompt_ids,
    settings: DiffusionSettings,
    mask_id: int,
    *,
    suffix_ids=None,
    generator=None,
    record: bool = False,
    on_step: Callable | None = None,
) -> Trajectory:
    """Sample a batch of equal-length prompts (B, L_p); returns the final sequences (and trajectory).

    on_step(state, logits, transfer_index) is called after each step's choice (methods.policy uses it
    to compare the policy's distribution with the base model's at the positions just unmasked).
    """
    import torch

    settings.check()
    batch, prompt_length = prompt_ids.shape
    device = prompt_ids.device
    parts = [prompt_ids, torch.full((batch, settings.gen_length), mask_id, dtype=torch.long, device=device)]
    if suffix_ids is not None and suffix_ids.numel():
        parts.append(suffix_ids.to(device).expand(batch, -1))
    x = torch.cat(parts, dim=1)
    prompt_mask = torch.zeros_like(x, dtype=torch.bool)
    prompt_mask[:, :prompt_length] = True
    blocks = settings.gen_length // settings.block_length
    steps_per_block = settings.steps // blocks
    states, transfers = [], []
    with torch.no_grad():
        for block in range(blocks):
            start = prompt_length + block * settings.block_length
            end = start + settings.block_length
            counts = num_transfer_tokens(x[:, start:end] == mask_id, steps_per_block)
            for step in range(steps_per_block):
                mask_index = x == mask_id
                logits = model_logits(model, x, prompt_mask, mask_id, settings.cfg_scale)
                x0 = torch.argmax(add_gumbel_noise(logits, settings.temperature, generator), dim=-1)
                if settings.remasking == "low_confidence":
                    p = torch.softmax(logits.float(), dim=-1)
                    confidence = torch.gather(p, -1, x0.unsqueeze(-1)).squeeze(-1)
                else:
                    confidence = torch.rand(x0.shape, device=device, generator=generator)
                confidence[:, end:] = -float("inf")  # later blocks wait; earlier ones hold no masks
                x0 = torch.where(mask_index, x0, x)
                confidence = torch.where(mask_index, confidence, torch.full_like(confidence, -float("inf")))
                # each row unmasks its counts[row, step] most confident positions: one top-k for the batch (the
                # largest count), each row keeping its own first k (LLaDA loops over rows with top-k of each k)
                transfer = torch.zeros_like(x, dtype=torch.bool)
                k = counts[:, step]
                widest = int(k.max())
                if widest:
                    top = torch.topk(confidence, k=widest, dim=-1).indices
                    transfer.scatter_(1, top, torch.arange(widest, device=k.device) < k[:, None])
                if record:
                    states.append(x.clone())
                    transfers.append(transfer)
                if on_step is not None:
                    on_step(x, logits, transfer)
                x = torch.where(transfer, x0, x)
    traj = Trajectory(sequences=x, prompt_length=prompt_length, gen_length=settings.gen_length)
    if record:
        traj.states = torch.stack(states)
        traj.transfers = torch.stack(transfers)
    return traj


def split_special_suffix(tokenizer, ids: list[int]) -> tuple[list[int], list[int]]:
    """Split trailing special tokens (BERT's [SEP]) off an encoded prompt."""
    special = set(tokenizer.all_special_ids)
    cut = len(ids)
    while cut > 0 and ids[cut - 1] in special:
        cut -= 1
    return ids[:cut], ids[cut:]


def resolve_mask_id(tokenizer, settings: DiffusionSettings) -> int:
    mask_id = settings.mask_token_id if settings.mask_token_id is not None else tokenizer.mask_token_id
    if mask_id is None:
        raise ValueError("the tokenizer has no mask token; set generation.mask_token_id (LLaDA: 126336)")
    return int(mask_id)


def length_buckets(encoded: list[list[int]], batch_size: int) -> list[list[int]]:
    """Indices grouped by exact token length, in batches of at most `batch_size`."""
    by_length: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for i, (body, suffix) in enumerate(encoded):
        by_length.setdefault((len(body), tuple(suffix)), []).append(i)
    batches = []
    for key in sorted(by_length):
        idx = by_length[key]
        batches += [idx[s : s + batch_size] for s in range(0, len(idx), batch_size)]
    return batches


def encode_prompts(tokenizer, prompts: list[str]) -> list[tuple[list[int], list[int]]]:
    return [split_special_suffix(tokenizer, ids) for ids in tokenizer(prompts)["input_ids"]]


def generate(
    model, tokenizer, prompts: list[str], settings: DiffusionSettings, seed: int, batch_size: int = 8
) -> list[str]:
    """Sample a response per prompt; returns the decoded generated blocks, in input order."""
    import torch

    from debiaslab.core.progress import Progress

    mask_id = resolve_mask_id(tokenizer, settings)
    encoded = encode_prompts(tokenizer, prompts)
    progress = Progress("generate (diffusion)", len(prompts), "prompts")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    out: list[str | None] = [None] * len(prompts)
    for idx in length_buckets(encoded, batch_size):
        body = torch.tensor([encoded[i][0] for i in idx], device=device)
        suffix = torch.tensor(encoded[idx[0]][1], dtype=torch.long, device=device)
        traj = sample(model, body, settings, mask_id, suffix_ids=suffix, generator=generator)
        for i, text in zip(idx, tokenizer.batch_decode(traj.generated, skip_special_tokens=True)):
            out[i] = text
        progress.update(len(idx))
    progress.close()
    return out  # type: ignore[return-value]
