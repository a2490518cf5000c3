"""Constrained decoding that guarantees one term from each of several word classes.

The `occupations` source compared against Ctrl-G (Zhou et al. 2024), which compiles
constraints into an HMM-guided decoder. Ctrl-G is not packaged for offline use and
transformers 5 moved its own constrained beam search to a Hub repository
(`transformers-community/constrained-beam-search`), so debiaslab ships this stand-in,
documented as such: a logits processor that

- forbids ending the sentence (EOS, or a token containing an end marker such as the
  closing quote) while a class is still missing;
- when the model *wants* to end (end-token probability ≥ `end_threshold`), or when
  only enough tokens remain to spell the missing terms, forces `<joiner> <term>` for
  a missing class, choosing the class's term whose first token the model currently
  rates highest (a disjunctive constraint: any term of the class satisfies it);
- otherwise leaves sampling untouched.

Every output therefore contains at least one term of each class (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

from debiaslab.data.occupations import find_terms


@dataclass(frozen=True)
class ConstraintSettings:
    end_markers: tuple[str, ...] = ('"', "\n")
    joiner: str = " and"
    end_threshold: float = 0.5


class ClassConstraint:
    """A `transformers` LogitsProcessor enforcing one term of each class per sequence."""

    def __init__(self, tokenizer, prompt_width: int, max_new_tokens: int, classes: list[tuple[str, ...]],
                 settings: ConstraintSettings, eos_ids: list[int]):
        import re

        import torch

        self.tok = tokenizer
        self.prompt_width = prompt_width
        self.max_new_tokens = max_new_tokens
        self.classes = [tuple(c) for c in classes]
        self.settings = settings
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        texts = [tokenizer.convert_tokens_to_string([t]) if t is not None else "" for t in vocab]
        end = [i for i, t in enumerate(texts) if any(m in t for m in settings.end_markers)]
        self.end_ids = torch.tensor(sorted(set(end) | set(eos_ids)), dtype=torch.long)
        # right after a forced term, a token gluing onto it ("bold" + "ly") would undo the constraint
        glue = [i for i, t in enumerate(texts) if re.match(r"[\w-]", t)]
        self.glue_ids = torch.tensor(glue, dtype=torch.long)
        self.after_force: set[int] = set()
        # " and <term>" token sequences per class; and the first token of " <term>" for choosing
        self.phrases = [[tokenizer(f"{settings.joiner} {w}", add_special_tokens=False)["input_ids"] for w in cls]
                        for cls in self.classes]
        self.first_ids = [[tokenizer(f" {w}", add_special_tokens=False)["input_ids"][0] for w in cls]
                          for cls in self.classes]
        self.budget = [max(len(p) for p in phrases) for phrases in self.phrases]
        self.queues: dict[int, list[int]] = {}

    def _missing(self, generated: list[int]) -> list[int]:
        text = self.tok.decode(generated, skip_special_tokens=True)
        return [i for i, cls in enumerate(self.classes) if not find_terms(text, cls)]

    def __call__(self, input_ids, scores):
        import torch

        generated = input_ids.shape[1] - self.prompt_width
        steps_left = self.max_new_tokens - generated
        rows = input_ids[:, self.prompt_width:].tolist()  # one copy off the device per step, not one per row
        end_mass = None
        for b in range(input_ids.shape[0]):
            queue = self.queues.get(b)
            if queue:
                forced = queue.pop(0)
                scores[b, :] = float("-inf")
                scores[b, forced] = 0.0
                if not queue:
                    self.after_force.add(b)
                continue
            if b in self.after_force:
                self.after_force.discard(b)
                scores[b, self.glue_ids] = float("-inf")
            missing = self._missing(rows[b])
            if not missing:
                continue
            if end_mass is None:  # every row's probability of ending now, as the scores stand at the first need
                end_mass = torch.softmax(scores.float(), dim=-1)[:, self.end_ids.to(scores.device)].sum(-1).tolist()
            wants_end = end_mass[b] >= self.settings.end_threshold
            needed = sum(self.budget[i] for i in missing)
            scores[b, self.end_ids] = float("-inf")
            if wants_end or steps_left <= needed:
                cls = missing[0]
                first = scores[b, self.first_ids[cls]].tolist()
                best = max(range(len(first)), key=first.__getitem__)  # the first of equal scores, as before
                phrase = list(self.phrases[cls][best])
                scores[b, :] = float("-inf")
                scores[b, phrase[0]] = 0.0
                self.queues[b] = phrase[1:]
                if len(phrase) == 1:
                    self.after_force.add(b)
        return scores


def constraint_classes(experiment: str) -> list[tuple[str, ...]]:
    if experiment == "occupations":
        from debiaslab.data.occupations import AGENTIC, COMMUNAL

        return [AGENTIC, COMMUNAL]
    raise KeyError(f"constrained: no term classes are defined for experiment {experiment!r}")


def eos_ids(model, tokenizer) -> list[int]:
    """Every end token a constrained response may close with: generate()'s stop ids and the tokenizer's eos."""
    from debiaslab.generation.autoregressive import stop_token_ids

    return sorted(set(stop_token_ids(model)) | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()))


def decode(lm, tokenizer, inputs: list[str], rows: list[dict], sampling, seed: int, settings: dict, experiment: str):
    """Generation entry (generation/responses.py): sampling under `ClassConstraint`.
    Returns the texts, the columns added to the responses table (none), the job summary's entries (none)."""
    from debiaslab.config import build
    from debiaslab.generation.autoregressive import generate

    cons = build(ConstraintSettings, settings, "constrained")
    classes, stop = constraint_classes(experiment), eos_ids(lm, tokenizer)
    texts = generate(lm, tokenizer, inputs, sampling, seed, desc="generate constrained",
                     processor_factory=lambda width: [ClassConstraint(tokenizer, width, sampling.max_new_tokens,
                                                                      classes, cons, stop)])
    return texts, {}, {}
