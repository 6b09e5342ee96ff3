"""The Keras IMDB walkthrough in tinyseq, on slices of the real data (minutes, not more).

The `tinyseq imdb` commands are tested in test_cli.py, on a tiny synthetic archive."""

import numpy as np
import pytest

import tinyseq
from tinyseq.apps.imdb import build_seed_model, prepare_data


@pytest.fixture
def sliced_imdb(real, monkeypatch):
    """Make imdb.load_data return the first reviews only, so the walkthrough runs in seconds."""
    from tinyseq.datasets import imdb
    full = imdb.load_data

    def first_reviews(*args, **kwargs):
        (x_train, y_train), (x_test, y_test) = full(*args, **kwargs)
        return (x_train[:256], y_train[:256]), (x_test[:128], y_test[:128])
    monkeypatch.setattr(imdb, "load_data", first_reviews)


def test_the_walkthrough_runs_with_only_the_imports_changed(sliced_imdb, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # ---- the walkthrough, keras -> tinyseq ----
    from tinyseq.datasets import imdb
    from tinyseq.layers import LSTM, Activation, Dense, Dropout, Embedding  # noqa: F401 (as the walkthrough)
    from tinyseq.models import Sequential
    from tinyseq.preprocessing import sequence

    top_words = 5000
    (X_train, y_train), (X_test, y_test) = imdb.load_data(num_words=top_words)
    max_review_length = 500
    X_train = sequence.pad_sequences(X_train, maxlen=max_review_length)
    X_test = sequence.pad_sequences(X_test, maxlen=max_review_length)
    word_index = imdb.get_word_index()
    embedding_vector_length = 32
    model = Sequential()
    model.add(Embedding(top_words, embedding_vector_length, input_length=max_review_length))
    model.add(LSTM(100))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    print(model.summary())
    model.fit(X_train, y_train, validation_data=(X_test, y_test), epochs=2, batch_size=128)
    scores = model.evaluate(X_test, y_test, verbose=0)
    print("Accuracy: %.2f%%" % (scores[1] * 100))
    model.save('imdb.h5')

    # the second example of the walkthrough: the "web traffic" model with rmsprop
    second = Sequential()
    second.add(Embedding(1024, 256))
    second.add(LSTM(128))
    second.add(Dropout(0.5))
    second.add(Dense(1, activation='sigmoid'))
    second.compile(loss='binary_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
    second.fit(np.minimum(X_train[:64, -50:], 1023), y_train[:64], batch_size=16, epochs=1)
    # ---- end of the walkthrough ----

    out = capsys.readouterr().out
    assert "Total params: 213,301" in out and "Epoch 2/2" in out and "val_accuracy" in out
    assert f"Accuracy: {scores[1] * 100:.2f}%" in out and (tmp_path / "imdb.h5").exists()
    assert word_index["the"] == 1 and second.count_params() == 1024 * 256 + 4 * 128 * (256 + 128 + 1) + 129


def test_decoding_with_the_right_offset_gives_the_review_and_plus_one_gives_nonsense(real):
    from tinyseq.datasets import imdb
    (x_train, _), _ = imdb.load_data()
    review = x_train[0]
    word_index = imdb.get_word_index()
    # The walkthrough's decoder: ids shifted by 1 instead of index_from=3.
    wrong = {rank + 1: word for word, rank in word_index.items()}
    wrong_text = " ".join(wrong.get(i, "?") for i in review[1:])
    right_text = imdb.decode_review(review)
    assert right_text.startswith("<START> ") and right_text != "<START> " + wrong_text
    assert imdb.encode_text(right_text.removeprefix("<START> ")) == list(review)


def test_a_short_training_run_on_a_slice_reaches_75_percent_held_out(real):
    tinyseq.random.seed(0)
    (x_train, y_train), (x_test, y_test) = prepare_data(5000, 120, train_samples=3000, test_samples=1000)
    model = build_seed_model(5000, 120)
    model.fit(x_train, y_train, epochs=3, batch_size=64, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.75, f"held-out accuracy {accuracy:.3f}"

