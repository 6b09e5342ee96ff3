"""The Keras import path for layers: `from tinyseq.layers import LSTM, Dense, Embedding`."""

from .nn.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from .nn.convolutional import Conv1D
from .nn.core import Activation, Dense, Dropout, Embedding, Layer, SpatialDropout1D
from .nn.input import Input, InputLayer
from .nn.pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .nn.recurrent import GRU, LSTM, RNN, SimpleRNN
from .nn.wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Embedding", "Dropout",
           "SpatialDropout1D", "Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
           "GlobalAveragePooling1D", "RecurrentCell", "SimpleRNNCell", "LSTMCell", "GRUCell", "RNN",
           "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed"]
