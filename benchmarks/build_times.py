"""How long the docs site's build and the vanishing-gradient experiments' full runs take, and where.

    python benchmarks/build_times.py                        # the site (cold, warm), then every experiment
    python benchmarks/build_times.py --parts site --fast    # the site as the test suite builds it in fast mode
    python benchmarks/build_times.py --parts experiments --experiments adding gap --json times.json

Every measurement runs in its own process, one after another (never two at once), and records its
wall time, its CPU time (the process and every process it waited for: worker processes, `dot`)
and the load average before and after: the machine may be shared.

The site: `mkdocs build --strict` into a temporary folder. The hooks (docs/_tooling/hooks.py) keep
nothing between builds; what a build reads and a later one reuses is tinyseq's IMDB cache
(TINYSEQ_CACHE) and matplotlib's font cache (MPLCONFIGDIR). The cold build gets both in an empty
temporary folder, the warm build runs right after it with the same folder. The build runs in the
worker process (`--site-worker`) exactly as `mkdocs build --strict` runs it, with timers around each
page's two phases (markdown with its executed code, then the theme's template), each executed
Python block and each program it runs (graphviz's `dot`, shell blocks).

The experiments: each `tinyseq vanishing ...` command at its full settings (see `FULL_RUNS`), then
a profile of part of it: its first seed, `--profile-iterations` training iterations per run, in
one process and one thread under cProfile (`--profile-worker`), summed by where the code lives.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# No tinyseq (numpy) at the top: the site worker must import numpy only after the hooks have set
# its thread count, as in `mkdocs build`.

ROOT = Path(__file__).resolve().parents[1]
# The full runs a user launches: the how-to page's experiments at their defaults, and the two GRU
# runs whose results ship with tinyseq (tinyseq/course/results/manifest.json).
FULL_RUNS = {
    "norms": ["norms"],
    "adding": ["adding"],
    "gap": ["gap"],
    "copying": ["copying"],
    "temporal-order": ["temporal-order"],
    "clipping": ["clipping"],
    "adding-gru": ["adding", "--models", "gru"],
    "gap-gru": ["gap", "--models", "gru"],
}
# Where profiled time is counted: the first group whose marker is in "file:function" (a C
# function, which has no file, counts with the code that called it most). Numpy's ufuncs and the
# `@` operator do not show up in a profile: their time is their caller's own time (so the GRU's
# candidate product, inside its step function, counts with the gate arithmetic).
PRODUCTS = "fused kernels: matrix products (recurrent, input projection, weight gradients)"
PROFILE_GROUPS = [
    (PRODUCTS, "tinyseq/nn/fused/steps.py:times_recurrent_kernel"),
    (PRODUCTS, "tinyseq/nn/fused/steps.py:recurrent_weight_gradients"),
    (PRODUCTS, "tinyseq/nn/fused/scaffold.py:_project"),
    (PRODUCTS, "tinyseq/nn/fused/scaffold.py:_fold_chunk"),
    ("fused kernels: gate arithmetic and the loop over steps", "tinyseq/nn/fused/"),
    ("engine bookkeeping (op wrapper, nodes, graph walk, gradient sums)", "tinyseq/ops.py:op"),
    ("engine bookkeeping (op wrapper, nodes, graph walk, gradient sums)", "tinyseq/ops.py:_lift"),
    ("engine bookkeeping (op wrapper, nodes, graph walk, gradient sums)", "tinyseq/tensor.py"),
    ("primitive ops: element-wise, matrix product, shapes, indexing", "tinyseq/ops.py"),
    ("layers and cells", "tinyseq/nn/"),
    ("optimizers, losses, metrics", "tinyseq/optimizers"),
    ("optimizers, losses, metrics", "tinyseq/losses"),
    ("optimizers, losses, metrics", "tinyseq/metrics"),
    ("training loop, tasks, data", "tinyseq/experiments/"),
    ("training loop, tasks, data", "tinyseq/models/"),
    ("plotting (matplotlib)", "matplotlib"),
    ("numpy functions written in Python (np.sum and the like, with the C work they call)", "numpy/"),
]
OTHER = "other (Python's library, imports)"


# ---- one measurement ----------------------------------------------------------------------
def cpu_seconds():
    """CPU time of this process and of the child processes it has waited for, user + system."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure(command, env=None):
    """Run `command` in a child process; its wall and CPU seconds and the load average around it."""
    load_before, cpu, wall = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if finished.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    return {"command": " ".join(map(str, command)), "wall": wall, "cpu": cpu, "load_before": load_before,
            "load_after": os.getloadavg()[0], "stdout": finished.stdout}


def checkout_state():
    """The commit measured, and how many tracked files differed from it (the timings are of those files)."""
    def git(*words):
        return subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = len(git("status", "--porcelain", "--untracked-files=no").splitlines())
    return commit + (f" with {changed} files changed" if changed else "")


def write_json(path, data):
    """Write `data` to `path` as JSON, atomically."""
    from tinyseq.files import atomic_write

    with atomic_write(path, "w") as file:
        json.dump(data, file, indent=1)


# ---- the site -------------------------------------------------------------------------------
GRAPHVIZ_PROGRAMS = ("dot", "neato", "fdp", "sfdp", "circo", "twopi")


def program_name(command):
    """The program a `subprocess.run` command starts ("sh" for a shell command line)."""
    if isinstance(command, (str, bytes)):
        return "sh"
    return Path(os.fsdecode(command[0])).name


def site_worker(site_dir, report):
    """Build the site into `site_dir` as `mkdocs build --strict` does, timing its parts; write them to `report`."""
    from graphviz.backend import execute as graphviz_execute
    from markdown_exec._internal.formatters import python as executed_python
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.plugins import BasePlugin

    pages = defaultdict(lambda: defaultdict(float))
    blocks = []  # one (page, wall seconds, CPU seconds, first line) per executed Python block
    phases = {"page": None, "started": None}

    def add_time(kind, function):
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), cpu_seconds()
            try:
                return function(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
                entry = pages[phases["page"]]
                entry[kind + " wall"] += wall
                entry[kind + " cpu"] += cpu
                entry[kind + " calls"] += 1
                if kind == "code":  # its first argument is the block's source
                    first = next((line.strip() for line in args[0].splitlines()
                                  if line.strip() and not line.lstrip().startswith("#")), "")
                    blocks.append((phases["page"], wall, cpu, first[:60]))
        return timed

    # The hooks call `python._run_python`, and graphviz `execute.run_check`, through their modules.
    executed_python._run_python = add_time("code", executed_python._run_python)
    graphviz_execute.run_check = add_time("graphviz", graphviz_execute.run_check)
    run_subprocess = subprocess.run

    def run_other_program(command, *args, **kwargs):
        program = program_name(command)
        if program in GRAPHVIZ_PROGRAMS:  # counted as "graphviz" already
            return run_subprocess(command, *args, **kwargs)
        return add_time("run " + program, run_subprocess)(command, *args, **kwargs)
    subprocess.run = run_other_program

    class PageTimer(BasePlugin):
        """Marks where each page's markdown phase and template phase begin and end."""
        def start(self, page):
            phases["page"], phases["started"] = page.file.src_uri, (time.perf_counter(), cpu_seconds())

        def stop(self, kind):
            entry = pages[phases["page"]]
            entry[kind + " wall"] += time.perf_counter() - phases["started"][0]
            entry[kind + " cpu"] += cpu_seconds() - phases["started"][1]
            phases["page"] = None

        def on_pre_page(self, page, config, files):
            self.start(page)

        def on_page_content(self, html, page, config, files):
            self.stop("markdown")

        def on_page_context(self, context, page, config, nav):
            self.start(page)

        def on_post_page(self, output, page, config):
            self.stop("template")

    if "numpy" in sys.modules:
        raise RuntimeError("site_worker: numpy was imported before the hooks set its thread count")
    started = time.perf_counter(), cpu_seconds()
    config = load_config(str(ROOT / "mkdocs.yml"), strict=True, site_dir=str(site_dir))
    # Registered last, so its on_page_content runs after the hooks' (their events run in order).
    config.plugins["build_times"] = PageTimer()
    config.plugins.on_startup(command="build", dirty=False)  # as `mkdocs build` calls them
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
    totals = {"wall": time.perf_counter() - started[0], "cpu": cpu_seconds() - started[1]}
    write_json(report, {"totals": totals, "pages": pages, "blocks": sorted(blocks, key=lambda block: -block[1])[:10]})


def measure_site(label, caches, fast):
    """One build in its own process, with its caches in `caches`; its timings and the worker's report."""
    env = {**os.environ, "TINYSEQ_CACHE": str(caches / "tinyseq"), "MPLCONFIGDIR": str(caches / "matplotlib"),
           "NO_MKDOCS_2_WARNING": "1"}
    env.pop("TINYSEQ_FAST", None)
    if fast:
        env["TINYSEQ_FAST"] = "1"
    with tempfile.TemporaryDirectory(prefix="tinyseq-site-") as folder:
        report = Path(folder) / "report.json"
        result = measure([sys.executable, __file__, "--site-worker", Path(folder) / "site", report], env)
        result.update(json.loads(report.read_text()), label=label)
    del result["stdout"]
    return result


def site_table(result):
    """Each page's seconds: markdown phase (of which executed code, graphviz), template phase, CPU."""
    def row(name, entry):
        seconds = defaultdict(float, entry)
        return (f"{name:44} {seconds['markdown wall']:9.2f} {seconds['code wall']:8.2f} {seconds['code calls']:6.0f} "
                f"{seconds['graphviz wall']:8.2f} {seconds['graphviz calls']:5.0f} {seconds['template wall']:8.2f} "
                f"{seconds['markdown cpu'] + seconds['template cpu']:7.2f}")

    rows = [(f"{result['label']}: wall {result['wall']:.1f} s, CPU {result['cpu']:.1f} s, "
             f"load {result['load_before']:.2f} -> {result['load_after']:.2f}"),
            (f"{'page (seconds)':44} {'markdown':>9} {'code':>8} {'blocks':>6} {'graphviz':>8} {'calls':>5} "
             f"{'template':>8} {'CPU':>7}")]
    sums = defaultdict(float)
    for name, entry in sorted(result["pages"].items(), key=lambda item: -item[1].get("markdown wall", 0)):
        for key, value in entry.items():
            sums[key] += value
        rows.append(row(name, entry))
    rows.append(row("all pages", sums))
    outside = result["totals"]["wall"] - sums["markdown wall"] - sums["template wall"]
    others = ", ".join(f"{key.split()[1]} {sums[key]:.2f} s in {sums[key.replace('wall', 'calls')]:.0f} calls"
                       for key in sorted(sums) if key.startswith("run ") and key.endswith(" wall")
                       and key.split()[1] not in GRAPHVIZ_PROGRAMS)
    rows.append(f"outside the pages (config, plugins, notebooks, search index, static files): {outside:.2f} s")
    rows.append(f"other programs run: {others or 'none'}")
    rows.append("slowest code blocks (wall, CPU, page, first line):")
    rows += [f"  {wall:6.2f} {cpu:6.2f}  {page}  {line}" for page, wall, cpu, line in result["blocks"][:6]]
    return "\n".join(rows)


# ---- the experiments --------------------------------------------------------------------------
def profile_worker(name, iterations, report):
    """Run the first seed of full run `name` here under cProfile, `iterations` per training run; sum by group.

    It runs as one of the full run's workers does (BLAS on one thread: the caller sets it), except
    that the fused kernels' helper thread is off, so that the profile sees its work too."""
    from tinyseq.apps.cli import build_parser
    from tinyseq.apps.vanishing import EXPERIMENTS, experiment_options
    from tinyseq.threads import set_num_threads

    set_num_threads(1)
    args = build_parser().parse_args(["vanishing", *FULL_RUNS[name]])
    options = experiment_options(args)
    options["seeds"] = options["seeds"][:1]
    if "iterations" in EXPERIMENTS[args.experiment].takes:
        options["iterations"] = iterations
    profiler = cProfile.Profile()
    profiler.runcall(EXPERIMENTS[args.experiment].run, options, None)  # jobs None: in this process
    stats = pstats.Stats(profiler).stats
    total = sum(entry[2] for entry in stats.values())
    groups, functions = defaultdict(float), []
    for (file, line, function), (_, _, own_seconds, _, callers) in stats.items():
        place = f"{file}:{function}"
        if file == "~":  # a C function: counted with the group of the code that called it most
            caller = max(callers.items(), key=lambda item: item[1][2], default=(("~", 0, ""), None))[0]
            place = f"{caller[0]}:{caller[2]}"
        group = next((label for label, marker in PROFILE_GROUPS if marker in place), OTHER)
        groups[group] += own_seconds
        shown = function if file == "~" else f"{Path(file).parent.name}/{Path(file).name}:{line}({function})"
        functions.append((own_seconds, shown))
    functions.sort(reverse=True)
    write_json(report, {"total": total, "groups": groups, "top": functions[:10], "options": options})


def measure_experiment(name, profile_iterations):
    """The full run `name` as a user launches it, then the profile of its first seed."""
    from tinyseq.experiments.common import BLAS_THREADS

    with tempfile.TemporaryDirectory(prefix="tinyseq-vanishing-") as folder:
        saved = Path(folder) / "result.json"
        command = [Path(sys.executable).parent / "tinyseq", "vanishing", *FULL_RUNS[name], "--json", saved]
        result = measure(command, {**os.environ, "MPLBACKEND": "Agg"})
        recorded = json.loads(saved.read_text())
        report = Path(folder) / "profile.json"
        profiled = measure([sys.executable, __file__, "--profile-worker", name, str(profile_iterations), report],
                           {**os.environ, **BLAS_THREADS})
        profiled.update(json.loads(report.read_text()))
    del result["stdout"], profiled["stdout"]
    return dict(result, label=name, jobs=recorded.get("jobs"), seconds_recorded=recorded.get("seconds"),
                profile=profiled)


def experiment_table(result):
    """The run's times, then its profile's groups and top functions."""
    profile = result["profile"]
    workers = "in this process" if result["jobs"] is None else f"{result['jobs']} worker processes, 1 BLAS thread each"
    rows = [(f"tinyseq vanishing {' '.join(FULL_RUNS[result['label']])}: wall {result['wall']:.1f} s, "
             f"CPU {result['cpu']:.1f} s, load {result['load_before']:.2f} -> {result['load_after']:.2f} ({workers})"),
            (f"  profile of seed {profile['options']['seeds'][0]}, "
             f"{profile['options'].get('iterations', 'all')} iterations, in one process: wall {profile['wall']:.1f} s "
             f"(profiled {profile['total']:.1f} s)")]
    for group, seconds in sorted(profile["groups"].items(), key=lambda item: -item[1]):
        rows.append(f"    {seconds / profile['total']:6.1%}  {group}")
    rows.append("  top functions by own time:")
    rows += [f"    {seconds / profile['total']:6.1%}  {place}" for seconds, place in profile["top"][:6]]
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=("site", "experiments"), default=["site", "experiments"],
                        help="what to measure (default: both)")
    parser.add_argument("--fast", action="store_true",
                        help="build the site with TINYSEQ_FAST=1, as the tests in fast mode do (default: the "
                             "full tutorials, as `mkdocs build` runs them); cold only")
    parser.add_argument("--experiments", nargs="+", choices=tuple(FULL_RUNS), default=list(FULL_RUNS),
                        metavar="NAME", help=f"the full runs to time (default: all: {' '.join(FULL_RUNS)})")
    parser.add_argument("--profile-iterations", type=int, default=100, metavar="N",
                        help="training iterations per run in the profiled part (default 100)")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--site-worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--profile-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.site_worker:
        return site_worker(*args.site_worker)
    if args.profile_worker:
        name, iterations, report = args.profile_worker
        return profile_worker(name, int(iterations), report)
    if args.profile_iterations < 1:
        parser.error(f"--profile-iterations must be at least 1, got {args.profile_iterations}")

    results = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}, "checkout": checkout_state(),
               "site": [], "experiments": []}
    print(f"checkout {results['checkout']}, {os.cpu_count()} cores\n", flush=True)
    if "site" in args.parts:
        with tempfile.TemporaryDirectory(prefix="tinyseq-caches-") as caches:
            for label in (["cold, TINYSEQ_FAST=1"] if args.fast else ["cold", "warm"]):
                results["site"].append(measure_site(label, Path(caches), args.fast))
                print(site_table(results["site"][-1]), "\n", flush=True)
    if "experiments" in args.parts:
        for name in args.experiments:
            results["experiments"].append(measure_experiment(name, args.profile_iterations))
            print(experiment_table(results["experiments"][-1]), "\n", flush=True)
    if args.json:
        write_json(args.json, results)
        print(f"Wrote {args.json}")


if __name__ == "__main__":
    main()
