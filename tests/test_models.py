"""Keras-style models: the walkthrough API, training, progress output, callbacks, save/load, resume."""

import io
import json
import os
import pickle
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinyseq
from tinyseq.callbacks import BackupAndRestore, Callback, EarlyStopping, ModelCheckpoint
from tinyseq.files import atomic_write
from tinyseq.layers import LSTM, Dense, Dropout, Embedding
from tinyseq.models import NonFiniteLossError, Sequential, TerminateOnNaN, load_model, read_metadata, save_model
from tinyseq.models.progress import ProgressBar
from tinyseq.optimizers import SGD, Adam
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
    path = tmp_path / "imdb.tinyseq"  # any suffix but Keras's: the file is tinyseq's own format
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
        if self.model.training_state.epoch == self.epoch and batch + 1 == self.batch:  # hooks count from 0
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


def test_ctrl_c_during_the_last_validation_interrupts_and_the_checkpoint_finishes_the_run(tmp_path, capsys):
    x, y = toy_data(64)

    def run(callbacks, ctrl_c_in_validation=False):
        model = small_model()
        if ctrl_c_in_validation:
            evaluate = model._evaluate  # what fit validates with

            def evaluate_with_ctrl_c(*args, **kwargs):
                if model.training_state.epoch == 1:  # the last epoch's validation
                    signal.raise_signal(signal.SIGINT)
                return evaluate(*args, **kwargs)
            model._evaluate = evaluate_with_ctrl_c
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25, callbacks=callbacks)
        return model, history

    tinyseq.random.seed(3)
    straight, _ = run([])
    backup = tmp_path / "run.backup"
    tinyseq.random.seed(3)
    with pytest.raises(KeyboardInterrupt, match=r"^training interrupted after epoch 2 of 2$"):
        run([BackupAndRestore(backup)], ctrl_c_in_validation=True)
    assert backup.exists() and "Saved a checkpoint" in capsys.readouterr().out
    resumed, history = run([BackupAndRestore(backup)])  # nothing left to train: the checkpoint's weights
    assert len(history.history["loss"]) == 2 and not backup.exists()
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- bad arguments -------------------------------------------------------------------------
@pytest.mark.parametrize("arguments, message", [
    (dict(batch_size=-5), "fit: batch_size must be a positive integer, got -5"),
    (dict(batch_size=0), "fit: batch_size must be a positive integer, got 0"),
    (dict(batch_size=True), "fit: batch_size must be a positive integer, got True"),
    (dict(epochs=1.5), "fit: epochs must be a positive integer, got 1.5"),
    (dict(epochs=0), "fit: epochs must be a positive integer, got 0"),
    (dict(initial_epoch=-1), "fit: initial_epoch must be a non-negative integer, got -1"),
    (dict(epochs=2, initial_epoch=2), "fit: initial_epoch must be less than epochs, got initial_epoch=2 and "
                                      "epochs=2 (epochs is the epoch to stop after, counting from 0)"),
    (dict(validation_split=1.5), "fit: validation_split must be a number in [0, 1), got 1.5"),
    (dict(validation_split=-0.1), "fit: validation_split must be a number in [0, 1), got -0.1"),
    (dict(validation_split=0.9), "fit: validation_split=0.9 of 8 samples leaves 8 for validation and 0 for "
                                 "training; each needs at least one"),
    (dict(verbose=3), "fit: verbose must be one of 'auto', 0, 1, 2, got 3"),
    (dict(shuffle="yes"), "fit: shuffle must be True or False, got 'yes'"),
    (dict(bucket_by_length=1), "fit: bucket_by_length must be True or False, got 1"),
    (dict(validation_data=np.zeros((2, 12))), "fit: validation_data must be (x_val, y_val) or (x_val, y_val, "
                                              "sample_weight_val), got ndarray of length 2"),
    (dict(sample_weight=np.ones(7)), "fit: sample_weight must have shape (8,), one weight per sample, got shape (7,)"),
    (dict(sample_weight=np.ones(8), class_weight={0: 1.0}), "fit: give sample_weight or class_weight, not both"),
    (dict(class_weight=[1.0, 2.0]), "fit: class_weight must be a dict {class: weight}, got list"),
    (dict(class_weight={"0": 1.0}), "fit: class_weight's keys must be integer classes, got '0'"),
    (dict(class_weight={0: "heavy"}), "fit: class_weight[0] must be a finite number, got 'heavy'"),
    (dict(validation_data=(np.zeros((2, 12)), np.zeros(3))), "fit: validation_data: x has 2 samples but y has 3"),
    (dict(callbacks=[EarlyStopping, "stop"]), "fit: callbacks must be Callback objects, got <class "),
])
def test_fit_refuses_bad_arguments_naming_them_and_their_values(arguments, message):
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError) as error:
        model.fit(*toy_data(8), **arguments)
    assert str(error.value).startswith(message)
    for a, b in zip(before, model.get_weights()):  # refused before any training step
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, message", [
    (lambda model, x, y: model.evaluate(x, y, batch_size=0), "evaluate: batch_size must be a positive integer, got 0"),
    (lambda model, x, y: model.evaluate(x, y, verbose="loud"), "evaluate: verbose must be one of 'auto', 0, 1, 2, "
                                                                "got 'loud'"),
    (lambda model, x, y: model.predict(x, batch_size=-1), "predict: batch_size must be a positive integer, got -1"),
    (lambda model, x, y: model.predict(x[:0]), "predict: no samples (x has shape (0, 12))"),
    (lambda model, x, y: model.compile(loss="mse", metrics="accuracy"),
     "compile: metrics must be a list, e.g. metrics=['accuracy'], got 'accuracy'"),
])
def test_evaluate_predict_and_compile_refuse_bad_arguments(call, message):
    with pytest.raises(ValueError) as error:
        call(small_model(), *toy_data(8))
    assert str(error.value) == message


def with_nan(array):
    array = array.astype(np.float64)
    array[1, 2] = np.nan
    return array


@pytest.mark.parametrize("call, message", [
    (lambda model, x, y: model.fit(x[:, 0], y, verbose=0),
     "fit: x must have at least 2 axes (samples, ...), got shape (8,)"),
    (lambda model, x, y: model.predict(x[:, 0], verbose=0),
     "predict: x must have at least 2 axes (samples, ...), got shape (8,)"),
    (lambda model, x, y: model.fit(x.astype(str), y, verbose=0),
     "fit: x must hold numbers, got an array of dtype <U21"),
    (lambda model, x, y: model.fit([[1, 2], [3]], [0, 1], verbose=0),
     "fit: x is ragged (its samples have different shapes); pad the sequences to one length first, e.g. with "
     "pad_sequences"),
    (lambda model, x, y: model.fit(with_nan(x), y, verbose=0),
     "fit: x holds nan at position (1, 2); inputs and targets must be finite numbers"),
    (lambda model, x, y: model.evaluate(x, np.full(8, np.inf), verbose=0),
     "evaluate: y holds inf at position (0,); inputs and targets must be finite numbers"),
    (lambda model, x, y: model.fit(x, y, validation_data=(with_nan(x), y), verbose=0),
     "fit: validation_data: x holds nan at position (1, 2); inputs and targets must be finite numbers"),
    (lambda model, x, y: model.predict(with_nan(x), verbose=0),
     "predict: x holds nan at position (1, 2); inputs and targets must be finite numbers"),
])
def test_samples_that_are_not_an_array_of_finite_numbers_are_refused_by_name(call, message):
    with pytest.raises(ValueError) as error:
        call(small_model(), *toy_data(8))
    assert str(error.value) == message


def test_metadata_is_stored_in_the_checkpoint_and_read_back(tmp_path):
    model = small_model()
    settings = {"epochs": 2, "seed": 0, "train_samples": None, "mask_zero": False, "data": "9f3a", "rate": 0.5}
    save_model(model, tmp_path / "run.backup", include_training_state=False, metadata=settings)
    assert read_metadata(tmp_path / "run.backup") == settings
    model.save(tmp_path / "plain.h5")
    assert read_metadata(tmp_path / "plain.h5") is None

    x, y = toy_data(32)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(tmp_path / "fit.backup", delete_checkpoint=False,
                                                                     metadata=settings)])
    assert read_metadata(tmp_path / "fit.backup") == settings


@pytest.mark.parametrize("metadata", [{"when": float("nan")}, {1: "int key"}, ["a list"], {"array": np.ones(2)}])
def test_metadata_that_json_would_not_give_back_is_refused_before_writing(tmp_path, metadata):
    with pytest.raises(ValueError, match=r"^save_model: metadata must be a dict of JSON data"):
        save_model(small_model(), tmp_path / "m.h5", metadata=metadata)
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match=r"^BackupAndRestore: metadata must be a dict of JSON data"):
        BackupAndRestore(tmp_path / "b", metadata=metadata)


@pytest.mark.parametrize("loss, units, bad_label, message", [
    ("binary_crossentropy", 1, 2, r"binary_crossentropy: label 2 at position \(3, 0\) is outside \[0, 1\]"),
    ("binary_crossentropy", 1, -1, r"binary_crossentropy: label -1 at position \(3, 0\) is outside \[0, 1\]"),
    ("sparse_categorical_crossentropy", 3, 3, r"sparse_categorical_crossentropy: label 3 at position \(3,\) is "
                                              r"outside the 3 classes"),
])
def test_fit_refuses_labels_outside_the_losses_domain(loss, units, bad_label, message):
    model = Sequential([Embedding(50, 4, input_length=12), LSTM(3), Dense(units, activation="sigmoid")])
    model.compile(loss=loss, optimizer="sgd")
    x, y = toy_data(8)
    y[3] = bad_label
    with pytest.raises((ValueError, IndexError), match=message):
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0)


# ---- layer names -------------------------------------------------------------------------
def summary_of(build):
    lines = []
    build().summary(print_fn=lines.append)
    return "\n".join(lines)


def two_lstm_model():
    return Sequential([Embedding(20, 4, input_length=5), LSTM(3, return_sequences=True), LSTM(2), Dense(1)])


def test_default_names_depend_on_the_model_alone_not_on_what_ran_before():
    first = summary_of(two_lstm_model)
    for _ in range(3):  # other models and layers built in between must not shift the names
        two_lstm_model().build()
        Dense(4), LSTM(2)
    assert summary_of(two_lstm_model) == first
    model = two_lstm_model()
    assert model.name == "sequential"
    assert [layer.name for layer in model.layers] == ["embedding", "lstm", "lstm_1", "dense"]
    assert first.startswith('Model: "sequential"') and "lstm_1 (LSTM)" in first


def test_names_given_by_the_user_are_kept_and_must_be_unique_in_a_model():
    model = Sequential([LSTM(3, name="lstm_1", return_sequences=True), LSTM(2)], name="encoder")
    assert [layer.name for layer in model.layers] == ["lstm_1", "lstm"]
    model.add(LSTM(2))  # default names skip the one taken: lstm, lstm_1 are used
    assert model.layers[-1].name == "lstm_2"
    with pytest.raises(ValueError, match=r"^encoder.add: the model already has a layer named 'lstm_1'; layer "
                                         r"names must be unique within a model$"):
        model.add(Dense(1, name="lstm_1"))
    with pytest.raises(ValueError, match="already has a layer named 'lstm'"):
        model.add(model.layers[1])  # the same layer twice
    with pytest.raises(ValueError, match=r"^Dense: name must be a non-empty string, got 5$"):
        Dense(1, name=5)


# ---- NaN and infinite losses ---------------------------------------------------------------
class ExplodeInEpoch(Callback):
    """Set an absurd learning rate at the start of an epoch: the loss overflows two batches later."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.optimizer.learning_rate = 1e30


def regression(seed=0):
    tinyseq.random.seed(seed)
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(16, 2)
    model = Sequential([Dense(1)])
    model.compile(loss="mse", optimizer=SGD(0.1))
    return model, x, x.sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_diverging_fit_stops_with_an_error_naming_epoch_and_batch_and_keeps_the_checkpoint(tmp_path):
    model, x, y = regression()
    checkpoint, backup = tmp_path / "best.tinyseq", tmp_path / "run.backup"
    callbacks = [ExplodeInEpoch(1), TerminateOnNaN(raise_error=True), ModelCheckpoint(checkpoint),
                 BackupAndRestore(backup)]
    with pytest.raises(NonFiniteLossError) as error:
        model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
    # batch 1 of epoch 2 steps with the huge rate; batch 2's loss is the first to overflow
    assert (error.value.epoch, error.value.batch, error.value.loss) == (2, 2, float("inf"))
    assert str(error.value).startswith("fit: the loss became inf in epoch 2, batch 2; training stopped there.")
    assert isinstance(error.value, RuntimeError)  # what Keras's TerminateOnNaN(raise_error=True) raises
    assert pickle.loads(pickle.dumps(error.value)).batch == 2  # it crosses process boundaries intact
    good = load_model(checkpoint)  # written after epoch 1, not overwritten
    assert all(np.isfinite(weight).all() for weight in good.get_weights())
    assert good.evaluate(x, y, verbose=0) < 1
    resumed, _, _ = regression()
    resumed.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[BackupAndRestore(backup, delete_checkpoint=False)])
    assert resumed.training_state.history["loss"][0] == pytest.approx(model.history.history["loss"][0])


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_terminate_on_nan_stops_like_keras_and_checkpoints_refuse_non_finite_models(tmp_path, capsys):
    model, x, y = regression()
    checkpoint, backup = tmp_path / "latest.tinyseq", tmp_path / "run.backup"
    with pytest.warns(RuntimeWarning) as warned:
        history = model.fit(x, y, batch_size=4, epochs=5, shuffle=False, verbose=0,
                            callbacks=[ExplodeInEpoch(1), TerminateOnNaN(), ModelCheckpoint(checkpoint),
                                       BackupAndRestore(backup)])
    messages = [str(warning.message) for warning in warned if "not saved" in str(warning.message)
                or "not saving" in str(warning.message)]
    assert messages == ["ModelCheckpoint: epoch 2 not saved: its loss is inf",
                        f"BackupAndRestore: not saving a checkpoint: its loss is inf; {backup} keeps the last "
                        f"good state"]
    assert "Epoch 2, batch 2: the loss is inf; stopping training." in capsys.readouterr().out
    assert history.history["loss"][1] == float("inf") and len(history.history["loss"]) == 2  # stopped in epoch 2
    assert all(np.isfinite(weight).all() for weight in load_model(checkpoint).get_weights())
    assert backup.exists()  # a diverged run keeps its last good state instead of deleting it


def test_checkpoints_refuse_a_model_with_non_finite_weights_even_if_the_loss_is_finite(tmp_path):
    model, x, y = regression()
    model.build(x.shape)
    model.layers[0].bias.data[0] = np.nan
    callback = ModelCheckpoint(tmp_path / "model.tinyseq")
    callback.model = model
    with pytest.warns(RuntimeWarning, match="ModelCheckpoint: epoch 1 not saved: its weight layers.0.bias is not finite"):
        callback.on_epoch_end(0, {"loss": 0.5})
    assert list(tmp_path.iterdir()) == []


# ---- what save accepts, load reads back ------------------------------------------------------
def my_loss(y_true, y_pred):
    return tinyseq.losses.mean_squared_error(y_true, y_pred)


def my_metric(y_true, y_pred):
    return 0.0


@pytest.mark.parametrize("compile_arguments, refused", [
    (dict(loss=my_loss), "the custom loss 'my_loss'"),
    (dict(loss="mse", metrics=[my_metric]), "the custom metric 'my_metric'"),
])
def test_save_refuses_a_custom_loss_or_metric_by_name_writing_nothing(tmp_path, compile_arguments, refused):
    model, x, y = regression()
    model.compile(optimizer="sgd", **compile_arguments)
    model.fit(x, y, verbose=0)  # it trains
    with pytest.raises(ValueError, match=f"^save: cannot save a model compiled with {refused}: the file names its "):
        model.save(tmp_path / "model.tinyseq")
    # a checkpoint callback says so before the first epoch, not after it
    with pytest.raises(ValueError, match=refused):
        model.fit(x, y, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "checkpoint.tinyseq")])
    assert list(tmp_path.iterdir()) == []


def test_built_in_losses_and_metrics_given_as_functions_round_trip(tmp_path):
    model, x, y = regression()
    model.compile(optimizer="adam", loss=tinyseq.losses.mean_squared_error,
                  metrics=[tinyseq.metrics.binary_accuracy])
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "model.tinyseq")
    loaded = load_model(tmp_path / "model.tinyseq")
    assert loaded.loss_function is tinyseq.losses.mean_squared_error
    assert loaded.metric_functions == [tinyseq.metrics.binary_accuracy]
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_save_refuses_layer_and_optimizer_classes_of_your_own(tmp_path):
    class Scale(Dense):
        pass

    class Slow(SGD):
        pass

    model = Sequential([Scale(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.build((None, 2))
    with pytest.raises(ValueError, match="cannot serialize the custom layer class .*Scale"):
        model.save(tmp_path / "a.tinyseq")
    model = Sequential([Dense(1)])
    model.compile(loss="mse", optimizer=Slow())
    with pytest.raises(ValueError, match="cannot serialize the custom optimizer .*Slow"):
        model.save(tmp_path / "b.tinyseq")
    assert list(tmp_path.iterdir()) == []


def test_a_file_naming_an_unknown_class_is_refused_through_the_registry(tmp_path):
    path = saved_model(tmp_path)

    def rename(document, where, value):
        *parents, key = where
        target = document
        for part in parents:
            target = target[part]
        target[key] = value
        return json.dumps(document).encode()

    layer_file, optimizer_file = tmp_path / "layer.tinyseq", tmp_path / "optimizer.tinyseq"
    for target, where, value in ((layer_file, ("model", "config", "layers", 0, "class_name"), "Module"),
                                 (optimizer_file, ("compile", "optimizer", "class_name"), "Optimizer")):
        target.write_bytes(path.read_bytes())
        rewrite(target, lambda name, blob: rename(json.loads(blob), where, value) if name == "tinyseq.json" else blob)
    with pytest.raises(ValueError, match="Unknown layer class 'Module'; valid names: inputlayer, dense, activation"):
        load_model(layer_file)
    with pytest.raises(ValueError, match="Unknown optimizer 'Optimizer'; valid names: sgd, rmsprop, adam"):
        load_model(optimizer_file)


# ---- files: permissions and temporary files ----------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_get_the_permissions_the_umask_gives(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        saved_model(tmp_path)
    finally:
        os.umask(previous)
    assert (tmp_path / "model.tinyseq").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_no_temporary_file_is_left_when_writing_fails_or_is_interrupted(tmp_path, monkeypatch, failure):
    def failing_save(*args, **kwargs):
        raise failure

    model = small_model()
    model.build()
    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(type(failure)):
        model.save(tmp_path / "model.tinyseq")
    with pytest.raises(type(failure)):
        with atomic_write(tmp_path / "notes.txt", "w") as file:
            file.write("half")
            raise failure
    assert list(tmp_path.iterdir()) == []


def test_saving_to_a_folder_or_where_no_file_can_be_made_names_the_path_given(tmp_path):
    model = small_model()
    with pytest.raises(IsADirectoryError) as error:
        model.save(tmp_path)
    assert (error.value.filename, error.value.strerror) == (str(tmp_path), "it is a folder; give a file name")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(OSError) as error:
        model.save(tmp_path / "a_file" / "model.h5")  # its "folder" is a file
    assert error.value.filename == str(tmp_path / "a_file" / "model.h5")
    assert error.value.strerror.startswith(f"cannot create its folder {tmp_path / 'a_file'}")
    assert sorted(os.listdir(tmp_path)) == ["a_file"]  # no temporary file left behind


def test_callbacks_refuse_a_folder_or_a_misspelt_field_before_any_training(tmp_path):
    with pytest.raises(ValueError, match=f"^ModelCheckpoint: filepath {tmp_path} is a folder; give a file name"):
        ModelCheckpoint(tmp_path)
    with pytest.raises(ValueError, match=f"^BackupAndRestore: path {tmp_path} is a folder; give a file name"):
        BackupAndRestore(tmp_path)
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError) as error:
        model.fit(*toy_data(16), verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch}-{val_los:.2f}.h5"))])
    assert str(error.value) == (f"ModelCheckpoint: filepath '{tmp_path}/m-{{epoch}}-{{val_los:.2f}}.h5' names "
                                f"{{val_los}}, which is not one of the values an epoch has: accuracy, epoch, loss, "
                                f"val_accuracy, val_loss")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_of_another_model_is_refused_naming_the_checkpoint(tmp_path):
    x, y = toy_data(16)
    small_model().fit(x, y, verbose=0, callbacks=[BackupAndRestore(tmp_path / "run.backup", delete_checkpoint=False)])
    wider = Sequential([Embedding(50, 8, input_length=12), LSTM(4), Dense(1, activation="sigmoid")])
    wider.compile(loss="binary_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match=f"^restore: the checkpoint {tmp_path / 'run.backup'} was written by another "
                                         f"model or optimizer \\(set_weights: "):
        wider.fit(x, y, verbose=0, callbacks=[BackupAndRestore(tmp_path / "run.backup")])


def test_fit_refuses_text_inside_an_object_array():
    model = Sequential([Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"^fit: x must hold numbers, got an array of dtype object"):
        model.fit(np.array([["a"], ["b"]], dtype=object), np.zeros(2), verbose=0)


# ---- Keras's training API: defaults, splits, weights, hooks ------------------------------------------


def dense_model(units=1, activation="sigmoid", loss="binary_crossentropy", optimizer=None, metrics=("accuracy",)):
    """A one-layer model on 3 features, seeded: fast, and exact to reason about."""
    tinyseq.random.seed(0)
    model = Sequential([Dense(units, activation=activation)])
    model.build((None, 3))  # draws the weights now, right after the seed
    model.compile(loss=loss, optimizer=optimizer or SGD(0.5), metrics=list(metrics))
    return model


def dense_data(samples=10, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(samples, 3)).astype(np.float32), rng.integers(0, 2, size=samples)


class Recorder(Callback):
    """Every hook call, in order, with its arguments (logs rounded to compare them)."""

    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            def record(*args):
                self.calls.append((name, *(sorted(a) if isinstance(a, dict) else a for a in args)))
            return record
        return super().__getattribute__(name)


def test_validation_split_trains_on_the_first_floor_n_times_1_minus_s_samples_as_keras():
    model = dense_model(optimizer=SGD(0.0))  # no learning: the logs are plain evaluations
    x, y = dense_data(10)
    history = model.fit(x, y, validation_split=0.25, shuffle=False, verbose=0)  # floor(7.5) = 7 train, 3 validate
    train, validation = model.evaluate(x[:7], y[:7], verbose=0), model.evaluate(x[7:], y[7:], verbose=0)
    assert history.history["loss"][0] == pytest.approx(train[0], rel=1e-6)
    assert history.history["val_loss"][0] == pytest.approx(validation[0], rel=1e-6)
    assert history.history["val_accuracy"][0] == validation[1]


def test_batch_size_none_means_32_in_fit_evaluate_and_predict():
    model, recorder = dense_model(), Recorder()
    x, y = dense_data(40)
    model.fit(x, y, batch_size=None, verbose=0, callbacks=[recorder])
    model.evaluate(x, y, batch_size=None, verbose=0, callbacks=[recorder])
    model.predict(x, batch_size=None, verbose=0, callbacks=[recorder])
    begins = [call[0] for call in recorder.calls if call[0].endswith("batch_begin")]
    assert begins == ["on_train_batch_begin"] * 2 + ["on_test_batch_begin"] * 2 + ["on_predict_batch_begin"] * 2


def test_fit_calls_every_hook_keras_calls_in_keras_order_with_its_logs():
    model, recorder = dense_model(), Recorder()
    x, y = dense_data(6)
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x[:3], y[:3]), verbose=0, callbacks=[recorder])
    logs, val_logs = ["accuracy", "loss"], ["accuracy", "loss", "val_accuracy", "val_loss"]
    epoch = [("on_epoch_begin", None, []),
             ("on_train_batch_begin", 0, []), ("on_train_batch_end", 0, logs),
             ("on_train_batch_begin", 1, []), ("on_train_batch_end", 1, logs),
             ("on_test_begin", []), ("on_test_batch_begin", 0, []), ("on_test_batch_end", 0, logs),
             ("on_test_end", logs), ("on_epoch_end", None, val_logs)]
    expected = [("on_train_begin", [])]
    for number in range(2):
        expected += [call if call[1] is not None or len(call) == 2 else (call[0], number, call[2]) for call in epoch]
    expected += [("on_train_end", val_logs)]
    assert recorder.calls == expected


def test_evaluate_and_predict_call_their_hooks_and_predict_hands_over_the_outputs():
    model = dense_model()
    x, y = dense_data(5)
    outputs = []

    class Keep(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            outputs.append((batch, logs["outputs"].shape))

    recorder = Recorder()
    model.evaluate(x, y, batch_size=3, verbose=0, callbacks=[recorder])
    assert [call[0] for call in recorder.calls] == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                                                     "on_test_batch_begin", "on_test_batch_end", "on_test_end"]
    model.predict(x, batch_size=3, verbose=0, callbacks=[Keep()])
    assert outputs == [(0, (3, 1)), (1, (2, 1))]


def test_on_batch_begin_and_end_are_kerass_older_names_for_the_training_batch_hooks():
    seen = []

    class Old(Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, round(logs["loss"], 6) == round(logs["loss"], 6)))

    dense_model().fit(*dense_data(4), batch_size=2, verbose=0, callbacks=[Old()])
    assert seen == [("begin", 0), ("end", 0, True), ("begin", 1), ("end", 1, True)]


def test_sample_weights_scale_the_loss_as_keras_sum_over_batch_size():
    model = dense_model(optimizer=SGD(0.0))
    x, y = dense_data(4)
    weights = np.array([1.0, 0.0, 2.0, 0.5])
    per_sample = tinyseq.losses.binary_crossentropy(y, model.predict(x, verbose=0).astype(np.float64)).data
    expected = float((per_sample * weights).sum() / 4)  # divided by the samples, not by the weights' sum
    history = model.fit(x, y, batch_size=4, sample_weight=weights, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-6)
    assert model.evaluate(x, y, sample_weight=weights, verbose=0)[0] == pytest.approx(expected, rel=1e-6)
    # metrics ignore the weights, as Keras's `metrics` do
    assert history.history["accuracy"][0] == model.evaluate(x, y, verbose=0)[1]


def test_doubling_every_sample_weight_doubles_the_gradient_exactly():
    x, y = dense_data(8)
    weighted, faster = dense_model(optimizer=SGD(0.25)), dense_model(optimizer=SGD(0.5))
    weighted.fit(x, y, batch_size=4, sample_weight=np.full(8, 2.0), shuffle=False, verbose=0)
    faster.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(weighted.get_weights(), faster.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("y, classes", [
    (np.array([0, 1, 1, 2]), [0, 1, 1, 2]),                    # labels
    (np.array([[0.2], [0.9], [1.4], [2.0]]), [0, 1, 1, 2]),    # rounded
    (np.eye(3)[[0, 1, 1, 2]], [0, 1, 1, 2]),                   # one-hot: the argmax
])
def test_class_weight_weighs_each_sample_by_its_class_as_keras(y, classes):
    from tinyseq.models.sequential import _sample_weights
    class_weight = {0: 0.5, 1: 3.0}  # class 2 is not listed: weight 1
    np.testing.assert_array_equal(_sample_weights(None, class_weight, y, "fit"),
                                  [class_weight.get(c, 1.0) for c in classes])


def test_class_weight_trains_exactly_as_the_matching_sample_weights():
    x, y = dense_data(8)
    by_class, by_sample = dense_model(), dense_model()
    by_class.fit(x, y, batch_size=4, class_weight={0: 0.25, 1: 2.0}, shuffle=False, verbose=0)
    by_sample.fit(x, y, batch_size=4, sample_weight=np.where(y == 1, 2.0, 0.25), shuffle=False, verbose=0)
    for a, b in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("units, activation, loss, y, chosen", [
    (1, "sigmoid", "mse", np.array([0, 1, 1, 0]), "binary_accuracy"),
    (3, "softmax", "sparse_categorical_crossentropy", np.array([0, 2, 1, 1]), "sparse_categorical_accuracy"),
    (3, "softmax", "categorical_crossentropy", np.eye(3)[[0, 2, 1, 1]], "categorical_accuracy"),
])
def test_accuracy_is_resolved_from_the_output_shape_whatever_the_loss(units, activation, loss, y, chosen):
    model = dense_model(units, activation, loss, optimizer=SGD(0.0))
    x = dense_data(4)[0]
    history = model.fit(x, y, verbose=0)
    assert history.history["accuracy"][0] == getattr(tinyseq.metrics, chosen)(y, model.predict(x, verbose=0))


def test_compile_accepts_loss_objects():
    from tinyseq.losses import BinaryCrossentropy
    x, y = dense_data(6)
    logits = dense_model(activation=None, loss=BinaryCrossentropy(from_logits=True), optimizer=SGD(0.0))
    probabilities = dense_model(optimizer=SGD(0.0))  # the same seed: the same weights
    assert logits.evaluate(x, y, verbose=0)[0] == pytest.approx(probabilities.evaluate(x, y, verbose=0)[0], rel=1e-5)


# ---- Sequential's Keras methods -----------------------------------------------------------------


def test_pop_get_layer_and_weights():
    model = Sequential([Dense(4, name="hidden"), Dense(1, name="out")])
    model.build((None, 3))
    assert model.get_layer("out") is model.layers[1] and model.get_layer(index=0) is model.layers[0]
    assert model.get_layer(index=-1).name == "out"
    assert [w.shape for w in model.weights] == [(3, 4), (4,), (4, 1), (1,)]
    assert model.trainable_weights == model.weights and model.non_trainable_weights == []
    with pytest.raises(ValueError, match=r"get_layer: no layer named 'output'; the layers are \['hidden', 'out'\]"):
        model.get_layer("output")
    with pytest.raises(ValueError, match=r"get_layer: index 2 is out of range for a model of 2 layers"):
        model.get_layer(index=2)
    with pytest.raises(ValueError, match=r"get_layer: give a layer name or an index \(one of them\), got name=None"):
        model.get_layer()
    assert model.pop().name == "out" and [layer.name for layer in model.layers] == ["hidden"]
    model.pop()
    with pytest.raises(IndexError, match=r"pop: the model has no layers to remove"):
        model.pop()


def test_train_test_and_predict_on_batch():
    model = dense_model()
    x, y = dense_data(6)
    before = model.test_on_batch(x, y)
    assert before == [model.evaluate(x, y, verbose=0)[0], model.evaluate(x, y, verbose=0)[1]]
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
    trained = model.train_on_batch(x, y, return_dict=True)
    assert trained == {"loss": before[0], "accuracy": before[1]}  # measured before the step, as Keras
    assert model.test_on_batch(x, y)[0] < before[0]
    weighted = dense_model()
    assert weighted.train_on_batch(x, y, class_weight={0: 0.0, 1: 0.0})[0] == 0.0
    with pytest.raises(ValueError, match=r"train_on_batch: give sample_weight or class_weight, not both"):
        model.train_on_batch(x, y, sample_weight=np.ones(6), class_weight={0: 1.0})


def test_an_input_layer_first_gives_the_input_shape_and_is_not_a_layer():
    from tinyseq.layers import Input
    model = Sequential([Input((12,)), Embedding(50, 8), LSTM(4), Dense(1)])
    assert model.built and model.input_shape == (None, 12) and len(model.layers) == 3
    assert model.count_params() == 50 * 8 + 4 * 4 * (8 + 4 + 1) + 5
    config = model.get_config()
    assert config["layers"][0] == {"class_name": "InputLayer", "config": model.input_layer.get_config()}
    rebuilt = Sequential.from_config(config)
    assert rebuilt.input_shape == (None, 12) and rebuilt.count_params() == model.count_params()
    with pytest.raises(ValueError, match=r"add: an InputLayer can only come first, before any other layer"):
        Sequential([Dense(2), Input((3,))])


# ---- EarlyStopping and ModelCheckpoint: Keras's arguments ---------------------------------------


class StubModel:
    """What EarlyStopping touches: the weights and stop_training."""

    def __init__(self):
        self.stop_training, self.weights_now, self.restored = False, None, None

    def get_weights(self):
        return self.weights_now

    def set_weights(self, weights):
        self.restored = weights


def drive_early_stopping(stopper, values, monitor="val_loss"):
    """Feed `values` as the epochs' monitored metric; return the epoch training stopped after (or None)."""
    stopper.model = StubModel()
    stopper.on_train_begin()
    for epoch, value in enumerate(values):
        stopper.model.weights_now = f"weights of epoch {epoch}"
        stopper.on_epoch_end(epoch, {monitor: value})
        if stopper.model.stop_training:
            break
    stopper.on_train_end()
    return stopper.stopped_epoch


def test_early_stopping_start_from_epoch_ignores_the_warm_up_epochs():
    values = [0.1, 0.9, 0.8, 0.85, 0.86]  # the best value comes during the warm-up
    assert drive_early_stopping(EarlyStopping(patience=1), values) == 1
    assert drive_early_stopping(EarlyStopping(patience=1, start_from_epoch=2), values) == 3


def test_early_stopping_baseline_must_be_beaten_to_reset_the_patience():
    values = [0.9, 0.8, 0.85, 0.7]
    assert drive_early_stopping(EarlyStopping(patience=2), values) is None
    # never below 0.5: the count of epochs runs on through improvements, and stops at the first without one
    assert drive_early_stopping(EarlyStopping(patience=2, baseline=0.5), values) == 2


def test_early_stopping_restores_the_best_epoch_and_says_so(capsys):
    stopper = EarlyStopping(monitor="val_accuracy", patience=1, verbose=1, restore_best_weights=True)
    assert drive_early_stopping(stopper, [0.5, 0.7, 0.6, 0.65], monitor="val_accuracy") == 2
    assert stopper.model.restored == "weights of epoch 1"
    assert capsys.readouterr().out == ("Epoch 3: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: 2.\n")


@pytest.mark.parametrize("make, message", [
    (lambda: EarlyStopping(start_from_epoch=-1), "EarlyStopping: start_from_epoch must be a non-negative integer, got -1"),
    (lambda: EarlyStopping(baseline="low"), "EarlyStopping: baseline must be a finite number, got 'low'"),
    (lambda: EarlyStopping(verbose=3), "EarlyStopping: verbose must be one of 0, 1, 2, got 3"),
    (lambda: ModelCheckpoint("m.tinyseq", save_weights_only="yes"),
     "ModelCheckpoint: save_weights_only must be True or False, got 'yes'"),
    (lambda: ModelCheckpoint("m.tinyseq", save_freq=0), "ModelCheckpoint: save_freq must be a positive integer, got 0"),
    (lambda: ModelCheckpoint("m.tinyseq", initial_value_threshold=float("nan")),
     "ModelCheckpoint: initial_value_threshold must be a finite number, got nan"),
])
def test_callback_arguments_are_checked_naming_them(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


def test_early_stopping_cannot_guess_the_direction_of_an_unknown_metric():
    with pytest.raises(ValueError, match=r"cannot tell whether 'val_f1' should go up or down; pass mode='max'"):
        drive_early_stopping(EarlyStopping(monitor="val_f1"), [0.5, 0.6], monitor="val_f1")
    assert drive_early_stopping(EarlyStopping(monitor="val_f1", mode="max"), [0.5, 0.4], monitor="val_f1") == 1


def test_model_checkpoint_verbose_best_only_threshold_and_batch_frequency(tmp_path, capsys):
    model = dense_model(optimizer=SGD(0.0))  # the loss stays the same every epoch
    x, y = dense_data(8)
    loss = model.evaluate(x, y, verbose=0)[0]
    best = ModelCheckpoint(tmp_path / "best.tinyseq", monitor="loss", verbose=1, save_best_only=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[best], shuffle=False)  # same batches: the same loss to the bit
    out = capsys.readouterr().out
    assert f"Epoch 1: loss improved from None to {loss:.5f}, saving model to {tmp_path / 'best.tinyseq'}" in out
    assert f"Epoch 2: loss did not improve from {loss:.5f}" in out
    unbeatable = ModelCheckpoint(tmp_path / "never.tinyseq", monitor="loss", save_best_only=True,
                                 initial_value_threshold=loss / 2)
    model.fit(x, y, verbose=0, callbacks=[unbeatable])
    assert not (tmp_path / "never.tinyseq").exists()
    every_three = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.tinyseq"), save_freq=3)
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[every_three])  # 4 batches an epoch
    assert sorted(path.name for path in tmp_path.glob("e*")) == ["e1-b3.tinyseq", "e2-b2.tinyseq"]


def test_class_weights_weigh_the_training_samples_not_the_validation_ones():
    model = dense_model(optimizer=SGD(0.0))
    x, y = dense_data(12)
    history = model.fit(x, y, validation_split=0.25, class_weight={0: 2.0, 1: 2.0}, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(2 * model.evaluate(x[:9], y[:9], verbose=0)[0], rel=1e-6)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[9:], y[9:], verbose=0)[0], rel=1e-6)


def test_validation_data_may_carry_sample_weights_and_the_split_carries_them_along():
    model = dense_model(optimizer=SGD(0.0))
    x, y = dense_data(8)
    weights = np.array([1.0, 2.0, 0.0, 1.0, 0.5, 0.0, 3.0, 1.0])
    with_triple = model.fit(x, y, validation_data=(x[6:], y[6:], weights[6:]), verbose=0).history
    with_split = model.fit(x, y, validation_split=0.25, sample_weight=weights, shuffle=False, verbose=0).history
    expected = model.evaluate(x[6:], y[6:], sample_weight=weights[6:], verbose=0)[0]
    assert with_triple["val_loss"][0] == pytest.approx(expected, rel=1e-6)
    assert with_split["val_loss"][0] == pytest.approx(expected, rel=1e-6)


def test_save_weights_and_load_weights_round_trip_and_checkpoint_weights_only(tmp_path):
    pytest.importorskip("h5py")
    x, y = dense_data(8)
    model = dense_model()
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "e{epoch}.weights.h5"), save_weights_only=True)])
    model.save_weights(tmp_path / "last.weights.h5")
    fresh = dense_model()
    fresh.load_weights(tmp_path / "last.weights.h5")
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    fresh.load_weights(tmp_path / "e1.weights.h5")
    assert (tmp_path / "e2.weights.h5").exists()
    assert not np.array_equal(fresh.get_weights()[0], model.get_weights()[0])  # epoch 1's, not the last


def test_after_fit_ctrl_c_raises_again_even_when_the_handler_before_was_set_outside_python(monkeypatch):
    # signal.signal returns None for a handler a C library set (TensorFlow does); fit must then
    # put Python's own back, or a Ctrl-C after fit would only raise fit's stale flag.
    real_signal, calls = signal.signal, []

    def set_outside_python_before(signum, handler):
        previous = real_signal(signum, handler)
        calls.append(handler)
        return None if len(calls) == 1 else previous
    monkeypatch.setattr(signal, "signal", set_outside_python_before)
    model = Sequential([Dense(1)])
    model.compile(optimizer=SGD(0.1), loss="mse")
    model.fit(np.ones((4, 2), dtype=np.float32), np.ones((4, 1), dtype=np.float32), epochs=1, verbose=0)
    assert len(calls) == 2 and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
