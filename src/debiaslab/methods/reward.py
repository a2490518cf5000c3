"""The `reward_guided` reward: R = −(|GenBit avg_bias_ratio| + λ_KL · KL)   (docs/experiments/reward_guided.md#reward).

bias: GenBit of each sample's decoded response on its own. GenBit is a corpus statistic, but
a batch-level score would give every sample the same reward (no learning signal), and the
source scored each generated sequence separately too. On one text GenBit is not degenerate:
its add-one smoothing gives every word a co-occurrence count ≥ 3 > 2, so the frequency cutoff
is the 80th percentile of that text's own counts and the words nearest a gendered word are
scored: " she stayed late to finish." → |log(1/(1+0.95+…))| > 0, " they stayed late …" → 0.
Where it is degenerate, the reward says so rather than guessing: a text with no gendered word,
or with no non-stopword left to score ("he."), has bias 0 (GenBit's own output). The
MCQ activities (data.mcq) always keep a non-stopword beside the pronoun, and the
gendered-pronoun rate is reported beside the reward so that such a loophole would show.

KL: the token-wise full-vocabulary KL averaged over generated positions (methods.policy),
direction a setting (default KL(policy‖base), the paper's; the source code computed KL(base‖policy)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from debiaslab.metrics.genbit import GenBitSettings


@dataclass(frozen=True)
class RewardSettings:
    kl_coef: float = 0.1
    kl_direction: str = "policy_base"  # KL(policy‖base), the paper's; base_policy = the source code's
    genbit: GenBitSettings = field(default_factory=GenBitSettings)


class Reward:
    """Per-sample bias, KL and reward for a batch of decoded responses."""

    def __init__(self, settings: RewardSettings):
        from debiaslab.metrics.genbit import GenBit

        self.settings = settings
        self.genbit = GenBit(settings.genbit)
        self.lemmatizer = self.genbit.lemmatizer

    def __call__(self, texts: list[str], kl: list[float]) -> dict[str, list[float]]:
        bias = self.genbit.bias(texts)
        reward = [-(b + self.settings.kl_coef * k) for b, k in zip(bias, kl)]
        return {"bias": bias, "kl": list(kl), "reward": reward}
