"""IMDB movie-review sentiment dataset, built from the raw reviews.

Keras ships a pre-tokenised ``imdb.npz``; this module builds the same kind of
data itself from the raw Large Movie Review Dataset (Maas et al., 2011), so
every step from text to integer ids is visible and reproducible. The API
mirrors ``keras.datasets.imdb``: :func:`load_data` and :func:`get_word_index`,
plus :func:`tokenize`, :func:`encode_text` and :func:`decode_review` to move
between text and ids, and :func:`text_preprocessing`, which does it without the
data once built.

The data
    ``aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt``: 25,000 training and
    25,000 test reviews, 12,500 negative (label 0) and 12,500 positive
    (label 1) in each. Other files of the archive (``train/unsup``,
    ``imdb.vocab``, the bag-of-words files) are not used.

Review order
    Before shuffling, each split lists its negative reviews and then its
    positive ones, each group sorted by the numeric ``<id>`` of the file name
    (so ``neg/2_3.txt`` comes before ``neg/10_2.txt``). :func:`load_data`
    then shuffles each split with ``np.random.RandomState(seed)``.

Tokenisation (:func:`tokenize`, defined in ``tinyseq.preprocessing.text``)
    Text is lower-cased, the ``<br />`` line breaks of the reviews are
    replaced by spaces, and the tokens are the runs of letters and digits,
    with inner apostrophes kept (``"don't"``, ``"it's"``). All other
    punctuation is dropped, and so are leading and trailing apostrophes.

Word ranks and ids
    Words are ranked by how often they occur in the 25,000 *training*
    reviews: rank 1 is the most frequent word ('the'), ties are broken
    alphabetically. Only words that occur in the training set get a rank.
    As in Keras, a word of rank ``r`` is encoded as id ``r + index_from``,
    because the small ids are reserved: 0 for padding, ``start_char`` (1)
    to mark the start of a review and ``oov_char`` (2) for words that are
    out of the vocabulary. Test words never seen in training are encoded as
    ``oov_char`` (Keras's own files silently dropped them).

Finding the data, in this order
    1. the ``path`` argument, 2. the ``TINYSEQ_DATA`` environment variable,
    3. ``aclImdb_v1.tar.gz`` or ``aclImdb/`` in the cache directory
    (``TINYSEQ_CACHE``, default ``~/.cache/tinyseq``), 4. a download of the
    official archive (80 MB) into the cache directory. ``path`` and
    ``TINYSEQ_DATA`` may name a ``.tar.gz`` archive, an ``aclImdb/`` folder,
    or a folder that contains ``aclImdb/``.

Checks (see :mod:`tinyseq.datasets.aclimdb`)
    The data is read completely and checked before anything is cached: an
    archive to its end (gzip's CRC and length, every entry's size), every
    review as UTF-8 text, and the counts: the official dataset must have
    12,500 reviews in each of ``train|test/neg|pos``; your own data in
    aclImdb layout needs at least one review in each. Any problem raises
    :class:`DatasetError` (a ``ValueError``) saying what is wrong and what to
    do; a damaged dataset never loads as a smaller one.

Cache
    Parsing 50,000 text files is slow next to reading one array file, so the
    result (the rank of every token of every review, the labels, the counts
    and the ranked vocabulary) is saved in the cache directory, in one ``imdb-<key>.npz``
    file written only once complete and checked. The key depends on the
    data's location, size and modification time (for a folder: those of its
    ``train|test/neg|pos`` sub-folders), and on a format version. A cache that
    is damaged (unreadable, arrays missing or inconsistent, wrong counts,
    another format version) is rebuilt from the data with a warning: it holds
    nothing the data does not, so there is nothing to decide.

Example:
    >>> from tinyseq.datasets import imdb
    >>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    >>> imdb.decode_review(x_train[0][:5])
    '<START> this review is based'
"""

import array
import hashlib
import io
import json
import os
import sys
import warnings
import zipfile
from collections import defaultdict
from functools import lru_cache
from itertools import count
from pathlib import Path
from urllib.request import urlopen

import numpy as np

from ..checks import non_negative_int, positive_int
from ..files import atomic_write
from ..preprocessing.text import OOV_TOKEN, PAD_TOKEN, START_TOKEN, UNKNOWN_TOKEN, TextPreprocessing, tokenize
from .aclimdb import (ARCHIVE_NAME, ARCHIVE_SHA256, ARCHIVE_SIZE, GROUP_NAMES, GROUPS, URL, DatasetError,
                      check_official_counts, read_reviews)

# Bump when the parsing or the cache layout changes, so old caches are ignored.
CACHE_FORMAT_VERSION = 2
_CACHE_ARRAYS = ("version", "official", "counts", "ranks", "lengths", "labels", "words")
_SEED_LIMIT = 2**32  # np.random.RandomState takes seeds below this

def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    """Loads the IMDB dataset as sequences of word ids, like ``keras.datasets.imdb.load_data``.

    Each review becomes ``[start_char, id, id, ...]`` where a word of rank
    ``r`` has id ``r + index_from`` (see the module docstring for the ranks).

    Args:
        path: The data: an ``aclImdb_v1.tar.gz`` archive, an ``aclImdb/``
            folder or a folder containing one. ``None`` looks in
            ``TINYSEQ_DATA``, then in the cache directory, then downloads.
        num_words: Keep only ids below ``num_words``; other ids become
            ``oov_char``. Since ids are ranks shifted by ``index_from``, this
            keeps the ``num_words - index_from - 1`` most frequent words, so
            it must be at least ``index_from + 2``. ``None`` keeps every word.
        skip_top: Ids below ``skip_top`` also become ``oov_char``. As in
            Keras this compares the shifted ids, so it skips the words of
            rank below ``skip_top - index_from`` (and replaces the start
            marker too when ``skip_top > start_char``).
        maxlen: If given (a positive int), reviews whose length, start marker
            included, is ``>= maxlen`` are DROPPED (not truncated), exactly as
            Keras does. To keep every review and cut long ones instead, leave
            ``maxlen`` as ``None`` and use
            ``tinyseq.preprocessing.sequence.pad_sequences``.
        seed: Seed (an int in ``[0, 2**32)``) of the ``np.random.RandomState``
            that shuffles the training set and then the test set.
        start_char: Id put at the start of every review; ``None`` for none.
        oov_char: Id of out-of-vocabulary words (beyond ``num_words``, below
            ``skip_top``, or unseen in the training set). ``None`` removes
            those words instead.
        index_from: Offset added to word ranks, to reserve the small ids.
            ``start_char`` and ``oov_char`` must be different ids from 1 to
            ``index_from``, so that no word shares their id (0 is padding).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` are 1-D numpy object
        arrays of Python lists of ints, ``y`` are int64 arrays of labels
        (0 = negative, 1 = positive).

    Raises:
        ValueError: for an argument of the wrong type or value; the message
            names it. (``TypeError`` for a ``path`` that is not a path.)
        FileNotFoundError: if ``path`` or ``TINYSEQ_DATA`` names nothing.
        DatasetError: if the data is damaged, incomplete or not in aclImdb
            layout (see the module docstring).
        RuntimeError: if the data has to be downloaded and that fails.
        ValueError: if ``maxlen`` drops every review of a split.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(num_words=5000)
        >>> len(x_train), x_train[0][0], int(y_train.sum())
        (25000, 1, 12500)

    Note:
        Unlike Keras, ``num_words=None`` keeps every word: Keras then uses
        the largest id as the bound and so turns that one word into OOV.
    """
    _check_id_scheme("load_data", num_words=num_words, skip_top=skip_top, start_char=start_char,
                     oov_char=oov_char, index_from=index_from)
    if maxlen is not None:
        positive_int(maxlen, "maxlen", "load_data")
    if non_negative_int(seed, "seed", "load_data") >= _SEED_LIMIT:
        raise ValueError(f"load_data: seed must be below 2**32 (the limit of np.random.RandomState), got {seed!r}")
    source = _locate("load_data", path)
    corpus = _corpus(source, _cache_file(source))
    ids, lengths, kept_lengths = _encode(
        corpus["ranks"], corpus["lengths"], num_words=num_words, skip_top=skip_top,
        start_char=start_char, oov_char=oov_char, index_from=index_from)
    ends = np.cumsum(kept_lengths)
    starts = ends - kept_lengths
    labels = corpus["labels"].astype(np.int64)
    num_train = int(corpus["counts"][:2].sum())  # the train groups come first

    rng = np.random.RandomState(seed)  # one generator: train is shuffled first, then test
    splits = []
    for first, stop in ((0, num_train), (num_train, len(labels))):
        order = np.arange(stop - first)
        rng.shuffle(order)
        order += first
        if maxlen is not None:
            order = order[lengths[order] < maxlen]
        x = np.empty(len(order), dtype=object)  # filled one by one: equal lengths must not make a 2-D array
        for row, review in enumerate(order):
            x[row] = ids[starts[review]:ends[review]].tolist()
        splits.append((x, labels[order]))

    if maxlen is not None and not all(len(x) for x, _ in splits):
        raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, "
                         "no sequence was kept. Increase maxlen.")
    return tuple(splits)


def get_word_index(path=None):
    """Returns the vocabulary as a dict mapping each word to its frequency rank.

    Ranks start at 1 for the most frequent word ('the') and do NOT include
    the ``index_from`` offset of :func:`load_data`: the id of ``word`` in the
    loaded data is ``get_word_index()[word] + index_from``.

    Args:
        path: Where the data is, as for :func:`load_data`.

    Returns:
        A new dict ``{word: rank}``.

    Raises:
        FileNotFoundError, DatasetError, RuntimeError: as :func:`load_data`.

    Example:
        >>> word_index = get_word_index()
        >>> word_index["the"]
        1
    """
    return dict(_word_ranks(*_source_and_cache("get_word_index", path)))


def encode_text(text, num_words=None, index_from=3, start_char=1, oov_char=2, path=None):
    """Encodes new text exactly as :func:`load_data` encodes a review.

    The text is tokenised with :func:`tokenize` and prefixed with
    ``start_char``; unknown words and ids ``>= num_words`` become
    ``oov_char`` (or are removed if ``oov_char`` is ``None``).

    Args:
        text: A string.
        num_words: As in :func:`load_data`: ids ``>= num_words`` become OOV.
        index_from: As in :func:`load_data`.
        start_char: As in :func:`load_data`.
        oov_char: As in :func:`load_data`.
        path: Where the data is, as for :func:`load_data` (the word ranks
            come from its training set).

    Returns:
        A list of ints.

    Example:
        >>> encode_text("The movie.")
        [1, 4, 19]
        >>> encode_text("The zzzzqx movie.", num_words=10)
        [1, 4, 2, 2]
    """
    if not isinstance(text, str):
        raise TypeError(f"encode_text: text must be a string, got {type(text).__name__}")
    _check_id_scheme("encode_text", num_words=num_words, skip_top=0, start_char=start_char,
                     oov_char=oov_char, index_from=index_from)
    rank_of = _word_ranks(*_source_and_cache("encode_text", path))
    ranks = np.array([rank_of.get(word, 0) for word in tokenize(text)], dtype=np.int64)
    ids, _, _ = _encode(ranks, np.array([len(ranks)]), num_words=num_words, skip_top=0,
                        start_char=start_char, oov_char=oov_char, index_from=index_from)
    return ids.tolist()


def text_preprocessing(num_words=5000, maxlen=500, path=None, index_from=3, start_char=1, oov_char=2,
                       download=True):
    """What turns new text into the rows a model trained on this data reads, data no longer needed.

    The result encodes text as :func:`load_data` with these arguments encodes a review, and
    pads or cuts it to ``maxlen`` ids at the front (as ``pad_sequences`` does by default). It
    holds the word index of the kept words only (ids below ``num_words``), so it is small enough
    to store in a model file (``tinyseq.preprocessing.text.save_with_preprocessing``).

    Args:
        num_words, index_from, start_char, oov_char: as in :func:`load_data` (``num_words``
            is required here: a model's vocabulary is bounded).
        maxlen: The length of every row, as given to ``pad_sequences``.
        path: Where the data is, as for :func:`load_data`.
        download: If False, raise FileNotFoundError rather than download the data when it is
            neither given (``path``, ``TINYSEQ_DATA``) nor in the cache directory.

    Returns:
        A ``tinyseq.preprocessing.text.TextPreprocessing``.

    Example:
        >>> preprocessing = text_preprocessing(num_words=5000, maxlen=500)
        >>> preprocessing.encode("The movie.") == encode_text("The movie.", num_words=5000)
        True
    """
    if num_words is None:
        raise ValueError("text_preprocessing: num_words must be given (the model's vocabulary size), got None")
    _check_id_scheme("text_preprocessing", num_words=num_words, skip_top=0, start_char=start_char,
                     oov_char=oov_char, index_from=index_from)
    positive_int(maxlen, "maxlen", "text_preprocessing")
    source = _locate("text_preprocessing", path, download=download)
    kept = _vocabulary(source, _cache_file(source))[:num_words - index_from - 1]
    return TextPreprocessing({word: rank for rank, word in enumerate(kept, start=1)}, num_words=num_words,
                             maxlen=maxlen, index_from=index_from, start_char=start_char, oov_char=oov_char)


def decode_review(ids, index_from=3, start_char=1, oov_char=2, path=None):
    """Turns a sequence of ids back into text.

    The word of id ``i`` is the word of rank ``i - index_from``. Reserved
    ids are shown as tokens: ``start_char`` as ``<START>``, ``oov_char`` as
    ``<OOV>``, 0 as ``<PAD>`` and any other id with no word as ``<UNK>``.

    Args:
        ids: Sequence of ints (a list from :func:`load_data`, or a padded
            row from ``pad_sequences``).
        index_from: The ``index_from`` used to encode ``ids``.
        start_char: The ``start_char`` used to encode ``ids``.
        oov_char: The ``oov_char`` used to encode ``ids``.
        path: Where the data is, as for :func:`load_data`.

    Returns:
        The words separated by single spaces.

    Example:
        >>> decode_review([0, 1, 4, 19, 2])
        '<PAD> <START> the movie <OOV>'
    """
    _check_id_scheme("decode_review", num_words=None, skip_top=0, start_char=start_char,
                     oov_char=oov_char, index_from=index_from)
    words = _vocabulary(*_source_and_cache("decode_review", path))
    tokens = []
    for token_id in map(int, ids):
        rank = token_id - index_from
        if token_id == start_char:
            tokens.append(START_TOKEN)
        elif token_id == oov_char:
            tokens.append(OOV_TOKEN)
        elif token_id == 0:
            tokens.append(PAD_TOKEN)
        elif 1 <= rank <= len(words):
            tokens.append(words[rank - 1])
        else:
            tokens.append(UNKNOWN_TOKEN)
    return " ".join(tokens)


def _check_id_scheme(function, *, num_words, skip_top, start_char, oov_char, index_from):
    """Checks the arguments that define the ids, so that padding, markers and words never share an id."""
    non_negative_int(index_from, "index_from", function)
    non_negative_int(skip_top, "skip_top", function)
    for argument, value in (("start_char", start_char), ("oov_char", oov_char)):
        if value is not None and positive_int(value, argument, function) > index_from:
            raise ValueError(f"{function}: {argument} must be an id from 1 to index_from={index_from} "
                             f"(0 is padding, ids from {index_from + 1} on are words), got {value!r}")
    if start_char is not None and start_char == oov_char:
        raise ValueError(f"{function}: start_char and oov_char must be different ids, got {start_char!r} for both")
    if num_words is not None and positive_int(num_words, "num_words", function) < index_from + 2:
        raise ValueError(f"{function}: num_words must be at least index_from + 2 = {index_from + 2} (ids below "
                         f"num_words are kept, and the most frequent word has id {index_from + 1}), got {num_words!r}")


def _encode(ranks, lengths, *, num_words, skip_top, start_char, oov_char, index_from):
    """Applies Keras's id scheme to the concatenated word ranks of several reviews.

    Rank 0 marks a word unseen in the training set. Returns the flat ids,
    the review lengths before dropping OOV words (what Keras's ``maxlen``
    compares) and after.
    """
    ids = ranks.astype(np.int64) + index_from
    known = ranks > 0
    if start_char is not None:
        starts = np.cumsum(lengths) - lengths
        ids = np.insert(ids, starts, start_char)
        known = np.insert(known, starts, True)
        lengths = lengths + 1
    # Keras filters every id, the start marker included.
    in_vocabulary = known & (ids >= skip_top)
    if num_words is not None:
        in_vocabulary &= ids < num_words
    if oov_char is not None:
        return np.where(in_vocabulary, ids, oov_char), lengths, lengths
    review_of_token = np.repeat(np.arange(len(lengths)), lengths)
    kept_lengths = np.bincount(review_of_token[in_vocabulary], minlength=len(lengths))
    return ids[in_vocabulary], lengths, kept_lengths


def _source_and_cache(function, path):
    source = _locate(function, path)
    return source, _cache_file(source)


@lru_cache(maxsize=4)
def _vocabulary(source, cache_file):
    """The ranked words of a cache (index 0 holds rank 1), kept in memory for encode/decode."""
    return tuple(_corpus(source, cache_file)["words"])


@lru_cache(maxsize=4)
def _word_ranks(source, cache_file):
    """The ``{word: rank}`` dict of a cache (shared: callers must not modify it)."""
    return {word: rank for rank, word in enumerate(_vocabulary(source, cache_file), start=1)}


def _corpus(source, cache_file):
    """The parsed data of `source` from its `cache_file`, which is built (or rebuilt) when needed.

    Returns a dict: ``ranks`` (every token of every review, concatenated; 0 = a word unseen in
    training), ``lengths``, ``labels``, ``counts`` (reviews per group, in ``GROUPS`` order),
    ``official`` and ``words`` (the vocabulary in rank order).
    """
    if not cache_file.exists():
        return _build_cache(source, cache_file)
    try:
        return _read_cache(cache_file)
    except _DamagedCache as problem:
        warnings.warn(f"The IMDB cache {cache_file} is damaged ({problem}); rebuilding it from {source}.")
        return _build_cache(source, cache_file)


class _DamagedCache(Exception):
    """A cache file that cannot be used (its message says why)."""


def _build_cache(source, cache_file):
    """Parses `source`, checks the result as a cache file in memory, then writes it atomically."""
    print(f"Parsing the IMDB reviews in {source} (first use only)...", file=sys.stderr)
    corpus = _parse(source)
    words = np.frombuffer(json.dumps(corpus["words"]).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, version=CACHE_FORMAT_VERSION, **{**corpus, "words": words})
    buffer.seek(0)
    checked = _read_cache(buffer)  # a bug that breaks the cache fails here, before it is written
    try:
        with atomic_write(cache_file) as out:
            out.write(buffer.getvalue())
    except OSError as error:
        raise OSError(f"Could not write the IMDB cache {cache_file} ({error}): set TINYSEQ_CACHE to a "
                      "writable folder.") from error
    return checked


def _read_cache(file):
    """Loads a cache file (a path or a file object) and checks it; raises _DamagedCache if unusable."""
    try:
        with np.load(file, allow_pickle=False) as data:
            corpus = {name: data[name] for name in _CACHE_ARRAYS}
        corpus["words"] = json.loads(corpus["words"].tobytes().decode("utf-8"))
        problem = _cache_problem(corpus)
    except (OSError, EOFError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
        raise _DamagedCache(f"it cannot be read: {type(error).__name__}: {error}") from None
    if problem:
        raise _DamagedCache(problem)
    return corpus


def _cache_problem(corpus):
    """What makes the arrays of a cache inconsistent, or None if they are not."""
    version, counts, labels = corpus["version"], corpus["counts"], corpus["labels"]
    lengths, ranks, words = corpus["lengths"], corpus["ranks"], corpus["words"]
    if version.shape != () or version != CACHE_FORMAT_VERSION:
        return f"it has format version {version}, not {CACHE_FORMAT_VERSION}"
    if counts.shape != (len(GROUPS),) or not np.issubdtype(counts.dtype, np.integer) or counts.min() < 1:
        return f"its review counts {counts.tolist()} are not {len(GROUPS)} positive ints"
    if corpus["official"]:
        try:
            check_official_counts(counts.tolist(), "its data")
        except DatasetError as error:
            return str(error)
    expected_labels = np.repeat([label for _, label in GROUPS], counts)
    if labels.shape != expected_labels.shape or (labels != expected_labels).any():
        return "its labels do not match its review counts"
    if lengths.shape != labels.shape or not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 0:
        return "its review lengths do not match its review counts"
    if ranks.shape != (lengths.sum(),) or not np.issubdtype(ranks.dtype, np.integer):
        return "its tokens do not match its review lengths"
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        return "its vocabulary is not a list of words"
    if ranks.size and (ranks.min() < 0 or ranks.max() > len(words)):
        return "its word ranks go beyond its vocabulary"
    return None


def _cache_dir():
    return Path(os.environ.get("TINYSEQ_CACHE") or Path.home() / ".cache" / "tinyseq").expanduser()


def _locate(function, path, download=True):
    """Finds the data (see the module docstring); returns an archive or an aclImdb folder.

    With `download` False, data neither given nor in the cache raises FileNotFoundError.
    """
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"{function}: path must be a str or os.PathLike naming the data, got "
                            f"{path!r} ({type(path).__name__})")
        return _as_source(Path(path).expanduser(), "the path argument")
    if os.environ.get("TINYSEQ_DATA"):
        return _as_source(Path(os.environ["TINYSEQ_DATA"]).expanduser(), "TINYSEQ_DATA")
    cache = _cache_dir()
    for candidate in (cache / "aclImdb", cache / ARCHIVE_NAME):
        if candidate.exists():
            return _as_source(candidate, "the cache directory")
    if not download:
        raise FileNotFoundError(f"No IMDB data: no path was given, TINYSEQ_DATA is not set and the cache directory "
                                f"{cache} holds no {ARCHIVE_NAME} or aclImdb/.")
    return _download(cache / ARCHIVE_NAME)


def _as_source(path, given_by):
    """`path` itself if it is a file (read as an archive) or an aclImdb folder, else its aclImdb/ folder."""
    expected = (f"expected the {ARCHIVE_NAME} archive, an extracted aclImdb/ folder (with train/ and "
                "test/), or a folder containing aclImdb/")
    if not path.exists():
        raise FileNotFoundError(f"No IMDB data at {path} (given by {given_by}): it does not exist; {expected}.")
    if path.is_file() or (path / "train").is_dir() or (path / "test").is_dir():
        return path  # what is wrong inside, if anything, is reported when it is read
    if (path / "aclImdb").is_dir():
        return path / "aclImdb"
    found = sorted(entry.name for entry in path.iterdir())
    listing = ", ".join(found[:5]) + (f" and {len(found) - 5:,} more" if len(found) > 5 else "")
    raise DatasetError(f"The folder {path} (given by {given_by}) is not in aclImdb layout: {expected}. "
                       f"It holds {listing or 'nothing'}.")


def _cache_file(source):
    """The cache file of `source`: named after its location, size and modification time."""
    if source.is_file():
        stamped = [source]
    else:  # a folder's mtime changes when files are added, removed or renamed in it
        stamped = [source / name for name in GROUP_NAMES if (source / name).is_dir()]
    stats = [path.stat() for path in stamped]
    identity = [CACHE_FORMAT_VERSION, str(source.resolve())] + [[s.st_size, s.st_mtime_ns] for s in stats]
    return _cache_dir() / f"imdb-{hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]}.npz"


def _parse(source):
    """Tokenises every labeled review and ranks the words (the arrays of a cache, without its version).

    Reads the whole source first (:func:`~tinyseq.datasets.aclimdb.read_reviews` raises on any
    damage), so nothing is ranked or cached from part of the data.
    """
    reviews, official = read_reviews(source, downloaded=source == _cache_dir() / ARCHIVE_NAME)

    # First give each word an id in order of appearance (a C-level dict lookup
    # per token, no Python loop), then turn those ids into frequency ranks.
    first_seen_id = defaultdict(count().__next__)
    token_ids = array.array("i")
    lengths = []
    for group in GROUPS:
        for text in reviews[group]:
            tokens = tokenize(text)
            token_ids.extend(map(first_seen_id.__getitem__, tokens))
            lengths.append(len(tokens))
    token_ids = np.frombuffer(token_ids, dtype=np.int32)
    words = list(first_seen_id)  # words[i] has first_seen_id i
    counts = np.array([len(reviews[group]) for group in GROUPS], dtype=np.int64)
    num_train = int(counts[:2].sum())

    train_counts = np.bincount(token_ids[:sum(lengths[:num_train])], minlength=len(words)).tolist()
    ranked = sorted((i for i, n in enumerate(train_counts) if n), key=lambda i: (-train_counts[i], words[i]))
    rank_of_id = np.zeros(len(words), dtype=np.int32)
    rank_of_id[ranked] = np.arange(1, len(ranked) + 1)
    return {"official": official, "counts": counts, "ranks": rank_of_id[token_ids],
            "lengths": np.array(lengths, dtype=np.int32),
            "labels": np.repeat(np.array([label for _, label in GROUPS], dtype=np.int8), counts),
            "words": [words[i] for i in ranked]}


def _download(target):
    """Downloads the official archive to ``target``, checking its size and SHA-256."""
    print(f"Downloading the IMDB dataset from {URL} to {target}", file=sys.stderr)
    try:
        with atomic_write(target) as out:
            _fetch_archive(out)
    except Exception as error:  # offline, HTTP error, truncated or corrupt file: same advice
        raise RuntimeError(
            f"Could not download the IMDB dataset from {URL} ({error}).\n"
            f"Download {ARCHIVE_NAME} yourself, then either put it in {target.parent}, "
            f"or set the TINYSEQ_DATA environment variable to its path (an extracted aclImdb/ "
            "folder works too), or pass path=... to load_data().") from error
    return target


def _fetch_archive(out):
    digest = hashlib.sha256()
    size = 0
    with urlopen(URL, timeout=60) as response, _progress_bar(ARCHIVE_SIZE) as bar:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            bar.update(len(chunk))
    if size != ARCHIVE_SIZE or digest.hexdigest() != ARCHIVE_SHA256:
        raise ValueError(f"corrupt download: got {size:,} bytes with SHA-256 {digest.hexdigest()}, "
                         f"expected {ARCHIVE_SIZE:,} bytes with SHA-256 {ARCHIVE_SHA256}")


def _progress_bar(total):
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextProgressBar(total)
    return tqdm(total=total, unit="B", unit_scale=True, desc=ARCHIVE_NAME)


class _TextProgressBar:
    """Stand-in for tqdm: rewrites one line of stderr."""

    def __init__(self, total):
        self.total = total
        self.done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        print(file=sys.stderr)

    def update(self, size):
        """Count `size` more bytes as downloaded and redraw the line."""
        self.done += size
        print(f"\r{ARCHIVE_NAME}: {self.done / 1e6:.1f} / {self.total / 1e6:.1f} MB "
              f"({100 * self.done / self.total:.0f}%)", end="", file=sys.stderr, flush=True)
