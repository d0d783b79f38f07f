"""The throughput encoders give the reference encoder's vectors; the cache and batches hold."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.env import ConfigError
from services.embeddings.batching import native_bfloat16, plan_batches, split_batch
from services.embeddings.cache import CachingEncoder
from services.embeddings.minilm import packaged_minilm_path
from services.embeddings.torch_bert import TorchSentenceEncoder, dense_rows
from services.text.cleaning import clean_article
from worker.runtime import encoder_threads, torch_threads
from worker.settings import WorkerSettings
from worker.wiring import build_encoder


@pytest.fixture(scope="module")
def sentences(reference_text) -> list[str]:
    return [s.text for s in clean_article(reference_text).sentences] + [
        "Kerry meets Putin in Sochi",
        "x",
        "word " * 300,  # past the 128-token window: truncated like the reference encoder
    ]


@pytest.fixture(scope="module")
def reference_vectors(encoder, sentences) -> np.ndarray:
    return encoder.encode(sentences)


def test_float32_vectors_are_the_reference_encoders(sentences, reference_vectors):
    vectors = TorchSentenceEncoder(packaged_minilm_path(), dtype="float32").encode(sentences)
    assert vectors.shape == reference_vectors.shape
    assert np.abs(vectors - reference_vectors).max() < 1e-5


def test_bfloat16_vectors_stay_within_the_fidelity_bound(sentences, reference_vectors):
    vectors = TorchSentenceEncoder(packaged_minilm_path(), dtype="bfloat16").encode(sentences)
    cosines = (vectors * reference_vectors).sum(axis=1)
    assert cosines.mean() >= 0.999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("threads", [2, 3])
def test_the_encoders_own_threads_give_the_same_vectors(sentences, reference_vectors, threads):
    encoder = TorchSentenceEncoder(packaged_minilm_path(), dtype="float32", threads=threads)
    try:
        batches = encoder.plan(sentences)
        # Every planned batch was dealt over the threads: more parts than planned batches.
        assert len(batches) > len(encoder.batcher.plan(sentences))
        vectors = encoder.encode(sentences)
    finally:
        encoder.close()
    assert np.abs(vectors - reference_vectors).max() < 1e-5


def test_a_split_batch_keeps_every_row_once_cut_to_its_own_longest(sentences):
    batch = max(
        TorchSentenceEncoder(packaged_minilm_path()).plan(sentences), key=lambda b: b.tokens
    )
    parts = split_batch(batch, 3)
    assert len(parts) == 3
    assert sorted(r for p in parts for r in p.rows) == sorted(batch.rows)
    assert sum(p.tokens for p in parts) == batch.tokens
    for part in parts:
        assert part.attention_mask[:, -1].any()  # no column of padding only
        assert part.input_ids.shape == part.attention_mask.shape
        assert part.input_ids.flags["C_CONTIGUOUS"]
        for r, row in enumerate(part.rows):
            source = batch.rows.index(row)
            width = part.input_ids.shape[1]
            assert (part.input_ids[r] == batch.input_ids[source, :width]).all()
    assert len(split_batch(batch, len(batch.rows) + 5)) == len(batch.rows)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"NEWSNLP_TORCH_THREADS": "2"}, (2, 1)),
        ({"NEWSNLP_TORCH_THREADS": "1"}, (1, 1)),
        ({"NEWSNLP_TORCH_THREADS": "2", "NEWSNLP_STANCE_BACKEND": "similarity"}, (2, 1)),
        # Another torch model computes through torch's intra-op threads: the encoder too.
        ({"NEWSNLP_TORCH_THREADS": "2", "NEWSNLP_STANCE_BACKEND": "nli"}, (1, 2)),
        ({"NEWSNLP_TORCH_THREADS": "2", "NEWSNLP_SUMMARIZER": "seq2seq"}, (1, 2)),
        ({"NEWSNLP_TORCH_THREADS": "2", "NEWSNLP_ENCODER": "onnx"}, (1, 2)),
    ],
)
def test_threads_are_either_the_encoders_or_torchs_never_both(env, expected):
    settings = WorkerSettings.from_env(env)
    assert (encoder_threads(settings), torch_threads(settings)) == expected


def test_tokens_are_the_reference_tokenizers(encoder, sentences):
    batcher = TorchSentenceEncoder(packaged_minilm_path()).batcher
    expected = [
        encoder.tokenizer(t, truncation=True, max_length=128)["input_ids"] for t in sentences
    ]
    assert batcher.token_ids(sentences) == expected


@pytest.mark.parametrize("max_padding", [0.0, 0.15, 1.0])
def test_batches_cover_every_text_once_within_their_limits(max_padding):
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.integers(3, 129, size=200)]
    batches = plan_batches(
        lengths, max_batch_tokens=1024, max_batch_size=16, max_padding=max_padding
    )
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        padded = len(batch) * max(lengths[i] for i in batch)
        assert len(batch) <= 16
        assert len(batch) == 1 or padded <= 1024
        if len(batch) > 1:
            assert padded - sum(lengths[i] for i in batch) <= max_padding * padded


def test_dense_layers_see_few_shapes_and_few_extra_rows():
    sizes = {tokens: dense_rows(tokens) for tokens in range(1, 8193)}
    assert all(size >= tokens for tokens, size in sizes.items())
    assert len(set(sizes.values())) == 40
    # Fewer than 64 extra rows, or 1/8 of the tokens for the largest batches.
    assert all(size - t < max(64, t / 8) for t, size in sizes.items())


def test_the_dense_layers_extra_rows_change_no_vector(sentences, reference_vectors):
    encoder = TorchSentenceEncoder(packaged_minilm_path(), dtype="float32", few_shapes=True)
    rows: list[int] = []
    encoder.model.layers[0].qkv.register_forward_hook(lambda m, args, out: rows.append(len(out)))
    batches = encoder.plan(sentences)
    assert np.abs(encoder.encode(sentences) - reference_vectors).max() < 1e-5
    assert rows == [dense_rows(b.tokens) for b in batches]
    assert any(b.tokens % 64 for b in batches)  # some batches ran extra rows
    # float32 (MKL: a new shape costs nothing) runs the real tokens only, by default.
    plain = TorchSentenceEncoder(packaged_minilm_path(), dtype="float32")
    rows.clear()
    plain.model.layers[0].qkv.register_forward_hook(lambda m, args, out: rows.append(len(out)))
    plain.encode(sentences)
    assert rows == [b.tokens for b in batches]
    # One text at a time: every real-token count rounded up differently, and batches of one
    # text without padding (no attention mask) among them.
    for i in (0, 1, len(sentences) - 3, len(sentences) - 2, len(sentences) - 1):
        (vector,) = encoder.encode([sentences[i]])
        np.testing.assert_allclose(vector, reference_vectors[i], atol=1e-5)


def test_the_cache_answers_texts_seen_before_and_stays_bounded():
    calls: list[list[str]] = []

    class Counting:
        def encode(self, texts):
            calls.append(list(texts))
            return np.stack([np.full(384, len(t), dtype=np.float32) for t in texts])

    cache = CachingEncoder(Counting(), max_entries=3)
    first = cache.encode(["a", "bb", "a"])
    assert calls == [["a", "bb"]]  # a repeated text is embedded once
    assert (first[0] == first[2]).all()
    again = cache.encode(["bb", "ccc"])
    assert calls[-1] == ["ccc"] and (again[0] == first[1]).all()
    assert (cache.hits, cache.misses) == (1, 3)  # misses: texts embedded
    cache.encode(["dddd", "eeeee"])
    assert len(cache._vectors) == 3  # least recently used ("a", "bb") went out


def test_the_worker_builds_the_cached_torch_encoder_by_default():
    encoder = build_encoder(WorkerSettings.from_env({}))
    assert isinstance(encoder, CachingEncoder)
    assert isinstance(encoder.encoder, TorchSentenceEncoder)
    assert encoder.encoder.dtype == ("bfloat16" if native_bfloat16() else "float32")
    plain = build_encoder(
        WorkerSettings.from_env(
            {"NEWSNLP_ENCODER_CACHE_SIZE": "0", "NEWSNLP_ENCODER_DTYPE": "float32"}
        )
    )
    assert isinstance(plain, TorchSentenceEncoder) and plain.dtype == "float32"


@pytest.mark.parametrize(
    "env",
    [
        {"NEWSNLP_ENCODER": "tensorflow"},
        {"NEWSNLP_ENCODER_DTYPE": "float16"},
        {"NEWSNLP_ENCODER_CACHE_SIZE": "-1"},
    ],
)
def test_encoder_settings_are_parsed_strictly(env):
    with pytest.raises(ConfigError):
        WorkerSettings.from_env(env)
