"""Keras-style models: the walkthrough API, training, progress output, callbacks, save/load, resume."""

import io
import json
import os
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinyseq
from tinyseq.callbacks import BackupAndRestore, Callback, EarlyStopping, ModelCheckpoint
from tinyseq.layers import LSTM, Dense, Dropout, Embedding
from tinyseq.models import Sequential, load_model
from tinyseq.models.progress import ProgressBar
from tinyseq.optimizers import Adam
from tinyseq.schedules import LinearDecay


def small_model(vocabulary=50, maxlen=12, dropout=0.0):
    layers = [Embedding(vocabulary, 8, input_length=maxlen), LSTM(6)]
    layers += [Dropout(dropout)] if dropout else []
    model = Sequential(layers + [Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=0.02), metrics=["accuracy"])
    return model


def toy_data(samples=96, vocabulary=50, maxlen=12, seed=0):
    """Label 1 when token 7 occurs: a task an LSTM learns in a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocabulary, size=(samples, maxlen))
    x[x == 7] = 8
    y = rng.integers(0, 2, size=samples)
    x[y == 1, rng.integers(0, maxlen, size=int(y.sum()))] = 7
    return x, y


def test_seed_model_summary_matches_keras_counts():
    model = Sequential()
    model.add(Embedding(5000, 32, input_length=500))
    model.add(LSTM(100))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert [layer.count_params() for layer in model.layers] == [160_000, 53_200, 101]
    assert "(None, 500, 32)" in text and "(None, 100)" in text and "(None, 1)" in text
    assert "Total params: 213,301" in text and "160,000" in text and "53,200" in text
    assert model.count_params() == 213_301


def test_summary_of_a_model_with_unknown_input_shape_says_what_to_do():
    with pytest.raises(ValueError, match="input shape is unknown: call build"):
        Sequential([LSTM(3)]).summary()


def test_fit_learns_and_returns_history_with_validation_metrics(capsys):
    tinyseq.random.seed(1)
    x, y = toy_data(256)
    model = small_model()
    history = model.fit(x, y, epochs=6, batch_size=32, validation_split=0.25, verbose=2)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(history.history["loss"]) == 6 and history.epoch == [0, 1, 2, 3, 4, 5]
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.75
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 6 and " - val_accuracy: " in out and "[====" not in out  # verbose=2


def test_fit_is_deterministic_under_a_seed():
    runs = []
    for _ in range(2):
        tinyseq.random.seed(5)
        model = small_model(dropout=0.3)
        model.fit(*toy_data(64), epochs=2, batch_size=16, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_progress_bar_in_a_log_writes_one_finished_line_per_epoch():
    stream = io.StringIO()
    bar = ProgressBar(3, verbose=1, stream=stream)
    for step in (1, 2, 3):
        bar.update(step, {"loss": 0.5})
    bar.finish({"loss": 0.25, "accuracy": 0.75})
    text = stream.getvalue()
    assert "\r" not in text and text.count("\n") == 1
    assert text.startswith("3/3 [==============================] - ")
    assert text.rstrip().endswith("ms/step - loss: 0.2500 - accuracy: 0.7500")


def test_progress_bar_in_a_terminal_redraws_in_place():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    stream = Terminal()
    bar = ProgressBar(4, verbose=1, stream=stream)
    bar.update(2, {"loss": 0.5})
    bar.finish({"loss": 0.25})
    assert stream.getvalue().startswith("\r2/4 [==============>...............] - ETA: ")
    assert "\r4/4 [==============================]" in stream.getvalue()


def test_predict_is_in_inference_mode_and_batched():
    tinyseq.random.seed(0)
    model = small_model(dropout=0.5)
    x, _ = toy_data(10)
    first, second = model.predict(x, batch_size=3, verbose=0), model.predict(x, batch_size=7, verbose=0)
    assert first.shape == (10, 1)
    np.testing.assert_allclose(first, second, rtol=1e-6)
    assert model.training  # predict restores the mode it found


def test_evaluate_returns_loss_and_metrics_as_keras():
    model = small_model()
    x, y = toy_data(20)
    scores = model.evaluate(x, y, verbose=0)
    assert isinstance(scores, list) and len(scores) == 2
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": scores[0], "accuracy": scores[1]}


def test_compile_accepts_an_optimizer_object_and_fit_requires_compile():
    model = Sequential([Embedding(50, 4, input_length=12), LSTM(3), Dense(1, activation="sigmoid")])
    with pytest.raises(RuntimeError, match="fit: compile the model first"):
        model.fit(*toy_data(8))
    optimizer = Adam(learning_rate=0.01)
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    assert model.optimizer is optimizer
    model.fit(*toy_data(8), verbose=0)
    assert optimizer.iterations == 1


def test_fit_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="fit: x has 8 samples but y has 7"):
        small_model().fit(toy_data(8)[0], np.zeros(7))


def test_out_of_vocabulary_token_ids_raise_naming_the_id():
    model = small_model(vocabulary=50)
    x = np.ones((2, 12), dtype=int)
    x[1, 4] = 50
    with pytest.raises(IndexError, match=r"id 50 at position \(1, 4\) is outside the vocabulary of size 50"):
        model.predict(x, verbose=0)


# ---- saving ------------------------------------------------------------------------------
def test_save_and_load_give_identical_predictions_weights_and_optimizer_state(tmp_path):
    tinyseq.random.seed(2)
    model = small_model()
    x, y = toy_data(64)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "imdb.h5"  # any suffix: the file is tinyseq's own format
    model.save(path)
    assert zipfile.is_zipfile(path) and not list(tmp_path.glob(".tmp-*"))
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    # The optimizer state came along: one more identical epoch on both gives identical weights.
    tinyseq.random.seed(3)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    tinyseq.random.seed(3)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def saved_model(tmp_path):
    path = tmp_path / "model.tinyseq"
    model = small_model()
    model.build()
    model.save(path)
    return path


def rewrite(path, change):
    """Copy a model file with `change(name, data) -> data or None (drop)` applied to each member."""
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            data = change(name, data)
            if data is not None:
                target.writestr(name, data)


def test_corrupt_truncated_foreign_and_too_new_files_get_clear_errors(tmp_path):
    path = saved_model(tmp_path)
    data = path.read_bytes()

    truncated = tmp_path / "truncated.tinyseq"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a tinyseq model file .*corrupt, truncated"):
        load_model(truncated)

    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="zip archive but not a tinyseq model"):
        load_model(foreign)

    newer = tmp_path / "newer.tinyseq"
    newer.write_bytes(data)
    rewrite(newer, lambda name, blob: json.dumps({**json.loads(blob), "version": 99}).encode()
            if name == "tinyseq.json" else blob)
    with pytest.raises(ValueError, match="written by a newer tinyseq .*version 99"):
        load_model(newer)

    missing = tmp_path / "missing.tinyseq"
    missing.write_bytes(data)
    rewrite(missing, lambda name, blob: None if name == "arrays/0.npy" else blob)
    with pytest.raises(ValueError, match="is damaged: array 0 cannot be read"):
        load_model(missing)

    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(tmp_path / "nothing.h5")


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = saved_model(tmp_path)
    before = path.read_bytes()
    model = small_model()
    model.build()
    monkeypatch.setattr(np, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before and not list(tmp_path.glob(".tmp-*"))


# ---- callbacks and resuming ----------------------------------------------------------------
def test_model_checkpoint_saves_every_epoch_and_early_stopping_stops(tmp_path):
    tinyseq.random.seed(0)
    x, y = toy_data(64)
    model = small_model()
    model.optimizer.learning_rate = 0.0  # nothing improves, so patience runs out
    stopper = EarlyStopping(monitor="loss", patience=1)
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0, shuffle=False,
                        callbacks=[ModelCheckpoint(str(tmp_path / "epoch-{epoch:02d}.tinyseq")), stopper])
    assert len(history.history["loss"]) == 2 and stopper.stopped_epoch == 1
    assert sorted(os.listdir(tmp_path)) == ["epoch-01.tinyseq", "epoch-02.tinyseq"]


class InterruptAt(Callback):
    """Press Ctrl-C (a real SIGINT) after a given batch of a given epoch."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, batch, logs=None):
        if self.model.training_state.epoch == self.epoch and batch == self.batch:
            os.kill(os.getpid(), signal.SIGINT)


def test_interrupted_then_resumed_training_equals_uninterrupted(tmp_path, capsys):
    x, y = toy_data(80)

    def run(callbacks):
        model = small_model(dropout=0.2)  # dropout and shuffling both draw from the seeded RNG
        # a learning rate that falls across the interruption (steps 5 to 15 of 15) must resume in step too
        model.compile(loss="binary_crossentropy", optimizer=Adam(LinearDecay(0.02, decay_steps=10, hold_steps=5)),
                      metrics=["accuracy"])
        return model, model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=callbacks)

    tinyseq.random.seed(9)
    straight, straight_history = run([])

    backup = tmp_path / "run.backup"
    tinyseq.random.seed(9)
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 2, after batch 3 of 5"):
        run([BackupAndRestore(backup), InterruptAt(epoch=1, batch=3)])
    assert backup.exists() and "Saved a checkpoint" in capsys.readouterr().out

    class EpochStarts(Callback):
        def __init__(self):
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(epoch)

    starts = EpochStarts()
    tinyseq.random.seed(12345)  # the checkpoint restores the generator: this seed must not matter
    resumed, resumed_history = run([BackupAndRestore(backup), starts])
    assert starts.epochs == [1, 2]  # the resumed remainder of epoch 2 (index 1) begins too
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed_history.history == straight_history.history
    assert not backup.exists()  # removed once training completed
