"""`tinyseq.experiments.positions`: where in a review a sentiment model finds its evidence.

Exact values on small hand-made inputs, and the gradient by position against central
differences on a float64 model.
"""

import numpy as np
import pytest

from tinyseq import random
from tinyseq.experiments.positions import (PositionGradients, accuracy_keeping_words, gradient_by_position,
                                           keep_words, length_quartiles, plot_gradient_by_position, quartile_of,
                                           review_lengths, scores_by_group)
from tinyseq.models.sequential import Sequential
from tinyseq.nn.core import Dense, Embedding
from tinyseq.nn.recurrent import GRU, LSTM, SimpleRNN
from tinyseq.tensor import no_grad


def test_review_lengths_count_words_not_the_start_marker():
    assert review_lengths([[1, 14, 22, 3], [1], [], [7, 1, 8]]).tolist() == [3, 0, 0, 3]
    assert review_lengths([[1, 14]], start_char=None).tolist() == [2]


def test_quartiles_split_lengths_into_four_groups_with_edges_in_the_lower_group():
    lengths = [3, 8, 1, 5, 9, 2, 7, 4]
    edges = length_quartiles(lengths)
    np.testing.assert_allclose(edges, [2.75, 4.5, 7.25])
    assert quartile_of(lengths, edges).tolist() == [1, 3, 0, 2, 3, 0, 2, 1]
    assert quartile_of([2.75, 4.5, 7.25, 7.26], edges).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="length_quartiles: lengths is empty"):
        length_quartiles([])


def test_scores_by_group_gives_each_groups_accuracy_and_clipped_loss():
    probabilities = np.array([[0.9], [0.4], [0.5], [1.0]])
    labels = np.array([1, 1, 0, 0])
    scores = scores_by_group(probabilities, labels, groups=[0, 0, 1, 1], group_count=3)
    assert [s["reviews"] for s in scores] == [2, 2, 0]
    assert scores[0]["accuracy"] == 0.5 and scores[1]["accuracy"] == 0.5  # 0.5 is not above 0.5
    assert scores[0]["loss"] == pytest.approx((-np.log(0.9) - np.log(0.4)) / 2, rel=1e-12)
    assert scores[1]["loss"] == pytest.approx((-np.log(0.5) - np.log(1e-7)) / 2, rel=1e-9)
    assert np.isnan(scores[2]["accuracy"]) and np.isnan(scores[2]["loss"])
    with pytest.raises(ValueError, match=r"scores_by_group: .* got 4, 3 and 4"):
        scores_by_group(probabilities, labels[:3], [0, 0, 1, 1], 2)


def test_keep_words_cuts_after_the_start_marker():
    reviews = [[1, 5, 6, 7, 8], [1, 9], [5, 6, 7]]
    assert keep_words(reviews, 2, "first") == [[1, 5, 6], [1, 9], [5, 6]]
    assert keep_words(reviews, 2, "last") == [[1, 7, 8], [1, 9], [6, 7]]
    assert keep_words([[1, 5, 6]], 1, "first", start_char=None) == [[1]]
    with pytest.raises(ValueError, match="keep_words: end must be 'first' or 'last', got 'middle'"):
        keep_words(reviews, 2, "middle")
    with pytest.raises(ValueError, match="keep_words: words must be a positive int, got 0"):
        keep_words(reviews, 0, "last")


def test_accuracy_keeping_words_pads_at_the_start_and_scores_the_cut_reviews():
    seen = []

    def predict(padded):  # "positive" exactly when the kept words include id 9
        seen.append(padded)
        return (padded == 9).any(axis=1).astype(float)

    reviews, labels = [[1, 9, 5, 5], [1, 5, 5, 9], [1, 5]], [1, 1, 0]
    assert accuracy_keeping_words(predict, reviews, labels, 2, "last", maxlen=4) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(seen[-1], [[0, 1, 5, 5], [0, 1, 5, 9], [0, 0, 1, 5]])
    assert accuracy_keeping_words(predict, reviews, labels, 1, "first", maxlen=2) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(seen[-1], [[1, 9], [1, 5], [1, 5]])


def small_model(layer, seed=0):
    random.seed(seed)
    model = Sequential([Embedding(12, 3, dtype="float64"), layer, Dense(1, activation="sigmoid", dtype="float64")])
    model.build((None, 6))
    return model


def review_loss(model, embedded, label):
    """One review's binary cross-entropy from its embedded words (1, steps, features)."""
    outputs = embedded
    with no_grad():
        for layer in model.layers[1:]:
            outputs = layer(outputs)
    probability = float(outputs.data[0, 0])
    return -np.log(probability) if label == 1 else -np.log(1 - probability)


@pytest.mark.parametrize("make_layer", [lambda: SimpleRNN(4, dtype="float64"), lambda: LSTM(4, dtype="float64"),
                                        lambda: GRU(4, dtype="float64")], ids=["rnn", "lstm", "gru"])
def test_gradient_by_position_matches_central_differences_and_lines_up_the_last_words(make_layer):
    model = small_model(make_layer())
    ids = np.array([[0, 0, 1, 5, 7, 3],      # pre-padded: last word at position 5
                    [1, 4, 9, 2, 0, 0],      # post-padded: last word at position 3
                    [1, 6, 6, 8, 10, 11]])
    labels = np.array([1, 0, 1])
    result = gradient_by_position(model, ids, labels, batch_size=2)

    expected_sums, expected_counts, step = np.zeros(6), np.zeros(6, dtype=int), 1e-6
    for row, label in zip(ids, labels):
        embedded = model.layers[0](row[None]).data
        last = np.flatnonzero(row)[-1]
        for position in np.flatnonzero(row):
            gradient = np.zeros(embedded.shape[2])
            for feature in range(embedded.shape[2]):
                plus, minus = embedded.copy(), embedded.copy()
                plus[0, position, feature] += step
                minus[0, position, feature] -= step
                gradient[feature] = (review_loss(model, plus, label) - review_loss(model, minus, label)) / (2 * step)
            expected_sums[last - position] += np.linalg.norm(gradient)
            expected_counts[last - position] += 1
    assert result.reviews.tolist() == expected_counts.tolist() == [3, 3, 3, 3, 1, 1]
    np.testing.assert_allclose(result.mean_norm, expected_sums / expected_counts, rtol=1e-6)
    assert all(parameter.grad is None for parameter in model.parameters())


def test_gradient_by_position_leaves_unreached_distances_empty_and_checks_shapes():
    model = small_model(SimpleRNN(2, dtype="float64"))
    result = gradient_by_position(model, np.array([[0, 0, 0, 0, 1, 5]]), np.array([1]))
    assert result.reviews.tolist() == [1, 1, 0, 0, 0, 0]
    assert np.isnan(result.mean_norm[2:]).all() and (result.mean_norm[:2] > 0).all()
    assert PositionGradients.from_json(result.to_json()).reviews.tolist() == result.reviews.tolist()
    np.testing.assert_array_equal(PositionGradients.from_json(result.to_json()).mean_norm, result.mean_norm)
    with pytest.raises(ValueError, match=r"gradient_by_position: .* ids of shape \(2, 6\) and 3 labels"):
        gradient_by_position(model, np.ones((2, 6), dtype=int), np.array([1, 0, 1]))


def test_plot_gradient_by_position_draws_one_line_per_model_above_the_review_threshold(tmp_path):
    pytest.importorskip("matplotlib")
    curve = PositionGradients(np.array([1.0, 0.5, 0.25, np.nan]), np.array([60, 60, 10, 0]))
    path = tmp_path / "gradients.svg"
    plot_gradient_by_position({"lstm": [curve, curve], "rnn": [curve]}, str(path), min_reviews=50)
    text = path.read_text()
    assert text.startswith("<?xml") and "LSTM" in text and "SimpleRNN" in text
