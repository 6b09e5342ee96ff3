"""tinyseq: a tiny autograd engine over numpy, and the recurrent networks built on it.

Layers, bottom up (a module imports only from layers below its own; `docs/explanation/
architecture.md` has the map): `tensor` (the autograd core) -> `ops`, `functional` (primitive and
composite ops) -> `nn`, `losses`, `metrics`, `optimizers`, `schedules` -> `models` ->
`datasets`, `preprocessing`, `viz`, `experiments`, `exercises`, `course` -> `apps` (the CLI).

`import tinyseq as ts` gives the engine (`ts.tensor`, the ops, `ts.no_grad`, `ts.gradcheck`) and
every subpackage as an attribute (`ts.nn`, `ts.models`, `ts.viz`, ...), imported on first use.
"""

import importlib

__version__ = "0.1.0"

from .tensor import ShapeError, Tensor, is_grad_enabled, name_scope, no_grad, tensor
from .ops import (abs, add, astype, clip, concat, div, embedding, exp, getitem, log, matmul, max,
                  maximum, mean, minimum, mul, neg, pow, relu, reshape, sigmoid, split, sqrt, stack,
                  sub, sum, tanh, transpose, where)
from .functional import log_softmax, logsumexp, softmax
from .gradcheck import GradcheckError, gradcheck
from .random import seed as set_seed

# Subpackages and modules reachable as `tinyseq.<name>`, imported when first used (drawing,
# datasets and experiments pull in graphviz, multiprocessing and more than the engine needs).
SUBMODULES = ("apps", "callbacks", "course", "datasets", "exercises", "experiments", "functional",
              "gradcheck", "layers", "losses", "metrics", "models", "nn", "ops", "optimizers",
              "preprocessing", "random", "schedules", "session", "tensor", "threads", "utils", "viz")

# `from tinyseq import *` gives the engine; `sum`, `max`, `abs` and `pow` stay `ts.sum` etc.
# so that a star import never hides Python's own functions.
__all__ = ["Tensor", "tensor", "ShapeError", "no_grad", "is_grad_enabled", "name_scope",
           "add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu",
           "maximum", "minimum", "clip", "where", "matmul", "mean", "reshape", "transpose",
           "getitem", "concat", "stack", "split", "embedding", "astype", "softmax", "log_softmax",
           "logsumexp", "gradcheck", "GradcheckError", "set_seed", "clear_session"]


def __getattr__(name):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "clear_session":
        return importlib.import_module(".session", __name__).clear_session
    raise AttributeError(f"module 'tinyseq' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES) | {"clear_session"})
