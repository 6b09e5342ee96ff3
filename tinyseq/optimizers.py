"""Optimizers with Keras 3's defaults and update formulas: `SGD`, `RMSprop`, `Adam`, `AdamW`.

Usage, after `loss.backward()`:

    optimizer = Adam()
    optimizer.step(model.parameters())   # updates every parameter that has a .grad, in place

An optimizer keeps per-parameter state ("slots", such as Adam's moment estimates), one array
per parameter in the order the first `step` received them; later steps must pass the same
parameters. `state_dict()` / `load_state_dict()` save and restore the iteration count and the
slots, so training resumes from a checkpoint bit for bit.

Gradients can be clipped first, with Keras's options (at most one of them):
`clipnorm` rescales each gradient whose L2 norm exceeds it, `global_clipnorm` rescales all of
them together when their joint norm exceeds it, `clipvalue` clips each element to ±clipvalue.
Clipping makes new arrays: the `.grad` arrays are never modified.

`weight_decay` (any optimizer; AdamW's default is 0.004) shrinks each parameter before its
update, as Keras does: w = w - w * weight_decay * lr, decoupled from the gradient.

One difference from Keras on purpose: for an Embedding, Keras's `fit` hands the optimizer a
sparse gradient with one row per occurrence of an id, and Adam and RMSprop then add each
occurrence's square separately into the second moment; tinyseq sums the rows first and
squares the sum, the textbook update. Batches with a repeated id therefore give slightly
different numbers (docs/how-to/coming-from-keras.md measures it).

The learning rate may be a number or a schedule from `tinyseq.schedules`, evaluated at the step
count before each update.
"""

from __future__ import annotations

import numpy as np

from . import checks, schedules
from .registry import Registry
from .schedules import LearningRateSchedule


class Optimizer:
    """Base class: clipping, the iteration count, slots and checkpoints.

    Subclasses list their slots in `slot_names` and implement `update`.

    Args:
        learning_rate: the step size: a number, or a `LearningRateSchedule` of the step count
            (or the dict `schedules.serialize` makes of one, as configs hold it).
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this joint L2 norm.
        weight_decay: shrink each parameter by weight_decay * lr of itself before each update.
        name: the optimizer's name.
    """

    slot_names: tuple = ()
    default_name = "optimizer"

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None, global_clipnorm=None, weight_decay=None,
                 name=None):
        if name is not None and not (isinstance(name, str) and name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name or self.default_name
        clipping = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        chosen = {key: checks.positive_number(value, key, self.name)
                  for key, value in clipping.items() if value is not None}
        if len(chosen) > 1:
            raise ValueError(f"{self.name}: only one of clipnorm, clipvalue and global_clipnorm can be set, "
                             f"got {chosen}")
        self.learning_rate = schedules.deserialize(learning_rate) if isinstance(learning_rate, dict) else learning_rate
        self.clipnorm = chosen.get("clipnorm")
        self.clipvalue = chosen.get("clipvalue")
        self.global_clipnorm = chosen.get("global_clipnorm")
        self.weight_decay = None if weight_decay is None else checks.non_negative_number(
            weight_decay, "weight_decay", self.name)
        self.iterations = 0
        self._parameters = None  # fixed by the first step
        self._slots = {name: [] for name in self.slot_names}  # slot name -> one array per parameter

    @property
    def learning_rate(self):
        """The learning rate of the next update (a schedule's value at the current step count).

        Assign a number or a `LearningRateSchedule` to change it.
        """
        if isinstance(self._learning_rate, LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not isinstance(value, LearningRateSchedule):
            value = checks.non_negative_number(value, "learning_rate", self.name, also="a LearningRateSchedule")
        self._learning_rate = value

    # ---- stepping -------------------------------------------------------------------------
    def step(self, parameters):
        """Update, in place, every parameter whose `.grad` is not None.

        Args:
            parameters: the parameters to train, in a fixed order (e.g. `model.parameters()`).

        Raises:
            ValueError: if no parameter has a gradient, or the parameters differ from the ones
                the first step was given.
        """
        parameters = list(parameters)
        self._build(parameters)
        with_gradient = [(index, p) for index, p in enumerate(parameters) if p.grad is not None]
        if not with_gradient:
            raise ValueError(f"{self.name}.step: no parameter has a gradient; call loss.backward() first")
        gradients = self.clip_gradients([p.grad for _, p in with_gradient])
        if self.weight_decay:
            for _, parameter in with_gradient:
                self.decay(parameter.data)
        for (index, parameter), gradient in zip(with_gradient, gradients):
            slots = {name: arrays[index] for name, arrays in self._slots.items()}
            self.update(parameter.data, gradient, slots)
        self.iterations += 1

    def decay(self, variable):
        """Shrink `variable` in place: w = w - w * weight_decay * lr (in its dtype, as Keras)."""
        as_dtype = variable.dtype.type
        np.subtract(variable, variable * as_dtype(self.weight_decay) * as_dtype(self.learning_rate), out=variable)

    def update(self, variable, gradient, slots):
        """Apply one update to `variable` (a numpy array, changed in place).

        Args:
            variable: the parameter's array.
            gradient: its (clipped) gradient; must not be modified.
            slots: this parameter's slot arrays by name, updated in place.
        """
        raise NotImplementedError(f"{type(self).__name__}.update is not implemented")

    def clip_gradients(self, gradients):
        """Return new, clipped gradient arrays (or the same arrays if no clipping is set)."""
        if self.clipnorm is not None:
            return [g * self.clipnorm / np.maximum(np.sqrt(np.sum(g * g)), self.clipnorm) for g in gradients]
        if self.global_clipnorm is not None:
            norm = np.sqrt(sum(np.sum(g * g) for g in gradients))
            # As Keras: a non-finite norm turns the update into NaN rather than hiding the problem.
            scale = self.global_clipnorm / max(norm, self.global_clipnorm) if np.isfinite(norm) else np.nan
            return [g * scale for g in gradients]
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in gradients]
        return gradients

    def _build(self, parameters):
        if self._parameters is None:
            loaded = self._slots
            self._parameters = parameters
            self._slots = {name: [np.zeros_like(p.data) for p in parameters] for name in self.slot_names}
            if any(loaded.values()):  # a state loaded before the first step
                self._copy_slots(loaded)
        elif len(parameters) != len(self._parameters) or any(
                p is not q for p, q in zip(parameters, self._parameters)):
            raise ValueError(f"{self.name}.step: got different parameters from the first step's; an "
                             f"optimizer keeps state per parameter, so make a new one for new parameters")

    # ---- checkpoints ----------------------------------------------------------------------
    def state_dict(self):
        """The iteration count and copies of the slot arrays (in parameter order)."""
        return {"iterations": self.iterations,
                "slots": {name: [array.copy() for array in arrays] for name, arrays in self._slots.items()}}

    def load_state_dict(self, state):
        """Restore a `state_dict`; before the first step, the slots are kept until it.

        Raises:
            ValueError: if the slot names, counts or shapes do not match.
        """
        if set(state["slots"]) != set(self.slot_names):
            raise ValueError(f"{self.name}.load_state_dict: the state has slots {sorted(state['slots'])}, "
                             f"this optimizer has {sorted(self.slot_names)}")
        if self._parameters is None:
            self._slots = {name: [np.array(a) for a in arrays] for name, arrays in state["slots"].items()}
        else:
            self._copy_slots(state["slots"])
        self.iterations = int(state["iterations"])

    def _copy_slots(self, slots):
        for name, arrays in slots.items():
            if len(arrays) != len(self._parameters):
                raise ValueError(f"{self.name}.load_state_dict: slot {name!r} has {len(arrays)} arrays "
                                 f"for {len(self._parameters)} parameters")
            for index, (target, source) in enumerate(zip(self._slots[name], arrays)):
                if np.shape(source) != target.shape:
                    raise ValueError(f"{self.name}.load_state_dict: slot {name!r}[{index}] has shape "
                                     f"{np.shape(source)}, expected {target.shape}")
                target[...] = source

    def get_config(self):
        """The constructor arguments as a JSON-able dict: `type(optimizer)(**config)` rebuilds it."""
        learning_rate = self._learning_rate
        if isinstance(learning_rate, LearningRateSchedule):
            learning_rate = schedules.serialize(learning_rate)
        return {"name": self.name, "learning_rate": learning_rate, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm,
                "weight_decay": self.weight_decay}

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} learning_rate={self._learning_rate}>"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as Keras 3:

        without momentum:  w = w - lr * g
        with momentum:     v = momentum * v - lr * g;  w = w + v
        Nesterov:          v = momentum * v - lr * g;  w = w + momentum * v - lr * g

    Args:
        learning_rate: default 0.01.
        momentum: in [0, 1]; 0 is plain gradient descent.
        nesterov: use Nesterov momentum.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name (see `Optimizer`).
    """

    default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        where = kwargs.get("name") or self.default_name  # set before Optimizer.__init__: slot_names needs it
        self.momentum = checks.number(momentum, "momentum", where, low=0, high=1)
        self.nesterov = checks.boolean(nesterov, "nesterov", where)
        super().__init__(learning_rate, **kwargs)

    @property
    def slot_names(self):
        """A velocity per parameter, only when there is momentum (as Keras)."""
        return ("momentum",) if self.momentum else ()

    def update(self, variable, gradient, slots):
        """See `Optimizer.update`."""
        if not self.momentum:
            np.subtract(variable, gradient * self.learning_rate, out=variable)
            return
        velocity = slots["momentum"]
        np.subtract(velocity * self.momentum, gradient * self.learning_rate, out=velocity)
        if self.nesterov:
            np.add(variable, velocity * self.momentum - gradient * self.learning_rate, out=variable)
        else:
            np.add(variable, velocity, out=variable)

    def get_config(self):
        """See `Optimizer.get_config`."""
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Divide each step by a running root-mean-square of recent gradients, as Keras 3:

        v = rho * v + (1 - rho) * g²
        centered:      a = rho * a + (1 - rho) * g;   d = v - a² + epsilon
        not centered:  d = v + epsilon
        step = lr * g / sqrt(d)
        without momentum:  w = w - step
        with momentum:     s = momentum * s + step;   w = w - s

    Args:
        learning_rate: default 1e-3.
        rho: the decay of the running averages.
        momentum: in [0, 1]; 0 (the default) applies each step directly.
        epsilon: keeps the division finite.
        centered: divide by an estimate of the gradients' variance (v - a²) instead of their
            mean square.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name (see `Optimizer`).
    """

    default_name = "rmsprop"

    def __init__(self, learning_rate=1e-3, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        where = kwargs.get("name") or self.default_name  # set before Optimizer.__init__: slot_names needs them
        self.momentum = checks.number(momentum, "momentum", where, low=0, high=1)
        self.centered = checks.boolean(centered, "centered", where)
        super().__init__(learning_rate, **kwargs)
        self.rho = checks.number(rho, "rho", self.name, low=0, high=1)
        self.epsilon = checks.positive_number(epsilon, "epsilon", self.name)

    @property
    def slot_names(self):
        """velocity; momentum with momentum; average_gradient when centered (as Keras)."""
        return ("velocity",) + (("momentum",) if self.momentum else ()) + (
            ("average_gradient",) if self.centered else ())

    def update(self, variable, gradient, slots):
        """See `Optimizer.update`."""
        velocity = slots["velocity"]
        np.add(self.rho * velocity, (1 - self.rho) * np.square(gradient), out=velocity)
        if self.centered:
            average = slots["average_gradient"]
            np.add(self.rho * average, (1 - self.rho) * gradient, out=average)
            denominator = velocity - np.square(average) + self.epsilon
        else:
            denominator = velocity + self.epsilon
        step = self.learning_rate * gradient / np.sqrt(denominator)
        if self.momentum:
            np.add(self.momentum * slots["momentum"], step, out=slots["momentum"])
            step = slots["momentum"]
        np.subtract(variable, step, out=variable)

    def get_config(self):
        """See `Optimizer.get_config`."""
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adam(Optimizer):
    """Adam (Kingma & Ba) as Keras 3 computes it, with the bias correction folded into the step
    size (epsilon is the paper's "epsilon hat"):

        m = m + (g - m) * (1 - beta_1)
        v = v + (g² - v) * (1 - beta_2)
        amsgrad:  v_hat = max(v_hat, v), used in place of v below
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)      with t = iterations + 1
        w = w - alpha * m / (sqrt(v) + epsilon)

    Args:
        learning_rate: default 1e-3.
        beta_1: decay of the running mean of gradients.
        beta_2: decay of the running mean of squared gradients.
        epsilon: keeps the division finite.
        amsgrad: divide by the largest second moment seen so far (Reddi et al.'s AMSGrad).
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name (see `Optimizer`).
    """

    default_name = "adam"

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        self.amsgrad = checks.boolean(amsgrad, "amsgrad", kwargs.get("name") or self.default_name)
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = checks.number(beta_1, "beta_1", self.name, low=0, high=1, high_open=True)
        self.beta_2 = checks.number(beta_2, "beta_2", self.name, low=0, high=1, high_open=True)
        self.epsilon = checks.positive_number(epsilon, "epsilon", self.name)

    @property
    def slot_names(self):
        """momentum and velocity; velocity_hat with amsgrad (as Keras)."""
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def update(self, variable, gradient, slots):
        """See `Optimizer.update`."""
        momentum, velocity = slots["momentum"], slots["velocity"]
        # Keras computes the bias correction in the variable's dtype; so do we, bit for bit.
        as_dtype = variable.dtype.type
        step = as_dtype(self.iterations + 1)
        beta_1_power = as_dtype(self.beta_1) ** step
        beta_2_power = as_dtype(self.beta_2) ** step
        alpha = as_dtype(self.learning_rate) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        np.add(momentum, (gradient - momentum) * (1 - self.beta_1), out=momentum)
        np.add(velocity, (np.square(gradient) - velocity) * (1 - self.beta_2), out=velocity)
        if self.amsgrad:
            velocity = np.maximum(slots["velocity_hat"], velocity, out=slots["velocity_hat"])
        np.subtract(variable, momentum * alpha / (np.sqrt(velocity) + self.epsilon), out=variable)

    def get_config(self):
        """See `Optimizer.get_config`."""
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as Keras 3's AdamW: `Adam` whose
    `weight_decay` defaults to 0.004 (see `Optimizer.decay`).

    Args:
        learning_rate, beta_1, beta_2, epsilon, amsgrad: see `Adam`.
        weight_decay: default 0.004.
        **kwargs: clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    default_name = "adamw"

    def __init__(self, learning_rate=1e-3, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=checks.non_negative_number(
            weight_decay, "weight_decay", kwargs.get("name") or self.default_name), **kwargs)


_REGISTRY = Registry("optimizer", {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW},
                     "an Optimizer instance")


def get(identifier):
    """Return `identifier` if it is an Optimizer, else a new one with Keras's defaults by name
    ("sgd", "rmsprop", "adam", "adamw"; any case).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if callable(identifier):  # a class is callable, an unknown name is not: make the error say so
        raise ValueError(f"Unknown optimizer {identifier!r}; pass a name or an Optimizer instance")
    return _REGISTRY.get(identifier)()


def serialize(optimizer):
    """An optimizer's class and config as a JSON-able dict (what a saved model holds).

    Raises:
        ValueError: for an optimizer class of your own (or one with a schedule of your own),
            which a saved model could not rebuild.
    """
    return _REGISTRY.serialize(optimizer)


def deserialize(config):
    """A new optimizer as a `serialize` dict describes it (without its state).

    Raises:
        ValueError: for an unknown optimizer class (the message lists the known ones).
    """
    return _REGISTRY.deserialize(config)
