"""The `tinyseq` command.

    tinyseq imdb train [--quick] [--epochs 2] ...   the Keras IMDB walkthrough, end to end
    tinyseq imdb predict MODEL "some text"          sentiment of your own sentence
    tinyseq graph {rnn,lstm,gru} -o FILE            draw a cell's computation graph
    tinyseq vanishing {norms,adding,gap,clipping}   vanishing/exploding gradients, measured
    tinyseq demo                                    the bare engine learns XOR
"""

from __future__ import annotations

import argparse
import sys

# What --quick changes; options given explicitly still win.
QUICK = {"train_samples": 2000, "test_samples": 1000, "maxlen": 100}
FULL = {"train_samples": None, "test_samples": None, "maxlen": 500}


def _demo(args):
    from .demo import train_xor
    print("Training a 2-8-1 network on XOR with tinyseq's autograd (primitive ops + backward):")
    train_xor(steps=args.steps, seed=args.seed)
    return 0


def _imdb_train(args):
    from .experiments.imdb_sentiment import train_seed_model
    sizes = dict(QUICK if args.quick else FULL)
    if args.maxlen is not None:
        sizes["maxlen"] = args.maxlen
    options = dict(output=args.output, epochs=args.epochs, batch_size=args.batch_size, num_words=args.num_words,
                   path=args.data, seed=args.seed, resume=args.resume, verbose=args.verbose,
                   mask_zero=args.mask_zero, bucket_by_length=args.bucket,
                   decay_learning_rate=not args.constant_learning_rate, **sizes)
    try:
        result = train_seed_model(**options)
    except KeyboardInterrupt as stop:
        command = " ".join(["tinyseq", *sys.argv[1:]]) if sys.argv[1:2] == ["imdb"] else "tinyseq imdb train ..."
        print(f"\n{stop}. Resume with:\n    {command.replace(' --resume', '')} --resume", file=sys.stderr)
        return 130
    except (FileExistsError, FileNotFoundError) as error:
        print(f"tinyseq imdb train: {error}", file=sys.stderr)
        return 2
    print(f"\nTest loss {result.test_loss:.4f}, test accuracy {result.test_accuracy:.2%}")
    print("Seconds per epoch: " + ", ".join(f"{s:.1f}" for s in result.epoch_seconds))
    print(f"Saved the model to {args.output}")
    for text, probability in result.sentences.items():
        print(f"{probability:.3f}  {'positive' if probability > 0.5 else 'negative'}  {text!r}")
    if args.results:
        result.save(args.results)
        print(f"Wrote the measurements to {args.results}")
    return 0


def _imdb_predict(args):
    from .experiments.imdb_sentiment import predict_texts
    from .models import load_model
    model = load_model(args.model, compile=False)
    for text, probability in zip(args.text, predict_texts(model, args.text, path=args.data)):
        print(f"{probability:.3f}  {'positive' if probability > 0.5 else 'negative'}  {text!r}")
    return 0


def build_parser():
    """The argument parser of the `tinyseq` command."""
    parser = argparse.ArgumentParser(prog="tinyseq", description="tinyseq: recurrent networks from primitive ops.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="train a tiny network on XOR with the bare engine")
    demo.add_argument("--steps", type=int, default=500)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)

    imdb = commands.add_parser("imdb", help="the Keras IMDB sentiment LSTM").add_subparsers(dest="action", required=True)
    train = imdb.add_parser("train", help="train the walkthrough's model end to end")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--maxlen", type=int, help="pad/truncate reviews to this many ids (default 500)")
    train.add_argument("--num-words", type=int, default=5000, help="keep the most frequent words")
    train.add_argument("--data", help="the aclImdb archive or folder (default: $TINYSEQ_DATA, the cache, or download)")
    train.add_argument("--output", default="imdb.h5", help="where to save the model (tinyseq's format, any suffix)")
    train.add_argument("--results", help="also write the measurements as JSON here")
    train.add_argument("--quick", action="store_true",
                       help=f"a small slice for a quick look: {QUICK['train_samples']} train / "
                            f"{QUICK['test_samples']} test reviews, maxlen {QUICK['maxlen']}")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run saved at OUTPUT.backup")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--mask-zero", action="store_true",
                       help="mask the padding: the LSTM ignores it and runs each review from its first word "
                            "(an epoch about 1.6 times as fast)")
    train.add_argument("--bucket", action="store_true",
                       help="batch reviews of similar length together (seeded): with --mask-zero, fewer steps run; "
                            "other reviews share a batch, so training takes another path")
    train.add_argument("--constant-learning-rate", action="store_true",
                       help="keep Adam's learning rate at 0.001 throughout, as the walkthrough does (by default it "
                            "falls linearly to 0 over the last epoch, so that the result depends less on the seed)")
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    train.set_defaults(run=_imdb_train)

    predict = imdb.add_parser("predict", help="the sentiment of your own text")
    predict.add_argument("model", help="a model saved by `tinyseq imdb train`")
    predict.add_argument("text", nargs="+")
    predict.add_argument("--data", help="the aclImdb data (for the word index)")
    predict.set_defaults(run=_imdb_predict)

    from .viz.cli import add_graph_parser
    from .experiments.vanishing_cli import add_vanishing_parser
    add_graph_parser(commands)
    add_vanishing_parser(commands)
    return parser


def main(argv=None):
    """Entry point of the `tinyseq` console command."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
