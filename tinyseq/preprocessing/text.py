"""From text to the padded word ids a sentiment model reads, with no dataset at hand.

A model trained on IMDB reads ids: each word's frequency rank in the training reviews plus an
offset, cut to a vocabulary and padded to a fixed length. `TextPreprocessing` holds everything
that turns new text into those ids (the word index of the kept words and the id rules), so it
can be stored in the model file and used where the dataset is not. With a model trained on
`imdb.load_data(num_words=5000)` reviews padded to 500 ids:

    from tinyseq.datasets import imdb
    from tinyseq.preprocessing.text import read_preprocessing, save_with_preprocessing

    preprocessing = imdb.text_preprocessing(num_words=5000, maxlen=500)  # reads the data once
    save_with_preprocessing(model, "imdb.h5", preprocessing)
    # later, anywhere: no dataset needed
    rows = read_preprocessing("imdb.h5").transform(["a moving film"])   # shape (1, 500)

`tokenize` is the tokeniser the IMDB dataset itself is built with, so new text is split exactly
as the training reviews were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..models.saving import read_metadata, save_model
from .sequence import pad_sequences

PAD_TOKEN = "<PAD>"
START_TOKEN = "<START>"
OOV_TOKEN = "<OOV>"
UNKNOWN_TOKEN = "<UNK>"  # an id that stands for no word (e.g. index_from itself)

# The key of the model file's metadata under which the preprocessing is stored.
METADATA_KEY = "preprocessing"

_LINE_BREAK = re.compile(r"<br\s*/?>")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # letters/digits, joined by inner apostrophes
_SIDES = ("pre", "post")


def tokenize(text):
    """Splits a review into lower-case word tokens.

    Text is lower-cased, the ``<br />`` line breaks of IMDB reviews become spaces, and the
    tokens are the runs of letters and digits, with inner apostrophes kept (``"don't"``).
    All other punctuation is dropped, and so are leading and trailing apostrophes. The IMDB
    dataset (`tinyseq.datasets.imdb`) is built with this function.

    Example:
        >>> tokenize("I didn't like it.<br /><br />10/10, 'Great' film!")
        ['i', "didn't", 'like', 'it', '10', '10', 'great', 'film']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: text must be a string, got {type(text).__name__}")
    return _WORD.findall(_LINE_BREAK.sub(" ", text.lower()))


@dataclass
class TextPreprocessing:
    """How text becomes a model's input: tokens, ids, then one padded row per text.

    A word of rank ``r`` (1 = the most frequent training word) has id ``r + index_from``; ids
    from ``num_words`` on, and words with no rank, become ``oov_char``; each review starts
    with ``start_char``; 0 pads. Rows are cut or padded to ``maxlen`` ids by `pad_sequences`
    with ``padding`` and ``truncating``.

    Attributes:
        word_index: ``{word: rank}`` of the words the model knows (their id is below
            ``num_words``); other words are out of the vocabulary.
        num_words, maxlen, index_from, start_char, oov_char, padding, truncating: as above
            (the argument names of `tinyseq.datasets.imdb.load_data` and `pad_sequences`).
    """

    word_index: dict
    num_words: int
    maxlen: int
    index_from: int = 3
    start_char: int = 1
    oov_char: int = 2
    padding: str = "pre"
    truncating: str = "pre"
    _word_of_id: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self._check()
        self._word_of_id = {rank + self.index_from: word for word, rank in self.word_index.items()}

    def _check(self):
        """Refuse settings under which padding, markers and words would share ids."""
        where = "TextPreprocessing"
        for name in ("num_words", "maxlen", "index_from", "start_char", "oov_char"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "index_from" else 1):
                raise ValueError(f"{where}: {name} must be a {'non-negative' if name == 'index_from' else 'positive'} "
                                 f"int, got {value!r}")
        for name in ("start_char", "oov_char"):
            if getattr(self, name) > self.index_from:
                raise ValueError(f"{where}: {name} must be an id from 1 to index_from={self.index_from} (0 is "
                                 f"padding, ids from {self.index_from + 1} on are words), got {getattr(self, name)}")
        if self.start_char == self.oov_char:
            raise ValueError(f"{where}: start_char and oov_char must be different ids, got {self.start_char} for both")
        for name in ("padding", "truncating"):
            if getattr(self, name) not in _SIDES:
                raise ValueError(f"{where}: {name} must be 'pre' or 'post', got {getattr(self, name)!r}")
        if not isinstance(self.word_index, dict):
            raise TypeError(f"{where}: word_index must be a dict {{word: rank}}, got {type(self.word_index).__name__}")
        for word, rank in self.word_index.items():
            if not isinstance(word, str) or isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
                raise ValueError(f"{where}: word_index must map words to ranks from 1, got {word!r}: {rank!r}")
            if rank + self.index_from >= self.num_words:
                raise ValueError(f"{where}: word_index holds {word!r} of rank {rank}, whose id {rank + self.index_from} "
                                 f"is not below num_words={self.num_words}")

    def tokenize(self, text):
        """The words of `text` (see the module function `tokenize`)."""
        return tokenize(text)

    def encode(self, text):
        """The ids of `text`, unpadded: ``[start_char, id, id, ...]``, unknown words as ``oov_char``."""
        ids = [self.start_char]
        for word in self.tokenize(text):
            rank = self.word_index.get(word)
            ids.append(self.oov_char if rank is None else rank + self.index_from)
        return ids

    def pad(self, sequences):
        """Cut or pad id sequences to rows of ``maxlen`` ids: an int32 array (len(sequences), maxlen)."""
        return pad_sequences(sequences, maxlen=self.maxlen, padding=self.padding, truncating=self.truncating)

    def transform(self, texts):
        """The model's input for `texts` (a list of strings): `pad` of each text's `encode`."""
        if isinstance(texts, str):
            raise TypeError("TextPreprocessing.transform: texts must be a list of strings, got one string "
                            "(wrap it in a list)")
        return self.pad([self.encode(text) for text in texts])

    def word(self, token_id):
        """The word that id `token_id` stands for, or <PAD>, <START>, <OOV> or <UNK> (no word)."""
        token_id = int(token_id)
        if token_id == 0:
            return PAD_TOKEN
        if token_id == self.start_char:
            return START_TOKEN
        if token_id == self.oov_char:
            return OOV_TOKEN
        return self._word_of_id.get(token_id, UNKNOWN_TOKEN)

    def to_metadata(self):
        """The settings as JSON data, for a model file's metadata (see `save_with_preprocessing`)."""
        return {"num_words": self.num_words, "maxlen": self.maxlen, "index_from": self.index_from,
                "start_char": self.start_char, "oov_char": self.oov_char, "padding": self.padding,
                "truncating": self.truncating, "word_index": dict(self.word_index)}

    @classmethod
    def from_metadata(cls, metadata):
        """Rebuild from `to_metadata`'s dict; a ValueError says what is missing or wrong."""
        fields = ("word_index", "num_words", "maxlen", "index_from", "start_char", "oov_char", "padding",
                  "truncating")
        if not isinstance(metadata, dict) or set(metadata) != set(fields):
            found = sorted(metadata) if isinstance(metadata, dict) else type(metadata).__name__
            raise ValueError(f"TextPreprocessing.from_metadata: expected a dict with the keys {', '.join(fields)}, "
                             f"got {found}")
        return cls(**metadata)


def save_with_preprocessing(model, path, preprocessing, metadata=None):
    """Save `model` to `path` (as `model.save`) with `preprocessing` in the file's metadata, so
    that `tinyseq imdb predict` and `explain` need no dataset to read text with it.

    Args:
        model: a Sequential model whose input rows are ``preprocessing.maxlen`` ids long.
        path: the model file to write.
        preprocessing: a `TextPreprocessing` (e.g. from `tinyseq.datasets.imdb.text_preprocessing`).
        metadata: other JSON data to store beside it (read back with
            `tinyseq.models.saving.read_metadata`); it must not use the key "preprocessing".
    """
    if not isinstance(preprocessing, TextPreprocessing):
        raise TypeError(f"save_with_preprocessing: preprocessing must be a TextPreprocessing, got "
                        f"{type(preprocessing).__name__}")
    if model.input_shape is not None and model.input_shape[1:] != (preprocessing.maxlen,):
        raise ValueError(f"save_with_preprocessing: the model reads rows of shape {model.input_shape[1:]}, but the "
                         f"preprocessing makes rows of {preprocessing.maxlen} ids (maxlen)")
    metadata = dict(metadata or {})
    if METADATA_KEY in metadata:
        raise ValueError(f"save_with_preprocessing: metadata must not have the key {METADATA_KEY!r} (the "
                         f"preprocessing is stored under it)")
    save_model(model, path, metadata={**metadata, METADATA_KEY: preprocessing.to_metadata()})


def read_preprocessing(path):
    """The `TextPreprocessing` stored in the model file at `path`, or None if it holds none
    (a model saved with `model.save`, or by a tinyseq older than this function).

    Raises:
        FileNotFoundError, ValueError: for a missing or damaged file (as `load_model`), or
            stored preprocessing that cannot be used.
    """
    metadata = read_metadata(path)
    if not isinstance(metadata, dict) or METADATA_KEY not in metadata:
        return None
    try:
        return TextPreprocessing.from_metadata(metadata[METADATA_KEY])
    except ValueError as error:
        raise ValueError(f"the preprocessing stored in {path} cannot be used: "
                         f"{str(error).split(': ', 1)[1]}") from None
