"""Test accuracy of the seed IMDB model over many seeds: how much do masking and buckets change it?

Two epochs of the walkthrough's recipe (Adam at a constant 0.001, no gradient clipping) end
points apart from one seed to the next, so one run cannot tell whether a change of the training
costs accuracy. This script trains the seed model once per seed, configuration and learning-rate
schedule, and prints each run and the distribution per configuration:

    mask          Embedding(mask_zero=True), shuffled batches (exact: only padding is ignored)
    buckets       mask_zero and fit(bucket_by_length=True)
    plain         the walkthrough's model: no mask, shuffled batches
    keras         the walkthrough in Keras 3 + TensorFlow, on the same prepared arrays

    decay         tinyseq's recipe: Adam's learning rate falls linearly to 0 over the last epoch
    constant      the walkthrough's recipe: 0.001 throughout

    python benchmarks/imdb_accuracy.py [--configs mask buckets keras] [--schedules decay constant]
                                       [--seeds 0 1 2 ...] [--jobs 2] [--bucket-pool 2] [--data PATH]
                                       [--json PATH]

Every run is its own process with 1 BLAS / TensorFlow thread (the thread count changes the
rounding, and with it a run's path), `--jobs` of them at a time. A run takes 1 to 2.5
minutes on the development machine. `--bucket-pool` sets `BUCKET_POOL_BATCHES` for the
bucketed runs. `--json` also writes every run's accuracy to a file (tutorial 6 reads
`tinyseq/course/results/imdb-seeds.json` with `load_result("imdb-seeds")`).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CONFIGS = ("mask", "buckets", "plain", "keras")
SCHEDULES = ("decay", "constant")

RUN_TINYSEQ = """
import json, sys
import tinyseq.models.sequential as sequential
from tinyseq.apps.imdb import train_seed_model
config, seed, pool, data, output, schedule = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] or None, \
    sys.argv[5], sys.argv[6]
sequential.BUCKET_POOL_BATCHES = pool
result = train_seed_model(output=output, seed=seed, verbose=0, path=data, mask_zero=config != "plain",
                          bucket_by_length=config == "buckets", decay_learning_rate=schedule == "decay")
print(json.dumps({"accuracy": result.test_accuracy}))
"""

RUN_KERAS = """
import json, math, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
from tinyseq.apps.imdb import prepare_data
seed, data, schedule = int(sys.argv[2]), sys.argv[4] or None, sys.argv[6]
(x, y), (x_test, y_test) = prepare_data(5000, 500, data, None, None)
keras.utils.set_random_seed(seed)


class HoldThenFall(keras.optimizers.schedules.LearningRateSchedule):
    # tinyseq's LinearDecay(0.001, decay_steps=one epoch, hold_steps=one epoch), for Keras
    steps = math.ceil(len(x) / 128)

    def __call__(self, step):
        return 1e-3 * keras.ops.clip((2 * self.steps - keras.ops.cast(step, "float32")) / self.steps, 0.0, 1.0)


model = keras.Sequential([keras.Input((500,), dtype="int32"), keras.layers.Embedding(5000, 32),
                          keras.layers.LSTM(100), keras.layers.Dense(1, activation="sigmoid")])
optimizer = keras.optimizers.Adam(HoldThenFall()) if schedule == "decay" else "adam"
model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=128, verbose=0)
print(json.dumps({"accuracy": model.evaluate(x_test, y_test, batch_size=500, verbose=0)[1]}))
"""


def run(config, schedule, seed, pool, data, directory):
    """One training run in a fresh single-threaded process; returns its test accuracy."""
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    output = os.path.join(directory, f"imdb-{config}-{schedule}-{seed}.h5")
    for leftover in (output, output + ".backup"):
        if os.path.exists(leftover):
            os.remove(leftover)
    script = RUN_KERAS if config == "keras" else RUN_TINYSEQ
    finished = subprocess.run([sys.executable, "-c", script, config, str(seed), str(pool), data or "", output, schedule],
                              capture_output=True, text=True, env=environment)
    if finished.returncode:
        raise RuntimeError(f"{config} ({schedule}) seed {seed} failed:\n{finished.stderr[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])["accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["mask", "buckets"], choices=CONFIGS)
    parser.add_argument("--schedules", nargs="+", default=["decay"], choices=SCHEDULES,
                        help="learning-rate schedules (default: decay, tinyseq's recipe)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(11)))
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="runs at a time (default: all cores)")
    parser.add_argument("--bucket-pool", type=int, default=None,
                        help="batches per bucketing pool (default: tinyseq's BUCKET_POOL_BATCHES)")
    parser.add_argument("--data", default=None, help="the IMDB archive or folder (default: TINYSEQ_DATA or the cache)")
    parser.add_argument("--models", default="build/imdb-accuracy", help="where the runs save their models")
    parser.add_argument("--json", help="also write the accuracies here")
    args = parser.parse_args()
    from tinyseq.models.sequential import BUCKET_POOL_BATCHES
    pool = args.bucket_pool or BUCKET_POOL_BATCHES
    os.makedirs(args.models, exist_ok=True)

    groups = [(config, schedule) for config in args.configs for schedule in args.schedules]
    runs = [(config, schedule, seed) for config, schedule in groups for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as executor:
        futures = {key: executor.submit(run, *key, pool, args.data, args.models) for key in runs}
        accuracies = {}
        for (config, schedule, seed), future in futures.items():
            accuracies[config, schedule, seed] = future.result()
            print(f"  {config:8s} {schedule:8s} seed {seed:3d}: {accuracies[config, schedule, seed]:.2%}", flush=True)

    print(f"\ntest accuracy after 2 epochs, seeds {' '.join(map(str, args.seeds))} (buckets: pools of {pool}):")
    print(f"  {'config':8s} {'schedule':8s} {'mean':>7s} {'median':>7s} {'lowest':>7s} {'highest':>7s} {'>= 87 %':>8s}")
    for config, schedule in groups:
        values = [accuracies[config, schedule, seed] for seed in args.seeds]
        print(f"  {config:8s} {schedule:8s} {statistics.mean(values):7.2%} {statistics.median(values):7.2%} "
              f"{min(values):7.2%} {max(values):7.2%} {sum(v >= 0.87 for v in values):4d} of {len(values)}")
    if args.json:
        from tinyseq.files import atomic_write
        document = {"command": " ".join(["python", *sys.argv]), "bucket_pool": pool, "epochs": 2,
                    "machine": {"python": platform.python_version(), "cores": os.cpu_count(), "threads_per_run": 1},
                    "runs": [{"config": c, "schedule": s, "seed": seed, "accuracy": accuracies[c, s, seed]}
                             for c, s, seed in runs]}
        with atomic_write(args.json, "w") as file:
            json.dump(document, file, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
