"""Summarizers: extractive (sentence embeddings) and abstractive (seq2seq)."""
