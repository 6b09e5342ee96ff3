"""Learning-rate schedules: their values, how optimizers use them, saving and resuming."""

import json

import numpy as np
import pytest

from tinyseq import Tensor
from tinyseq.optimizers import SGD, Adam
from tinyseq.layers import LSTM, Dense, Embedding
from tinyseq.models import Sequential
from tinyseq.schedules import LearningRateSchedule, LinearDecay, deserialize, serialize


def test_linear_decay_holds_then_falls_in_a_straight_line_then_stays():
    schedule = LinearDecay(0.8, decay_steps=4, end_learning_rate=0.2, hold_steps=2)
    assert [schedule(step) for step in range(9)] == pytest.approx([0.8, 0.8, 0.8, 0.65, 0.5, 0.35, 0.2, 0.2, 0.2])
    assert [LinearDecay(1.0, 2)(step) for step in range(4)] == [1.0, 0.5, 0.0, 0.0]  # Keras's PolynomialDecay(power=1)


@pytest.mark.parametrize("arguments, message", [
    (dict(initial_learning_rate=-1, decay_steps=3), "LinearDecay: initial_learning_rate must be a non-negative number, got -1"),
    (dict(initial_learning_rate=1, decay_steps=3, end_learning_rate=-0.1),
     "LinearDecay: end_learning_rate must be a non-negative number, got -0.1"),
    (dict(initial_learning_rate=1, decay_steps=0), "LinearDecay: decay_steps must be a positive integer, got 0"),
    (dict(initial_learning_rate=1, decay_steps=2.5), "LinearDecay: decay_steps must be a positive integer, got 2.5"),
    (dict(initial_learning_rate=1, decay_steps=2, hold_steps=-1),
     "LinearDecay: hold_steps must be a non-negative integer, got -1"),
    (dict(initial_learning_rate="fast", decay_steps=3),
     "LinearDecay: initial_learning_rate must be a non-negative number, got 'fast'"),
    (dict(initial_learning_rate=float("inf"), decay_steps=3),
     "LinearDecay: initial_learning_rate must be a non-negative number, got inf"),
    (dict(initial_learning_rate=1, decay_steps=float("nan")), "LinearDecay: decay_steps must be a positive integer, got nan"),
    (dict(initial_learning_rate=1, decay_steps="10"), "LinearDecay: decay_steps must be a positive integer, got '10'"),
    (dict(initial_learning_rate=1, decay_steps=2, hold_steps=True),
     "LinearDecay: hold_steps must be a non-negative integer, got True"),
])
def test_linear_decay_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError) as error:
        LinearDecay(**arguments)
    assert str(error.value) == message


def test_sgd_takes_the_scheduled_learning_rate_of_each_step():
    weight = Tensor(np.array([1.0]), requires_grad=True)
    optimizer = SGD(LinearDecay(0.5, decay_steps=2, hold_steps=1))
    seen = []
    for _ in range(4):
        seen.append(optimizer.learning_rate)
        weight.grad = np.array([2.0])
        optimizer.step([weight])
    assert seen == [0.5, 0.5, 0.25, 0.0]
    np.testing.assert_array_equal(weight.data, [1.0 - 2.0 * (0.5 + 0.5 + 0.25)])


def test_adam_with_a_schedule_equals_adam_with_the_same_rates_set_by_hand():
    rng = np.random.default_rng(0)
    gradients = rng.normal(size=(5, 3))
    schedule = LinearDecay(0.1, decay_steps=3, hold_steps=1)
    scheduled, by_hand = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    with_schedule, constant = Adam(schedule), Adam(0.1)
    for step, gradient in enumerate(gradients):
        constant.learning_rate = schedule(step)
        for weight, optimizer in ((scheduled, with_schedule), (by_hand, constant)):
            weight.grad = gradient.copy()
            optimizer.step([weight])
    np.testing.assert_array_equal(scheduled.data, by_hand.data)
    assert with_schedule.learning_rate == 0.0


def test_a_schedule_is_saved_in_the_optimizer_config_and_rebuilt():
    optimizer = Adam(LinearDecay(1e-3, decay_steps=196, hold_steps=196), global_clipnorm=1.0)
    config = optimizer.get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["learning_rate"] == serialize(LinearDecay(1e-3, 196, hold_steps=196))
    rebuilt = Adam(**config)
    assert rebuilt.get_config() == config and rebuilt.learning_rate == 1e-3
    rebuilt.iterations = 294
    assert rebuilt.learning_rate == pytest.approx(0.5e-3)
    assert repr(rebuilt) == ("<Adam 'adam' learning_rate=LinearDecay(initial_learning_rate=0.001, decay_steps=196, "
                             "end_learning_rate=0.0, hold_steps=196)>")


def test_unknown_schedules_and_bad_learning_rates_are_named():
    with pytest.raises(ValueError, match="Unknown learning-rate schedule 'CosineDecay'; valid names: lineardecay"):
        deserialize({"class_name": "CosineDecay", "config": {}})
    for bad in (-0.1, "fast", None):
        with pytest.raises(ValueError, match=f"adam: learning_rate must be a non-negative number or a "
                                             f"LearningRateSchedule, got {bad!r}"):
            Adam(bad)
    assert deserialize(serialize(LinearDecay(2.0, 5))).get_config() == LinearDecay(2.0, 5).get_config()


def test_a_schedule_of_your_own_trains_but_saving_it_is_refused_by_name(tmp_path):
    class Halving(LearningRateSchedule):
        def __call__(self, step):
            return 0.1 / 2 ** step

        def get_config(self):
            return {}

    weight = Tensor(np.array([1.0]), requires_grad=True)
    optimizer = SGD(Halving())
    for _ in range(2):
        weight.grad = np.array([1.0])
        optimizer.step([weight])
    np.testing.assert_allclose(weight.data, [1.0 - 0.1 - 0.05])
    # a saved model must load back, and no name could rebuild this class: refuse before writing
    model = Sequential([Embedding(10, 2, input_length=3), LSTM(2), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(Halving()))
    model.fit(np.array([[1, 2, 3], [4, 5, 6]]), np.array([0, 1]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cannot serialize the custom learning-rate schedule .*Halving"):
        model.save(tmp_path / "model.h5")
    assert list(tmp_path.iterdir()) == []
