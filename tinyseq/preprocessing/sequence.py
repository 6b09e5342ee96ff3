"""Sequence preprocessing: make variable-length sequences rectangular.

Recurrent networks are trained on batches, and a batch is a rectangular
array, so sequences of different lengths must first be cut or padded to a
common length. :func:`pad_sequences` does this with the same semantics as
``keras.utils.pad_sequences``.
"""

import numpy as np

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
            ``"post"``, if ``sequences`` or one of its entries is not a
            sequence, if an entry's items have a different shape from the
            first non-empty entry's, or if ``value`` is a string but
            ``dtype`` cannot hold strings.

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
    if padding not in _SIDES:
        raise ValueError(f'Padding type "{padding}" not understood: `padding` must be "pre" or "post".')
    if truncating not in _SIDES:
        raise ValueError(
            f'Truncating type "{truncating}" not understood: `truncating` must be "pre" or "post".')
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")

    lengths = []
    sample_shape = ()  # shape of one time step, taken from the first non-empty sequence
    found_sample = False
    for position, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError as error:
            raise ValueError(
                "`sequences` must be a list of iterables. "
                f"Found non-iterable at position {position}: {seq!r}") from error
        if not found_sample and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
            found_sample = True

    if maxlen is None:
        maxlen = max(lengths, default=0)

    if isinstance(value, str) and np.dtype(dtype).kind not in "OUS":
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
            "You should set `dtype=object` for variable length strings.")

    padded = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return padded  # nothing fits; also avoids s[-0:] meaning "everything" below
    for position, seq in enumerate(sequences):
        if not len(seq):
            continue  # an empty sequence stays a row of `value`
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of sample {kept.shape[1:]} of sequence at position {position} "
                f"is different from expected shape {sample_shape}")
        if padding == "post":
            padded[position, :len(kept)] = kept
        else:
            padded[position, -len(kept):] = kept
    return padded
