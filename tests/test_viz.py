"""Tests for tinyseq.viz: clusters from name scopes, node counts, heatmap colours, rendering."""

import argparse
import re
import shutil
import time
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyseq
from tinyseq import viz
from tinyseq.viz.cli import add_graph_parser
from tinyseq.viz.style import luminance

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


# ---- reading DOT back --------------------------------------------------------------------------
_NODE = re.compile(r'^\s*([ng]\d+) \[(.*)\]$')
_LABEL = re.compile(r'\blabel=(?:"([^"]*)"|([^\s\]]+))')


def parse_dot(source):
    """Return (nodes, clusters): node id -> {"path": cluster labels, "attrs": text}, and the set
    of cluster label paths; enough to check what graphviz would group."""
    nodes, clusters, stack = {}, set(), []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("subgraph cluster_"):
            stack.append(None)  # the label follows on the cluster's `graph [...]` line
        elif stripped == "}" and stack:
            stack.pop()
        elif stripped.startswith("graph [") and stack and stack[-1] is None:
            match = _LABEL.search(stripped)
            stack[-1] = match.group(1) or match.group(2)
            clusters.add(tuple(stack))
        elif match := _NODE.match(line):
            nodes[match.group(1)] = {"path": tuple(stack), "attrs": match.group(2)}
    return nodes, clusters


def op_of(node):
    return re.search(r'tooltip="(\w+):', node["attrs"]).group(1)


def grad_norm_of(node):
    match = re.search(r"gradient norm ([-+.e\d]+)", node["attrs"])
    return float(match.group(1)) if match else None


def fill_of(node):
    return re.search(r'fillcolor="(#[0-9a-f]{6})"', node["attrs"]).group(1)


def graph_tensors(output):
    """Every tensor in the graph, walked independently of viz (ids, iteratively)."""
    seen, stack = {id(output): output}, [output]
    while stack:
        for parent in stack.pop().parents:
            if id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    return list(seen.values())


def is_constant(t):
    return not t.parents and t.op == "leaf" and not t.requires_grad and t.size == 1


# ---- one LSTM step: the gate diagram --------------------------------------------------------------
LSTM_CLUSTERS = {("lstm_cell",)} | {("lstm_cell", gate) for gate in (
    "projection", "input_gate", "forget_gate", "candidate", "output_gate", "cell_state",
    "hidden_state")}


def test_one_lstm_step_has_exactly_the_gate_clusters_with_each_op_in_its_gate():
    example = viz.cell_example("lstm", steps=1)
    nodes, clusters = parse_dot(viz.draw(example.outputs, labels=example.labels,
                                         params=example.params).source)
    assert clusters == LSTM_CLUSTERS
    ops_in = {}
    for node in nodes.values():
        ops_in.setdefault(node["path"], []).append(op_of(node))
    for gate in ("input_gate", "forget_gate", "output_gate"):
        assert sorted(ops_in["lstm_cell", gate]) == ["getitem", "sigmoid"], gate
    assert sorted(ops_in["lstm_cell", "candidate"]) == ["getitem", "tanh"]
    assert sorted(ops_in["lstm_cell", "cell_state"]) == ["add", "mul", "mul"]
    assert sorted(ops_in["lstm_cell", "hidden_state"]) == ["mul", "tanh"]
    # The weights (leaves) are drawn where they are used: x @ kernel + bias, h @ recurrent_kernel.
    assert sorted(ops_in["lstm_cell", "projection"]) == ["add", "add", "leaf", "leaf", "leaf",
                                                         "matmul", "matmul"]
    assert ("lstm_cell",) not in ops_in
    assert sorted(ops_in[()]) == ["getitem", "leaf", "leaf"]  # x(t), h(t−1), c(t−1)


def test_lstm_step_shows_symbols_labels_and_parameter_names():
    example = viz.cell_example("lstm", steps=1)
    source = viz.draw(example.outputs, labels=example.labels, params=example.params).source
    for text in ("σ", "tanh", "×", "+", "@", "x(t)", "h(t−1)", "c(t−1)", "<b>h(t)</b>",
                 "<b>c(t)</b>", "kernel", "recurrent_kernel", "bias", "(1, 12)"):
        assert text in source, text
    nodes, _ = parse_dot(source)
    styles = {re.search(r"shape=(\w+)", n["attrs"]).group(1) for n in nodes.values()}
    assert {"cylinder", "box", "circle"} <= styles  # parameters, inputs and layers, pointwise ops


def test_node_count_equals_the_number_of_tensors_in_the_graph():
    example = viz.cell_example("lstm", steps=3)
    nodes, _ = parse_dot(viz.draw(example.loss).source)
    assert len(nodes) == len(graph_tensors(example.loss))


def test_scalar_constants_are_written_into_their_op_not_drawn():
    example = viz.cell_example("gru", steps=1)
    tensors = graph_tensors(example.outputs[0])
    constants = [t for t in tensors if is_constant(t)]
    assert constants  # the 1 in (1 - z)
    source = viz.draw(example.outputs).source
    nodes, _ = parse_dot(source)
    assert len(nodes) == len(tensors) - len(constants)
    assert "1 −" in source


def test_a_reused_tensor_is_one_node_with_an_edge_per_use():
    x = tinyseq.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    source = viz.draw(y, labels={x: "x"}).source
    nodes, _ = parse_dot(source)
    assert len(nodes) == 3
    (x_id,) = [i for i, n in nodes.items() if ">x<" in n["attrs"]]
    assert len(re.findall(rf"\b{x_id} -> ", source)) == 3  # into × twice, into + once


def test_edges_follow_data_flow():
    x = tinyseq.tensor([[1.0, 2.0]])
    w = tinyseq.tensor([[1.0], [0.5]], requires_grad=True)
    y = tinyseq.sigmoid(x @ w)
    source = viz.draw(y, labels={x: "x", w: "w", y: "y"}).source
    names = {re.search(r'tooltip="(\w+):', n["attrs"]).group(1) + (">x<" in n["attrs"]) * "_x": i
             for i, n in parse_dot(source)[0].items()}
    assert f"{names['leaf_x']} -> {names['matmul']}" in source
    assert f"{names['matmul']} -> {names['sigmoid']}" in source


# ---- unrolled graphs, collapsing ---------------------------------------------------------------
def test_unrolled_network_has_a_cluster_per_time_step():
    example = viz.cell_example("rnn", steps=4)
    _, clusters = parse_dot(viz.draw(example.loss, show_params=False).source)
    assert {path[0] for path in clusters} == {"t=1", "t=2", "t=3", "t=4"}
    assert ("t=2", "simple_rnn_cell", "hidden_state") in clusters


def test_unrolled_steps_are_chained_for_the_layout_but_a_single_step_is_not():
    unrolled = viz.cell_example("rnn", steps=3)
    source = viz.draw(unrolled.loss, show_params=False).source
    assert "style=invis" in source and "group=" in source
    single = viz.cell_example("lstm", steps=1)
    source = viz.draw(single.outputs).source
    assert "style=invis" not in source and "group=" not in source


def test_max_depth_collapses_each_time_step_into_one_node():
    example = viz.cell_example("lstm", steps=5)
    source = viz.draw(example.loss, max_depth=0, show_params=False).source
    nodes, clusters = parse_dot(source)
    groups = [n for i, n in nodes.items() if i.startswith("g")]
    assert len(groups) == 5 and not clusters
    assert all("box3d" in n["attrs"] for n in groups)
    # The steps still feed one another, h and c in a single edge per pair: a chain of 5 nodes.
    edges = [(a, b) for a, b, attrs in re.findall(r"^\s*(g\d+) -> (g\d+)(.*)$", source, flags=re.M)
             if "invis" not in attrs]
    assert len(set(edges)) == len(edges) == 4
    assert len({a for a, _ in edges}) == len({b for _, b in edges}) == 4


def test_collapse_a_scope_path_into_one_node():
    example = viz.cell_example("rnn", steps=3)
    nodes, clusters = parse_dot(viz.draw(example.loss, collapse=[("t=2",)]).source)
    assert [n["attrs"] for i, n in nodes.items() if i.startswith("g")][0].count(">t=2<") == 1
    assert {path[0] for path in clusters} == {"t=1", "t=3"}


def test_collapse_by_name_keeps_the_cell_path_visible():
    example = viz.cell_example("lstm", steps=3)
    gates = ["projection", "input_gate", "forget_gate", "candidate", "output_gate"]
    nodes, clusters = parse_dot(viz.draw(example.loss, collapse=gates, show_params=False).source)
    groups = [n for i, n in nodes.items() if i.startswith("g")]
    assert len(groups) == 3 * len(gates)
    assert ("t=2", "lstm_cell", "cell_state") in clusters
    assert not any(path[-1] in gates for path in clusters)


def test_show_params_false_hides_weights():
    example = viz.cell_example("rnn", steps=2)
    shown, _ = parse_dot(viz.draw(example.loss).source)
    hidden, _ = parse_dot(viz.draw(example.loss, show_params=False).source)
    assert len(shown) - len(hidden) == 3  # kernel, recurrent_kernel, bias


# ---- gradient heatmap ------------------------------------------------------------------------
def heatmap_nodes(kind, steps, **options):
    example = viz.cell_example(kind, steps=steps)
    viz.retain_grads(example.loss)
    example.loss.backward()
    graph = viz.draw(example.loss, labels=example.labels, grad_heatmap=True, **options)
    return parse_dot(graph.source)[0], graph.source


def test_heatmap_colours_are_monotone_in_gradient_norm():
    nodes, source = heatmap_nodes("rnn", 12, grad_scale=(-5, 0))
    painted = sorted((grad_norm_of(n), luminance(fill_of(n))) for n in nodes.values()
                     if grad_norm_of(n) is not None)
    assert len(painted) > 40
    lights = [light for _, light in painted]
    assert all(a >= b for a, b in zip(lights, lights[1:]))  # a larger norm is never lighter
    assert lights[0] > lights[-1]
    assert "log₁₀ ‖gradient‖" in source and "≤ −5" in source and "≥ 0" in source


@given(st.floats(-12, 4), st.floats(-12, 4))
def test_heat_color_never_lightens_as_the_norm_grows(a, b):
    low, high = sorted((a, b))
    assert luminance(viz.heat_color(low, -6, 0)) >= luminance(viz.heat_color(high, -6, 0))


def test_heatmap_shows_the_vanishing_gradient_of_the_unrolled_rnn():
    nodes, _ = heatmap_nodes("rnn", 12)
    by_step = {}
    for node in nodes.values():
        if node["path"] and grad_norm_of(node):
            by_step.setdefault(node["path"][0], []).append(grad_norm_of(node))
    assert max(by_step["t=1"]) < max(by_step["t=12"]) / 10  # over a decade fainter


def test_inputs_without_gradient_are_drawn_as_such():
    nodes, _ = heatmap_nodes("lstm", 2)
    x_nodes = [n for n in nodes.values() if ">x(1)<" in n["attrs"]]
    assert len(x_nodes) == 1 and "dashed" in x_nodes[0]["attrs"]


def test_heatmap_without_retained_gradients_says_what_to_call():
    example = viz.cell_example("rnn", steps=2)
    example.loss.backward()
    with pytest.raises(ValueError, match="retain_grads"):
        viz.draw(example.loss, grad_heatmap=True)


def test_retain_grads_marks_every_op():
    example = viz.cell_example("gru", steps=2)
    marked = viz.retain_grads(example.loss)
    example.loss.backward()
    ops = [t for t in graph_tensors(example.loss) if t.parents]
    assert marked == len(ops) and all(t.grad is not None for t in ops)


# ---- size, rendering and the missing `dot` -------------------------------------------------------
def test_a_ten_thousand_node_graph_yields_dot_in_a_few_seconds():
    example = viz.cell_example("lstm", steps=560)  # about 10,000 tensors, far deeper than recursion allows
    viz.retain_grads(example.loss)
    example.loss.backward()
    start = time.perf_counter()
    source = viz.draw(example.loss, labels=example.labels, grad_heatmap=True).source
    elapsed = time.perf_counter() - start
    assert len(graph_tensors(example.loss)) >= 10_000
    assert source.count("tooltip=") >= 10_000
    assert elapsed < 5, f"drawing took {elapsed:.1f} s"


@needs_dot
def test_rendering_with_dot_gives_valid_svg_png_and_pdf(tmp_path):
    example = viz.cell_example("lstm", steps=1)
    graph = viz.draw(example.outputs, labels=example.labels, params=example.params, title="LSTM")
    svg = viz.write(graph, tmp_path / "lstm.svg")
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"forget_gate", "cell_state", "σ", "x(t)"} <= texts
    assert viz.write(graph, tmp_path / "lstm.png").read_bytes().startswith(b"\x89PNG")
    assert viz.write(graph, tmp_path / "lstm.pdf").read_bytes().startswith(b"%PDF")


def test_write_dot_source_and_refuse_unknown_suffixes(tmp_path):
    graph = viz.draw(viz.cell_example("rnn").outputs)
    assert viz.write(graph, tmp_path / "g.dot").read_text(encoding="utf-8") == graph.source
    with pytest.raises(ValueError, match=r"\.svg"):
        viz.write(graph, tmp_path / "g.jpeg")


def test_without_dot_draw_still_works_and_rendering_explains_the_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    graph = viz.draw(viz.cell_example("lstm").outputs)
    assert graph.source.startswith("digraph")
    for render in (lambda: viz.write(graph, tmp_path / "g.svg"), lambda: graph.pipe(format="svg"),
                   lambda: graph._repr_mimebundle_()):
        with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz") as error:
            render()
        assert "brew install graphviz" in str(error.value) and "graph.source" in str(error.value)


# ---- the CLI -------------------------------------------------------------------------------
def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="tinyseq")
    add_graph_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["graph", *argv])
    return args.run(args)


def test_cli_writes_the_dot_of_an_unrolled_heatmap(tmp_path, capsys):
    out = tmp_path / "rnn.dot"
    assert run_cli("rnn", "--steps", "3", "--grad-heatmap", "-o", str(out)) == 0
    nodes, clusters = parse_dot(out.read_text(encoding="utf-8"))
    assert {path[0] for path in clusters} == {"t=1", "t=2", "t=3"}
    assert "gradient norm" in out.read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().out


@needs_dot
def test_cli_renders_by_suffix(tmp_path):
    out = tmp_path / "gru.svg"
    assert run_cli("gru", "--collapse", "reset_gate", "update_gate", "-o", str(out)) == 0
    assert ElementTree.parse(out).getroot().tag.endswith("svg")


def test_cli_without_dot_writes_the_source_and_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert run_cli("lstm", "-o", str(tmp_path / "lstm.png")) == 1
    assert (tmp_path / "lstm.dot").read_text(encoding="utf-8").startswith("digraph")
    assert "install graphviz" in capsys.readouterr().err


def test_cli_refuses_an_unknown_format(tmp_path, capsys):
    assert run_cli("lstm", "-o", str(tmp_path / "lstm.bmp")) == 2
    assert ".svg" in capsys.readouterr().err


def test_draw_refuses_things_that_are_not_tensors():
    with pytest.raises(TypeError, match="tensors"):
        viz.draw([np.zeros(3)])
