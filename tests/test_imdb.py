"""Tests for tinyseq.datasets.imdb: a tiny hand-made corpus, then the real archive."""

import hashlib
import io
import os
import sys
import tarfile
import time
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from tinyseq.datasets import imdb

# --------------------------------------------------------------------------
# A tiny fake aclImdb with hand-computed ids.
#
# Training counts: bad 4, great 3, the 3, movie 2, was 2, and 1 for acting,
# don't, end, fun, it, it's, watch. Ties are broken alphabetically, so the
# ranks are bad 1, great 2, the 3, movie 4, was 5, acting 6, don't 7, end 8,
# fun 9, it 10, it's 11, watch 12, and ids (index_from=3) are rank + 3.
# 'plot' only occurs in the test set, so it has no rank.
# --------------------------------------------------------------------------

FAKE_REVIEWS = {
    "train/neg/0_1.txt": "The movie was bad. Bad!",
    "train/neg/10_2.txt": "Don't watch it.<br /><br />The END",
    "train/neg/2_3.txt": "bad, BAD acting",
    "train/pos/1_9.txt": "The movie was great; it's great.",
    "train/pos/5_10.txt": "Great fun",
    "train/unsup/0_0.txt": "unlabeled reviews are ignored",
    "test/neg/0_2.txt": "The plot was bad",
    "test/pos/0_8.txt": "Great movie, it's fun",
}
FAKE_WORD_INDEX = {"bad": 1, "great": 2, "the": 3, "movie": 4, "was": 5, "acting": 6, "don't": 7,
                   "end": 8, "fun": 9, "it": 10, "it's": 11, "watch": 12}
# Before shuffling: negative then positive reviews, by numeric file id (0, 2, 10).
FAKE_TRAIN = [[1, 6, 7, 8, 4, 4], [1, 4, 4, 9], [1, 10, 15, 13, 6, 11], [1, 6, 7, 8, 5, 14, 5], [1, 5, 12]]
FAKE_TRAIN_LABELS = [0, 0, 0, 1, 1]
FAKE_TEST = [[1, 6, 2, 8, 4], [1, 5, 7, 14, 12]]
FAKE_TEST_LABELS = [0, 1]


def keras_order(seed, num_train, num_test):
    """The review order Keras's load_data produces: one RandomState shuffles train, then test."""
    rng = np.random.RandomState(seed)
    orders = []
    for size in (num_train, num_test):
        order = np.arange(size)
        rng.shuffle(order)
        orders.append(order)
    return orders


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYSEQ_CACHE", str(cache))
    monkeypatch.delenv("TINYSEQ_DATA", raising=False)
    return cache


@pytest.fixture
def fake_root(tmp_path):
    """A folder containing aclImdb/ with the fake reviews."""
    root = tmp_path / "data"
    for name, text in FAKE_REVIEWS.items():
        file = root / "aclImdb" / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    (root / "aclImdb" / "imdb.vocab").write_text("the\nand\n", encoding="utf-8")
    return root


@pytest.fixture
def fake_tarball(fake_root, tmp_path):
    archive = tmp_path / "fake_aclImdb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(fake_root / "aclImdb", arcname="aclImdb")
    return archive


def as_lists(x):
    return [list(review) for review in x]


def test_tokenize_rules():
    assert imdb.tokenize("A <br />B<br/>c<BR>d") == ["a", "b", "c", "d"]
    assert imdb.tokenize("Don't! It's 'quoted', the actors' work") == [
        "don't", "it's", "quoted", "the", "actors", "work"]
    assert imdb.tokenize("10/10: ***** (a must-see), e-mail_me... café") == [
        "10", "10", "a", "must", "see", "e", "mail", "me", "café"]
    assert imdb.tokenize("") == []


def test_fake_folder_exact_ids_before_shuffling(fake_root, cache_dir):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(fake_root, seed=0)
    order_train, order_test = keras_order(0, 5, 2)
    assert as_lists(x_train) == [FAKE_TRAIN[i] for i in order_train]
    assert y_train.tolist() == [FAKE_TRAIN_LABELS[i] for i in order_train]
    assert as_lists(x_test) == [FAKE_TEST[i] for i in order_test]
    assert y_test.tolist() == [FAKE_TEST_LABELS[i] for i in order_test]
    assert x_train.dtype == object and x_train.shape == (5,)
    assert y_train.dtype == np.int64
    assert imdb.get_word_index(fake_root) == FAKE_WORD_INDEX


def test_aclimdb_folder_parent_folder_and_tarball_give_the_same_data(fake_root, fake_tarball, cache_dir):
    expected = imdb.load_data(fake_root / "aclImdb")
    for path in (fake_root, fake_tarball, str(fake_tarball)):
        (x_train, y_train), (x_test, y_test) = imdb.load_data(path)
        assert as_lists(x_train) == as_lists(expected[0][0])
        assert as_lists(x_test) == as_lists(expected[1][0])
        assert y_train.tolist() == expected[0][1].tolist()
        assert y_test.tolist() == expected[1][1].tolist()


def test_tinyseq_data_variable_is_used(fake_tarball, cache_dir, monkeypatch):
    monkeypatch.setenv("TINYSEQ_DATA", str(fake_tarball))
    assert imdb.get_word_index() == FAKE_WORD_INDEX


def test_archive_in_cache_dir_is_used(fake_tarball, cache_dir):
    cache_dir.mkdir()
    fake_tarball.rename(cache_dir / imdb.ARCHIVE_NAME)
    assert imdb.get_word_index() == FAKE_WORD_INDEX


def test_num_words_skip_top_and_oov_char(fake_root, cache_dir):
    ids = lambda **kwargs: sorted(as_lists(imdb.load_data(fake_root, **kwargs)[0][0]))
    # num_words=8 keeps ids < 8: bad, great, the, movie.
    assert ids(num_words=8) == sorted([[1, 6, 7, 2, 4, 4], [1, 4, 4, 2], [1, 2, 2, 2, 6, 2],
                                       [1, 6, 7, 2, 5, 2, 5], [1, 5, 2]])
    # As in Keras, skip_top compares final ids, so it also hits the start marker (id 1).
    assert ids(skip_top=5)[0] == [2, 2, 2, 9]
    assert ids(num_words=8, oov_char=None) == sorted([[1, 6, 7, 4, 4], [1, 4, 4], [1, 6], [1, 6, 7, 5, 5], [1, 5]])
    assert ids(start_char=None, index_from=0) == sorted([[3, 4, 5, 1, 1], [1, 1, 6], [7, 12, 10, 3, 8],
                                                         [3, 4, 5, 2, 11, 2], [2, 9]])


def test_maxlen_drops_reviews_measured_before_oov_removal(fake_root, cache_dir):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(fake_root, maxlen=6)
    assert sorted(as_lists(x_train)) == sorted([[1, 4, 4, 9], [1, 5, 12]])
    assert sorted(y_train.tolist()) == [0, 1]
    assert len(x_test) == 2
    # [1, 6, 7, 8, 4, 4] has length 6 before dropping OOV words, so Keras drops it.
    (x_train, _), _ = imdb.load_data(fake_root, maxlen=6, num_words=6, oov_char=None)
    assert sorted(as_lists(x_train)) == [[1, 4, 4], [1, 5]]
    with pytest.raises(ValueError, match="no sequence was kept. Increase maxlen"):
        imdb.load_data(fake_root, maxlen=3)


def test_encode_text_matches_load_data(fake_root, cache_dir):
    assert imdb.encode_text(FAKE_REVIEWS["test/neg/0_2.txt"], path=fake_root) == FAKE_TEST[0]
    assert imdb.encode_text(FAKE_REVIEWS["train/neg/10_2.txt"], path=fake_root) == FAKE_TRAIN[2]
    assert imdb.encode_text("the unknown movie", num_words=7, path=fake_root) == [1, 6, 2, 2]
    assert imdb.encode_text("the unknown movie", oov_char=None, start_char=None, path=fake_root) == [6, 7]
    assert imdb.encode_text("", path=fake_root) == [1]


def test_decode_review_reserved_ids(fake_root, cache_dir):
    assert imdb.decode_review([0, 0, 1, 6, 7, 2, 3, 99], path=fake_root) == (
        "<PAD> <PAD> <START> the movie <OOV> <UNK> <UNK>")
    assert imdb.decode_review(np.array([1, 2, 3]), index_from=0, start_char=None, oov_char=None,
                              path=fake_root) == "bad great the"


def test_cache_is_reused_and_invalidated_when_data_changes(fake_root, cache_dir, monkeypatch):
    imdb.load_data(fake_root)
    assert len(list(cache_dir.glob("imdb-*.npz"))) == 1
    assert not list(cache_dir.glob(".tmp-*"))

    real_parse = imdb._parse
    monkeypatch.setattr(imdb, "_parse", lambda source: pytest.fail("parsed again"))
    imdb.load_data(fake_root)

    (fake_root / "aclImdb/test/pos/1_7.txt").write_text("Watch it", encoding="utf-8")
    monkeypatch.setattr(imdb, "_parse", real_parse)
    (_, _), (x_test, _) = imdb.load_data(fake_root)
    assert [1, 15, 13] in as_lists(x_test)
    assert len(list(cache_dir.glob("imdb-*.npz"))) == 2


def test_wrong_paths_raise_file_not_found(tmp_path, cache_dir, monkeypatch):
    missing = tmp_path / "nowhere" / "aclImdb_v1.tar.gz"
    with pytest.raises(FileNotFoundError, match="No IMDB data at .*nowhere"):
        imdb.load_data(missing)
    not_an_archive = tmp_path / "notes.txt"
    not_an_archive.write_text("hello")
    with pytest.raises(FileNotFoundError, match="notes.txt"):
        imdb.get_word_index(not_an_archive)
    monkeypatch.setenv("TINYSEQ_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="nowhere.*given by TINYSEQ_DATA"):
        imdb.load_data()


def test_offline_error_says_where_to_put_the_archive(cache_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(imdb, "urlopen", offline)
    with pytest.raises(RuntimeError, match="TINYSEQ_DATA") as error:
        imdb.load_data()
    message = str(error.value)
    assert "Temporary failure in name resolution" in message
    assert str(cache_dir) in message and imdb.ARCHIVE_NAME in message
    assert not list(cache_dir.iterdir())  # no partial download left behind


def serve(payload):
    """A stand-in for urlopen that returns `payload`."""
    return lambda url, timeout: io.BytesIO(payload)


def test_download_is_checked_and_atomic(fake_tarball, cache_dir, monkeypatch):
    payload = fake_tarball.read_bytes()
    monkeypatch.setattr(imdb, "urlopen", serve(payload))
    with pytest.raises(RuntimeError, match="(?s)corrupt download.*TINYSEQ_DATA"):
        imdb.load_data()
    assert not list(cache_dir.iterdir())

    monkeypatch.setattr(imdb, "ARCHIVE_SIZE", len(payload))
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", hashlib.sha256(payload).hexdigest())
    assert imdb.get_word_index() == FAKE_WORD_INDEX
    assert (cache_dir / imdb.ARCHIVE_NAME).read_bytes() == payload
    monkeypatch.setattr(imdb, "urlopen", serve(b""))  # a second call must not download again
    assert imdb.get_word_index() == FAKE_WORD_INDEX


def test_download_progress_without_tqdm(fake_tarball, cache_dir, monkeypatch, capsys):
    payload = fake_tarball.read_bytes()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    monkeypatch.setattr(imdb, "urlopen", serve(payload))
    monkeypatch.setattr(imdb, "ARCHIVE_SIZE", len(payload))
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", hashlib.sha256(payload).hexdigest())
    imdb.get_word_index()
    assert f"\r{imdb.ARCHIVE_NAME}: 0.0 / 0.0 MB (100%)\n" in capsys.readouterr().err


# --------------------------------------------------------------------------
# The real Large Movie Review Dataset.
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def real_5000(real_cache):
    data, cache = real_cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYSEQ_CACHE", str(cache))
        return imdb.load_data(data, num_words=5000)


def test_real_sizes_and_labels(real_5000):
    (x_train, y_train), (x_test, y_test) = real_5000
    assert len(x_train) == len(y_train) == 25_000
    assert len(x_test) == len(y_test) == 25_000
    for y in (y_train, y_test):
        assert np.bincount(y).tolist() == [12_500, 12_500]


def test_real_ids(real_5000):
    for x in (real_5000[0][0], real_5000[1][0]):
        assert all(review[0] == 1 for review in x)
        flat = np.concatenate([np.asarray(review) for review in x])
        assert flat.max() == 4999
        assert flat.min() == 1
        assert np.count_nonzero(flat == 2) > 0


def test_real_word_index(real):
    word_index = imdb.get_word_index()
    assert word_index["the"] == 1
    assert sorted(word_index.values()) == list(range(1, len(word_index) + 1))
    assert {"and", "a", "of", "movie", "film", "don't"} <= word_index.keys()
    # <br /> (about 100,000 times in training) is markup; 'br' occurs once, as a word.
    assert word_index["br"] > 30_000


def test_real_maxlen_drops_long_reviews(real, real_5000):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=5000, maxlen=100)
    for (x_short, y_short), (x_all, y_all) in zip(((x_train, y_train), (x_test, y_test)), real_5000):
        is_short = np.array([len(review) < 100 for review in x_all])
        assert len(x_short) == np.count_nonzero(is_short) > 0
        assert all(len(review) < 100 for review in x_short)
        assert as_lists(x_short) == as_lists(x_all[is_short])  # same seed, same order
        assert y_short.tolist() == y_all[is_short].tolist()


def test_real_shuffle_depends_only_on_seed(real, real_5000):
    (x_again, y_again), _ = imdb.load_data(num_words=5000)
    assert y_again.tolist() == real_5000[0][1].tolist()
    assert as_lists(x_again[:50]) == as_lists(real_5000[0][0][:50])
    (x_other, y_other), _ = imdb.load_data(num_words=5000, seed=7)
    assert y_other.tolist() != y_again.tolist()
    assert sorted(map(tuple, x_other)) == sorted(map(tuple, x_again))


def test_real_first_review_of_the_order_is_train_neg_0(real, real_5000):
    if real.is_dir():
        text = next(real.glob("**/train/neg/0_*.txt")).read_text(encoding="utf-8")
    else:
        with tarfile.open(real) as archive:
            member = next(name for name in archive.getnames() if "/train/neg/0_" in name)
            text = archive.extractfile(member).read().decode("utf-8")
    order_train, _ = keras_order(113, 25_000, 25_000)
    position = int(np.flatnonzero(order_train == 0)[0])
    assert real_5000[0][0][position] == imdb.encode_text(text, num_words=5000)


def test_real_encode_decode(real):
    sentence = "this movie was not as good as the book but i don't regret watching it"
    ids = imdb.encode_text(sentence)
    assert ids[:3] == [1, 13, 19]  # <START>, 'this' (rank 10), 'movie' (rank 16)
    assert imdb.decode_review(ids) == "<START> " + sentence
    assert imdb.encode_text("Qwzxqy blorptastic!") == [1, 2, 2]
    assert max(imdb.encode_text(sentence, num_words=50)) < 50


def test_real_second_load_is_fast(real):
    start = time.perf_counter()
    (x_train, _), (x_test, _) = imdb.load_data()
    elapsed = time.perf_counter() - start
    assert len(x_train) == len(x_test) == 25_000
    assert elapsed < 3.0, f"cached load_data took {elapsed:.2f} s"
