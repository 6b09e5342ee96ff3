"""Ready-to-use datasets with a Keras-compatible API (pure numpy).

`imdb` is the API (`load_data`, `get_word_index`, ...); `aclimdb` reads and checks the raw
reviews it is built from, and defines `DatasetError`.
"""

from . import imdb
