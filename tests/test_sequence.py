"""Tests for tinyseq.preprocessing.sequence.pad_sequences (Keras semantics)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyseq.preprocessing.sequence import pad_sequences

SEQUENCES = [[1], [2, 3], [4, 5, 6, 7]]


def test_defaults_pad_to_longest_at_the_start():
    padded = pad_sequences(SEQUENCES)
    np.testing.assert_array_equal(padded, [[0, 0, 0, 1], [0, 0, 2, 3], [4, 5, 6, 7]])
    assert padded.dtype == np.int32


@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[0, 0, 1], [0, 2, 3], [5, 6, 7]]),
    ("pre", "post", [[0, 0, 1], [0, 2, 3], [4, 5, 6]]),
    ("post", "pre", [[1, 0, 0], [2, 3, 0], [5, 6, 7]]),
    ("post", "post", [[1, 0, 0], [2, 3, 0], [4, 5, 6]]),
])
def test_padding_and_truncating_sides(padding, truncating, expected):
    padded = pad_sequences(SEQUENCES, maxlen=3, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(padded, expected)


def test_maxlen_longer_than_every_sequence():
    np.testing.assert_array_equal(pad_sequences([[1, 2]], maxlen=4), [[0, 0, 1, 2]])
    np.testing.assert_array_equal(pad_sequences([[1, 2]], maxlen=4, padding="post"), [[1, 2, 0, 0]])


def test_maxlen_zero_gives_empty_rows():
    assert pad_sequences(SEQUENCES, maxlen=0).shape == (3, 0)


def test_empty_sequences_become_rows_of_value():
    padded = pad_sequences([[], [5, 6], []], value=-1)
    np.testing.assert_array_equal(padded, [[-1, -1], [5, 6], [-1, -1]])
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([]).shape == (0, 0)


def test_value_and_dtype():
    padded = pad_sequences([[0.5], [1.5, 2.5]], dtype="float32", value=-1.0, padding="post")
    assert padded.dtype == np.float32
    np.testing.assert_array_equal(padded, [[0.5, -1.0], [1.5, 2.5]])
    # Like Keras, the default int32 dtype truncates float contents.
    np.testing.assert_array_equal(pad_sequences([[0.7, 2.9]]), [[0, 2]])


def test_string_sequences_need_a_string_or_object_dtype():
    padded = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    np.testing.assert_array_equal(padded, [["<pad>", "a"], ["b", "c"]])
    padded = pad_sequences([["a"], ["b", "c"]], dtype="<U5", value="-")
    np.testing.assert_array_equal(padded, [["-", "a"], ["b", "c"]])
    with pytest.raises(ValueError, match="^pad_sequences: dtype int32 cannot hold the string value '<pad>'; "
                                         "use dtype=object for strings$"):
        pad_sequences([["a"]], value="<pad>")


def test_accepts_tuples_arrays_and_object_arrays():
    expected = [[0, 1, 2], [3, 4, 5]]
    np.testing.assert_array_equal(pad_sequences(((1, 2), (3, 4, 5))), expected)
    np.testing.assert_array_equal(pad_sequences([np.array([1, 2]), np.array([3, 4, 5])]), expected)
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1, 2], [3, 4, 5]
    np.testing.assert_array_equal(pad_sequences(ragged), expected)


def test_sequences_of_vectors_keep_their_sample_shape():
    padded = pad_sequences([[[1, 2]], [[3, 4], [5, 6]]], padding="post")
    assert padded.shape == (2, 2, 2)
    np.testing.assert_array_equal(padded, [[[1, 2], [0, 0]], [[3, 4], [5, 6]]])
    with pytest.raises(ValueError, match=r"^pad_sequences: the items of the sequence at position 1 have shape "
                                         r"\(3,\), but earlier sequences' items have shape \(2,\)$"):
        pad_sequences([[[1, 2]], [[3, 4, 5]]])


@pytest.mark.parametrize("arguments, message", [
    (dict(padding="middle"), "pad_sequences: padding must be one of 'pre', 'post', got 'middle'"),
    (dict(truncating="start"), "pad_sequences: truncating must be one of 'pre', 'post', got 'start'"),
    (dict(maxlen=-1), "pad_sequences: maxlen must be a non-negative integer, got -1"),
    (dict(maxlen=2.5), "pad_sequences: maxlen must be a non-negative integer, got 2.5"),
    (dict(dtype="int33"), "pad_sequences: dtype must be a numpy dtype, got 'int33'"),
])
def test_invalid_arguments_are_named_with_their_value(arguments, message):
    with pytest.raises(ValueError) as error:
        pad_sequences(SEQUENCES, **arguments)
    assert str(error.value) == message
    # Checked even when no sequence would need it.
    with pytest.raises(ValueError, match="padding must be one of 'pre', 'post', got 'both'"):
        pad_sequences([[]], padding="both")


def test_non_iterable_inputs():
    with pytest.raises(ValueError, match="^pad_sequences: sequences must be a list of sequences, got int$"):
        pad_sequences(5)
    with pytest.raises(ValueError, match="found a non-sequence at position 2: 7$"):
        pad_sequences([[1], [2, 3], 7])


@pytest.mark.parametrize("text", ["a wonderful film", b"raw bytes"])
def test_a_text_among_the_sequences_is_refused_not_padded_as_characters(text):
    with pytest.raises(ValueError) as error:
        pad_sequences([[1, 2], text], dtype=object)
    assert str(error.value) == (f"pad_sequences: the sequence at position 1 is a string, {text!r}; pad sequences "
                                f"of ids (e.g. imdb.encode_text(text)), not texts")


@pytest.mark.parametrize("sequences, arguments, message", [
    # int64 ids past int32's range would wrap around to negative ids
    ([[1], [2, 2**31]], {}, "pad_sequences: the sequence at position 1 holds 2147483648, outside the range of "
                             "dtype int32 (-2147483648..2147483647); pass a dtype that can hold it, e.g. 'int64'"),
    ([[-1, 3]], dict(dtype="uint8"), "pad_sequences: the sequence at position 0 holds -1, outside the range of "
                                     "dtype uint8 (0..255); pass a dtype that can hold it, e.g. 'int64'"),
    ([[1.0, float("nan")]], {}, "pad_sequences: the sequence at position 0 holds nan, which dtype int32 cannot hold"),
    ([[1]], dict(value=float("nan")), "pad_sequences: value is nan, which dtype int32 cannot hold"),
    ([[1]], dict(value=float("-inf"), dtype="int64"), "pad_sequences: value is -inf, which dtype int64 cannot hold"),
    ([[1]], dict(value=2**40), "pad_sequences: value is 1099511627776, outside the range of dtype int32 "
                               "(-2147483648..2147483647); pass a dtype that can hold it, e.g. 'int64'"),
])
def test_values_an_integer_dtype_cannot_hold_are_refused_not_wrapped(sequences, arguments, message):
    with pytest.raises(ValueError) as error:
        pad_sequences(sequences, **arguments)
    assert str(error.value) == message


def test_values_that_fit_the_dtype_pass_at_its_limits():
    padded = pad_sequences([[2**31 - 1], [-2**31, 5]], value=-1)
    np.testing.assert_array_equal(padded, [[-1, 2**31 - 1], [-2**31, 5]])
    assert pad_sequences([[2**40]], dtype="int64")[0, 0] == 2**40
    np.testing.assert_array_equal(pad_sequences([[1.5, np.nan]], dtype="float32", value=np.nan),
                                  [[1.5, np.nan]])


sides = st.sampled_from(["pre", "post"])


@given(sequences=st.lists(st.lists(st.integers(1, 1000), max_size=8), max_size=6),
       maxlen=st.none() | st.integers(0, 10), padding=sides, truncating=sides)
def test_rows_hold_the_right_slice_of_each_sequence(sequences, maxlen, padding, truncating):
    padded = pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating)
    length = max(map(len, sequences), default=0) if maxlen is None else maxlen
    assert padded.shape == (len(sequences), length)
    for row, seq in zip(padded.tolist(), sequences):
        kept = seq[len(seq) - length:] if truncating == "pre" and len(seq) > length else seq[:length]
        pad = [0] * (length - len(kept))
        assert row == (kept + pad if padding == "post" else pad + kept)
