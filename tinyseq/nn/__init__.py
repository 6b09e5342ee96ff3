"""Neural-network building blocks: `Module`, layers, recurrent cells, initialisers, activations."""

from . import activations, init
from .cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from .core import Activation, Dense, Dropout, Embedding, Layer
from .module import Module, Parameter
from .recurrent import GRU, LSTM, RNN, SimpleRNN

__all__ = ["Module", "Parameter", "Layer", "Dense", "Activation", "Embedding", "Dropout",
           "RecurrentCell", "SimpleRNNCell", "LSTMCell", "GRUCell", "RNN", "SimpleRNN", "LSTM", "GRU",
           "activations", "init"]
