"""Sequence preprocessing: make variable-length sequences rectangular.

Recurrent networks are trained on batches, and a batch is a rectangular
array, so sequences of different lengths must first be cut or padded to a
common length. :func:`pad_sequences` does this with the same semantics as
``keras.utils.pad_sequences``.
"""

import math

import numpy as np

from .. import checks

_SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pads (and truncates) sequences to the same length.

    Turns a list of ``num_samples`` sequences into an array of shape
    ``(num_samples, maxlen)``. Shorter sequences are filled with ``value``,
    longer ones are cut, and empty sequences become rows made only of
    ``value``. The defaults pad and truncate at the start (``"pre"``), which
    keeps the end of each sequence next to the network's final state.

    Args:
        sequences: Sequence (list, tuple, or numpy object array) of
            sequences (lists, tuples or numpy arrays). Entries may also be
            sequences of equally shaped vectors, giving an output of shape
            ``(num_samples, maxlen) + vector_shape``.
        maxlen: Length of every output row. ``None`` means the length of
            the longest sequence.
        dtype: Output dtype. Use ``object`` (or a string dtype) to pad
            sequences of strings.
        padding: ``"pre"`` or ``"post"``: add ``value`` before or after each
            short sequence.
        truncating: ``"pre"`` or ``"post"``: drop the extra items of a long
            sequence from its start or from its end.
        value: The padding value.

    Returns:
        A numpy array of shape ``(len(sequences), maxlen)`` and type ``dtype``.

    Raises:
        ValueError: if ``padding`` or ``truncating`` is not ``"pre"`` or
            ``"post"``, if ``maxlen`` is not a non-negative integer or None, if
            ``dtype`` is not a numpy dtype, if ``sequences`` or one of its
            entries is not a sequence, if an entry's items have a different
            shape from the first non-empty entry's, if ``value`` is a string
            but ``dtype`` cannot hold strings, or if ``value`` or an item cannot
            be stored in an integer ``dtype`` (out of its range, NaN or
            infinite) rather than wrapping around.

    Example:
        >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
        array([[0, 0, 1],
               [0, 2, 3],
               [4, 5, 6]], dtype=int32)
        >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post", truncating="post")
        array([[1, 0],
               [2, 3],
               [4, 5]], dtype=int32)
    """
    # Validated up front (Keras only notices on the first non-empty sequence).
    checks.one_of(padding, "padding", "pad_sequences", _SIDES)
    checks.one_of(truncating, "truncating", "pad_sequences", _SIDES)
    if maxlen is not None:
        maxlen = checks.non_negative_int(maxlen, "maxlen", "pad_sequences")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"pad_sequences: dtype must be a numpy dtype, got {dtype!r}") from None
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: sequences must be a list of sequences, "
                         f"got {type(sequences).__name__}")

    lengths = []
    sample_shape = ()  # shape of one time step, taken from the first non-empty sequence
    found_sample = False
    for position, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)):  # a text, not yet turned into ids
            raise ValueError(f"pad_sequences: the sequence at position {position} is a string, {seq[:40]!r}; "
                             f"pad sequences of ids (e.g. imdb.encode_text(text)), not texts")
        try:
            lengths.append(len(seq))
        except TypeError as error:
            raise ValueError(
                "pad_sequences: sequences must be a list of sequences; "
                f"found a non-sequence at position {position}: {seq!r}") from error
        if not found_sample and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
            found_sample = True

    if maxlen is None:
        maxlen = max(lengths, default=0)

    if isinstance(value, str) and dtype.kind not in "OUS":
        raise ValueError(f"pad_sequences: dtype {dtype} cannot hold the string value {value!r}; "
                         f"use dtype=object for strings")
    _check_fits(np.asarray(value), dtype, "value is")

    padded = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return padded  # nothing fits; also avoids s[-0:] meaning "everything" below
    rows = []  # (position, the items kept), checked all at once before they are stored
    for position, seq in enumerate(sequences):
        if not len(seq):
            continue  # an empty sequence stays a row of `value`
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=object if dtype.kind == "O" else None)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: the items of the sequence at position {position} have shape "
                f"{kept.shape[1:]}, but earlier sequences' items have shape {sample_shape}")
        rows.append((position, kept))
    _check_rows_fit(rows, dtype)
    for position, kept in rows:
        if padding == "post":
            padded[position, :len(kept)] = kept
        else:
            padded[position, -len(kept):] = kept
    return padded


def _check_rows_fit(rows, dtype):
    """`_check_fits` for every (position, items) row; one pass over all of them when they fit."""
    rows = [(position, items) for position, items in rows if _may_not_fit(items, dtype)]
    if not rows:
        return
    everything = np.concatenate([items.ravel() for _, items in rows])
    limits = np.iinfo(dtype)
    if np.isfinite(everything).all() and limits.min <= everything.min() and everything.max() <= limits.max:
        return
    for position, items in rows:  # find the first culprit, to name it
        _check_fits(items, dtype, f"the sequence at position {position} holds")


def _may_not_fit(values, dtype):
    """Whether `values` are numbers that an integer `dtype` may be unable to hold."""
    if dtype.kind not in "iu" or values.size == 0 or values.dtype.kind not in "iuf":
        return False
    return not (values.dtype.kind in "iu" and np.can_cast(values.dtype, dtype))


def _check_fits(values, dtype, what):
    """Raise ValueError if an integer `dtype` cannot hold `values` (numpy would wrap them around,
    or turn NaN into an arbitrary number); fractions are truncated, as Keras does."""
    if not _may_not_fit(values, dtype):
        return
    limits = np.iinfo(dtype)
    low, high = values.min(), values.max()
    if values.dtype.kind == "f" and not (math.isfinite(low) and math.isfinite(high)):
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"pad_sequences: {what} {bad}, which dtype {dtype} cannot hold")
    if low < limits.min or high > limits.max:
        bad = low if low < limits.min else high
        raise ValueError(f"pad_sequences: {what} {bad}, outside the range of dtype {dtype} "
                         f"({limits.min}..{limits.max}); pass a dtype that can hold it, e.g. 'int64'")
