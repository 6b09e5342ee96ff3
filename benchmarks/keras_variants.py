"""The IMDB walkthrough's next two models, in tinyseq and in Keras: test accuracy and time per epoch.

The Keras tutorial the walkthrough comes from goes on with two variants of its LSTM model:

    dropout       Embedding -> LSTM(100, dropout=0.2, recurrent_dropout=0.2) -> Dense
    cnn           Embedding -> Conv1D(32, 3, padding='same', activation='relu') -> MaxPooling1D(2)
                  -> LSTM(100) -> Dense

Each is written once below (`MODELS`), as the tutorial writes it, and run under two import
headers (`HEADERS`), tinyseq's and Keras's: only the imports differ. Both read the same IMDB
reviews (tinyseq's loader, top 5,000 words, padded to 500), train 2 epochs in batches of 128
and evaluate on the test reviews. Every run is its own process with 1 BLAS / TensorFlow thread,
`--jobs` at a time.

    python benchmarks/keras_variants.py [--variants dropout cnn] [--systems tinyseq keras]
                                        [--train-samples N] [--test-samples N] [--epochs 2]
                                        [--seed 7] [--jobs 4] [--data PATH]

`--train-samples` / `--test-samples` take the first reviews only, for a quick check. Each epoch
is timed twice: wall-clock seconds, and the CPU seconds the process used (which a machine
shared with other work changes far less).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HEADERS = {
    "tinyseq": """
import tinyseq
from tinyseq.callbacks import Callback
from tinyseq.layers import Conv1D, Dense, Embedding, LSTM, MaxPooling1D
from tinyseq.models import Sequential
tinyseq.random.seed(seed)
""",
    "keras": """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
from keras.callbacks import Callback
from keras.layers import Conv1D, Dense, Embedding, LSTM, MaxPooling1D
from keras.models import Sequential
keras.utils.set_random_seed(seed)
""",
}

# The tutorial's model code, word for word but for its variable names' spelling.
MODELS = {
    "dropout": """
model = Sequential()
model.add(Embedding(top_words, embedding_vector_length, input_length=max_review_length))
model.add(LSTM(100, dropout=0.2, recurrent_dropout=0.2))
model.add(Dense(1, activation='sigmoid'))
""",
    "cnn": """
model = Sequential()
model.add(Embedding(top_words, embedding_vector_length, input_length=max_review_length))
model.add(Conv1D(filters=32, kernel_size=3, padding='same', activation='relu'))
model.add(MaxPooling1D(pool_size=2))
model.add(LSTM(100))
model.add(Dense(1, activation='sigmoid'))
""",
}

# What runs around the model in every process: the data (the same for both systems), an epoch
# timer written against the system's own Callback class, training and evaluation.
RUN = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
variant, system, seed, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data, train_samples, test_samples = sys.argv[5] or None, int(sys.argv[6]) or None, int(sys.argv[7]) or None
from tinyseq.apps.imdb import prepare_data
top_words, max_review_length, embedding_vector_length = 5000, 500, 32
(X_train, y_train), (X_test, y_test) = prepare_data(top_words, max_review_length, data, train_samples, test_samples)
{header}

class EpochTimer(Callback):
    def on_train_begin(self, logs=None):
        self.seconds, self.cpu_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
        self.cpu_seconds.append(time.process_time() - self.cpu_start)

{model}
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
timer = EpochTimer()
history = model.fit(X_train, y_train, epochs=epochs, batch_size=128, callbacks=[timer], verbose=0)
start = time.perf_counter()
scores = model.evaluate(X_test, y_test, verbose=0)
print(json.dumps({{"accuracy": float(scores[1]), "epoch_seconds": timer.seconds, "epoch_cpu_seconds": timer.cpu_seconds,
                  "evaluate_seconds": time.perf_counter() - start,
                  "train_accuracy": [float(a) for a in history.history["accuracy"]],
                  "params": int(model.count_params())}}))
"""


def script(variant, system):
    """The whole program one run executes."""
    return RUN.format(header=HEADERS[system], model=MODELS[variant])


def run(variant, system, args):
    """One training run in a fresh single-threaded process; returns its measurements."""
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    finished = subprocess.run(
        [sys.executable, "-c", script(variant, system), variant, system, str(args.seed), str(args.epochs),
         args.data or "", str(args.train_samples or 0), str(args.test_samples or 0)],
        capture_output=True, text=True, env=environment, check=False)
    if finished.returncode:
        raise RuntimeError(f"{variant} in {system} failed:\n{finished.stderr[-3000:]}")
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    print(f"  done: {variant:8} {system:8} accuracy {result['accuracy']:.4f}, epochs "
          f"{', '.join(f'{s:.1f}' for s in result['epoch_seconds'])} s (CPU "
          f"{', '.join(f'{s:.1f}' for s in result['epoch_cpu_seconds'])} s)", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--systems", nargs="+", default=list(HEADERS), choices=list(HEADERS))
    parser.add_argument("--train-samples", type=int, default=None, help="first N training reviews (default: all)")
    parser.add_argument("--test-samples", type=int, default=None, help="first N test reviews (default: all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7, help="the tutorial's seed (default 7)")
    parser.add_argument("--jobs", type=int, default=4, help="runs at a time (default 4: all at once)")
    parser.add_argument("--data", default=None, help="the IMDB archive or folder (default: TINYSEQ_DATA or the cache)")
    args = parser.parse_args()

    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; "
          f"{args.train_samples or 'all'} training / {args.test_samples or 'all'} test reviews, "
          f"{args.epochs} epochs, batch 128, seed {args.seed}, 1 thread per run, {args.jobs} runs at a time", flush=True)
    runs = [(variant, system) for variant in args.variants for system in args.systems]
    with ThreadPoolExecutor(args.jobs) as executor:
        futures = {key: executor.submit(run, *key, args) for key in runs}
        results = {key: future.result() for key, future in futures.items()}

    print("\n| variant | system | params | test accuracy | train accuracy per epoch | CPU s per epoch "
          "| wall s per epoch | evaluate s (wall) |")
    print("|---|---|---:|---:|---|---|---|---:|")
    for (variant, system), result in results.items():
        print(f"| {variant} | {system} | {result['params']:,} | {result['accuracy']:.4f} | "
              f"{', '.join(f'{a:.4f}' for a in result['train_accuracy'])} | "
              f"{', '.join(f'{s:.1f}' for s in result['epoch_cpu_seconds'])} | "
              f"{', '.join(f'{s:.1f}' for s in result['epoch_seconds'])} | {result['evaluate_seconds']:.1f} |")


if __name__ == "__main__":
    main()
