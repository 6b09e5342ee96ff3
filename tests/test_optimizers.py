"""Optimizers: three steps against Keras 3's formulas written out here, clipping, checkpoints."""

import json

import numpy as np
import pytest

from tinyseq import optimizers
from tinyseq.nn import Parameter
from tinyseq.optimizers import SGD, Adam, AdamW, RMSprop

START = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.5]])
GRADIENTS = [np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -3.0]]),
             np.array([[-0.2, 0.4, 1.0], [1.5, -0.5, 0.0]]),
             np.array([[0.3, 0.3, -0.3], [2.0, 1.0, -1.0]])]


def run_three_steps(optimizer, dtype=np.float64):
    """Apply the three fixed gradients; return the parameter after each step."""
    parameter = Parameter(START.astype(dtype))
    history = []
    for gradient in GRADIENTS:
        parameter.grad = gradient.astype(dtype)
        optimizer.step([parameter])
        history.append(parameter.data.copy())
    return history


# ---- the formulas, written out independently -----------------------------------------------------


def sgd_reference(lr, momentum=0.0, nesterov=False, gradients=GRADIENTS):
    w, velocity, history = START.copy(), np.zeros_like(START), []
    for g in gradients:
        if momentum == 0:
            w = w - lr * g
        else:
            velocity = momentum * velocity - lr * g
            w = w + (momentum * velocity - lr * g if nesterov else velocity)
        history.append(w)
    return history


def rmsprop_reference(lr, rho, epsilon, momentum=0.0, centered=False, weight_decay=0.0, gradients=GRADIENTS):
    w, mean_square, mean, velocity, history = START.copy(), np.zeros_like(START), np.zeros_like(START), 0.0, []
    for g in gradients:
        w = w - w * weight_decay * lr
        mean_square = rho * mean_square + (1 - rho) * g ** 2
        mean = rho * mean + (1 - rho) * g
        variance = mean_square - mean ** 2 if centered else mean_square
        velocity = momentum * velocity + lr * g / np.sqrt(variance + epsilon)
        w = w - velocity
        history.append(w)
    return history


def adam_reference(lr, beta_1, beta_2, epsilon, amsgrad=False, weight_decay=0.0, gradients=GRADIENTS):
    w, m, v, v_max, history = START.copy(), np.zeros_like(START), np.zeros_like(START), np.zeros_like(START), []
    for t, g in enumerate(gradients, start=1):
        w = w - w * weight_decay * lr
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        v_max = np.maximum(v_max, v)
        step_size = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        w = w - step_size * m / (np.sqrt(v_max if amsgrad else v) + epsilon)
        history.append(w)
    return history


def sgd_reference_with_decay(lr, momentum, weight_decay, gradients=GRADIENTS):
    w, velocity, history = START.copy(), np.zeros_like(START), []
    for g in gradients:
        w = w - w * weight_decay * lr
        velocity = momentum * velocity - lr * g
        w = w + velocity
        history.append(w)
    return history


def assert_history(got, expected):
    for step, (a, b) in enumerate(zip(got, expected), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"step {step}")


@pytest.mark.parametrize("optimizer, expected", [
    (SGD(), sgd_reference(0.01)),
    (SGD(0.1, momentum=0.9), sgd_reference(0.1, momentum=0.9)),
    (SGD(0.1, momentum=0.9, nesterov=True), sgd_reference(0.1, momentum=0.9, nesterov=True)),
    (RMSprop(), rmsprop_reference(1e-3, 0.9, 1e-7)),
    (RMSprop(0.05, rho=0.5, epsilon=1e-3), rmsprop_reference(0.05, 0.5, 1e-3)),
    (Adam(), adam_reference(1e-3, 0.9, 0.999, 1e-7)),
    (Adam(0.1, beta_1=0.5, beta_2=0.8, epsilon=1e-2), adam_reference(0.1, 0.5, 0.8, 1e-2)),
    (RMSprop(0.05, momentum=0.8), rmsprop_reference(0.05, 0.9, 1e-7, momentum=0.8)),
    (RMSprop(0.05, centered=True), rmsprop_reference(0.05, 0.9, 1e-7, centered=True)),
    (RMSprop(0.05, rho=0.7, momentum=0.5, centered=True, weight_decay=0.1),
     rmsprop_reference(0.05, 0.7, 1e-7, momentum=0.5, centered=True, weight_decay=0.1)),
    (Adam(0.1, amsgrad=True), adam_reference(0.1, 0.9, 0.999, 1e-7, amsgrad=True)),
    (Adam(0.1, weight_decay=0.5), adam_reference(0.1, 0.9, 0.999, 1e-7, weight_decay=0.5)),
    (AdamW(0.1), adam_reference(0.1, 0.9, 0.999, 1e-7, weight_decay=0.004)),
    (AdamW(0.1, weight_decay=0.2, amsgrad=True), adam_reference(0.1, 0.9, 0.999, 1e-7, amsgrad=True, weight_decay=0.2)),
    (SGD(0.1, momentum=0.9, weight_decay=0.3), sgd_reference_with_decay(0.1, 0.9, 0.3)),
], ids=["sgd", "momentum", "nesterov", "rmsprop", "rmsprop-options", "adam", "adam-options", "rmsprop-momentum",
        "rmsprop-centered", "rmsprop-all", "amsgrad", "adam-weight-decay", "adamw", "adamw-amsgrad", "sgd-weight-decay"])
def test_first_three_steps_follow_the_formula(optimizer, expected):
    assert_history(run_three_steps(optimizer), expected)


def test_clipnorm_rescales_each_gradient_to_at_most_that_norm():
    clip = 1.0
    clipped = [g * clip / max(np.linalg.norm(g), clip) for g in GRADIENTS]
    assert_history(run_three_steps(SGD(0.1, momentum=0.5, clipnorm=clip)),
                   sgd_reference(0.1, momentum=0.5, gradients=clipped))


def test_clipvalue_clips_each_element():
    clipped = [np.clip(g, -0.4, 0.4) for g in GRADIENTS]
    assert_history(run_three_steps(Adam(0.1, clipvalue=0.4)), adam_reference(0.1, 0.9, 0.999, 1e-7, gradients=clipped))


def test_global_clipnorm_rescales_all_gradients_together():
    first, second = Parameter(np.ones(2)), Parameter(np.ones(3))
    first.grad, second.grad = np.array([3.0, 0.0]), np.array([0.0, 4.0, 0.0])  # joint norm 5
    SGD(1.0, global_clipnorm=2.5).step([first, second])
    np.testing.assert_allclose(first.data, 1 - np.array([1.5, 0.0]), rtol=1e-15)
    np.testing.assert_allclose(second.data, 1 - np.array([0.0, 2.0, 0.0]), rtol=1e-15)
    small = Parameter(np.ones(2))
    small.grad = np.array([0.3, 0.4])  # norm 0.5: below the limit, untouched
    SGD(1.0, global_clipnorm=2.5).step([small])
    np.testing.assert_allclose(small.data, [0.7, 0.6], rtol=1e-15)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match=r"adam: only one of clipnorm, clipvalue and global_clipnorm can be set, "
                                         r"got \{'clipnorm': 1.0, 'clipvalue': 0.5\}"):
        Adam(clipnorm=1.0, clipvalue=0.5)


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(momentum=1.5), "SGD: momentum must be a number in [0, 1], got 1.5"),
    (lambda: SGD(nesterov="yes"), "SGD: nesterov must be True or False, got 'yes'"),
    (lambda: SGD(clipnorm=0), "SGD: clipnorm must be a positive number, got 0"),
    (lambda: RMSprop(rho=-0.1), "rmsprop: rho must be a number in [0, 1], got -0.1"),
    (lambda: RMSprop(epsilon=0), "rmsprop: epsilon must be a positive number, got 0"),
    (lambda: Adam(beta_1=1.0), "adam: beta_1 must be a number in [0, 1), got 1.0"),
    (lambda: Adam(beta_2=float("nan")), "adam: beta_2 must be a number in [0, 1), got nan"),
    (lambda: Adam(global_clipnorm=-2, name="mine"), "mine: global_clipnorm must be a positive number, got -2"),
    (lambda: Adam(learning_rate=float("inf")),
     "adam: learning_rate must be a non-negative number or a LearningRateSchedule, got inf"),
    (lambda: RMSprop(momentum=-0.5), "rmsprop: momentum must be a number in [0, 1], got -0.5"),
    (lambda: RMSprop(centered=1), "rmsprop: centered must be True or False, got 1"),
    (lambda: Adam(amsgrad="no"), "adam: amsgrad must be True or False, got 'no'"),
    (lambda: Adam(weight_decay=-1), "adam: weight_decay must be a non-negative number, got -1"),
    (lambda: AdamW(weight_decay=None), "adamw: weight_decay must be a non-negative number, got None"),
])
def test_bad_hyperparameters_are_refused_naming_optimizer_argument_and_value(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


# ---- in-place updates, dtypes, shared gradients -----------------------------------------------------


@pytest.mark.parametrize("optimizer", [SGD(momentum=0.9, nesterov=True, clipnorm=0.5),
                                       RMSprop(global_clipnorm=1.0), Adam(clipvalue=0.1)],
                         ids=["sgd", "rmsprop", "adam"])
def test_float32_stays_float32_in_place_and_gradients_are_untouched(optimizer):
    parameter = Parameter(START.astype(np.float32))
    array = parameter.data
    gradient = GRADIENTS[0].astype(np.float32)
    parameter.grad = gradient
    optimizer.step([parameter])
    assert parameter.data is array and array.dtype == np.float32
    np.testing.assert_array_equal(gradient, GRADIENTS[0].astype(np.float32))
    assert all(a.dtype == np.float32 for arrays in optimizer.state_dict()["slots"].values() for a in arrays)


def test_float32_adam_stays_close_to_the_float64_formula():
    history = run_three_steps(Adam(), dtype=np.float32)
    np.testing.assert_allclose(history[-1], adam_reference(1e-3, 0.9, 0.999, 1e-7)[-1], rtol=1e-6, atol=1e-6)


def test_parameters_without_gradient_are_skipped():
    trained, frozen = Parameter(np.ones(2)), Parameter(np.ones(2))
    trained.grad = np.ones(2)
    Adam().step([trained, frozen])
    np.testing.assert_array_equal(frozen.data, np.ones(2))
    assert not np.array_equal(trained.data, np.ones(2))


def test_step_needs_gradients_and_the_same_parameters():
    parameter = Parameter(np.ones(2))
    optimizer = SGD()
    with pytest.raises(ValueError, match=r"SGD.step: no parameter has a gradient"):
        optimizer.step([parameter])
    parameter.grad = np.ones(2)
    with pytest.raises(ValueError, match=r"got different parameters from the first step's"):
        optimizer.step([Parameter(np.ones(2))])


# ---- checkpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), RMSprop, Adam,
                                  lambda: RMSprop(momentum=0.5, centered=True), lambda: AdamW(amsgrad=True)],
                         ids=["sgd", "rmsprop", "adam", "rmsprop-momentum-centered", "adamw-amsgrad"])
@pytest.mark.parametrize("built", [True, False], ids=["into-used", "into-fresh"])
def test_state_dict_resumes_bit_exactly(make, built):
    uninterrupted = run_three_steps(make(), dtype=np.float32)[-1]

    first = make()
    parameter = Parameter(START.astype(np.float32))
    for gradient in GRADIENTS[:2]:
        parameter.grad = gradient.astype(np.float32)
        first.step([parameter])
    state = first.state_dict()

    resumed = make()
    if built:  # an optimizer that already stepped other values gets overwritten completely
        scratch = Parameter(np.zeros_like(parameter.data))
        scratch.grad = np.ones_like(parameter.data)
        resumed.step([scratch])
        parameter_to_train = scratch
        parameter_to_train.data[...] = parameter.data
    else:
        parameter_to_train = parameter
    resumed.load_state_dict(state)
    assert resumed.iterations == 2
    parameter_to_train.grad = GRADIENTS[2].astype(np.float32)
    resumed.step([parameter_to_train])
    np.testing.assert_array_equal(parameter_to_train.data, uninterrupted)


def test_load_state_dict_checks_slots():
    parameter = Parameter(np.ones(3))
    parameter.grad = np.ones(3)
    adam = Adam()
    adam.step([parameter])
    with pytest.raises(ValueError, match=r"the state has slots \['velocity'\], "
                                         r"this optimizer has \['momentum', 'velocity'\]"):
        adam.load_state_dict(RMSprop().state_dict())
    state = adam.state_dict()
    state["slots"]["momentum"][0] = np.zeros(4)
    with pytest.raises(ValueError, match=r"slot 'momentum'\[0\] has shape \(4,\), expected \(3,\)"):
        adam.load_state_dict(state)


# ---- configs and names ------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", [SGD(0.2, momentum=0.5, nesterov=True, clipnorm=1.0),
                                       RMSprop(rho=0.8, clipvalue=2.0, momentum=0.3, centered=True),
                                       Adam(beta_2=0.99, global_clipnorm=5.0, amsgrad=True),
                                       AdamW(weight_decay=0.01, name="decayed")])
def test_get_config_rebuilds_the_optimizer(optimizer):
    config = optimizer.get_config()
    json.dumps(config)
    assert type(optimizer)(**config).get_config() == config


def test_defaults_are_kerass():
    assert SGD().get_config()["learning_rate"] == 0.01
    assert RMSprop().get_config() == {"name": "rmsprop", "learning_rate": 1e-3, "rho": 0.9, "momentum": 0.0,
                                      "epsilon": 1e-7, "centered": False, "clipnorm": None, "clipvalue": None,
                                      "global_clipnorm": None, "weight_decay": None}
    adam = Adam().get_config()
    assert (adam["learning_rate"], adam["beta_1"], adam["beta_2"], adam["epsilon"], adam["amsgrad"],
            adam["weight_decay"]) == (1e-3, 0.9, 0.999, 1e-7, False, None)
    assert AdamW().get_config()["weight_decay"] == 0.004 and AdamW().name == "adamw"


def test_slots_follow_the_options_as_keras():
    assert RMSprop().slot_names == ("velocity",)
    assert RMSprop(momentum=0.9, centered=True).slot_names == ("velocity", "momentum", "average_gradient")
    assert Adam(amsgrad=True).slot_names == ("momentum", "velocity", "velocity_hat")


def test_get_by_name_or_instance():
    assert isinstance(optimizers.get("adam"), Adam)
    assert isinstance(optimizers.get("RMSprop"), RMSprop)
    assert isinstance(optimizers.get("sgd"), SGD)
    adam = Adam()
    assert optimizers.get(adam) is adam
    assert isinstance(optimizers.get("AdamW"), AdamW)
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adagrad'; valid names: sgd, rmsprop, adam, adamw"):
        optimizers.get("adagrad")
