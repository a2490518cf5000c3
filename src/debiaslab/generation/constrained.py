"""Constrained decoding: Dynamic Beam Allocation over disjunctive word-class constraints, sampled.

The `occupations` source compared against Ctrl-G (Zhou et al. 2024), which compiles constraints
into an HMM that guides the LM. Ctrl-G is not packaged for offline use and transformers 5 moved its
own constrained beam search to a Hub repository, so debiaslab decodes with a published lexically
constrained beam search instead: **Dynamic Beam Allocation** (DBA; Post & Vilar, NAACL 2018: the
grid beam search of Hokamp & Liu 2017 at a constant beam width), with **disjunctive** constraints as
in NeuroLogic decoding (Lu et al., NAACL 2021): the clause "a term of the class" is met by any of
its terms. The constraint is the metric's: a term of every class (agentic AND communal), whole
word, case-insensitive, in a sentence (prompt prefix + response up to its closing quote) of
`min_words`–`max_words` whitespace-separated words.

Per sample, a beam of `beam_size` hypotheses. Every step, every hypothesis proposes the model's own
next tokens, its likeliest end token, and the first token of every term (DBA's constraint
candidates); a hypothesis in the middle of a multi-token term proposes only that term's next token.
Candidates are grouped into banks by the number of classes they meet and the beam is shared out
evenly over the banks (the remainder to the fullest; a short bank's slots go to the others, fullest
first), so hypotheses that have placed one, both or no terms survive side by side and each term goes
where the model rates it best. An end candidate that meets every class and the word window joins the
sample's pool of finished sentences (it takes no beam slot); one that does not is never taken, and a
hypothesis that can no longer fit a word per missing class into `max_words` is dropped. The response
is the pooled sentence the model rates highest: the sum of its tokens' log-probabilities
(temperature 1, whole vocabulary) / tokens ** `length_penalty` (1: mean token log-probability,
i.e. the sentence of lowest perplexity under the model); it is checked once more with the metric's
own test.

Diversity across the samples of one prompt, deterministic given the seed: the beam is ranked by
**Stochastic Beam Search** scores (SBS; Kool, van Hoof & Welling, ICML 2019), Gumbel-perturbed
sequence log-probabilities under the sampling distribution (`temperature`, the generation's top-p)
conditioned on their parent's, so a beam is a sample without replacement and two samples of a
prompt explore different sentences. The noise comes from a generator seeded with `seed`;
`do_sample: false` gives plain (deterministic) DBA.

Deviations, each deliberate:
- SBS at temperature 0.8, not the generation's 1.0 (`temperature`; null: the generation's). On
  SmolLM2-135M-Instruct, beam 8, the sentences' fluency perplexity was 53 at 1.0, 37 at 0.8, 30 at
  0.6 (prompt-only sampling: 40); every sentence stayed distinct at each.
- A sentence closes only with a close marker right after its text (the quotation the prompt opened
  closed; ' "' opens one) or with EOS, and, with `terminal`, right after a full stop: a hypothesis
  cut mid-clause by a line break or a quote is not a whole sentence. The metric's other cut points
  (`end_markers`, e.g. a line break) are never written inside a sentence.
- An end candidate must lie in the top-p nucleus (the model would close the sentence there itself);
  DBA's term candidates need not, and are scored with their tempered log-probability over the whole
  vocabulary (SBS's Gumbel maximum is taken over the nucleus and them).
- The model's own candidates per hypothesis are its top `beam_size` by perturbed score (SBS's
  expansion), less the first tokens of terms and end tokens (they have their own candidates).
- A multi-token term, once begun, is always completed (DBA lets a hypothesis abandon it); banks count
  classes met, a term begun counting as met; a token gluing onto a term ("bold" + "ly") unmeets it.
- A sample's search stops when its pool holds `beam_size` sentences, when its best pooled score is at
  least every live hypothesis's current normalised score (transformers' beam-search heuristic), when
  no hypothesis is left, or after `max_new_tokens`. A sample whose pool stays empty returns its best
  unfinished hypothesis, and the job summary counts it (`constrained_unfinished`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from debiaslab.metrics.balance import find_terms, word_count


@dataclass(frozen=True)
class ConstraintSettings:
    beam_size: int = 8  # hypotheses per sample, shared out over the 1 + len(classes) banks
    temperature: float | None = 0.8  # of the sampling distribution SBS perturbs (None: the generation's)
    length_penalty: float = 1.0  # finished score = log p / tokens ** length_penalty
    min_words: int = 8  # the sentence (prompt prefix + response up to its end marker): words ...
    max_words: int = 15  # ... counted as the occupations metric counts them
    end_markers: tuple[str, ...] = ('"', "\n")  # where the metric cuts the sentence: never written inside it
    close_markers: tuple[str, ...] = ('"',)  # end tokens a sentence may close with (besides EOS)
    terminal: str = ".!?"  # ... right after one of these characters ("": after anything)

    def __post_init__(self):
        from debiaslab.core.config import ConfigError

        if self.beam_size < 1 or not 1 <= self.min_words <= self.max_words:
            raise ConfigError(
                f"constrained: need beam_size >= 1 and 1 <= min_words <= max_words, got beam_size "
                f"{self.beam_size}, min_words {self.min_words}, max_words {self.max_words}"
            )


def eos_ids(model, tokenizer) -> list[int]:
    """Every end token a constrained response may close with: generate()'s stop ids and the tokenizer's eos."""
    from debiaslab.generation.autoregressive import stop_token_ids

    return sorted(
        set(stop_token_ids(model)) | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())
    )


def bank_quotas(beam_size: int, banks: int) -> list[int]:
    """DBA's even share of the beam per bank (bank i = i classes met); the remainder to the fullest banks."""
    share, rest = divmod(beam_size, banks)
    return [share + (1 if i >= banks - rest else 0) for i in range(banks)]


def allocate(score, bank, quotas: list[int]):
    """DBA's selection: per row of `score` (samples × candidates; -inf: not allowed), the indices of
    sum(quotas) candidates — first each bank's best `quotas[bank]` (bank = classes met), then the
    best of the rest, fullest bank first (a bank short of candidates gives its slots to the others)."""
    import torch

    banks_n = len(quotas)
    bank = torch.where(score > float("-inf"), bank, -1)
    order = score.argsort(dim=-1, descending=True, stable=True)
    banks = bank.gather(1, order)
    onehot = torch.nn.functional.one_hot(banks + 1, banks_n + 1)[..., 1:]  # bank -1 (not allowed) counts nowhere
    rank = (onehot.cumsum(1) * onehot).sum(-1) - 1  # within its bank, best first
    share = (banks >= 0) & (rank < torch.tensor(quotas)[banks.clamp(min=0)])
    key = share.long() * (banks_n + 1) + banks + 1  # the shares first, then fullest bank first; stable: by score
    return order.gather(1, key.argsort(dim=-1, descending=True, stable=True)[:, : sum(quotas)])


def shift_gumbel(g_phi, parent, top):
    """Kool et al. (2019) eq. (11), numerically stable: child perturbed scores `g_phi` conditioned on
    their maximum `top` equalling the parent's perturbed score `parent` (both broadcast over the last dim)."""
    import torch

    u = parent - g_phi + torch.log1p(-torch.exp(g_phi - top))
    return parent - torch.relu(u) - torch.log1p(torch.exp(-u.abs()))


class TokenTable:
    """What the search needs to know of each vocabulary entry, computed once per tokenizer."""

    def __init__(self, tokenizer, classes: list[tuple[str, ...]], settings: ConstraintSettings, stop_ids: list[int]):
        import torch

        size = len(tokenizer)
        pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
        special = set(tokenizer.all_special_ids)
        self.texts = [
            "" if p is None or i in special else tokenizer.convert_tokens_to_string([p]) for i, p in enumerate(pieces)
        ]
        markers = re.compile("|".join(re.escape(m) for m in settings.end_markers))
        ends = {i for i, t in enumerate(self.texts) if markers.search(t)} | set(stop_ids)
        self.is_end = torch.zeros(size, dtype=torch.bool)
        self.is_end[sorted(ends)] = True
        # a sentence closes with a close marker right after its text (the prompt's quotation closed; ' "' opens
        # one), or with EOS; and, with `terminal`, only after a full stop (in the token or the text before it)
        cut = [markers.split(t, maxsplit=1)[0] for t in self.texts]
        closing = {
            i
            for i in ends - set(stop_ids)
            if markers.search(self.texts[i]).group(0) in settings.close_markers and not cut[i][-1:].isspace()
        }
        self.end_ids = torch.tensor(sorted(closing | set(stop_ids)), dtype=torch.long)
        self.end_terminal = torch.tensor(
            [not settings.terminal or c[-1:] in settings.terminal and c != "" for c in cut]
        )
        self.end_bare = torch.tensor([c == "" for c in cut])
        # the term phrases (" term" as the model would write it mid-sentence), one candidate each
        self.term_class, self.phrases = [], []
        for c, cls in enumerate(classes):
            for term in cls:
                if not term or any(ch.isspace() for ch in term):
                    raise ValueError(f"constrained: a term must be one word (the search tracks words), got {term!r}")
                self.term_class.append(c)
                self.phrases.append(tokenizer(f" {term}", add_special_tokens=False)["input_ids"])
        self.term_first = torch.tensor([p[0] for p in self.phrases], dtype=torch.long)
        self.is_term_first = torch.zeros(size, dtype=torch.bool)
        self.is_term_first[self.term_first] = True
        n_classes = len(classes)
        self.term_class_onehot = torch.nn.functional.one_hot(torch.tensor(self.term_class), n_classes).bool()
        # a token that is a whole term of class c on its own (the model may write one unprompted)
        self.single = torch.zeros(size, n_classes, dtype=torch.bool)
        for p, c in zip(self.phrases, self.term_class):
            if len(p) == 1:
                self.single[p[0], c] = True
        # word bookkeeping: words a token starts inside itself, and whether it starts with a non-space
        # (a new word only if the text before it ends with a space); its first character glues onto a
        # word before it ("bold" + "ly" is no longer "bold")
        for name, texts in (("", self.texts), ("end_", cut)):
            setattr(self, name + "inner_starts", torch.tensor([len(re.findall(r"(?<=\s)\S", t)) for t in texts]))
            setattr(self, name + "leading", torch.tensor([bool(t) and not t[0].isspace() for t in texts]))
            setattr(self, name + "glue", torch.tensor([bool(re.match(r"[\w-]", t)) for t in texts]))
        self.classes = classes
        self.known: dict[str, int] = {}

    def met(self, text: str) -> int:
        """Bit c set: `text` holds a term of class c, whole word, case-insensitive (the metric's test)."""
        if text not in self.known:
            self.known[text] = sum(1 << c for c, cls in enumerate(self.classes) if find_terms(text, cls))
        return self.known[text]


@dataclass
class Beam:
    """The hypotheses of a batch, `beam_size` rows per sample still searching (score -inf: an empty row).

    A term never spans whitespace, so the classes a row meets are those of its closed words (`closed`,
    a bit mask) and those of its last, still open word (`word`): one cached regex test per new word.
    """

    sample: object  # (rows,) the batch sample each row belongs to
    score: object  # SBS: perturbed sequence log-probability under the sampling distribution
    phi: object  # that (unperturbed) log-probability
    logp: object  # model log-probability at temperature 1: what finished sentences are ranked by
    met: object  # (rows, classes) bool: met, or a term of it begun
    fragile: object  # classes the row loses if a token glues onto its last word
    words: object  # words of prefix + text, as the metric counts them
    ends_space: object
    ends_stop: object  # the last non-space character is a `terminal` one
    forced: object  # next token of a term begun, or -1
    ids: list
    closed: list  # bit mask of the classes met by closed words
    word: list  # the last word (after the last whitespace), "" after a space
    last: list  # the last non-space character
    queue: list  # (term tokens still to write, its class)

    TENSORS = ("sample", "score", "phi", "logp", "met", "fragile", "words", "ends_space", "ends_stop", "forced")
    LISTS = ("ids", "closed", "word", "last", "queue")

    def take(self, rows) -> Beam:
        picked = rows.tolist()
        return Beam(
            *(getattr(self, name)[rows] for name in self.TENSORS),
            *([getattr(self, name)[r] for r in picked] for name in self.LISTS),
        )


@dataclass
class Candidates:
    """Every row's candidate next tokens, (rows, columns): the model's own, one per term, its end, its forced token."""

    ids: object
    score: object  # -inf: not allowed (or not a candidate)
    phi: object
    logp: object
    met: object  # classes met after the token (a count)
    words: object
    kind: object  # (columns,): OWN, TERM, END, FORCED
    first_term: int  # column of the first term candidate


OWN, TERM, END, FORCED = 0, 1, 2, 3


def split_word(text: str) -> tuple[str, str]:
    """(text up to its last whitespace, the last word after it)."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isspace():
            return text[: i + 1], text[i + 1 :]
    return "", text


class Search:
    """DBA + SBS over batches of prompts; see the module docstring."""

    def __init__(self, model, table: TokenTable, settings: ConstraintSettings, sampling, seed: int):
        import torch

        from debiaslab.generation.autoregressive import NucleusSampler

        self.model, self.table, self.s = model, table, settings
        self.sample = sampling.do_sample
        temperature = sampling.temperature if settings.temperature is None else settings.temperature
        self.temperature = temperature if sampling.do_sample else 1.0
        self.nucleus = NucleusSampler(self.temperature, sampling.top_p if sampling.do_sample else 1.0).nucleus
        self.gen = torch.Generator().manual_seed(seed)
        self.n_classes = len(table.classes)
        self.all_met = (1 << self.n_classes) - 1
        self.quotas = bank_quotas(settings.beam_size, self.n_classes + 1)

    def gumbel(self, shape):
        import torch

        if not self.sample:
            return torch.zeros(shape)  # plain DBA beam search
        return -torch.log(-torch.log(torch.rand(shape, generator=self.gen).clamp_(1e-20, 1 - 1e-7)))

    def roots(self, n: int, prefixes: list[str]) -> Beam:
        """One root hypothesis per sample (the prefix the response continues); its siblings start empty."""
        import torch

        size = self.s.beam_size
        rows = n * size
        score = torch.full((rows,), float("-inf"))
        score[::size] = 0.0
        heads = [split_word(prefixes[i // size]) for i in range(rows)]
        closed = [self.table.met(head) for head, _ in heads]
        word = [w for _, w in heads]
        met = [[bool((c | self.table.met(w)) >> k & 1) for k in range(self.n_classes)] for c, w in zip(closed, word)]
        last = [(prefixes[i // size].rstrip() or " ")[-1] for i in range(rows)]
        return Beam(
            torch.arange(n).repeat_interleave(size),
            score,
            torch.zeros(rows),
            torch.zeros(rows),
            torch.tensor(met, dtype=torch.bool).reshape(rows, self.n_classes),
            torch.zeros(rows, dtype=torch.long),
            torch.tensor([word_count(prefixes[i // size]) for i in range(rows)]),
            torch.tensor([not w for w in word]),
            torch.tensor([c in self.s.terminal for c in last]),
            torch.full((rows,), -1, dtype=torch.long),
            [[] for _ in range(rows)],
            closed,
            word,
            last,
            [((), -1)] * rows,
        )

    def candidates(self, beam: Beam, logits, last_step: bool) -> Candidates:
        import torch

        t, size = self.table, self.s.beam_size
        rows = logits.shape[0]
        logits = logits.float()
        tempered = torch.log_softmax(logits / self.temperature, dim=-1)
        free = (beam.forced < 0) & (beam.score > float("-inf"))
        weights, nucleus = self.nucleus(tempered.exp())  # the model's own: its nucleus less term starts and ends
        own = (weights > 0) & ~t.is_term_first[nucleus] & ~t.is_end[nucleus] & free[:, None]
        end = t.end_ids[tempered[:, t.end_ids].argmax(-1)]  # its likeliest end, if in the nucleus: it closes
        ends = free & ((nucleus == end[:, None]) & (weights > 0)).any(-1)  # the sentence where it would itself
        n_terms = len(t.phrases)
        ids = torch.cat([nucleus, t.term_first.expand(rows, -1), end[:, None], beam.forced.clamp(min=0)[:, None]], 1)
        ok = torch.cat([own, free[:, None].expand(-1, n_terms), ends[:, None], (beam.forced >= 0)[:, None]], 1)
        phi = beam.phi[:, None] + tempered.gather(1, ids)
        g_phi = torch.where(ok, phi + self.gumbel(phi.shape), float("-inf"))
        top = g_phi.max(-1, keepdim=True).values
        score = torch.where(ok, shift_gumbel(g_phi, beam.score[:, None], top), float("-inf"))
        # the model's own: each row's top beam_size by perturbed score, as SBS expands
        width = nucleus.shape[1]
        best = score[:, :width].topk(min(size, width), dim=-1).indices
        cols = torch.cat([best, torch.arange(width, ids.shape[1]).expand(rows, -1)], 1)
        ids, score, phi = ids.gather(1, cols), score.gather(1, cols), phi.gather(1, cols)
        logp = beam.logp[:, None] + logits.gather(1, ids) - logits.logsumexp(-1, keepdim=True)
        n_own = best.shape[1]
        kind = torch.tensor([OWN] * n_own + [TERM] * n_terms + [END, FORCED])
        # classes met after the token: a whole term written or a term begun meets its class; a token
        # that glues onto a term just written unmeets it. Words as the metric counts them.
        unmet = ~beam.met
        gain = (t.single[ids] & unmet[:, None, :]).any(-1)
        gain[:, n_own : n_own + n_terms] = (t.term_class_onehot[None] & unmet[:, None, :]).any(-1)
        is_end = (kind == END)[None]
        glue = torch.where(is_end, t.end_glue[ids], t.glue[ids])
        met = beam.met.sum(-1, keepdim=True) + gain.long() - beam.fragile[:, None] * glue.long()
        inner = torch.where(is_end, t.end_inner_starts[ids], t.inner_starts[ids])
        lead = torch.where(is_end, t.end_leading[ids], t.leading[ids])
        words = beam.words[:, None] + inner + (lead & beam.ends_space[:, None]).long()
        # a live row must still fit a word per missing class; an end must close a whole, compliant sentence
        fits = (words + (self.n_classes - met) <= self.s.max_words) & (not last_step)
        stop = t.end_terminal[ids] | (t.end_bare[ids] & beam.ends_stop[:, None])
        closes = stop & (met >= self.n_classes) & (words >= self.s.min_words) & (words <= self.s.max_words)
        score = torch.where(torch.where(is_end, closes, fits), score, float("-inf"))
        return Candidates(ids, score, phi, logp, met, words, kind, n_own)

    def finish(self, beam: Beam, cand: Candidates, pool: list) -> None:
        """End candidates that meet every class and close a sentence in the word window join the pool
        (checked on the decoded text when a sentence is chosen, `responses`)."""
        col = int((cand.kind == END).nonzero()[0])
        for r in (cand.score[:, col] > float("-inf")).nonzero().squeeze(1).tolist():
            tokens = beam.ids[r] + [int(cand.ids[r, col])]
            pool[int(beam.sample[r])].append((float(cand.logp[r, col]) / len(tokens) ** self.s.length_penalty, tokens))

    def select(self, cand: Candidates, n: int):
        """Per sample, `beam_size` of its rows' live candidates (DBA, `allocate`); flat indices into the
        (rows × columns) candidates."""
        import torch

        size, cols = self.s.beam_size, cand.ids.shape[1]
        score = torch.where((cand.kind != END)[None], cand.score, float("-inf")).reshape(n, size * cols)
        pick = allocate(score, cand.met.reshape(n, -1).clamp(0, self.n_classes), self.quotas)
        return (torch.arange(n)[:, None] * size * cols + pick).reshape(-1)

    def advance(self, beam: Beam, cand: Candidates, flat) -> Beam:
        """The chosen candidates as the next beam; the classes met recomputed from the words written."""
        import torch

        t, cols = self.table, cand.ids.shape[1]
        parent, col = flat // cols, flat % cols
        token = cand.ids.reshape(-1)[flat]
        alive = (cand.score.reshape(-1)[flat] > float("-inf")).tolist()
        ids, closed, word, last, queue, met, fragile, forced = [], [], [], [], [], [], [], []
        kinds = cand.kind[col].tolist()
        for i, (p, c, tok, kind) in enumerate(zip(parent.tolist(), col.tolist(), token.tolist(), kinds)):
            piece = t.texts[tok]
            ids.append(beam.ids[p] + [tok])
            head, w = split_word(beam.word[p] + piece)
            closed.append(beam.closed[p] | (t.met(head) if head else 0))
            word.append(w)
            last.append(piece.rstrip()[-1:] or beam.last[p])
            if kind == TERM:
                q = (tuple(t.phrases[c - cand.first_term][1:]), t.term_class[c - cand.first_term])
            elif kind == FORCED:
                q = (beam.queue[p][0][1:], beam.queue[p][1])
            else:
                q = ((), -1)
            queue.append(q)
            now, extended = closed[-1] | t.met(w), closed[-1] | t.met(w + "x")
            if q[0]:
                now |= 1 << q[1]  # a term begun counts as met (it will be completed)
            met.append([bool(now >> k & 1) for k in range(self.n_classes)])
            fragile.append(0 if q[0] else bin(now & ~extended).count("1"))
            forced.append(q[0][0] if q[0] and alive[i] else -1)
        return Beam(
            beam.sample[parent],
            cand.score.reshape(-1)[flat],
            cand.phi.reshape(-1)[flat],
            cand.logp.reshape(-1)[flat],
            torch.tensor(met, dtype=torch.bool).reshape(len(ids), self.n_classes),
            torch.tensor(fragile),
            cand.words.reshape(-1)[flat],
            torch.tensor([not w for w in word]),
            torch.tensor([c in self.s.terminal if c else False for c in last]),
            torch.tensor(forced),
            ids,
            closed,
            word,
            last,
            queue,
        )

    def searching(self, beam: Beam, pool: list, fallback: dict):
        """Per sample block: still searching? Records each sample's best live row as its fallback."""
        import torch

        size = self.s.beam_size
        n = beam.score.shape[0] // size
        alive = (beam.score > float("-inf")).reshape(n, size)
        lengths = torch.tensor([max(1, len(i)) for i in beam.ids], dtype=torch.float) ** self.s.length_penalty
        current = torch.where(alive.reshape(-1), beam.logp / lengths, float("-inf")).reshape(n, size)
        keep = alive.any(-1)
        rank = beam.met.sum(-1).reshape(n, size) * 1e6 + current  # most classes met, then model score
        best = rank.argmax(-1).tolist()
        for b, sample in enumerate(beam.sample[::size].tolist()):
            if bool(keep[b]):
                fallback[sample] = beam.ids[b * size + best[b]]
            found = pool[sample]
            if len(found) >= size or (found and max(f[0] for f in found) >= float(current[b].max())):
                keep[b] = False
        return keep

    def run(self, input_ids, attention_mask, prefixes: list[str], max_new_tokens: int):
        """Per sample: its finished pool [(score, token ids)] and its fallback (best unfinished) token ids."""
        import torch

        size = self.s.beam_size
        device = input_ids.device
        n = input_ids.shape[0]
        # one prefill per distinct prompt (an occupation's samples share theirs), copied to every beam row
        uniq, inverse = torch.unique(input_ids, dim=0, return_inverse=True)
        first_row: dict[int, int] = {}
        for row, u in enumerate(inverse.tolist()):
            first_row.setdefault(u, row)
        mask_u = attention_mask[torch.tensor([first_row[u] for u in range(len(uniq))], device=device)]
        out = self.model(
            input_ids=uniq,
            attention_mask=mask_u,
            position_ids=(mask_u.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            logits_to_keep=1,
        )
        source = inverse.cpu().repeat_interleave(size)
        cache = out.cache
        cache.batch_select_indices(source.to(device))
        logits = out.logits[:, -1].float().cpu()[source]
        mask = attention_mask.cpu().repeat_interleave(size, dim=0)
        position = mask.sum(-1) - 1
        beam = self.roots(n, prefixes)
        pool: list[list] = [[] for _ in range(n)]
        fallback: dict = {}
        for step in range(max_new_tokens):
            cand = self.candidates(beam, logits, step == max_new_tokens - 1)
            self.finish(beam, cand, pool)
            flat = self.select(cand, beam.score.shape[0] // size)
            parent = flat // cand.ids.shape[1]
            beam = self.advance(beam, cand, flat)
            keep = self.searching(beam, pool, fallback)
            if step == max_new_tokens - 1 or not bool(keep.any()):
                break
            rows = (keep.nonzero().squeeze(1)[:, None] * size + torch.arange(size)).reshape(-1)
            beam, source = beam.take(rows), parent[rows]
            cache.batch_select_indices(source.to(device))
            mask = torch.cat([mask[source], torch.ones(len(rows), 1, dtype=mask.dtype)], 1)
            position = position[source] + 1
            token = torch.tensor([ids[-1] for ids in beam.ids])[:, None]
            out = self.model(
                input_ids=token.to(device),
                attention_mask=mask.to(device),
                position_ids=position[:, None].to(device),
                cache=cache,
                use_cache=True,
            )
            cache, logits = out.cache, out.logits[:, -1].float().cpu()
        return pool, [fallback.get(i, []) for i in range(n)]

    def compliant(self, prefix: str, response: str) -> bool:
        """The metric's own test of a response: every class, the word window (and a closing full stop)."""
        from debiaslab.metrics.balance import complete_sentence

        sentence = complete_sentence(prefix, response)
        return (
            self.table.met(sentence) == self.all_met
            and self.s.min_words <= word_count(sentence) <= self.s.max_words
            and (not self.s.terminal or sentence[-1:] in self.s.terminal)
        )


def search(
    model,
    tokenizer,
    prompts: list[str],
    prefixes: list[str],
    sampling,
    seed: int,
    settings: ConstraintSettings,
    classes: list[tuple[str, ...]],
    desc: str = "generate constrained",
) -> tuple[list[str], int]:
    """Every prompt's response under the constraint (batches of `sampling.batch_size` prompts, sorted by
    length); and how many found no compliant sentence (they keep their best unfinished hypothesis).

    `prefixes[i]`: the text the metric puts before response i (the occupations prompt's "The nurse was").
    """
    import torch
    from tqdm.auto import tqdm

    from debiaslab.core.batching import by_length

    tokenizer.padding_side = "left"
    table = TokenTable(tokenizer, classes, settings, eos_ids(model, tokenizer))
    searcher = Search(model, table, settings, sampling, seed)
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    outputs: list[str] = [""] * len(prompts)
    unfinished = 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for idx in tqdm(list(by_length([len(e) for e in encoded], sampling.batch_size)), desc=desc, mininterval=2):
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
            pools, fallbacks = searcher.run(
                batch["input_ids"], batch["attention_mask"], [prefixes[i] for i in idx], sampling.max_new_tokens
            )
            for i, pool, fallback in zip(idx, pools, fallbacks):
                texts = (
                    tokenizer.decode(ids, skip_special_tokens=True) for _, ids in sorted(pool, key=lambda f: -f[0])
                )
                outputs[i] = next((text for text in texts if searcher.compliant(prefixes[i], text)), None)
                if outputs[i] is None:
                    unfinished += 1
                    outputs[i] = tokenizer.decode(fallback, skip_special_tokens=True)
    return outputs, unfinished


def decode(lm, tokenizer, inputs: list[str], rows: list[dict], sampling, seed: int, settings: dict, criterion):
    """Generation entry (generation/responses.py): the constrained search above. `criterion`: the experiment's
    term classes (its `decoding` entry), a term of each of which every sentence must hold.
    Returns the texts, the columns added to the responses table (none), the job summary's entries."""
    from debiaslab.core.config import build

    cons = build(ConstraintSettings, settings, "constrained")
    texts, unfinished = search(
        lm, tokenizer, inputs, [row["prefix"] for row in rows], sampling, seed, cons, list(criterion)
    )
    return texts, {}, {"constrained_unfinished": unfinished}
