"""Train the testbed's two tokenizers in the formats the Hub serves.

- causal: byte-level BPE with ChatML special tokens and a chat template, like Qwen's;
- mlm: uncased WordPiece with [CLS]/[SEP]/[MASK], like bert-base-uncased.

Both are trained on every text the pipeline will feed the models (the corpus plus
prompts, templates and answer letters), so no word falls apart into bytes.
"""

from __future__ import annotations

from pathlib import Path

# ChatML, as Qwen uses it; `{% generation %}` marks assistant text for TRL's assistant-only loss.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CAUSAL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MLM_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_causal(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=CAUSAL_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=1,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
        clean_up_tokenization_spaces=False,
    )


def train_mlm(texts: list[str], vocab_size: int):
    """An uncased WordPiece tokenizer whose vocabulary is built directly, deterministically.

    tokenizers' WordPieceTrainer breaks ties between equally frequent merges in hash order, so two
    processes trained on the same texts get different vocabularies (and a different testbed MLM). The
    vocabulary here is: the specials, every character as a word start and as a `##` continuation, then
    whole words by frequency (ties alphabetical) up to `vocab_size`. On the testbed's closed vocabulary
    every word fits whole, which is also where the trainer's merges end up.
    """
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = Counter(w for text in texts for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({ch for word in words for ch in word})
    vocab = MLM_SPECIALS + chars + [f"##{ch}" for ch in chars]
    if len(vocab) > vocab_size:
        raise ValueError(f"testbed.tokenizer.mlm_vocab_size: {vocab_size} cannot hold the {len(vocab)} specials "
                         "and characters of the corpus")
    ranked = sorted((w for w in words if len(w) > 1), key=lambda w: (-words[w], w))
    vocab += ranked[: vocab_size - len(vocab)]

    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return BertTokenizerFast(tokenizer_object=tok, do_lower_case=True, model_max_length=512)


def train_tokenizers(texts: list[str], out_dir: str | Path, causal_vocab_size: int, mlm_vocab_size: int) -> None:
    """Write `<out_dir>/causal` and `<out_dir>/mlm`, each loadable with AutoTokenizer."""
    from debiaslab.io import atomic_path

    with atomic_path(out_dir, directory=True) as tmp:
        train_causal(texts, causal_vocab_size).save_pretrained(tmp / "causal")
        train_mlm(texts, mlm_vocab_size).save_pretrained(tmp / "mlm")


def write_tokenizers(corpus_path, settings: dict, out_dir) -> dict:
    """Stage entry: train both tokenizers on every text in the corpus file."""
    from debiaslab.testbed.corpus import read_corpus

    texts = read_corpus(corpus_path)
    train_tokenizers(texts, out_dir, settings["causal_vocab_size"], settings["mlm_vocab_size"])
    return {"texts": len(texts)}
