"""A LoRA policy's samples and what policy-gradient training needs from them.

Two backends with one interface: `rollout(prompts, temperature)` samples a microbatch
(no gradient, adapter on) and measures the token-wise KL to the base model (the same
network with the adapter disabled) over the generated positions; `logprob_chunks(rollout)`
yields the log-probability of each sample under the current policy, with gradient, in
chunks whose sum is the sequence log-probability (so a caller may backpropagate chunk by
chunk without holding every forward pass in memory).

- causal LM: log p = sum over generated tokens (up to and including the first EOS) of
  log p(x_t | x_<t); KL at each of those positions.
- masked diffusion (docs/experiments/reward_guided.md#deviation-diffusion-log-prob): the source applied an
  autoregressive shift to a bidirectional model. Here log p = sum over the unmasking steps of the sampled trajectory of
  log p(chosen token | the state at that step), for the tokens unmasked at that step; the KL
  of a position is taken at the step that unmasked it (the distribution its token was drawn from).

Log-probabilities and KLs use the model's own distribution (temperature 1), as the paper's
log p = sum ln p^lora(x_t): the exact score function only of a sampler drawing from that distribution
(T = 1; for masked diffusion also `random` remasking, as `low_confidence` picks its unmasking order by
the draws' probabilities). At other T > 0 it is the paper's surrogate; at T = 0 sampling is argmax and
REINFORCE's loss a deterministic-policy update (methods.reinforce, `estimator`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

KL_DIRECTIONS = ("policy_base", "base_policy")


def token_kl(policy_logits, base_logits, direction: str = "policy_base"):
    """Full-vocabulary KL per position: KL(policy‖base) (the paper's) or KL(base‖policy) (the source code's)."""
    import torch

    if direction not in KL_DIRECTIONS:
        raise ValueError(f"kl_direction must be one of {KL_DIRECTIONS}, got {direction!r}")
    lp = torch.log_softmax(policy_logits.float(), dim=-1)
    lb = torch.log_softmax(base_logits.float(), dim=-1)
    if direction == "base_policy":
        lp, lb = lb, lp
    return (lp.exp() * (lp - lb)).sum(-1)


def counted_tokens(completion: list[int], eos_ids) -> list[int]:
    """Generated tokens up to and including the first EOS (what follows it is padding)."""
    for j, token in enumerate(completion):
        if token in eos_ids:
            return list(completion[: j + 1])
    return list(completion)


@dataclass(frozen=True)
class PolicySampling:
    """How a policy samples (the experiment's `generation` block; the temperature comes from the grid).

    max_new_tokens: causal LMs. gen_length, steps, block_length, cfg_scale, remasking, mask_token_id:
    masked-diffusion models (generation.diffusion). chat: the question as a chat user turn (with
    `system_prompt`), else the raw prompt continued. batch_size: evaluation sampling batch.
    """

    max_new_tokens: int = 128
    gen_length: int = 128
    steps: int = 128
    block_length: int = 32
    cfg_scale: float = 0.0
    remasking: str = "low_confidence"
    mask_token_id: int | None = None
    chat: bool = False
    system_prompt: str | None = None
    batch_size: int = 64

    def diffusion(self, temperature: float = 0.0):
        from debiaslab.generation.diffusion import DiffusionSettings

        return DiffusionSettings(
            gen_length=self.gen_length,
            steps=self.steps,
            block_length=self.block_length,
            temperature=temperature,
            cfg_scale=self.cfg_scale,
            remasking=self.remasking,
            mask_token_id=self.mask_token_id,
        )


def model_inputs(tokenizer, rows, sampling: PolicySampling) -> list[str]:
    """The text each MCQ row gives the model: its raw prompt (ending in the answer's first words), or in chat
    mode the question alone as the user turn of the chat template."""
    from debiaslab.generation.responses import PromptFormat, format_prompts

    if sampling.chat:
        fmt = PromptFormat(chat=True, system_prompt=sampling.system_prompt)
        return format_prompts(tokenizer, list(rows["question"]), fmt)
    return list(rows["prompt"])


def make_policy(model, tokenizer, spec, sampling: PolicySampling, kl_direction: str = "policy_base"):
    """The backend for a model: masked diffusion where its config entry says `diffusion: true`."""
    if spec.diffusion:
        return DiffusionPolicy(model, tokenizer, sampling.diffusion(), kl_direction)
    return CausalPolicy(model, tokenizer, sampling.max_new_tokens, kl_direction)


@dataclass
class Rollout:
    """Samples of some of a microbatch's prompts (`order`: their positions in it)."""

    order: list[int]
    texts: list[str]
    kl: Any  # (b,) mean token KL over the generated positions
    n_generated: Any  # (b,) number of generated positions counted
    tensors: dict = field(default_factory=dict)


def _disabled(model):
    """The base model: the same network with its LoRA adapter switched off."""
    return model.disable_adapter()


class CausalPolicy:
    """Autoregressive sampling with HF `generate` (left padding, pure sampling at temperature T; T=0 greedy)."""

    def __init__(self, model, tokenizer, max_new_tokens: int, kl_direction: str = "policy_base"):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens = max_new_tokens
        self.kl_direction = kl_direction
        from debiaslab.generation.autoregressive import stop_token_ids

        self.eos_ids = sorted(set(stop_token_ids(model) or [tokenizer.eos_token_id]))

    def _device(self):
        return next(self.model.parameters()).device

    def encode(self, prompts: list[str]) -> list[list[int]]:
        return self.tokenizer(prompts, add_special_tokens=False)["input_ids"]

    def batch(self, prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> dict:
        """Prompt (left-padded) + completion (right-padded) tensors and the mask of counted generated positions.

        The completion block is as wide as the longest raw completion (at least 1), whatever `counted` cuts.
        """
        import torch

        from debiaslab.core.batching import pad_batch

        pad = self.tokenizer.pad_token_id
        prompt, prompt_mask = pad_batch(prompt_ids, pad, side="left")
        completion, completion_mask = pad_batch(
            [self.counted(c) for c in completion_ids], pad, side="right", min_width=max(1, *map(len, completion_ids))
        )
        gen_mask = torch.cat([torch.zeros_like(prompt_mask, dtype=torch.bool), completion_mask.bool()], 1)
        device = self._device()
        return {
            "input_ids": torch.cat([prompt, completion], 1).to(device),
            "attention_mask": torch.cat([prompt_mask, completion_mask], 1).to(device),
            "gen_mask": gen_mask.to(device),
        }

    def counted(self, completion: list[int]) -> list[int]:
        return counted_tokens(completion, self.eos_ids)

    def _forward(self, t: dict):
        positions = (t["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        logits = self.model(input_ids=t["input_ids"], attention_mask=t["attention_mask"], position_ids=positions).logits
        # logits at position j predict token j+1: align them with the tokens they predict
        return logits[:, :-1], t["input_ids"][:, 1:], t["gen_mask"][:, 1:]

    def kl(self, t: dict):
        import torch

        with torch.no_grad():
            policy, _, mask = self._forward(t)
            with _disabled(self.model):
                base, _, _ = self._forward(t)
            per_token = token_kl(policy, base, self.kl_direction) * mask
        n = mask.sum(-1)
        return per_token.sum(-1) / n.clamp(min=1), n

    def rollout(
        self, prompts: list[str], temperature: float, seed: int | None = None, with_kl: bool = True
    ) -> list[Rollout]:
        """One rollout of the whole microbatch (left padding is safe for a causal model given position ids).

        with_kl=False: a model without an adapter is its own base; its KL is 0 exactly.
        """
        import torch

        from debiaslab.core.batching import pad_batch

        prompt_ids = self.encode(prompts)
        pad = self.tokenizer.pad_token_id
        ids, attention = (t.to(self._device()) for t in pad_batch(prompt_ids, pad, side="left"))
        width = ids.shape[1]
        kwargs: dict[str, Any] = dict(max_new_tokens=self.max_new_tokens, pad_token_id=pad, eos_token_id=self.eos_ids)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        if seed is not None:
            torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=attention, **kwargs)
        completions = [self.counted(row.tolist()) for row in out[:, width:]]
        t = self.batch(prompt_ids, completions)
        if with_kl:
            kl, n = self.kl(t)
        else:
            n = t["gen_mask"].sum(-1)
            kl = torch.zeros(len(prompts), device=n.device)
        texts = self.tokenizer.batch_decode([c for c in completions], skip_special_tokens=True)
        return [Rollout(order=list(range(len(prompts))), texts=texts, kl=kl, n_generated=n, tensors=t)]

    def logprob_chunks(self, rollout: Rollout) -> Iterator:
        import torch

        logits, targets, mask = self._forward(rollout.tensors)
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        yield (logp * mask).sum(-1)


class DiffusionPolicy:
    """LLaDA-style masked-diffusion sampling (generation.diffusion) with trajectory log-probabilities."""

    def __init__(self, model, tokenizer, settings, kl_direction: str = "policy_base", step_chunk: int = 8):
        from debiaslab.generation.diffusion import resolve_mask_id

        self.model, self.tokenizer, self.settings = model, tokenizer, settings
        self.mask_id = resolve_mask_id(tokenizer, settings)
        self.kl_direction = kl_direction
        self.step_chunk = step_chunk

    def _device(self):
        return next(self.model.parameters()).device

    def rollout(
        self, prompts: list[str], temperature: float, seed: int | None = None, with_kl: bool = True
    ) -> list[Rollout]:
        """One rollout per group of equal-length prompts (a bidirectional model gets no padding)."""
        import dataclasses

        import torch

        from debiaslab.generation.diffusion import encode_prompts, length_buckets, model_logits, sample

        settings = dataclasses.replace(self.settings, temperature=temperature)
        encoded = encode_prompts(self.tokenizer, prompts)
        device = self._device()
        generator = torch.Generator(device=device)
        generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**31 - 1, ()).item()))
        if seed is not None:  # as the causal policy: dropout after a seeded rollout (REINFORCE's training pass)
            torch.manual_seed(seed)  # draws from a state the seed fixes, so a resumed run repeats the uninterrupted one
        rollouts = []
        for idx in length_buckets(encoded, len(prompts)):
            body = torch.tensor([encoded[i][0] for i in idx], device=device)
            suffix = torch.tensor(encoded[idx[0]][1], dtype=torch.long, device=device)
            kl_sum = torch.zeros(len(idx), device=device)
            prompt_mask = None

            def on_step(state, logits, transfer):
                nonlocal prompt_mask
                if prompt_mask is None:
                    prompt_mask = torch.zeros_like(state, dtype=torch.bool)
                    prompt_mask[:, : body.shape[1]] = True  # noqa: B023 - on_step runs within this iteration's sample()
                with _disabled(self.model):
                    base = model_logits(self.model, state, prompt_mask, self.mask_id, settings.cfg_scale)
                kl_sum.add_((token_kl(logits, base, self.kl_direction) * transfer).sum(-1))  # noqa: B023 - as above

            traj = sample(
                self.model,
                body,
                settings,
                self.mask_id,
                suffix_ids=suffix,
                generator=generator,
                record=True,
                on_step=on_step if with_kl else None,
            )
            texts = self.tokenizer.batch_decode(traj.generated, skip_special_tokens=True)
            n = torch.full((len(idx),), float(settings.gen_length), device=device)
            rollouts.append(Rollout(order=idx, texts=texts, kl=kl_sum / n, n_generated=n, tensors={"trajectory": traj}))
        return rollouts

    def logprob_chunks(self, rollout: Rollout) -> Iterator:
        """Sum over unmasking steps of log p(token chosen at that step | state before it), `step_chunk` steps
        at a time."""
        import torch

        from debiaslab.generation.diffusion import model_logits

        traj = rollout.tensors["trajectory"]
        steps, batch, length = traj.states.shape
        prompt_mask = torch.zeros((batch, length), dtype=torch.bool, device=traj.states.device)
        prompt_mask[:, : traj.prompt_length] = True
        targets = traj.sequences
        for start in range(0, steps, self.step_chunk):
            total = torch.zeros(batch, device=traj.states.device)
            for s in range(start, min(steps, start + self.step_chunk)):
                logits = model_logits(self.model, traj.states[s], prompt_mask, self.mask_id, self.settings.cfg_scale)
                logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                total = total + (logp * traj.transfers[s]).sum(-1)
            yield total
