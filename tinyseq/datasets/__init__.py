"""Ready-to-use datasets with a Keras-compatible API (pure numpy)."""

from . import imdb
