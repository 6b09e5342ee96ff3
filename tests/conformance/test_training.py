"""The training API against Keras 3: losses, metrics, optimizers, `fit`'s splits, weights and
callback hooks, EarlyStopping, and the one difference kept on purpose (Adam on repeated ids).

Everything runs in float64 in both: Keras's float type is set to float64 for this module (its
losses, learning rates, data and logged metrics otherwise stay float32 even for float64 weights).
"""

import numpy as np
import pytest

import tinyseq
from tinyseq import losses, metrics
from tinyseq.callbacks import Callback, EarlyStopping
from tinyseq.layers import Dense, Embedding
from tinyseq.models import Sequential
from tinyseq.nn import GlobalAveragePooling1D
from tinyseq.optimizers import SGD, Adam, AdamW, RMSprop

FEATURES = 3


@pytest.fixture(autouse=True)
def float64_keras(keras):
    """Keras with float64 as its default float type, for this module's tests only."""
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


def as_numpy(keras, value):
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


# ---- losses and metrics ------------------------------------------------------------------------

RNG = np.random.default_rng(0)
PROBABILITIES = np.array([[0.9], [0.2], [1.0], [0.0], [0.6]])
LABELS = np.array([1, 0, 0, 1, 1])
LOGITS = np.array([[2.0], [-1.0], [30.0], [-30.0], [0.0]])
SCORES = np.array([[2.0, 1.0, 1.0], [0.0, 0.5, 0.5], [1e-9, 0.3, 0.7], [0.2, 0.2, 0.6]])  # unnormalised, zeros
CLASS_LOGITS = RNG.normal(size=(4, 3)) * 3
CLASSES = np.array([0, 0, 2, 1])
SEQUENCE_SCORES = RNG.uniform(size=(2, 5, 4))
SEQUENCE_LABELS = RNG.integers(0, 4, size=(2, 5))


@pytest.mark.parametrize("name, ours, theirs, y_true, keras_y_true, y_pred", [
    ("bce", lambda y, p: losses.binary_crossentropy(y, p), "binary_crossentropy", LABELS, LABELS[:, None], PROBABILITIES),
    ("bce-smoothing", lambda y, p: losses.binary_crossentropy(y, p, label_smoothing=0.1),
     lambda k, y, p: k.losses.binary_crossentropy(y, p, label_smoothing=0.1), LABELS, LABELS[:, None], PROBABILITIES),
    ("bce-logits", lambda y, p: losses.binary_crossentropy(y, p, from_logits=True),
     lambda k, y, p: k.losses.binary_crossentropy(y, p, from_logits=True), LABELS, LABELS[:, None], LOGITS),
    ("bce-multilabel", losses.binary_crossentropy, "binary_crossentropy", (SCORES > 0.4) * 1.0, (SCORES > 0.4) * 1.0,
     SCORES / 2),
    ("cce", losses.categorical_crossentropy, "categorical_crossentropy", np.eye(3)[CLASSES], np.eye(3)[CLASSES], SCORES),
    ("cce-logits-smoothing", lambda y, p: losses.categorical_crossentropy(y, p, from_logits=True, label_smoothing=0.2),
     lambda k, y, p: k.losses.categorical_crossentropy(y, p, from_logits=True, label_smoothing=0.2),
     np.eye(3)[CLASSES], np.eye(3)[CLASSES], CLASS_LOGITS),
    ("scce", losses.sparse_categorical_crossentropy, "sparse_categorical_crossentropy", CLASSES, CLASSES, SCORES),
    ("scce-logits", lambda y, p: losses.sparse_categorical_crossentropy(y, p, from_logits=True),
     lambda k, y, p: k.losses.sparse_categorical_crossentropy(y, p, from_logits=True), CLASSES, CLASSES, CLASS_LOGITS),
    ("scce-sequences", losses.sparse_categorical_crossentropy, "sparse_categorical_crossentropy", SEQUENCE_LABELS,
     SEQUENCE_LABELS, SEQUENCE_SCORES),
    ("mse", losses.mean_squared_error, "mean_squared_error", SCORES * 2, SCORES * 2, SCORES[::-1]),
])
def test_loss_functions_give_kerass_per_sample_losses(keras, name, ours, theirs, y_true, keras_y_true, y_pred):
    if isinstance(theirs, str):
        expected = as_numpy(keras, getattr(keras.losses, theirs)(keras_y_true, y_pred))
    else:
        expected = as_numpy(keras, theirs(keras, keras_y_true, y_pred))
    got = ours(y_true, tinyseq.tensor(y_pred)).data
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


WEIGHTS = np.array([0.5, 2.0, 0.0, 1.25])


@pytest.mark.parametrize("ours, theirs, y_true, y_pred", [
    (lambda: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
     lambda k: k.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, dtype="float64"), LABELS[:4], LOGITS[:4]),
    (lambda: losses.BinaryCrossentropy(reduction="sum"), lambda k: k.losses.BinaryCrossentropy(reduction="sum", dtype="float64"),
     LABELS[:4], PROBABILITIES[:4]),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1),
     lambda k: k.losses.CategoricalCrossentropy(label_smoothing=0.1, dtype="float64"), np.eye(3)[CLASSES], SCORES),
    (lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"), CLASSES, CLASS_LOGITS),
    (lambda: losses.SparseCategoricalCrossentropy(reduction="none"),
     lambda k: k.losses.SparseCategoricalCrossentropy(reduction="none", dtype="float64"), CLASSES, SCORES),
    (lambda: losses.MeanSquaredError(), lambda k: k.losses.MeanSquaredError(dtype="float64"), LABELS[:4], PROBABILITIES[:4]),
])
def test_loss_objects_with_sample_weights_give_kerass_values(keras, ours, theirs, y_true, y_pred):
    expected = as_numpy(keras, theirs(keras)(y_true, y_pred, sample_weight=WEIGHTS))
    got = ours()(y_true, tinyseq.tensor(y_pred), sample_weight=WEIGHTS).data
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ours, theirs, y_true, y_pred", [
    (metrics.binary_accuracy, "binary_accuracy", LABELS[:, None], PROBABILITIES),
    (metrics.categorical_accuracy, "categorical_accuracy", np.eye(3)[CLASSES], SCORES),
    (metrics.sparse_categorical_accuracy, "sparse_categorical_accuracy", CLASSES, SCORES),
    (metrics.sparse_categorical_accuracy, "sparse_categorical_accuracy", SEQUENCE_LABELS, SEQUENCE_SCORES),
])
def test_accuracies_match_keras(keras, ours, theirs, y_true, y_pred):
    assert ours(y_true, y_pred) == pytest.approx(float(np.mean(as_numpy(keras, getattr(keras.metrics, theirs)(
        y_true, y_pred)))), abs=1e-7)


# ---- optimizers --------------------------------------------------------------------------------

# Keras's Adam turns beta_1 and beta_2 (and its weight decay turns weight_decay) into float32 before
# using them, even for float64 weights: tinyseq does so only for float32 weights. Values exact in
# float32 make the float64 comparison exact.
BETAS = dict(beta_1=0.875, beta_2=0.9921875)
START = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.5]])
GRADIENTS = [np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -3.0]]), np.array([[-0.2, 0.4, 1.0], [1.5, -0.5, 0.0]]),
             np.array([[0.3, 0.3, -0.3], [2.0, 1.0, -1.0]]), np.array([[0.1, -0.3, 0.0], [0.5, 0.5, -0.5]])]


@pytest.mark.parametrize("settings", [
    ("RMSprop", dict(learning_rate=0.125, momentum=0.5)),
    ("RMSprop", dict(learning_rate=0.125, centered=True)),
    ("RMSprop", dict(learning_rate=0.125, rho=0.75, momentum=0.25, centered=True, weight_decay=0.5)),
    ("Adam", dict(learning_rate=0.125, amsgrad=True, **BETAS)),
    ("Adam", dict(learning_rate=0.125, weight_decay=0.25, **BETAS)),
    ("AdamW", dict(learning_rate=0.125, weight_decay=0.0625, **BETAS)),
    ("AdamW", dict(learning_rate=0.125, weight_decay=0.5, amsgrad=True, beta_1=0.5, beta_2=0.75)),
    ("SGD", dict(learning_rate=0.125, momentum=0.5, weight_decay=0.25)),
], ids=lambda settings: f"{settings[0]}-{'-'.join(settings[1])}")
def test_optimizers_follow_kerass_updates_in_float64(keras, settings):
    class_name, arguments = settings
    variable = keras.Variable(START, dtype="float64")
    theirs = getattr(keras.optimizers, class_name)(**arguments)
    parameter = tinyseq.nn.Parameter(START.copy())
    ours = {"RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW, "SGD": SGD}[class_name](**arguments)
    for step, gradient in enumerate(GRADIENTS, start=1):
        theirs.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
        parameter.grad = gradient
        ours.step([parameter])
        np.testing.assert_allclose(parameter.data, as_numpy(keras, variable), rtol=1e-14, atol=1e-15,
                                   err_msg=f"step {step}")


# ---- fit ----------------------------------------------------------------------------------------


def make_data(samples, classes, seed=0):
    """Inputs and targets: labels, or one-hot rows when classes is ("one-hot", n)."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(samples, FEATURES)))
    if classes == 1:
        return x, rng.integers(0, 2, size=samples)
    if isinstance(classes, tuple):
        return x, np.eye(classes[1])[rng.integers(0, classes[1], size=samples)]
    return x, rng.integers(0, classes, size=samples)


def twin_models(keras, units, activation, loss, optimizer, seed=1):
    """The same one-layer float64 model in Keras and in tinyseq, with the same weights."""
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(size=(FEATURES, units))), (rng.normal(size=units) / 4)]
    theirs = keras.Sequential([keras.Input((FEATURES,), dtype="float64"),
                               keras.layers.Dense(units, activation=activation, dtype="float64")])
    theirs.set_weights(weights)
    theirs.compile(loss=loss, optimizer=getattr(keras.optimizers, optimizer[0])(**optimizer[1]), metrics=["accuracy"])
    ours = Sequential([Dense(units, activation=activation, dtype="float64")])
    ours.build((None, FEATURES))
    ours.set_weights(weights)
    ours_loss = loss if isinstance(loss, str) else losses.deserialize(
        {"class_name": type(loss).__name__, "config": {key: value for key, value in loss.get_config().items()
                                                       if key in ("name", "reduction", "from_logits",
                                                                  "label_smoothing")}})
    ours.compile(loss=ours_loss, optimizer=tinyseq.optimizers.get(optimizer[0].lower()).__class__(**optimizer[1]),
                 metrics=["accuracy"])
    return theirs, ours


SGD_HALF = ("SGD", dict(learning_rate=0.5))
FIT_CASES = {
    # validation_split with Keras's floor(N (1 - s)) cut, batch_size=None (32): 49 train in 2 batches, 21 held out
    "split-default-batch": (1, "sigmoid", "binary_crossentropy", SGD_HALF, 70, dict(validation_split=0.3)),
    "class-weight": (1, "sigmoid", "binary_crossentropy", SGD_HALF, 40,
                     dict(validation_split=0.25, batch_size=8, class_weight={0: 0.5, 1: 2.0})),
    "sample-weight": (1, "sigmoid", "binary_crossentropy", ("RMSprop", dict(learning_rate=0.0625, momentum=0.5)), 40,
                      dict(validation_split=0.25, batch_size=8, sample_weight="weights")),
    "mse-accuracy": (1, "sigmoid", "mse", ("Adam", dict(learning_rate=0.125, **BETAS)), 30, dict(batch_size=7)),
    "sparse": (3, "softmax", "sparse_categorical_crossentropy",
               ("Adam", dict(learning_rate=0.125, amsgrad=True, **BETAS)), 30, dict(batch_size=8, validation_split=0.2)),
    "one-hot": (("one-hot", 3), "softmax", "categorical_crossentropy", ("AdamW", dict(learning_rate=0.125, weight_decay=0.0625, **BETAS)),
                30, dict(batch_size=8, validation_data="with-weights")),
    "logits-object": (1, None, "BinaryCrossentropy(from_logits=True, label_smoothing=0.1)", SGD_HALF, 24,
                      dict(batch_size=5, class_weight={1: 3.0})),
}


@pytest.mark.parametrize("case", FIT_CASES, ids=list(FIT_CASES))
def test_fit_gives_kerass_history_and_weights(keras, case):
    classes, activation, loss, optimizer, samples, arguments = FIT_CASES[case]
    x, y = make_data(samples, classes)
    arguments = dict(arguments)
    if arguments.get("sample_weight") == "weights":
        arguments["sample_weight"] = np.tile([0.5, 2.0, 1.0, 0.25], samples // 4)
    if arguments.get("validation_data") == "with-weights":
        x_val, y_val = make_data(9, classes, seed=5)
        arguments["validation_data"] = (x_val, y_val, np.array([1.0, 0.5, 2.0] * 3))
    if loss.startswith("BinaryCrossentropy"):
        loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    units = classes[1] if isinstance(classes, tuple) else classes
    theirs, ours = twin_models(keras, units, activation, loss, optimizer)
    expected = theirs.fit(x, y, epochs=3, shuffle=False, verbose=0, **arguments).history
    got = ours.fit(x, y, epochs=3, shuffle=False, verbose=0, **arguments).history
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=2e-6, atol=1e-7, err_msg=name)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.evaluate(x, y, batch_size=None, verbose=0),
                               theirs.evaluate(x, y, verbose=0), rtol=2e-6, atol=1e-7)


def test_train_and_test_on_batch_give_kerass_numbers(keras):
    x, y = make_data(12, 1)
    theirs, ours = twin_models(keras, 1, "sigmoid", "binary_crossentropy", SGD_HALF)
    weights = np.tile([0.5, 2.0, 1.0], 4)
    for _ in range(2):
        np.testing.assert_allclose(ours.train_on_batch(x, y, sample_weight=weights),
                                   theirs.train_on_batch(x, y, sample_weight=weights), rtol=2e-6)
    np.testing.assert_allclose(ours.train_on_batch(x, y, class_weight={0: 2.0}),
                               theirs.train_on_batch(x, y, class_weight={0: 2.0}), rtol=2e-6)
    assert ours.test_on_batch(x, y, return_dict=True) == pytest.approx(theirs.test_on_batch(x, y, return_dict=True),
                                                                        rel=2e-6)
    np.testing.assert_allclose(ours.predict_on_batch(x), theirs.predict_on_batch(x), rtol=1e-12)


# ---- callback hooks -------------------------------------------------------------------------------


def recorder(base):
    """A callback (subclass of `base`) that records each hook, its batch or epoch, and its logs' keys
    and values."""

    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.calls = []

    for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
                 "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
                 "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"):
        def record(self, *args, hook=hook, **kwargs):
            logs = kwargs.get("logs", args[-1] if args and isinstance(args[-1], dict) else None) or {}
            position = [a for a in args if isinstance(a, int)]
            numbers = {key: value for key, value in logs.items() if key != "outputs"}
            self.calls.append((hook, *position, sorted(logs), numbers))
        setattr(Recorder, hook, record)
    return Recorder()


def test_fit_evaluate_and_predict_call_kerass_hooks_with_kerass_logs(keras):
    x, y = make_data(10, 1)
    theirs, ours = twin_models(keras, 1, "sigmoid", "binary_crossentropy", SGD_HALF)
    seen = {}
    for name, model, base in (("keras", theirs, keras.callbacks.Callback), ("tinyseq", ours, Callback)):
        callback = recorder(base)
        model.fit(x, y, batch_size=4, epochs=2, validation_split=0.2, shuffle=False, verbose=0, callbacks=[callback])
        model.evaluate(x, y, batch_size=6, verbose=0, callbacks=[callback])
        model.predict(x, batch_size=6, verbose=0, callbacks=[callback])
        seen[name] = callback.calls
    assert [call[:-1] for call in seen["tinyseq"]] == [call[:-1] for call in seen["keras"]]
    for ours_call, keras_call in zip(seen["tinyseq"], seen["keras"]):
        for key, value in keras_call[-1].items():
            assert ours_call[-1][key] == pytest.approx(value, rel=2e-6, abs=1e-7), (ours_call[0], key)


# ---- EarlyStopping --------------------------------------------------------------------------------


class StubModel:
    """What EarlyStopping touches, in either library."""

    def __init__(self):
        self.stop_training, self.current, self.restored = False, None, None

    def get_weights(self):
        return self.current

    def set_weights(self, weights):
        self.restored = weights


def drive(callback, values, monitor):
    """Feed `values` as the monitored metric epoch by epoch; return (last epoch run, restored weights)."""
    model = StubModel()
    if hasattr(callback, "set_model"):
        callback.set_model(model)  # Keras's
    else:
        callback.model = model
    callback.on_train_begin()
    epoch = 0
    for epoch, value in enumerate(values):
        model.current = [epoch]
        callback.on_epoch_end(epoch, {monitor: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch, model.restored


LOSSES = [0.9, 0.7, 0.71, 0.69, 0.695, 0.7, 0.5, 0.52, 0.53, 0.54]


@pytest.mark.parametrize("arguments", [
    dict(patience=0), dict(patience=2), dict(patience=1, min_delta=0.015), dict(patience=2, baseline=0.6),
    dict(patience=1, start_from_epoch=3), dict(patience=2, restore_best_weights=True),
    dict(patience=1, restore_best_weights=True, start_from_epoch=2, baseline=0.4),
    dict(monitor="val_accuracy", mode="max", patience=1), dict(monitor="loss", mode="max", patience=1),
], ids=lambda arguments: "-".join(f"{key}={value}" for key, value in arguments.items()))
def test_early_stopping_stops_and_restores_as_keras(keras, arguments):
    monitor = arguments.get("monitor", "val_loss")
    values = [1 - value for value in LOSSES] if "accuracy" in monitor else LOSSES
    expected = drive(keras.callbacks.EarlyStopping(**arguments), values, monitor)
    assert drive(EarlyStopping(**arguments), values, monitor) == expected


# ---- on purpose: textbook Adam on an embedding with repeated ids --------------------------------


def embedding_twins(keras, optimizer):
    rng = np.random.default_rng(3)
    weights = [(rng.normal(size=(6, 2))), (rng.normal(size=(2, 1))), np.zeros(1)]
    theirs = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(6, 2, dtype="float64"),
                               keras.layers.GlobalAveragePooling1D(dtype="float64"),
                               keras.layers.Dense(1, activation="sigmoid", dtype="float64")])
    theirs.set_weights(weights)
    settings = dict(learning_rate=0.125, **(BETAS if optimizer == "Adam" else {}))
    theirs.compile(loss="binary_crossentropy", optimizer=getattr(keras.optimizers, optimizer)(**settings))
    ours = Sequential([Embedding(6, 2, dtype="float64"), GlobalAveragePooling1D(),
                       Dense(1, activation="sigmoid", dtype="float64")])
    ours.build((None, 3))
    ours.set_weights(weights)
    ours.compile(loss="binary_crossentropy", optimizer=tinyseq.optimizers.get(optimizer.lower()).__class__(**settings))
    return theirs, ours


@pytest.mark.parametrize("optimizer", ["Adam", "RMSprop"])
def test_adam_and_rmsprop_differ_from_kerass_fit_only_where_a_batch_repeats_an_id(keras, optimizer):
    targets = np.array([1, 0])
    for ids, repeated in ((np.array([[1, 2, 3], [4, 5, 0]]), False), (np.array([[1, 1, 2], [3, 1, 1]]), True)):
        theirs, ours = embedding_twins(keras, optimizer)
        theirs.fit(ids, targets, epochs=3, batch_size=2, shuffle=False, verbose=0)
        ours.fit(ids, targets, epochs=3, batch_size=2, shuffle=False, verbose=0)
        difference = np.abs(ours.get_weights()[0] - theirs.get_weights()[0]).max()
        if repeated:  # Keras squares each occurrence's gradient on its own; tinyseq squares their sum
            assert difference > 1e-3
        else:
            assert difference < 1e-12
