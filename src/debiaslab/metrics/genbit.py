"""GenBit (Sengupta et al. 2021, Microsoft's `genbit` package), made to run offline.

The scores are the `genbit` package's own computations (`GenBitMetrics`): co-occurrence
of every non-stopword with gendered words inside `context_window` tokens, weighted by
`distance_weight ** distance`, add-one smoothed; per word bias_ratio = log(c(w,male)/c(w,female))
and bias_conditional = log(P(w|male)/P(w|female)), averaged over the words whose co-occurrence
count reaches the `percentile_cutoff` percentile. Two things stop the package from running
offline, and this wrapper handles both:

- it imports `pkg_resources` (through `stopwordsiso`), which new setuptools no longer ships:
  a two-function stand-in is registered when the real one is missing;
- it lemmatizes with stanza, whose model downloads at first use. Here a stanza model is used
  only if it is already on disk (never downloaded); otherwise an *identity* lemmatizer (each
  token is its own lemma). Every score records which lemmatizer produced it (`lemmatizer`),
  since the two can give different numbers on inflected text ("nurses" vs "nurse").
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LEMMATIZERS = ("auto", "identity", "stanza")


@dataclass(frozen=True)
class GenBitSettings:
    """GenBitMetrics arguments (the source's, docs/experiments/reward_guided.md#metrics: context_window 5,
    distance_weight 0.95, percentile_cutoff 80)."""

    language: str = "en"
    context_window: int = 5
    distance_weight: float = 0.95
    percentile_cutoff: float = 80
    lemmatizer: str = "auto"  # auto: stanza if its model is on disk, else identity; never downloads
    stanza_dir: str | None = None  # default: the genbit package's own `stanza_lemmatizers` folder


def ensure_pkg_resources() -> None:
    """Register a minimal `pkg_resources` (resource_filename only, what stopwordsiso uses) if missing."""
    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return
    from importlib import resources

    module = types.ModuleType("pkg_resources")
    module.__doc__ = "debiaslab stand-in: setuptools>=81 no longer ships pkg_resources"
    module.resource_filename = lambda package, resource: str(resources.files(package) / resource)
    module.resource_string = lambda package, resource: (resources.files(package) / resource).read_bytes()
    sys.modules["pkg_resources"] = module


class IdentityLemmatizer:
    """Every token is its own lemma (the offline fallback)."""

    name = "identity"

    def __init__(self, language_code: str):
        self._language_code = language_code

    def lemmatize_token(self, token: str) -> str:
        return token


class StanzaLemmatizer:
    """genbit's own stanza pipeline, loaded from a local model folder only (never downloads)."""

    def __init__(self, language_code: str, model_dir: Path):
        import stanza

        self._pipeline = stanza.Pipeline(
            lang=language_code, processors="tokenize,lemma", dir=str(model_dir), verbose=False
        )
        self.name = f"stanza-{stanza.__version__}:{language_code}"

    def lemmatize_token(self, token: str) -> str:
        # as genbit.lemmatizer.Lemmatizer.lemmatize_token
        words = self._pipeline(token).sentences[0].words
        return words[0].lemma if words else ""


def _genbit_dir() -> Path:
    spec = importlib.util.find_spec("genbit")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the `genbit` package is not installed (pip install genbit)")
    return Path(list(spec.submodule_search_locations)[0])


def stanza_model_dir(settings: GenBitSettings) -> Path:
    return Path(settings.stanza_dir) if settings.stanza_dir else _genbit_dir() / "stanza_lemmatizers"


def _metrics_calculation_module():
    """genbit.metrics_calculation, imported without genbit.lemmatizer's eager `import stanza` (1 s, and unused
    when the identity lemmatizer is chosen): lemmatizers are constructed here instead."""
    ensure_pkg_resources()
    if "genbit.lemmatizer" not in sys.modules:
        stub = types.ModuleType("genbit.lemmatizer")
        stub.Lemmatizer = IdentityLemmatizer
        sys.modules["genbit.lemmatizer"] = stub
    import genbit.metrics_calculation as metrics_calculation

    return metrics_calculation


def make_lemmatizer(settings: GenBitSettings):
    if settings.lemmatizer not in LEMMATIZERS:
        raise ValueError(f"genbit lemmatizer must be one of {LEMMATIZERS}, got {settings.lemmatizer!r}")
    model_dir = stanza_model_dir(settings)
    on_disk = (model_dir / settings.language).is_dir()
    if settings.lemmatizer == "stanza" and not on_disk:
        raise FileNotFoundError(
            f"no stanza {settings.language!r} lemmatizer in {model_dir}; download it with "
            f"stanza.download('{settings.language}', processors='tokenize,lemma', model_dir=...) "
            "or set genbit.lemmatizer: identity"
        )
    if settings.lemmatizer == "identity" or not on_disk:
        return IdentityLemmatizer(settings.language)
    return StanzaLemmatizer(settings.language, model_dir)


def flatten(result: dict) -> dict:
    """GenBitMetrics.get_metrics output as one flat dict of numbers."""
    flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
    flat.update(result.get("additional_metrics", {}))
    flat.update(result.get("statistics", {}))
    return {k: float(v) for k, v in flat.items()}


class GenBit:
    """GenBitMetrics with an offline lemmatizer: corpus-level scores and per-text scores."""

    def __init__(self, settings: GenBitSettings | None = None):
        settings = settings or GenBitSettings()
        self.settings = settings
        mc = _metrics_calculation_module()
        from genbit.genbit_metrics import GenBitMetrics

        self._lemmatizer = make_lemmatizer(settings)
        self.lemmatizer = self._lemmatizer.name
        original = mc.Lemmatizer
        mc.Lemmatizer = lambda language_code: self._lemmatizer  # MetricsCalculation builds its lemmatizer here
        try:
            self._metrics = GenBitMetrics(
                settings.language,
                context_window=settings.context_window,
                distance_weight=settings.distance_weight,
                percentile_cutoff=settings.percentile_cutoff,
            )
        finally:
            mc.Lemmatizer = original

    def _fresh(self):
        # The co-occurrence matrices are the only state get_metrics reads; clearing them gives the result a new
        # GenBitMetrics would (tested), without reloading the word lists for every text.
        calc = self._metrics._metrics_calculation
        calc._unlemmatized_cooccurrence_matrix = {}
        calc._cooccurrence_matrix = {}
        return self._metrics

    def score(self, texts: str | Iterable[str]) -> dict:
        """Corpus-level GenBit over `texts` (each text a separate document, as GenBitMetrics.add_data)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        metrics = self._fresh()
        metrics.add_data(texts, tokenized=False)
        with _quiet_numpy():
            out = flatten(metrics.get_metrics(output_statistics=True, output_word_list=False))
        return out | {"lemmatizer": self.lemmatizer}

    def score_each(self, texts: Iterable[str]) -> list[dict]:
        """GenBit of every text on its own (the per-sample bias of the REINFORCE reward)."""
        return [self.score([t]) for t in texts]

    def bias(self, texts: Iterable[str]) -> list[float]:
        """|avg_bias_ratio| of each text: the reward's bias term (docs/experiments/reward_guided.md#reward)."""
        return [abs(s["avg_bias_ratio"]) for s in self.score_each(texts)]


class _quiet_numpy:
    """GenBit's JSD divides by zero on a text with no gendered word; the JSD is then nan, the rest is exact."""

    def __enter__(self):
        import numpy as np

        self._state = np.seterr(divide="ignore", invalid="ignore")

    def __exit__(self, *exc):
        import numpy as np

        np.seterr(**self._state)
