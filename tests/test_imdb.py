"""Tests for tinyseq.datasets.imdb: a tiny hand-made corpus, damaged and incomplete data, bad
arguments, then the real archive."""

import gzip
import hashlib
import io
import re
import struct
import sys
import tarfile
import zipfile
from urllib.error import URLError

import numpy as np
import pytest

from tinyseq.datasets import aclimdb, imdb
from tinyseq.preprocessing import text as preprocessing_text

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


def write_folder(folder, reviews, readme=None):
    """Writes `reviews` ({"train/neg/0_1.txt": text}) as an aclImdb folder; returns the folder."""
    for name, text in reviews.items():
        file = folder / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    if readme is not None:
        (folder / "README").write_text(readme, encoding="utf-8")
    return folder


def tar_bytes(reviews, readme=None):
    """`reviews` as an uncompressed tar of aclImdb/ (records padded as tarfile writes them)."""
    files = dict(reviews) if readme is None else {"README": readme, **reviews}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            entry = tarfile.TarInfo(f"aclImdb/{name}")
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def fake_root(tmp_path):
    """A folder containing aclImdb/ with the fake reviews."""
    root = tmp_path / "data"
    write_folder(root / "aclImdb", FAKE_REVIEWS)
    (root / "aclImdb" / "imdb.vocab").write_text("the\nand\n", encoding="utf-8")
    return root


@pytest.fixture
def fake_tarball(fake_root, tmp_path):
    archive = tmp_path / "fake_aclImdb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(fake_root / "aclImdb", arcname="aclImdb")
    return archive


# A small stand-in for the official dataset: its README, and 2 reviews in each folder (the
# fixture makes 2 the official count). Training counts: good 4, bad 3, film 2, plot 1.
OFFICIAL_README = "Large Movie Review Dataset v1.0\n\nOverview\n"
SMALL_REVIEWS = {
    "train/neg/0_1.txt": "Bad, bad film.", "train/neg/1_2.txt": "Bad plot",
    "train/pos/0_9.txt": "Good film", "train/pos/1_8.txt": "Good, good, good!",
    "test/neg/0_3.txt": "Bad", "test/neg/1_4.txt": "Dull",
    "test/pos/0_7.txt": "Good", "test/pos/1_10.txt": "Fine film",
}
SMALL_WORD_INDEX = {"good": 1, "bad": 2, "film": 3, "plot": 4}


@pytest.fixture
def small_official(monkeypatch):
    """The bytes of a complete small official archive (aclImdb_v1.tar.gz)."""
    monkeypatch.setattr(aclimdb, "REVIEWS_PER_GROUP", 2)
    return gzip.compress(tar_bytes(SMALL_REVIEWS, readme=OFFICIAL_README), mtime=0)


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


def test_archive_in_cache_dir_is_used(small_official, cache_dir):
    cache_dir.mkdir()
    (cache_dir / imdb.ARCHIVE_NAME).write_bytes(small_official)
    assert imdb.get_word_index() == SMALL_WORD_INDEX
    # the same data as a folder in the cache directory comes first
    write_folder(cache_dir / "aclImdb", FAKE_REVIEWS)
    assert imdb.get_word_index() == FAKE_WORD_INDEX


def test_num_words_skip_top_and_oov_char(fake_root, cache_dir):
    ids = lambda **kwargs: sorted(as_lists(imdb.load_data(fake_root, **kwargs)[0][0]))
    # num_words=8 keeps ids < 8: bad, great, the, movie.
    assert ids(num_words=8) == sorted([[1, 6, 7, 2, 4, 4], [1, 4, 4, 2], [1, 2, 2, 2, 6, 2],
                                       [1, 6, 7, 2, 5, 2, 5], [1, 5, 2]])
    # As in Keras, skip_top compares final ids, so it also hits the start marker (id 1).
    assert ids(skip_top=5)[0] == [2, 2, 2, 9]
    assert ids(num_words=8, oov_char=None) == sorted([[1, 6, 7, 4, 4], [1, 4, 4], [1, 6], [1, 6, 7, 5, 5], [1, 5]])
    assert ids(start_char=None, oov_char=None, index_from=0) == sorted([[3, 4, 5, 1, 1], [1, 1, 6], [7, 12, 10, 3, 8],
                                                                        [3, 4, 5, 2, 11, 2], [2, 9]])
    # the smallest num_words keeps the most frequent word (id index_from + 1) only
    assert ids(num_words=5, oov_char=None) == sorted([[1, 4, 4], [1, 4, 4], [1], [1], [1]])


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


def test_text_preprocessing_keeps_the_kept_words_only_and_encodes_as_encode_text(fake_root, cache_dir):
    preprocessing = imdb.text_preprocessing(num_words=10, maxlen=4, path=fake_root)
    # ids below 10: ranks 1 to 6
    assert preprocessing.word_index == {"bad": 1, "great": 2, "the": 3, "movie": 4, "was": 5, "acting": 6}
    for text in [*FAKE_REVIEWS.values(), "", "The unknown movie, it's FUN<br />"]:
        assert preprocessing.encode(text) == imdb.encode_text(text, num_words=10, path=fake_root)
    assert preprocessing.transform(["the movie", "Bad acting was bad, bad"]).tolist() == [
        [0, 1, 6, 7], [9, 8, 4, 4]]
    assert [preprocessing.word(i) for i in (0, 1, 2, 3, 4, 9, 10)] == [
        "<PAD>", "<START>", "<OOV>", "<UNK>", "bad", "acting", "<UNK>"]
    assert imdb.tokenize is preprocessing_text.tokenize  # the dataset is built with the tokeniser new text goes through


def test_text_preprocessing_without_download_says_where_it_looked(cache_dir, monkeypatch):
    monkeypatch.delenv("TINYSEQ_DATA", raising=False)
    monkeypatch.setattr(imdb, "urlopen", lambda *args, **kwargs: pytest.fail("a download was attempted"))
    with pytest.raises(FileNotFoundError) as error:
        imdb.text_preprocessing(download=False)
    assert str(error.value) == (f"No IMDB data: no path was given, TINYSEQ_DATA is not set and the cache directory "
                                f"{cache_dir} holds no {imdb.ARCHIVE_NAME} or aclImdb/.")
    with pytest.raises(ValueError, match=r"^text_preprocessing: num_words must be given"):
        imdb.text_preprocessing(num_words=None)


def test_text_preprocessing_goes_through_model_file_metadata(tmp_path):
    from tinyseq.models.saving import read_metadata, save_model
    from tinyseq.models.sequential import Sequential
    from tinyseq.nn.core import Dense, Embedding

    preprocessing = preprocessing_text.TextPreprocessing({"good": 1, "bad": 2}, num_words=6, maxlen=3, truncating="post")
    model = Sequential([Embedding(6, 2, input_length=3), Dense(1)])
    model.build((None, 3))
    preprocessing_text.save_with_preprocessing(model, tmp_path / "m.h5", preprocessing, metadata={"note": "kept"})
    assert preprocessing_text.read_preprocessing(tmp_path / "m.h5") == preprocessing
    assert read_metadata(tmp_path / "m.h5")["note"] == "kept"
    model.save(tmp_path / "plain.h5")
    assert preprocessing_text.read_preprocessing(tmp_path / "plain.h5") is None
    with pytest.raises(ValueError, match=r"^save_with_preprocessing: the model reads rows of shape \(3,\), but the "
                                         r"preprocessing makes rows of 4 ids \(maxlen\)$"):
        preprocessing_text.save_with_preprocessing(model, tmp_path / "x.h5", preprocessing_text.TextPreprocessing({}, num_words=6, maxlen=4))
    with pytest.raises(ValueError, match="metadata must not have the key 'preprocessing'"):
        preprocessing_text.save_with_preprocessing(model, tmp_path / "x.h5", preprocessing, metadata={"preprocessing": 1})
    save_model(model, tmp_path / "damaged.h5", metadata={"preprocessing": {"num_words": 6}})
    with pytest.raises(ValueError) as error:
        preprocessing_text.read_preprocessing(tmp_path / "damaged.h5")
    assert str(error.value).startswith(f"the preprocessing stored in {tmp_path / 'damaged.h5'} cannot be used: "
                                       f"expected a dict with the keys word_index, num_words, maxlen, ")


@pytest.mark.parametrize("changes, message", [
    ({"word_index": {"good": 3}}, "word_index holds 'good' of rank 3, whose id 6 is not below num_words=6"),
    ({"word_index": {"good": 0}}, "word_index must map words to ranks from 1, got 'good': 0"),
    ({"padding": "both"}, "padding must be 'pre' or 'post', got 'both'"),
    ({"maxlen": 0}, "maxlen must be a positive int, got 0"),
    ({"oov_char": 4}, "oov_char must be an id from 1 to index_from=3 (0 is padding, ids from 4 on are words), got 4"),
    ({"start_char": 2}, "start_char and oov_char must be different ids, got 2 for both"),
])
def test_text_preprocessing_refuses_settings_that_mix_up_ids(changes, message):
    settings = {"word_index": {"good": 1}, "num_words": 6, "maxlen": 3, **changes}
    with pytest.raises(ValueError) as error:
        preprocessing_text.TextPreprocessing(**settings)
    assert str(error.value) == f"TextPreprocessing: {message}"
    with pytest.raises(ValueError, match=r"^TextPreprocessing.from_metadata: expected a dict with the keys "):
        preprocessing_text.TextPreprocessing.from_metadata({"num_words": 6})


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


# --------------------------------------------------------------------------
# Damaged and incomplete data: refused with a message that names the file,
# says what is wrong and what to do, and nothing is cached.
# --------------------------------------------------------------------------

AGAIN = re.escape(f"Download {imdb.ARCHIVE_NAME} again from {imdb.URL}")
FOLDER_ADVICE = re.escape(f"Complete the folder (or, if it is the IMDB data, extract {imdb.ARCHIVE_NAME} "
                          f"from {imdb.URL} again).")


def random_reviews(per_group=10, words_per_review=150):
    """Reviews of random words in every group, so that damage anywhere in an archive hits review data."""
    rng = np.random.RandomState(0)
    vocabulary = "the a film movie good bad plot actor scene great boring fun end story".split()
    return {f"{split}/{label}/{i}_{rating}.txt": " ".join(rng.choice(vocabulary, words_per_review))
            for split in ("train", "test") for label, rating in (("neg", 2), ("pos", 9)) for i in range(per_group)}


def refused(path, cache_dir, *patterns, call=imdb.load_data):
    """Asserts `call(path)` raises DatasetError naming `path` and matching `patterns`, twice (so
    nothing was cached) and with no cache file written; returns the message."""
    for _ in range(2):
        with pytest.raises(imdb.DatasetError) as error:
            call(path)
        message = str(error.value)
        assert str(path) in message
        for pattern in patterns:
            assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    return message


@pytest.mark.parametrize("cut", [2, 10, 0.1, 0.25, 0.5, 0.75, 0.9, -8, -4, -1])
def test_truncated_archive_is_refused(cut, tmp_path, cache_dir):
    whole = gzip.compress(tar_bytes(random_reviews()), mtime=0)
    size = int(cut * len(whole)) if isinstance(cut, float) else cut % len(whole)
    archive = tmp_path / "reviews.tar.gz"
    archive.write_bytes(whole[:size])
    refused(archive, cache_dir, "is truncated", AGAIN)
    archive.write_bytes(whole)  # replaced by the whole archive, it loads (the cache was never written)
    (x_train, _), (x_test, _) = imdb.load_data(archive)
    assert len(x_train) == len(x_test) == 20


def test_truncated_plain_tar_is_refused(tmp_path, cache_dir):
    whole = tar_bytes(random_reviews())
    with tarfile.open(fileobj=io.BytesIO(whole)) as tar:
        last = tar.getmembers()[-1]
    end_of_entries = last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    archive = tmp_path / "reviews.tar"
    archive.write_bytes(whole[:last.offset_data + 10])  # inside the last review
    refused(archive, cache_dir, r"is truncated \(tar: unexpected end of data\)", AGAIN)
    archive.write_bytes(whole[:end_of_entries])  # every entry whole, but not the end-of-archive marker
    refused(archive, cache_dir, "is truncated", "without the end-of-archive marker")


@pytest.mark.parametrize("position", [0.1, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("width", [1, 64])
def test_archive_damaged_in_the_middle_is_refused(position, width, tmp_path, cache_dir):
    damaged = bytearray(gzip.compress(tar_bytes(random_reviews()), mtime=0))
    start = int(position * len(damaged))
    damaged[start:start + width] = bytes(byte ^ 0xFF for byte in damaged[start:start + width])
    archive = tmp_path / "reviews.tar.gz"
    archive.write_bytes(damaged)
    refused(archive, cache_dir, r"is damaged \(gzip: ", AGAIN)


def test_damaged_tar_entry_is_not_taken_for_the_end_of_the_archive(tmp_path, cache_dir):
    # tarfile stops quietly at an unreadable entry header, as if the archive ended there; gzip's
    # CRC cannot help when the tar was damaged before it was compressed.
    damaged = bytearray(tar_bytes(random_reviews()))
    header = damaged.index(b"aclImdb/test/neg/0_2.txt")
    damaged[header + 100:header + 108] = b"garbage!"
    for name, data in (("reviews.tar", bytes(damaged)), ("reviews.tar.gz", gzip.compress(bytes(damaged)))):
        archive = tmp_path / name
        archive.write_bytes(data)
        refused(archive, cache_dir, f"is damaged: the entry at byte {header:,} of its tar stream is not readable",
                AGAIN)


def test_files_that_are_not_archives_are_refused(tmp_path, cache_dir):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(gzip.compress(np.random.RandomState(0).bytes(5000)))
    refused(garbage, cache_dir, "is a gzip file without a tar archive inside", AGAIN)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n" * 100)
    refused(notes, cache_dir, r"is neither a \.tar\.gz nor a \.tar archive", AGAIN)
    empty = tmp_path / "empty.tar.gz"
    empty.touch()
    refused(empty, cache_dir, r"is empty \(0 bytes\)", AGAIN)


def test_damaged_download_in_the_cache_is_to_be_deleted(small_official, cache_dir):
    cache_dir.mkdir()
    archive = cache_dir / imdb.ARCHIVE_NAME
    archive.write_bytes(small_official[:len(small_official) // 2])
    with pytest.raises(imdb.DatasetError, match=re.escape(f"Delete {archive}: the next load downloads it again")):
        imdb.get_word_index()
    assert [file.name for file in cache_dir.iterdir()] == [imdb.ARCHIVE_NAME]


def test_official_data_with_a_review_missing_is_refused(small_official, tmp_path, cache_dir):
    incomplete = dict(SMALL_REVIEWS)
    del incomplete["train/pos/1_8.txt"]
    counts = "it has train/neg 2, train/pos 1, test/neg 2, test/pos 2"
    official = ("is the Large Movie Review Dataset, which has 2 reviews in each of train/neg, train/pos, "
                "test/neg, test/pos")
    by_name = tmp_path / "aclImdb_v1.tar.gz"  # recognised by its name
    by_name.write_bytes(gzip.compress(tar_bytes(incomplete)))
    refused(by_name, cache_dir, official, counts, AGAIN)
    by_readme = tmp_path / "copy.tar.gz"  # or by its README
    by_readme.write_bytes(gzip.compress(tar_bytes(incomplete, readme=OFFICIAL_README)))
    refused(by_readme, cache_dir, official, counts)
    folder = write_folder(tmp_path / "aclImdb", incomplete, readme=OFFICIAL_README)
    refused(folder, cache_dir, official, counts, FOLDER_ADVICE)
    # the same counts without the README are someone's own data, and load
    (folder / "README").unlink()
    (x_train, _), (x_test, _) = imdb.load_data(folder)
    assert (len(x_train), len(x_test)) == (3, 4)


def test_missing_folders_and_empty_splits_are_refused(tmp_path, cache_dir):
    without_test_pos = {name: text for name, text in FAKE_REVIEWS.items() if not name.startswith("test/pos")}
    folder = write_folder(tmp_path / "aclImdb", without_test_pos)
    refused(folder, cache_dir, "is not a complete aclImdb folder: test/pos missing", FOLDER_ADVICE)
    archive = tmp_path / "reviews.tar.gz"
    archive.write_bytes(gzip.compress(tar_bytes(without_test_pos)))
    refused(archive, cache_dir,
            r"has no reviews in test/pos \(it has train/neg 3, train/pos 2, test/neg 1, test/pos 0\)")
    (folder / "test/pos").mkdir()
    (folder / "test/neg/0_2.txt").unlink()
    refused(folder, cache_dir, "has no reviews in test/neg, test/pos", "at least one <id>_<rating>.txt file",
            call=imdb.get_word_index)


def test_misnamed_and_unreadable_reviews_are_refused(fake_root, cache_dir):
    folder = fake_root / "aclImdb"
    (folder / "train/pos/.DS_Store").write_bytes(b"\x00\x01")  # hidden files are not reviews
    (folder / "train/pos/great.txt").write_text("Great")
    refused(folder, cache_dir, "not reviews named <id>_<rating>.txt: train/pos/great.txt", "Rename or remove them")
    (folder / "train/pos/great.txt").unlink()
    (folder / "test/neg/5_1.txt").write_bytes("Café au lait".encode("latin-1"))
    refused(folder, cache_dir, r"test/neg/5_1.txt in .* is not UTF-8 text \(invalid continuation byte at byte 3\)")
    (folder / "test/neg/5_1.txt").unlink()
    assert imdb.get_word_index(folder) == FAKE_WORD_INDEX


def test_archive_with_kilobytes_zeroed_in_the_middle_is_refused(tmp_path, cache_dir):
    # Many entries and 4 KB of damage well after the first ones: not even the first ones load.
    reviews = random_reviews(per_group=300, words_per_review=20)
    damaged = bytearray(gzip.compress(tar_bytes(reviews), mtime=0))
    middle = len(damaged) // 2
    damaged[middle:middle + 4096] = bytes(4096)
    archive = tmp_path / "reviews.tar.gz"
    archive.write_bytes(damaged)
    refused(archive, cache_dir, "is damaged", AGAIN)


# --------------------------------------------------------------------------
# A damaged cache is rebuilt from the data, with a warning.
# --------------------------------------------------------------------------

def rewrite_cache(file, **changes):
    """Rewrites the cache `file` with some arrays changed: a new value, a function of the old one,
    or None to remove it."""
    with np.load(file) as data:
        arrays = {name: data[name] for name in data.files}
    for name, change in changes.items():
        arrays[name] = change(arrays[name]) if callable(change) else change
    np.savez(file, **{name: value for name, value in arrays.items() if value is not None})


def flip_last_bytes(file, array):
    """Flips the last 8 bytes of `array`'s data inside the cache `file` (a zip of .npy files)."""
    with zipfile.ZipFile(file) as archive:
        entry = archive.getinfo(f"{array}.npy")
    data = bytearray(file.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[entry.header_offset + 26:entry.header_offset + 30])
    end = entry.header_offset + 30 + name_length + extra_length + entry.compress_size
    data[end - 8:end] = bytes(byte ^ 0xFF for byte in data[end - 8:end])
    file.write_bytes(data)


CACHE_DAMAGE = {
    "cut short": (lambda file: file.write_bytes(file.read_bytes()[:300]), "cannot be read"),
    "token bytes flipped": (lambda file: flip_last_bytes(file, "ranks"), "cannot be read: BadZipFile: Bad CRC-32"),
    "word bytes flipped": (lambda file: flip_last_bytes(file, "words"), "cannot be read: BadZipFile: Bad CRC-32"),
    "not a zip": (lambda file: file.write_text("hello"), "cannot be read"),
    "old version": (lambda file: rewrite_cache(file, version=np.array(1)), "format version 1, not 2"),
    "array missing": (lambda file: rewrite_cache(file, lengths=None), "cannot be read: KeyError"),
    "labels wrong": (lambda file: rewrite_cache(file, labels=np.zeros(7, np.int8)), "labels do not match"),
    "counts wrong": (lambda file: rewrite_cache(file, counts=np.array([3, 2, 1, 0])), r"counts \[3, 2, 1, 0\]"),
    "tokens lost": (lambda file: rewrite_cache(file, ranks=np.zeros(3, np.int32)), "tokens do not match"),
    "ranks too large": (lambda file: rewrite_cache(file, ranks=lambda ranks: ranks + 99), "ranks go beyond"),
    "official, partial": (lambda file: rewrite_cache(file, official=np.array(True)), "but it has train/neg 3"),
    "official malformed": (lambda file: rewrite_cache(file, official=np.array([True, False])),
                           "cannot be read: ValueError"),
}


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE))
def test_damaged_cache_is_rebuilt_with_a_warning(damage, fake_root, cache_dir):
    expected = imdb.load_data(fake_root, seed=0)
    [cache_file] = cache_dir.glob("imdb-*.npz")
    damage_file, reason = CACHE_DAMAGE[damage]
    damage_file(cache_file)
    with pytest.warns(UserWarning, match=re.escape(f"The IMDB cache {cache_file} is damaged (")) as warned:
        (x_train, y_train), (x_test, y_test) = imdb.load_data(fake_root, seed=0)
    assert re.search(reason, str(warned[0].message)), str(warned[0].message)
    assert re.search(re.escape(f"rebuilding it from {fake_root / 'aclImdb'}"), str(warned[0].message))
    assert as_lists(x_train) == as_lists(expected[0][0]) and as_lists(x_test) == as_lists(expected[1][0])
    assert y_train.tolist() == expected[0][1].tolist() and y_test.tolist() == expected[1][1].tolist()
    assert imdb._read_cache(cache_file)["words"] == list(FAKE_WORD_INDEX)  # rebuilt whole
    assert not list(cache_dir.glob(".tmp-*"))


def test_vocabulary_from_a_damaged_cache_is_rebuilt_too(fake_root, cache_dir):
    imdb.load_data(fake_root)
    [cache_file] = cache_dir.glob("imdb-*.npz")
    cache_file.write_bytes(b"PK\x03\x04 not really")
    with pytest.warns(UserWarning, match="is damaged"):
        assert imdb.decode_review([1, 4, 5], path=fake_root) == "<START> bad great"


def test_unwritable_cache_says_what_to_do(fake_root, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TINYSEQ_CACHE", str(blocker / "cache"))
    with pytest.raises(OSError, match=r"Could not write the IMDB cache .*a file/cache/imdb-.*\.npz .*"
                                      "set TINYSEQ_CACHE to a writable folder"):
        imdb.load_data(fake_root)


# --------------------------------------------------------------------------
# Paths and arguments.
# --------------------------------------------------------------------------

def test_wrong_paths_say_what_was_expected(tmp_path, cache_dir, monkeypatch):
    missing = tmp_path / "nowhere" / "aclImdb_v1.tar.gz"
    with pytest.raises(FileNotFoundError,
                       match="No IMDB data at .*nowhere.*given by the path argument.*does not exist"):
        imdb.load_data(missing)
    monkeypatch.setenv("TINYSEQ_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="nowhere.*given by TINYSEQ_DATA"):
        imdb.load_data()
    not_aclimdb = tmp_path / "my data"
    not_aclimdb.mkdir()
    for name in ("a.txt", "b.txt", "c", "d", "e", "f", "g"):
        (not_aclimdb / name).touch()
    with pytest.raises(imdb.DatasetError, match=re.escape(
            f"The folder {not_aclimdb} (given by the path argument) is not in aclImdb layout: expected the "
            "aclImdb_v1.tar.gz archive, an extracted aclImdb/ folder (with train/ and test/), or a folder "
            "containing aclImdb/. It holds a.txt, b.txt, c, d, e and 2 more.")):
        imdb.get_word_index(not_aclimdb)
    with pytest.raises(TypeError, match=r"get_word_index: path must be a str or os.PathLike .* got 3 \(int\)"):
        imdb.get_word_index(3)
    assert issubclass(imdb.DatasetError, ValueError)


BAD_ARGUMENTS = [
    (dict(num_words=2), "load_data: num_words must be at least index_from + 2 = 5 (ids below num_words are "
                        "kept, and the most frequent word has id 4), got 2"),
    (dict(num_words=4), "num_words must be at least index_from + 2 = 5 (.*), got 4"),
    (dict(num_words=1, index_from=0, start_char=None, oov_char=None), "num_words must be at least index_from + 2 = 2"),
    (dict(num_words=0), "load_data: num_words must be a positive integer, got 0"),
    (dict(num_words=5000.0), "load_data: num_words must be a positive integer, got 5000.0"),
    (dict(num_words=True), "num_words must be a positive integer, got True"),
    (dict(skip_top=-1), "load_data: skip_top must be a non-negative integer, got -1"),
    (dict(maxlen=-5), "load_data: maxlen must be a positive integer, got -5"),
    (dict(maxlen=0), "maxlen must be a positive integer, got 0"),
    (dict(maxlen="100"), "maxlen must be a positive integer, got '100'"),
    (dict(seed=-1), "load_data: seed must be a non-negative integer, got -1"),
    (dict(seed=2**32), "load_data: seed must be below 2**32 (the limit of np.random.RandomState), got 4294967296"),
    (dict(seed=None), "seed must be a non-negative integer, got None"),
    (dict(start_char=0), "load_data: start_char must be a positive integer, got 0"),
    (dict(start_char=4), "load_data: start_char must be an id from 1 to index_from=3 (0 is padding, ids from 4 "
                         "on are words), got 4"),
    (dict(oov_char=2.0), "oov_char must be a positive integer, got 2.0"),
    (dict(index_from=1), "oov_char must be an id from 1 to index_from=1 (.*), got 2"),
    (dict(index_from=-1), "load_data: index_from must be a non-negative integer, got -1"),
    (dict(start_char=2), "load_data: start_char and oov_char must be different ids, got 2 for both"),
]


@pytest.mark.parametrize("arguments, message", BAD_ARGUMENTS, ids=lambda value: str(value)[:40])
def test_bad_arguments_are_named(arguments, message, fake_root, cache_dir):
    pattern = re.escape(message).replace(re.escape("(.*)"), "(.*)")
    with pytest.raises(ValueError, match=pattern):
        imdb.load_data(fake_root, **arguments)
    assert not cache_dir.exists()  # refused before any data was read


def test_bad_arguments_of_encode_and_decode_are_named(fake_root, cache_dir):
    with pytest.raises(ValueError, match="encode_text: num_words must be at least index_from"):
        imdb.encode_text("the movie", num_words=3, path=fake_root)
    with pytest.raises(TypeError, match=r"encode_text: text must be a string, got list"):
        imdb.encode_text(["the", "movie"], path=fake_root)
    with pytest.raises(ValueError, match="decode_review: oov_char must be an id from 1 to index_from=3"):
        imdb.decode_review([1, 2], oov_char=7, path=fake_root)
# --------------------------------------------------------------------------
# Downloading.
# --------------------------------------------------------------------------

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


def serve(payload, fail_after=None):
    """A stand-in for urlopen that returns `payload`, or drops the connection after `fail_after` bytes."""
    class Response(io.BytesIO):
        def read(self, size=-1):
            if fail_after is not None and self.tell() >= fail_after:
                raise ConnectionResetError("Connection reset by peer")
            return super().read(size if fail_after is None else min(size, fail_after))

    return lambda url, timeout: Response(payload)


def accept_download(payload, monkeypatch):
    monkeypatch.setattr(imdb, "ARCHIVE_SIZE", len(payload))
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", hashlib.sha256(payload).hexdigest())


def test_download_is_checked_and_atomic(small_official, cache_dir, monkeypatch):
    monkeypatch.setattr(imdb, "urlopen", serve(small_official))
    with pytest.raises(RuntimeError, match="(?s)corrupt download.*TINYSEQ_DATA"):
        imdb.load_data()
    assert not list(cache_dir.iterdir())

    accept_download(small_official, monkeypatch)
    monkeypatch.setattr(imdb, "urlopen", serve(small_official, fail_after=100))
    with pytest.raises(RuntimeError, match="(?s)Connection reset by peer.*Download aclImdb_v1.tar.gz yourself"):
        imdb.load_data()
    assert not list(cache_dir.iterdir())

    monkeypatch.setattr(imdb, "urlopen", serve(small_official))
    assert imdb.get_word_index() == SMALL_WORD_INDEX
    assert (cache_dir / imdb.ARCHIVE_NAME).read_bytes() == small_official
    monkeypatch.setattr(imdb, "urlopen", serve(b""))  # a second call must not download again
    assert imdb.get_word_index() == SMALL_WORD_INDEX


def test_download_progress_without_tqdm(small_official, cache_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    monkeypatch.setattr(imdb, "urlopen", serve(small_official))
    accept_download(small_official, monkeypatch)
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


@pytest.mark.slow
def test_real_sizes_and_labels(real_5000):
    (x_train, y_train), (x_test, y_test) = real_5000
    assert len(x_train) == len(y_train) == 25_000
    assert len(x_test) == len(y_test) == 25_000
    for y in (y_train, y_test):
        assert np.bincount(y).tolist() == [12_500, 12_500]


@pytest.mark.slow
def test_real_ids(real_5000):
    for x in (real_5000[0][0], real_5000[1][0]):
        assert all(review[0] == 1 for review in x)
        flat = np.concatenate([np.asarray(review) for review in x])
        assert flat.max() == 4999
        assert flat.min() == 1
        assert np.count_nonzero(flat == 2) > 0


@pytest.mark.slow
def test_real_word_index(real):
    word_index = imdb.get_word_index()
    assert word_index["the"] == 1
    assert sorted(word_index.values()) == list(range(1, len(word_index) + 1))
    assert {"and", "a", "of", "movie", "film", "don't"} <= word_index.keys()
    # <br /> (about 100,000 times in training) is markup; 'br' occurs once, as a word.
    assert word_index["br"] > 30_000


@pytest.mark.slow
def test_real_maxlen_drops_long_reviews(real, real_5000):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=5000, maxlen=100)
    for (x_short, y_short), (x_all, y_all) in zip(((x_train, y_train), (x_test, y_test)), real_5000):
        is_short = np.array([len(review) < 100 for review in x_all])
        assert len(x_short) == np.count_nonzero(is_short) > 0
        assert all(len(review) < 100 for review in x_short)
        assert as_lists(x_short) == as_lists(x_all[is_short])  # same seed, same order
        assert y_short.tolist() == y_all[is_short].tolist()


@pytest.mark.slow
def test_real_shuffle_depends_only_on_seed(real, real_5000):
    (x_again, y_again), _ = imdb.load_data(num_words=5000)
    assert y_again.tolist() == real_5000[0][1].tolist()
    assert as_lists(x_again[:50]) == as_lists(real_5000[0][0][:50])
    (x_other, y_other), _ = imdb.load_data(num_words=5000, seed=7)
    assert y_other.tolist() != y_again.tolist()
    assert sorted(map(tuple, x_other)) == sorted(map(tuple, x_again))


@pytest.mark.slow
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


@pytest.mark.slow
def test_real_encode_decode(real):
    sentence = "this movie was not as good as the book but i don't regret watching it"
    ids = imdb.encode_text(sentence)
    assert ids[:3] == [1, 13, 19]  # <START>, 'this' (rank 10), 'movie' (rank 16)
    assert imdb.decode_review(ids) == "<START> " + sentence
    assert imdb.encode_text("Qwzxqy blorptastic!") == [1, 2, 2]
    assert max(imdb.encode_text(sentence, num_words=50)) < 50


@pytest.mark.slow
def test_real_second_load_uses_the_cache(real, monkeypatch):
    monkeypatch.setattr(imdb, "_parse", lambda source: pytest.fail("parsed again"))
    (x_train, _), (x_test, _) = imdb.load_data()
    assert len(x_train) == len(x_test) == 25_000


@pytest.mark.slow
def test_real_archive_is_the_complete_official_dataset(real):
    if real.is_dir():
        pytest.skip("TINYSEQ_DATA names a folder")
    reviews, official = aclimdb.read_reviews(real)
    assert official
    assert [len(reviews[group]) for group in aclimdb.GROUPS] == [12_500] * 4


@pytest.mark.slow
def test_real_archive_with_kilobytes_damaged_is_refused(real, tmp_path, cache_dir):
    if real.is_dir():
        pytest.skip("TINYSEQ_DATA names a folder")
    damaged = bytearray(real.read_bytes())
    middle = len(damaged) // 2
    damaged[middle:middle + 4096] = bytes(byte ^ 0x55 for byte in damaged[middle:middle + 4096])
    archive = tmp_path / real.name
    archive.write_bytes(damaged)
    with pytest.raises(imdb.DatasetError, match=f"The archive {re.escape(str(archive))} is damaged") as error:
        imdb.load_data(archive)
    assert re.search(AGAIN, str(error.value))
    assert not cache_dir.exists()
