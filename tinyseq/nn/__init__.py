"""Neural-network building blocks: `Module`, layers, recurrent cells, initialisers, activations."""

from . import activations, init
from .cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from .convolutional import Conv1D
from .core import Activation, Dense, Dropout, Embedding, Layer, SpatialDropout1D
from .input import Input, InputLayer
from .module import Module, Parameter
from .pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .wrappers import LAYER_CLASSES, Bidirectional, TimeDistributed

__all__ = ["Module", "Parameter", "Layer", "Input", "InputLayer", "Dense", "Activation", "Embedding",
           "Dropout", "SpatialDropout1D", "Conv1D", "MaxPooling1D", "AveragePooling1D",
           "GlobalMaxPooling1D", "GlobalAveragePooling1D", "RecurrentCell", "SimpleRNNCell", "LSTMCell",
           "GRUCell", "RNN", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
           "LAYER_CLASSES", "activations", "init"]
