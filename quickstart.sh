#!/usr/bin/env bash
# One script for the README's two commands; each sets itself up first:
#   bash quickstart.sh imdb [options]   the main job: train the seed IMDB LSTM end to end
#   bash quickstart.sh test [pytest args]   the whole test suite
#   bash quickstart.sh demo             the engine alone learns XOR (a few seconds)
# Set-up: the system graphviz (`dot`) and python3-venv where missing (apt-get, as root or via
# sudo), a virtualenv in .venv, and tinyseq installed into it with its test/progress/plot extras.
set -euo pipefail
cd "$(dirname "$0")"

python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "tinyseq needs Python >= 3.10 (found $(python3 --version 2>&1))" >&2; exit 1; }

missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v dot >/dev/null || missing+=(graphviz)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else sudo="none"; fi
  if [ "$sudo" != none ] && command -v apt-get >/dev/null; then
    echo "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Please install these system packages first: ${missing[*]}" >&2
    [[ " ${missing[*]} " == *" python3-venv "* ]] && exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,progress,plots,docs]"
# The oracle tests compare tinyseq with PyTorch and Keras where those are installed (and skip
# where not). TINYSEQ_TEST_PEERS=1 installs them: the CPU build of torch, pinned, since an unpinned
# torch pulls gigabytes of CUDA packages.
if [ "${1:-}" = test ] && [ "${TINYSEQ_TEST_PEERS:-}" = 1 ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0 -e ".[peers]"
fi

# The labeled IMDB archive, where this checkout sits beside a shared data folder.
if [ -z "${TINYSEQ_DATA:-}" ] && [ -f ../shared/data/aclImdb_v1_labeled.tar.gz ]; then
  export TINYSEQ_DATA="$PWD/../shared/data/aclImdb_v1_labeled.tar.gz"
fi

job="${1:-}"
shift || true
case "$job" in
  test) exec .venv/bin/python -m pytest "$@" ;;
  imdb) exec .venv/bin/tinyseq imdb train "$@" ;;
  demo) exec .venv/bin/tinyseq demo "$@" ;;
  *) echo "usage: bash quickstart.sh {imdb|test|demo} [options]" >&2; exit 2 ;;
esac
