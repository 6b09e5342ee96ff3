"""Learning-rate schedules: a learning rate that depends on how many steps the optimizer has taken.

Pass one where a learning rate goes, as in Keras:

    Adam(learning_rate=LinearDecay(1e-3, decay_steps=196, hold_steps=196))

The optimizer evaluates it at its step count before each update (`optimizer.learning_rate`
is the current value), and saves and loads it with its config. Since the step count is part of
a checkpoint, a resumed run gets exactly the learning rates of an uninterrupted one.
"""

from __future__ import annotations

from . import checks
from .registry import Registry


class LearningRateSchedule:
    """Base class: `schedule(step)` is the learning rate of the update that follows `step` updates.

    Subclasses implement `__call__` and `get_config` (their constructor arguments).
    """

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} does not say its learning rate")

    def get_config(self):
        """The constructor arguments as a JSON-able dict: `type(schedule)(**config)` rebuilds it."""
        raise NotImplementedError(f"{type(self).__name__}.get_config is not implemented")

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class LinearDecay(LearningRateSchedule):
    """Hold `initial_learning_rate` for `hold_steps` updates, then fall in a straight line to
    `end_learning_rate` over `decay_steps` updates, and stay there.

    With `hold_steps=0` this is Keras's `PolynomialDecay(power=1)`. Holding first keeps the
    early, fast progress of a large step size; decaying at the end lets the weights settle
    instead of stopping wherever the last noisy batch left them (see tutorial 6).

    Args:
        initial_learning_rate: the learning rate to start from.
        decay_steps: the number of updates the fall takes (≥ 1).
        end_learning_rate: the learning rate after the fall (default 0).
        hold_steps: updates before the fall begins (default 0).
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0, hold_steps=0):
        self.initial_learning_rate = checks.non_negative_number(initial_learning_rate, "initial_learning_rate",
                                                                "LinearDecay")
        self.decay_steps = checks.positive_int(decay_steps, "decay_steps", "LinearDecay")
        self.end_learning_rate = checks.non_negative_number(end_learning_rate, "end_learning_rate", "LinearDecay")
        self.hold_steps = checks.non_negative_int(hold_steps, "hold_steps", "LinearDecay")

    def __call__(self, step):
        fallen = min(max(step - self.hold_steps, 0), self.decay_steps) / self.decay_steps
        return self.initial_learning_rate + (self.end_learning_rate - self.initial_learning_rate) * fallen

    def get_config(self):
        """See `LearningRateSchedule.get_config`."""
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "hold_steps": self.hold_steps}


_REGISTRY = Registry("learning-rate schedule", {"lineardecay": LinearDecay})


def serialize(schedule):
    """A schedule as a JSON-able dict (what an optimizer's config holds).

    Raises:
        ValueError: for a schedule class of your own, which a saved model could not rebuild.
    """
    return _REGISTRY.serialize(schedule)


def deserialize(config):
    """The schedule a `serialize` dict describes.

    Raises:
        ValueError: for an unknown schedule class (the message lists the known ones).
    """
    return _REGISTRY.deserialize(config)
