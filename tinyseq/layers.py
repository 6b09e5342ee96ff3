"""The Keras import path for layers: `from tinyseq.layers import LSTM, Dense, Embedding`."""

from .nn.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from .nn.core import Activation, Dense, Dropout, Embedding, Layer
from .nn.recurrent import GRU, LSTM, RNN, SimpleRNN

__all__ = ["Layer", "Dense", "Activation", "Embedding", "Dropout", "RecurrentCell", "SimpleRNNCell",
           "LSTMCell", "GRUCell", "RNN", "SimpleRNN", "LSTM", "GRU"]
