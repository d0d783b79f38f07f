"""Tiny, randomly initialised models the tests build and save: no weights are downloaded."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

WINDOW = 64
CORPUS = [
    "Kerry arrives in Russia to push Putin on the Ukraine crisis.",
    "The top US diplomat also wanted to discuss Syria, Yemen and Libya.",
    "Ties between Moscow and Washington collapsed after Crimea was seized.",
    "NATO chief Jens Stoltenberg warned of new attacks with very little warning.",
]
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def build_tiny_bart(folder: Path) -> Path:
    """A 1-layer BART with a small byte-level BPE vocabulary and a 64-token window."""
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS * 5, vocab_size=600, min_frequency=1, special_tokens=SPECIAL, show_progress=False
    )
    bpe.save_model(str(folder))
    tokenizer = BartTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=WINDOW,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    BartForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
