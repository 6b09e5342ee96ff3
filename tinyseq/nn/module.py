"""`Module` and `Parameter`: what every layer, cell and model shares.

A module owns parameters (leaf tensors that require grad) and child modules, found by walking
its attributes. Keras-style layers build their weights on the first call, from the input
shape: subclasses implement `build(input_shape)` and `call(inputs, ...)`.
"""

from __future__ import annotations

import re

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a module trains (requires_grad is always True)."""

    __slots__ = ()

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    """Base class of layers, cells and models.

    Subclasses set parameters and sub-modules as attributes; `parameters()`, `state_dict()`,
    `get_weights()` and friends find them in attribute order. A subclass that builds lazily
    implements `build(input_shape)`; `__call__` runs it once before the first `call`.
    """

    def __init__(self, name=None, dtype="float32"):
        if name is not None and not (isinstance(name, str) and name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        # A default name is the class's (lstm, dense); a model renames a clashing one to lstm_1,
        # lstm_2, ... so that names depend on the model alone, not on what was built before it.
        self.name = name or default_name(type(self).__name__)
        self.named_by_default = name is None
        self.dtype = np.dtype(dtype)
        self.training = True
        self.built = False

    # ---- calling ------------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        if not self.built:
            self.build(tuple(np.shape(getattr(inputs, "data", inputs))))
            self.built = True
        return self.call(inputs, *args, **kwargs)

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch dimension included)."""

    def call(self, inputs, *args, **kwargs):
        """The forward computation; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def add_weight(self, name, shape, initializer):
        """Create a parameter of `shape` from `initializer(shape, dtype)` and keep it as an attribute."""
        weight = Parameter(initializer(tuple(shape), self.dtype))
        setattr(self, name, weight)
        return weight

    # ---- finding parameters ---------------------------------------------------------------
    def named_parameters(self, prefix=""):
        """Yield (dotted name, parameter) pairs, this module's own first, then each child's."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def named_children(self):
        """Yield (attribute name, module) for direct sub-modules, including those in lists."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def parameters(self):
        """All parameters, in a fixed order."""
        return [parameter for _, parameter in self.named_parameters()]

    def count_params(self):
        """The number of scalar weights (Keras's count_params)."""
        return int(sum(parameter.size for parameter in self.parameters()))

    def zero_grad(self):
        """Forget every parameter's accumulated gradient."""
        for parameter in self.parameters():
            parameter.grad = None

    # ---- modes ------------------------------------------------------------------------
    def train(self, mode=True):
        """Switch this module and its children to training mode (dropout active)."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        """Switch to inference mode (dropout off)."""
        return self.train(False)

    # ---- weights in and out -----------------------------------------------------------------
    def state_dict(self):
        """A dict of dotted name -> copy of the parameter's array."""
        return {name: parameter.data.copy() for name, parameter in self.named_parameters()}

    def load_state_dict(self, state):
        """Copy arrays into the parameters; names and shapes must match exactly."""
        own = dict(self.named_parameters())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {missing}, unexpected {unexpected}")
        for name, parameter in own.items():
            _assign(parameter, state[name], f"load_state_dict: {name}")

    def get_weights(self):
        """The weights as a list of numpy arrays, in Keras's order."""
        return [parameter.data.copy() for parameter in self.parameters()]

    def set_weights(self, weights):
        """Set the weights from a list in `get_weights` order; count and shapes must match."""
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(f"set_weights: {self.name} has {len(params)} weights, got {len(weights)}")
        for (name, parameter), value in zip(self.named_parameters(), weights):
            _assign(parameter, value, f"set_weights: {self.name}.{name}")

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


def _assign(parameter, value, where):
    value = np.asarray(value)
    if value.shape != parameter.shape:
        raise ValueError(f"{where}: expected shape {parameter.shape}, got {value.shape}")
    parameter.data[...] = value


def default_name(class_name):
    """Keras's default name for a class: its name in snake case (LSTM -> lstm, SimpleRNN -> simple_rnn,
    Conv1D -> conv1d)."""
    return re.sub(r"(?<=.)(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", "_", class_name).lower()


def first_free_name(base, taken):
    """`base` if it is not in `taken`, else the first of base_1, base_2, ... that is not."""
    name, count = base, 0
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    return name
