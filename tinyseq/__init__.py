"""tinyseq: a tiny autograd engine over numpy, and the recurrent networks built on it.

Layers, bottom up: `tensor` (the autograd core) -> `ops`, `functional` (primitive and composite
ops) -> `nn`, `losses`, `metrics`, `optimizers` -> `models` -> `datasets`, `viz`,
`experiments` -> `cli`.
"""

__version__ = "0.1.0"

from .tensor import IndexedGrad, ShapeError, Tensor, is_grad_enabled, name_scope, no_grad, tensor
from .ops import (abs, add, astype, clip, concat, div, embedding, exp, getitem, log, matmul, max,
                  maximum, mean, minimum, mul, neg, pow, relu, reshape, sigmoid, split, sqrt, stack,
                  sub, sum, tanh, transpose, where)
from .functional import log_softmax, logsumexp, softmax
from .gradcheck import GradcheckError, gradcheck
from . import random, nn, layers, losses, metrics, optimizers

set_seed = random.seed
