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
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\n' }}"
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
    """An uncased WordPiece tokenizer (bert-base-uncased's format) with a reproducible vocabulary.

    tokenizers' WordPieceTrainer creates its `##` continuation symbols in hash-map order, so two
    processes trained on the same texts get different vocabularies (and a different testbed MLM). Its
    BpeTrainer, given the alphabet, is reproducible: the vocabulary here is BPE's (trained on the same
    normalised, pre-tokenised words), each piece both as a word start and as a `##` continuation.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    alphabet = sorted(
        {
            ch
            for text in texts
            for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
            for ch in word
        }
    )
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.normalizer, bpe.pre_tokenizer = normalizer, pre_tokenizer
    pieces = (vocab_size - len(MLM_SPECIALS)) // 2 + len(MLM_SPECIALS)
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=pieces,
            special_tokens=MLM_SPECIALS,
            min_frequency=1,
            initial_alphabet=alphabet,
            show_progress=False,
        ),
    )
    ranked = [t for t, _ in sorted(bpe.get_vocab().items(), key=lambda item: item[1]) if t not in MLM_SPECIALS]
    vocab = MLM_SPECIALS + ranked + [f"##{t}" for t in ranked]

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
    from debiaslab.core.io import atomic_path

    with atomic_path(out_dir, directory=True) as tmp:
        train_causal(texts, causal_vocab_size).save_pretrained(tmp / "causal")
        train_mlm(texts, mlm_vocab_size).save_pretrained(tmp / "mlm")


def write_tokenizers(corpus_path, settings: dict, out_dir) -> dict:
    """Stage entry: train both tokenizers on every text in the corpus file."""
    from debiaslab.testbed.corpus import read_corpus

    texts = read_corpus(corpus_path)
    train_tokenizers(texts, out_dir, settings["causal_vocab_size"], settings["mlm_vocab_size"])
    return {"texts": len(texts)}
