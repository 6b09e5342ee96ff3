"""Where in a review a trained sentiment model finds its evidence.

Three measurements of a model that reads padded word ids and ends in one sigmoid unit (the
IMDB model of `tinyseq imdb train`, or any other of that shape):

* accuracy and loss by review length: `review_lengths` counts the words of each raw review
  (before padding or truncation), `length_quartiles` splits them into four groups of about
  equal size, and `scores_by_group` scores the predictions of each group;
* accuracy when only the first or the last k words of each review are kept (`keep_words`,
  `accuracy_keeping_words`): if the last 50 words give nearly the accuracy of the whole review,
  a model that forgets what came long before loses little;
* the gradient of each review's loss with respect to the embedded word at each position,
  against its distance from the review's last word (`gradient_by_position`): how strongly the
  prediction can still learn from a word that many steps back. `plot_gradient_by_position`
  draws one curve per trained model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from ..losses import EPSILON, binary_crossentropy
from ..preprocessing.sequence import pad_sequences
from .common import COLOURS, LABELS, new_figure, save_figure

ENDS = ("first", "last")


def review_lengths(sequences, start_char=1):
    """The number of words of each review: its ids, less a leading `start_char` marker.

    Args:
        sequences: the reviews as lists (or arrays) of word ids, not padded, as
            `tinyseq.datasets.imdb.load_data` returns them.
        start_char: the id that marks a review's start (not a word), or None if there is none.

    Returns:
        An int array with one length per review.

    Example:
        >>> review_lengths([[1, 14, 22], [1], [5, 6]]).tolist()
        [2, 0, 2]
    """
    return np.array([len(ids) - (start_char is not None and len(ids) > 0 and ids[0] == start_char)
                     for ids in sequences], dtype=np.int64)


def length_quartiles(lengths):
    """The three lengths that split `lengths` into four groups of about equal size: the 25th,
    50th and 75th percentiles (linear interpolation, numpy's default).

    Raises:
        ValueError: for no lengths.

    Example:
        >>> length_quartiles([10, 20, 30, 40, 50]).tolist()
        [20.0, 30.0, 40.0]
    """
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise ValueError("length_quartiles: lengths is empty; give the length of at least one review")
    return np.percentile(lengths, [25, 50, 75])


def quartile_of(lengths, edges):
    """The group of each length: 0 up to `edges[0]` (included), 1 up to `edges[1]`, 2 up to
    `edges[2]`, and 3 above.

    Example:
        >>> quartile_of([10, 20, 21, 50], [20.0, 30.0, 40.0]).tolist()
        [0, 0, 1, 3]
    """
    return np.searchsorted(np.asarray(edges), np.asarray(lengths), side="left")


def scores_by_group(probabilities, labels, groups, group_count):
    """Accuracy and mean binary cross-entropy of the predictions in each group.

    Args:
        probabilities: the predicted probability of label 1 for each review, shape (n,) or (n, 1).
        labels: the 0/1 labels, shape (n,).
        groups: the group of each review, an int in [0, group_count), shape (n,).
        group_count: how many groups there are (an empty group scores NaN).

    Returns:
        A list with one dict per group: "reviews" (how many), "accuracy" (a prediction counts as
        1 above 0.5, as `binary_accuracy`) and "loss" (probabilities clipped to [1e-7, 1 - 1e-7],
        as `binary_crossentropy`), in float64.

    Raises:
        ValueError: if the three arrays hold different numbers of reviews.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    labels, groups = np.asarray(labels).reshape(-1), np.asarray(groups).reshape(-1)
    if not len(probabilities) == len(labels) == len(groups):
        raise ValueError(f"scores_by_group: probabilities, labels and groups must hold one value per review, "
                         f"got {len(probabilities)}, {len(labels)} and {len(groups)}")
    correct = (probabilities > 0.5) == (labels == 1)
    clipped = np.clip(probabilities, EPSILON, 1 - EPSILON)
    losses = -np.where(labels == 1, np.log(clipped), np.log(1 - clipped))
    scores = []
    for group in range(group_count):
        members = groups == group
        count = int(members.sum())
        scores.append({"reviews": count,
                       "accuracy": float(correct[members].mean()) if count else float("nan"),
                       "loss": float(losses[members].mean()) if count else float("nan")})
    return scores


def keep_words(sequences, words, end, start_char=1):
    """Each review cut to its first or its last `words` words; a leading `start_char` stays.

    Args:
        sequences: reviews as lists of word ids, not padded.
        words: how many words to keep (reviews that have fewer keep them all).
        end: "first" or "last".
        start_char: the start marker kept in front of the cut review, or None.

    Raises:
        ValueError: for a `words` that is not a positive int, or an `end` other than "first"
            or "last".

    Example:
        >>> keep_words([[1, 5, 6, 7], [1, 8]], 2, "last")
        [[1, 6, 7], [1, 8]]
    """
    if isinstance(words, bool) or not isinstance(words, (int, np.integer)) or words < 1:
        raise ValueError(f"keep_words: words must be a positive int, got {words!r}")
    if end not in ENDS:
        raise ValueError(f"keep_words: end must be 'first' or 'last', got {end!r}")
    cut = []
    for ids in sequences:
        ids = list(ids)
        start = ids[:1] if start_char is not None and ids[:1] == [start_char] else []
        body = ids[len(start):]
        cut.append(start + (body[:words] if end == "first" else body[-words:]))
    return cut


def accuracy_keeping_words(predict, sequences, labels, words, end, maxlen):
    """The accuracy of `predict` on the reviews cut by `keep_words`, padded to `maxlen`.

    Args:
        predict: a function from padded ids (n, maxlen) to probabilities (n,) or (n, 1), e.g.
            `lambda x: model.predict(x, verbose=0)` for a tinyseq or a Keras model.
        sequences, labels: the reviews (lists of ids, not padded) and their 0/1 labels.
        words, end: see `keep_words` (the start marker is 1, as in `load_data`).
        maxlen: the length the model reads; the cut reviews are padded and truncated at the
            start, as `pad_sequences` does by default (and as the model was trained).

    Returns:
        The fraction of reviews on the right side of 0.5.
    """
    padded = pad_sequences(keep_words(sequences, words, end), maxlen=maxlen)
    probabilities = np.asarray(predict(padded)).reshape(-1)
    return float(np.mean((probabilities > 0.5) == (np.asarray(labels).reshape(-1) == 1)))


@dataclass
class PositionGradients:
    """Gradient norms of a model's loss with respect to its embedded words, by distance.

    Attributes:
        mean_norm: element d is the mean, over the reviews that have a word d positions before
            their last one, of ||dL_i/de_i,t|| there (L_i the review's own loss, e_i,t the
            embedding layer's output at that position); NaN where no review reaches.
        reviews: element d is how many reviews reach distance d.
    """
    mean_norm: np.ndarray
    reviews: np.ndarray

    def to_json(self):
        """The arrays as lists (NaN as None), for JSON."""
        return {"mean_norm": [None if np.isnan(value) else float(value) for value in self.mean_norm],
                "reviews": [int(count) for count in self.reviews]}

    @classmethod
    def from_json(cls, document):
        """Rebuild a `PositionGradients` from what `to_json` wrote."""
        return cls(np.array([np.nan if value is None else value for value in document["mean_norm"]], dtype=np.float64),
                   np.array(document["reviews"], dtype=np.int64))


def gradient_by_position(model, ids, labels, batch_size=100):
    """How strongly each review's loss depends on the embedded word at each position.

    For review i and position t, the norm ||dL_i/de_i,t|| of the gradient of the review's own
    binary cross-entropy L_i with respect to the embedding layer's output e_i,t (a vector of
    the embedding's size). Positions are counted back from each review's last word (the last
    non-zero id), so pre- and post-padded reviews line up; padding (id 0) is left out.

    Args:
        model: a `Sequential` whose first layer is the `Embedding` and whose output is one
            sigmoid probability per review. Its parameters' gradients are cleared afterwards.
        ids: padded word ids, shape (n, maxlen); id 0 is padding.
        labels: the 0/1 labels, shape (n,).
        batch_size: reviews per forward and backward pass.

    Returns:
        A `PositionGradients` over distances 0 .. maxlen - 1.

    Raises:
        ValueError: if ids is not 2-D, or ids and labels hold different numbers of reviews.
    """
    ids, labels = np.asarray(ids), np.asarray(labels, dtype=np.float64).reshape(-1)
    if ids.ndim != 2 or len(ids) != len(labels):
        raise ValueError(f"gradient_by_position: ids must be (reviews, maxlen) with one label per review, "
                         f"got ids of shape {ids.shape} and {len(labels)} labels")
    maxlen = ids.shape[1]
    sums, counts = np.zeros(maxlen), np.zeros(maxlen, dtype=np.int64)
    embedding, *rest = model.layers
    for start in range(0, len(ids), batch_size):
        batch, batch_labels = ids[start:start + batch_size], labels[start:start + batch_size]
        outputs = embedded = embedding(batch).retain_grad()
        mask = embedding.compute_mask(batch)
        for layer in rest:
            outputs, mask = layer(outputs, mask=mask), layer.compute_mask(outputs, mask)
        # Reviews do not interact, so the gradient of the summed losses holds each review's own.
        ops.sum(binary_crossentropy(batch_labels.reshape(-1, 1), outputs)).backward()
        norms = np.linalg.norm(embedded.grad.astype(np.float64), axis=2)
        is_word = batch != 0
        last_word = maxlen - 1 - np.argmax(is_word[:, ::-1], axis=1)
        distance = last_word[:, None] - np.arange(maxlen)[None, :]
        counted = is_word & (distance >= 0)
        sums += np.bincount(distance[counted], weights=norms[counted], minlength=maxlen)
        counts += np.bincount(distance[counted], minlength=maxlen)
    model.zero_grad()
    with np.errstate(invalid="ignore", divide="ignore"):
        return PositionGradients(np.where(counts > 0, sums / counts, np.nan), counts)


def plot_gradient_by_position(curves, path, min_reviews=50, title=None):
    """Draw mean gradient norm against distance from the last word, one line per trained model.

    Args:
        curves: {cell name: [PositionGradients, ...]}, e.g. {"lstm": [seed 0, seed 1], ...};
            a cell's lines share its colour (`LABELS` and `COLOURS` of `experiments.common`
            name and colour "rnn", "lstm" and "gru").
        path: where to save the figure; the suffix picks the format (.svg, .png).
        min_reviews: distances that fewer reviews reach are not drawn (their mean is noise).
        title: the figure's title (default: none).

    Raises:
        PlottingUnavailable: if matplotlib is not installed.
    """
    figure = new_figure(8.0, 4.0)
    axes = figure.add_subplot()
    for cell, gradients in curves.items():
        for number, curve in enumerate(gradients):
            shown = np.flatnonzero(curve.reviews >= min_reviews)
            axes.plot(shown, curve.mean_norm[shown], color=COLOURS.get(cell), linewidth=1.2, alpha=0.8,
                      label=LABELS.get(cell, cell) if number == 0 else None)
    axes.set_yscale("log")
    axes.set_xlabel("distance from the review's last word (words)")
    axes.set_ylabel("mean ||dL/d embedding||")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    if title:
        axes.set_title(title)
    save_figure(figure, path)
