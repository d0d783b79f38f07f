"""Abstractive summaries with a seq2seq model (BART, PEGASUS) and map-reduce for long input.

transformers 5 has no summarization pipeline: this is `AutoModelForSeq2SeqLM.generate` on
the tokenized article. An article longer than the model's input window is cut on sentence
boundaries into chunks that fit; each chunk is summarized (map), the partial summaries are
joined and summarized again (reduce), repeating while the joined text is still too long.

The model is loaded once and injected; `Seq2SeqSummarizer.load` reads a local folder, or a
hub id already in the Hugging Face cache (downloads only with `local_files_only=False`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from services.documents import Document, Summary
from services.errors import ModelLoadError
from services.summarize.extractive import SummaryOptions
from services.text.sentences import split_sentences

logger = logging.getLogger(__name__)

# Roughly 1.3 BPE tokens a word in English news; 1.6 leaves room so max_words is the binding cap.
_TOKENS_PER_WORD = 1.6


@dataclass(frozen=True)
class Seq2SeqSettings:
    """Generation and windowing settings; the defaults are those of bart-large-cnn.

    `min_length`/`max_length` count generated tokens. `max_input_tokens` is the input window
    (None: the model's `max_position_embeddings`, at most 1024). `max_rounds` bounds the
    reduce steps of map-reduce; `batch_size` is how many chunks are generated at once.
    """

    num_beams: int = 4
    min_length: int = 56
    max_length: int = 142
    length_penalty: float = 2.0
    no_repeat_ngram_size: int = 3
    max_input_tokens: int | None = None
    batch_size: int = 4
    max_rounds: int = 3
    local_files_only: bool = True

    def __post_init__(self) -> None:
        if self.num_beams < 1 or self.batch_size < 1 or self.max_rounds < 1:
            raise ValueError("num_beams, batch_size and max_rounds must be at least 1")
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError("need 0 <= min_length <= max_length")


class Seq2SeqSummarizer:
    """Abstractive summarizer with the `Summarizer` interface; `vectors` are not used.

    The summary's text is generated, so it has no sentences with offsets into the article:
    `Summary.sentences` is empty and `method` is "abstractive".
    """

    method = "abstractive"

    def __init__(self, model: Any, tokenizer: Any, settings: Seq2SeqSettings | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings or Seq2SeqSettings()
        self.model.eval()
        window = self.settings.max_input_tokens or min(
            int(getattr(model.config, "max_position_embeddings", 1024) or 1024), 1024
        )
        self.window = window
        # Room for the content once <s> and </s> (or the model's own) are added.
        self.budget = window - self.tokenizer.num_special_tokens_to_add(pair=False)
        if self.budget < 8:
            raise ValueError(f"input window of {window} tokens is too small")

    @classmethod
    def load(cls, model: str | Path, settings: Seq2SeqSettings | None = None) -> Seq2SeqSummarizer:
        """Load a model folder (or cached hub id); ModelLoadError says why it cannot."""
        settings = settings or Seq2SeqSettings()
        name = str(model)
        path = Path(name).expanduser()
        if path.exists():
            if not (path / "config.json").is_file():
                raise ModelLoadError(f"no transformer model (config.json) in {path}")
            name = str(path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                name, local_files_only=settings.local_files_only
            )
            seq2seq = AutoModelForSeq2SeqLM.from_pretrained(
                name, local_files_only=settings.local_files_only
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot load seq2seq model {name!r}: not a model folder, and not in the "
                f"Hugging Face cache (local_files_only={settings.local_files_only})"
            ) from exc
        logger.info("loaded seq2seq summarizer from %s", name)
        return cls(seq2seq, tokenizer, settings)

    # -- chunking ---------------------------------------------------------------------------

    def token_count(self, text: str) -> int:
        return len(self.tokenizer(" " + text, add_special_tokens=False)["input_ids"])

    def chunks(self, sentences: Sequence[str]) -> list[str]:
        """Consecutive sentences packed into chunks of at most `budget` tokens each.

        A single sentence longer than the window becomes a chunk of its own and is truncated
        by the tokenizer (a run-on "sentence" is a scraped table or list, not prose).
        """
        out: list[str] = []
        current: list[str] = []
        used = 0
        for sentence in sentences:
            n = self.token_count(sentence)
            if current and used + n > self.budget:
                out.append(" ".join(current))
                current, used = [], 0
            current.append(sentence)
            used += n
        if current:
            out.append(" ".join(current))
        return out

    # -- generation -------------------------------------------------------------------------

    def _generate(self, texts: Sequence[str], min_length: int, max_length: int) -> list[str]:
        s = self.settings
        kwargs: dict[str, Any] = {
            "num_beams": s.num_beams,
            "min_length": min_length,
            "max_length": max_length,
            "no_repeat_ngram_size": s.no_repeat_ngram_size,
        }
        if s.num_beams > 1:
            kwargs.update(length_penalty=s.length_penalty, early_stopping=True)
        out: list[str] = []
        with torch.inference_mode():
            for begin in range(0, len(texts), s.batch_size):
                batch = self.tokenizer(
                    list(texts[begin : begin + s.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.window,
                    return_tensors="pt",
                    return_token_type_ids=False,  # BART's forward takes none
                )
                ids = self.model.generate(**batch, **kwargs)
                out.extend(
                    t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)
                )
        return out

    def summarize_text(self, sentences: Sequence[str], options: SummaryOptions) -> str:
        """Map-reduce over chunks of `sentences`, then the final generation within the options."""
        s = self.settings
        max_length = s.max_length
        if options.max_words is not None:
            max_length = min(max_length, int(options.max_words * _TOKENS_PER_WORD) + 4)
        min_length = min(s.min_length, max_length // 2)

        chunks = self.chunks(sentences)
        for round_ in range(s.max_rounds):
            if len(chunks) <= 1:
                break
            logger.info("map-reduce round %d over %d chunks", round_ + 1, len(chunks))
            partials = [p for p in self._generate(chunks, min_length, s.max_length) if p]
            joined = " ".join(partials)
            regrouped = self.chunks([sent.text for sent in split_sentences(joined)] or [joined])
            if len(regrouped) >= len(chunks):  # not shrinking: stop, and truncate below
                chunks = regrouped
                break
            chunks = regrouped
        text = self._generate(
            [chunks[0] if len(chunks) == 1 else " ".join(chunks)], min_length, max_length
        )[0]
        return _limit(text, options)

    def summarize(
        self, document: Document, vectors: np.ndarray, options: SummaryOptions
    ) -> Summary:
        sentences = [sentence.text for sentence in document.sentences]
        if not sentences:
            return Summary(text="", sentences=(), method=self.method)
        return Summary(
            text=self.summarize_text(sentences, options), sentences=(), method=self.method
        )


def _limit(text: str, options: SummaryOptions) -> str:
    """Apply max_sentences and max_words to generated text (whole sentences where possible)."""
    sentences = [s.text for s in split_sentences(text)] or ([text] if text else [])
    if options.max_sentences is not None:
        sentences = sentences[: options.max_sentences]
    if options.max_words is not None:
        kept: list[str] = []
        words = 0
        for sentence in sentences:
            n = len(sentence.split())
            if words + n > options.max_words:
                if not kept:
                    kept.append(" ".join(sentence.split()[: options.max_words]))
                break
            kept.append(sentence)
            words += n
        sentences = kept
    return " ".join(sentences)
