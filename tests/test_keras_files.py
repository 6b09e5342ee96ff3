"""Keras's file formats written and read by tinyseq alone (no Keras needed): `.keras`, `.h5`,
`.weights.h5`, what goes inside them, and the errors. The round trips through Keras itself are in
tests/conformance/test_files.py."""

import json
import shutil
import sys
import zipfile

import numpy as np
import pytest

import tinyseq
from tinyseq.layers import GRU, LSTM, Conv1D, Dense, Embedding, MaxPooling1D
from tinyseq.models import Sequential, load_model, read_metadata, save_model
from tinyseq.models.keras_files import keras_snake_case, weight_group_names
from tinyseq.models.saving import check_model_path, restore_checkpoint

h5py = pytest.importorskip("h5py")

X = np.array([[0, 0, 3, 7, 1, 9], [0, 5, 2, 8, 8, 4], [1, 2, 3, 4, 5, 6]])
Y = np.array([1, 0, 1])


def trained_model(seed=0):
    """A small walkthrough-shaped model after one step of Adam, so every weight and slot is non-zero."""
    tinyseq.random.seed(seed)
    model = Sequential([Embedding(12, 4, input_length=6, mask_zero=True), LSTM(5, return_sequences=True), GRU(3),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, Y, epochs=1, batch_size=3, verbose=0)
    return model


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".hdf5"])
def test_keras_formats_round_trip_weights_optimizer_state_and_predictions_exactly(tmp_path, suffix):
    model = trained_model()
    path = tmp_path / f"imdb{suffix}"
    model.save(path)
    loaded = load_model(path)
    assert same_weights(loaded.get_weights(), model.get_weights())
    assert np.array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.get_config() == model.get_config()
    state, loaded_state = model.optimizer.state_dict(), loaded.optimizer.state_dict()
    assert loaded_state["iterations"] == state["iterations"] == 1
    assert all(same_weights(loaded_state["slots"][name], slots) for name, slots in state["slots"].items())
    assert (loaded.loss, loaded.metric_names) == ("binary_crossentropy", ["accuracy"])


def test_h5_is_keras_legacy_hdf5_with_tinyseq_extras_inside(tmp_path):
    model = trained_model()
    model.save(tmp_path / "imdb.h5")
    assert h5py.is_hdf5(tmp_path / "imdb.h5") and not zipfile.is_zipfile(tmp_path / "imdb.h5")
    with h5py.File(tmp_path / "imdb.h5", "r") as file:
        config = json.loads(file.attrs["model_config"])
        assert [layer["class_name"] for layer in config["config"]["layers"]] == ["InputLayer", "Embedding", "LSTM",
                                                                                 "GRU", "Dense"]
        assert config["config"]["layers"][0]["config"]["batch_shape"] == [None, 6]
        assert "input_length" not in config["config"]["layers"][1]["config"]  # Keras 3 has no input_length
        assert json.loads(file.attrs["training_config"])["optimizer_config"]["class_name"] == "Adam"
        weights = file["model_weights"]
        assert list(weights.attrs["layer_names"]) == ["embedding", "lstm", "gru", "dense"]
        names = list(weights["lstm"].attrs["weight_names"])
        assert names == ["lstm/cell/kernel", "lstm/cell/recurrent_kernel", "lstm/cell/bias"]
        assert np.array_equal(weights["lstm"][names[1]], model.layers[1].cell.recurrent_kernel.data)
        assert json.loads(bytes(np.asarray(file["tinyseq/document"])))["weights"] == "keras"


def test_keras_zip_holds_keras_entries_and_weights_where_keras_looks_for_them(tmp_path):
    tinyseq.random.seed(1)
    model = Sequential([Embedding(12, 4), Conv1D(3, 2, padding="same"), MaxPooling1D(2), LSTM(2, return_sequences=True),
                        LSTM(2), Dense(1)])
    model.build((None, 6))
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert {"config.json", "metadata.json", "model.weights.h5", "tinyseq.json"} <= set(archive.namelist())
        config = json.loads(archive.read("config.json"))
        assert json.loads(archive.read("metadata.json"))["keras_version"] == "3.15.1"
        archive.extract("model.weights.h5", tmp_path)
    assert config["class_name"] == "Sequential" and config["compile_config"] is None
    assert config["config"]["layers"][2]["config"]["kernel_size"] == [2]
    with h5py.File(tmp_path / "model.weights.h5", "r") as file:
        shapes = {}
        file.visititems(lambda name, item: shapes.update({name: item.shape}) if isinstance(item, h5py.Dataset) else None)
    assert shapes == {"layers/embedding/vars/0": (12, 4), "layers/conv1d/vars/0": (2, 4, 3),
                      "layers/conv1d/vars/1": (3,), "layers/lstm/cell/vars/0": (3, 8), "layers/lstm/cell/vars/1": (2, 8),
                      "layers/lstm/cell/vars/2": (8,), "layers/lstm_1/cell/vars/0": (2, 8),
                      "layers/lstm_1/cell/vars/1": (2, 8), "layers/lstm_1/cell/vars/2": (8,),
                      "layers/dense/vars/0": (2, 1), "layers/dense/vars/1": (1,)}


def test_weight_groups_are_named_as_keras_names_them():
    assert [keras_snake_case(name) for name in ("LSTM", "SimpleRNN", "Conv1D", "GlobalMaxPooling1D", "TimeDistributed",
                                                "SpatialDropout1D", "Bidirectional")] == [
        "lstm", "simple_rnn", "conv1d", "global_max_pooling1d", "time_distributed", "spatial_dropout1d", "bidirectional"]
    assert weight_group_names(["LSTM", "Dense", "LSTM", "LSTM"]) == ["lstm", "dense", "lstm_1", "lstm_2"]


def test_a_keras_written_file_without_tinyseq_extras_is_translated(tmp_path):
    """What Keras writes: the same zip without tinyseq.json (and a fresh optimizer on loading)."""
    model = trained_model()
    model.save(tmp_path / "ours.keras")
    with zipfile.ZipFile(tmp_path / "ours.keras") as source, zipfile.ZipFile(tmp_path / "keras.keras", "w") as target:
        for name in ("metadata.json", "config.json", "model.weights.h5"):
            target.writestr(name, source.read(name))
    loaded = load_model(tmp_path / "keras.keras")
    assert same_weights(loaded.get_weights(), model.get_weights())
    assert np.array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert [layer.name for layer in loaded.layers] == ["embedding", "lstm", "gru", "dense"]
    assert loaded.layers[0].mask_zero and loaded.input_shape == (None, 6)
    assert (loaded.loss, loaded.metric_names, loaded.optimizer.learning_rate) == ("binary_crossentropy", ["accuracy"],
                                                                                  0.001)
    assert loaded.optimizer.state_dict()["iterations"] == 0
    assert read_metadata(tmp_path / "keras.keras") is None


def rewrite_keras_config(tmp_path, change):
    """A Keras-written .keras (no tinyseq.json) whose config.json `change(config)` edited."""
    trained_model().save(tmp_path / "ours.keras")
    with zipfile.ZipFile(tmp_path / "ours.keras") as source, zipfile.ZipFile(tmp_path / "edited.keras", "w") as target:
        config = json.loads(source.read("config.json"))
        change(config)
        target.writestr("config.json", json.dumps(config))
        target.writestr("model.weights.h5", source.read("model.weights.h5"))
    return tmp_path / "edited.keras"


def set_layer_setting(index, key, value):
    def change(config):
        config["config"]["layers"][index]["config"][key] = value
    return change


@pytest.mark.parametrize("change, message", [
    (set_layer_setting(2, "stateful", True), "layer 'lstm' (LSTM): stateful=True has no tinyseq equivalent"),
    (set_layer_setting(4, "kernel_regularizer", {"class_name": "L2", "config": {"l2": 0.01}}),
     ("layer 'dense' (Dense): kernel_regularizer={'class_name': 'L2', 'config': {'l2': 0.01}} has no tinyseq "
      "equivalent")),
    (set_layer_setting(4, "kernel_initializer", {"class_name": "HeNormal", "config": {"seed": None}}),
     "layer 'dense' (Dense): kernel_initializer HeNormal has no tinyseq equivalent"),
    (set_layer_setting(2, "recurrent_initializer", {"class_name": "Orthogonal", "config": {"gain": 2.0}}),
     "layer 'lstm' (LSTM): recurrent_initializer Orthogonal({'gain': 2.0}) has no tinyseq equivalent"),
    (lambda config: config["config"]["layers"][3].update(class_name="ConvLSTM1D"),
     "layer 'gru' is a Keras ConvLSTM1D, which tinyseq does not have (it reads Dense, Activation, Embedding"),
    (lambda config: config.update(class_name="Functional"),
     "holds a Keras Functional model; tinyseq reads Sequential models only"),
])
def test_keras_settings_tinyseq_cannot_reproduce_are_refused_naming_the_layer(tmp_path, change, message):
    path = rewrite_keras_config(tmp_path, change)
    with pytest.raises(ValueError) as error:
        load_model(path)
    assert str(error.value).startswith(f"load_model: {path}") and message in str(error.value)


def test_an_optimizer_tinyseq_lacks_loads_the_model_uncompiled_with_a_warning(tmp_path):
    def change(config):
        config["compile_config"]["optimizer"]["config"]["use_ema"] = True
    path = rewrite_keras_config(tmp_path, change)
    with pytest.warns(RuntimeWarning, match=r"loaded uncompiled: tinyseq cannot reproduce its optimizer setting "
                                            r"use_ema=True; compile it yourself"):
        model = load_model(path)
    assert model.loss_function is None and model.predict(X, verbose=0).shape == (3, 1)


def test_weights_files_move_between_models_layer_by_layer(tmp_path):
    model = trained_model(seed=0)
    model.save_weights(tmp_path / "model.weights.h5")
    other = trained_model(seed=1)
    assert not same_weights(other.get_weights(), model.get_weights())
    other.load_weights(tmp_path / "model.weights.h5")
    assert same_weights(other.get_weights(), model.get_weights())
    for source in ("model.keras", "model.h5", "model.tinyseq"):
        model.save(tmp_path / source)
        fresh = Sequential([Embedding(12, 4, mask_zero=True), LSTM(5, return_sequences=True), GRU(3), Dense(1)])
        fresh.load_weights(tmp_path / source)  # built from the file's input shape
        assert same_weights(fresh.get_weights(), model.get_weights()), source


def test_weights_errors_name_the_file_the_layer_and_the_shapes(tmp_path):
    model = trained_model()
    with pytest.raises(ValueError, match=r"^save_weights: the file name must end in \.weights\.h5, got '.*model\.h5'$"):
        model.save_weights(tmp_path / "model.h5")
    model.save_weights(tmp_path / "model.weights.h5")
    with pytest.raises(FileExistsError, match="model.weights.h5 exists and overwrite=False"):
        model.save_weights(tmp_path / "model.weights.h5", overwrite=False)
    wider = Sequential([Embedding(12, 4), LSTM(6, return_sequences=True), GRU(3), Dense(1)])
    wider.build((None, 6))
    with pytest.raises(ValueError, match=r"layer 'lstm' \(LSTM\) has weights of shapes \[\(4, 24\), \(6, 24\), "
                                         r"\(24,\)\], the file holds \[\(4, 20\), \(5, 20\), \(20,\)\]"):
        wider.load_weights(tmp_path / "model.weights.h5")
    unbuilt = Sequential([Embedding(12, 4), LSTM(5), Dense(1)])
    with pytest.raises(ValueError, match="is not built, and .* holds weights only"):
        unbuilt.load_weights(tmp_path / "model.weights.h5")
    with pytest.raises(ValueError, match=r"holds weights only \(a Keras \.weights\.h5 file\): build the model and "
                                         r"call model.load_weights"):
        load_model(tmp_path / "model.weights.h5")
    with pytest.raises(ValueError, match=r"save_model: .*model.weights.h5 names a weights-only file"):
        save_model(model, tmp_path / "model.weights.h5")


def test_old_tinyseq_files_named_h5_still_load(tmp_path):
    model = trained_model()
    model.save(tmp_path / "imdb.tinyseq")
    shutil.copy(tmp_path / "imdb.tinyseq", tmp_path / "imdb.h5")  # what model.save('imdb.h5') wrote before
    assert zipfile.is_zipfile(tmp_path / "imdb.h5")
    loaded = load_model(tmp_path / "imdb.h5")
    assert same_weights(loaded.get_weights(), model.get_weights())


def test_a_file_that_is_neither_zip_nor_hdf5_is_refused(tmp_path):
    (tmp_path / "notes.h5").write_text("not a model")
    with pytest.raises(ValueError, match=r"notes.h5 is not a tinyseq model file \(not a zip archive nor HDF5: "
                                         r"corrupt, truncated, or another format\)"):
        load_model(tmp_path / "notes.h5")
    with h5py.File(tmp_path / "data.h5", "w") as file:
        file["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="data.h5 is an HDF5 file but not a Keras model"):
        load_model(tmp_path / "data.h5")


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_checkpoints_and_metadata_live_inside_keras_formats(tmp_path, suffix):
    model = trained_model()
    model.training_state = tinyseq.models.TrainingState(epoch=1, batch=0, history={"loss": [0.5]})
    path = tmp_path / f"checkpoint{suffix}"
    save_model(model, path, include_training_state=True, metadata={"words": ["a", "b"], "maxlen": 6})
    assert read_metadata(path) == {"words": ["a", "b"], "maxlen": 6}
    resumed = trained_model(seed=3)
    restore_checkpoint(resumed, path)
    assert same_weights(resumed.get_weights(), model.get_weights())
    assert (resumed.training_state.epoch, resumed.training_state.history) == (1, {"loss": [0.5]})


@pytest.mark.parametrize("call", [
    lambda path: trained_model().save(path / "model.keras"),
    lambda path: trained_model().save(path / "model.h5"),
    lambda path: trained_model().save_weights(path / "model.weights.h5"),
])
def test_without_h5py_keras_formats_say_in_one_line_what_to_install(tmp_path, monkeypatch, call):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError) as error:
        call(tmp_path)
    assert str(error.value).endswith("is in a Keras file format (HDF5), which needs h5py: "
                                     "pip install h5py")
    assert "\n" not in str(error.value) and not list(tmp_path.iterdir())


def test_a_model_path_is_checked_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    assert check_model_path(tmp_path / "imdb.tinyseq") is None
    with pytest.raises(ImportError, match=r"^tinyseq imdb train: .*imdb.h5 is in a Keras file format \(HDF5\)"):
        check_model_path(tmp_path / "imdb.h5", "tinyseq imdb train")
    with pytest.raises(ValueError, match=r"^save_model: .*m.weights.h5 names a weights-only file"):
        check_model_path(tmp_path / "m.weights.h5")
