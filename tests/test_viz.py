"""Tests for tinyseq.viz: clusters from name scopes, node counts, heatmap colours, rendering."""

import argparse
import math
import re
import shutil
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyseq
from tinyseq import viz
from tinyseq.apps.cli import main
from tinyseq.apps.graph import add_graph_parser
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
        assert ops_in["lstm_cell", gate] == ["sigmoid"], gate
    assert ops_in["lstm_cell", "candidate"] == ["tanh"]
    assert sorted(ops_in["lstm_cell", "cell_state"]) == ["add", "mul", "mul"]
    assert sorted(ops_in["lstm_cell", "hidden_state"]) == ["mul", "tanh"]
    # The weights (leaves) are drawn where they are used: x @ kernel + bias, h @ recurrent_kernel;
    # z is split there into the four gates' inputs.
    assert sorted(ops_in["lstm_cell", "projection"]) == ["add", "add"] + ["getitem"] * 4 + [
        "leaf", "leaf", "leaf", "matmul", "matmul"]
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
def test_a_ten_thousand_node_graph_is_drawn_deeper_than_recursion_allows():
    example = viz.cell_example("lstm", steps=560)  # about 10,000 tensors, far deeper than recursion allows
    viz.retain_grads(example.loss)
    example.loss.backward()
    source = viz.draw(example.loss, labels=example.labels, grad_heatmap=True).source
    assert len(graph_tensors(example.loss)) >= 10_000
    assert source.count("tooltip=") == len(graph_tensors(example.loss))  # one node per tensor


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


@needs_dot
def test_write_a_sharper_png_for_slides(tmp_path):
    graph = viz.draw_cell_concept("lstm")
    sizes = []
    for name, dpi in (("plain.png", None), ("sharp.png", 192)):
        data = viz.write(graph, tmp_path / name, dpi=dpi).read_bytes()
        sizes.append((int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")))
    (width, height), (sharp_width, sharp_height) = sizes
    assert abs(sharp_width - 2 * width) <= 2 and abs(sharp_height - 2 * height) <= 2
    assert "dpi" not in graph.source  # the drawing itself is left as it was
    with pytest.raises(ValueError, match=r"dpi sets the resolution of a \.png; 'cell\.svg'"):
        viz.write(graph, tmp_path / "cell.svg", dpi=192)
    with pytest.raises(ValueError, match="dpi must be a positive number, got 0"):
        viz.write(graph, tmp_path / "cell.png", dpi=0)


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


def tinyseq_main(capsys, *argv):
    """Run `tinyseq graph argv...` as the command line does; returns (status, stdout, stderr)."""
    status = main(["graph", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_draws_the_cell_concept_with_one_steps_values(tmp_path, capsys):
    status, out, _ = tinyseq_main(capsys, "lstm", "--concept", "--values", "-o", tmp_path / "cell.dot")
    source = (tmp_path / "cell.dot").read_text(encoding="utf-8")
    assert status == 0 and "wrote" in out
    assert "layout=neato" in source  # a saved .dot keeps the fixed positions under `dot -T`
    assert "forget gate f" in source and re.search(r"forget gate f.*\[\d\.\d\d \d\.\d\d \d\.\d\d\]", source)


def test_cli_draws_compact_norms_with_a_row_per_cell(tmp_path, capsys):
    out = tmp_path / "fade.dot"
    status, _, err = tinyseq_main(capsys, "rnn", "--steps", "30", "--compact", "--compare", "lstm",
                                  "--units", "8", "-o", out)
    source = out.read_text(encoding="utf-8")
    assert status == 0 and not err
    assert re.findall(r">(SimpleRNN|LSTM) <", source) == ["SimpleRNN", "LSTM"] * 2
    assert len(box_fills(source)) == 60
    rnn, lstm = (viz.unrolled_grad_norms(kind, 30, units=8) for kind in ("rnn", "lstm"))
    logs = np.log10(np.concatenate([rnn, lstm]))
    low, high = math.floor(logs.min()), math.ceil(logs.max())  # the decades the norms span
    fills = box_fills(source)  # rows of 25 steps: RNN 1-25, LSTM 1-25, RNN 26-30, LSTM 26-30
    assert fills[:25] == [viz.heat_color(math.log10(n), low, high) for n in rnn[:25]]
    assert fills[25:50] == [viz.heat_color(math.log10(n), low, high) for n in lstm[:25]]


@pytest.mark.parametrize("argv, message", [
    (["rnn", "--concept"], "--concept draws an LSTM or GRU cell"),
    (["lstm", "--concept", "--steps", "3"], "--concept draws one step"),
    (["lstm", "--compact"], "--compact draws one box per time step: give the number of steps"),
    (["lstm", "--steps", "4", "--compare", "rnn"], "--compare adds rows to a --compact drawing"),
])
def test_cli_explains_options_that_do_not_go_together(argv, message, tmp_path, capsys):
    status, _, err = tinyseq_main(capsys, *argv, "-o", tmp_path / "x.svg")
    assert status == 2 and err.startswith(f"tinyseq graph: {message}")
    assert not (tmp_path / "x.svg").exists()


def test_cli_suggests_compact_for_a_long_heatmap(tmp_path, capsys):
    _, _, err = tinyseq_main(capsys, "rnn", "--steps", "21", "--grad-heatmap", "-o", tmp_path / "h.dot")
    assert "--compact draws one box per step" in err
    _, _, err = tinyseq_main(capsys, "rnn", "--steps", "20", "--grad-heatmap", "-o", tmp_path / "h.dot")
    assert err == ""


def test_draw_refuses_things_that_are_not_tensors():
    with pytest.raises(TypeError, match="tensors"):
        viz.draw([np.zeros(3)])


# ---- colours by scope, and named slices --------------------------------------------------------
def cluster_fills(source):
    """Cluster label -> fill colour, for every filled cluster of a DOT source."""
    fills = {}
    for line in source.splitlines():
        if line.strip().startswith("graph [") and "fillcolor=" in line:
            label = re.search(r"\blabel=(\S+?)[ \]]", line).group(1)
            fills.setdefault(label, set()).add(re.search(r'fillcolor="(#\w+)"', line).group(1))
    return fills


def test_each_cell_part_has_its_own_colour_in_every_step_whatever_the_order():
    lstm = cluster_fills(viz.draw(viz.cell_example("lstm", steps=3).loss, show_params=False).source)
    gru = cluster_fills(viz.draw(viz.cell_example("gru").outputs).source)
    for fills in (lstm, gru):
        for scope, colours in fills.items():
            assert colours == {viz.style.SCOPE_COLORS[scope][0]}, scope  # one colour, every step
    assert set(lstm) == {"projection", "input_gate", "forget_gate", "candidate", "output_gate",
                         "cell_state", "hidden_state"}
    assert lstm["candidate"] == gru["candidate"]
    tints = [tint for tint, _ in viz.style.SCOPE_COLORS.values()]
    assert len(set(tints)) == len(tints)


def test_scopes_without_a_colour_of_their_own_share_the_other_tints():
    x = tinyseq.tensor([1.0], requires_grad=True)
    with tinyseq.name_scope("first"):
        y = x * 2
    with tinyseq.name_scope("second"):
        z = tinyseq.tanh(y)
    fills = cluster_fills(viz.draw(z).source)
    assert fills == {"first": {viz.style.CLUSTER_TINTS[0]}, "second": {viz.style.CLUSTER_TINTS[1]}}


def test_a_named_slice_is_drawn_as_its_name_and_what_it_slices():
    z = tinyseq.tensor(np.arange(8.0).reshape(1, 8), requires_grad=True)
    z_i, z_f = tinyseq.ops.split(z, 2, names=("z_i", "z_f"))
    y = z_i * z_f
    nodes, _ = parse_dot(viz.draw(y, labels={z: "z"}).source)
    slices = sorted(n["attrs"] for n in nodes.values() if op_of(n) == "getitem")
    assert len(slices) == 2
    for text, name in zip(slices, ("z_f", "z_i")):
        assert f'point-size="15">{name}</font>' in text and "slice of z" in text and "(1, 4)" in text
        assert "[ ]" not in text
    unlabelled = viz.draw(y).source  # z unnamed: the slice says the shape it was taken from
    assert unlabelled.count("slice of (1, 8)") == 2


def test_an_unnamed_slice_keeps_its_symbol():
    z = tinyseq.tensor(np.ones((1, 4)), requires_grad=True)
    source = viz.draw(z[:, :2] * 3).source
    assert "[ ]" in source and "slice of" not in source


# ---- the conceptual cell diagram -------------------------------------------------------------
def concept_nodes(graph):
    """Node id -> attribute text, for the named nodes of a concept diagram."""
    return dict(re.findall(r"^\s*(\w+) \[(.*)\]$", graph.source, flags=re.M))


def test_lstm_concept_parts_carry_the_colours_of_the_op_level_clusters():
    graph = viz.draw_cell_concept("lstm")
    nodes = concept_nodes(graph)
    op_level = cluster_fills(viz.draw(viz.cell_example("lstm").outputs).source)
    parts = {"forget": "forget_gate", "input": "input_gate", "candidate": "candidate",
             "output": "output_gate", "keep": "cell_state", "write": "cell_state",
             "scale": "cell_state", "squash": "hidden_state", "show": "hidden_state",
             "projection": "projection"}
    for part, scope in parts.items():
        assert f'fillcolor="{next(iter(op_level[scope]))}"' in nodes[part], part
        assert f"scope {scope}" in nodes[part]
    for text in ("c(t−1)", "c(t)", "h(t−1)", "h(t)", "x(t)", "forget gate f", "input gate i",
                 "candidate g", "output gate o", "c(t) = f · c(t−1) + i · g"):
        assert text in graph.source, text
    assert 'shape=box style="rounded,filled"' in nodes["forget"] and "σ" in nodes["forget"]
    assert "×" in nodes["keep"] and "+" in nodes["write"]


def test_lstm_concept_lines_go_where_the_equations_say():
    source = viz.draw_cell_concept("lstm").source
    edges = set(re.findall(r"^\s*(\w+) -> (\w+)", source, flags=re.M))
    carried = re.findall(r"^\s*(\w+) -> (\w+) \[.*penwidth=4", source, flags=re.M)
    # the cell state: c(t−1) -> keep (×) -> write (+) -> c(t), the thick line
    assert carried == [("c_in", "keep"), ("keep", "write"), ("write", "fork_c"), ("fork_c", "c_out")]
    assert {("forget", "keep"), ("input", "bend_i"), ("bend_i", "scale"), ("candidate", "scale"),
            ("scale", "write"), ("fork_c", "squash"), ("squash", "show"), ("output", "show"),
            ("show", "h_out"), ("h_in", "projection"), ("x_in", "projection")} <= edges
    for gate, label in (("forget", "z_f"), ("input", "z_i"), ("candidate", "z_c"), ("output", "z_o")):
        assert re.search(rf"bus_\w -> {gate} \[.*xlabel={label}", source), gate


def test_lstm_concept_shows_the_values_of_one_step():
    example = viz.cell_example("lstm", units=3)
    named = {name: t.numpy().astype(np.float64) for t, name in example.labels.items()}
    kernel, recurrent, bias = (example.params[n].numpy().astype(np.float64)
                               for n in ("kernel", "recurrent_kernel", "bias"))
    z = named["x(t)"] @ kernel + named["h(t−1)"] @ recurrent + bias
    sigmoid = lambda v: 1 / (1 + np.exp(-v))
    i, f, g, o = sigmoid(z[:, 0:3]), sigmoid(z[:, 3:6]), np.tanh(z[:, 6:9]), sigmoid(z[:, 9:12])
    c = f * named["c(t−1)"] + i * g
    expected = {"forget": f, "input": i, "candidate": g, "output": o, "c_in": named["c(t−1)"],
                "c_out": c, "h_out": o * np.tanh(c)}
    nodes = concept_nodes(viz.draw_cell_concept("lstm", example.outputs))
    for part, values in expected.items():
        text = " ".join(f"{v:.2f}".replace("-", "−") for v in values[0])
        assert f"[{text}]" in nodes[part], part


def test_concept_values_of_a_wide_cell_are_shortened():
    example = viz.cell_example("lstm", units=6)
    nodes = concept_nodes(viz.draw_cell_concept("lstm", example.outputs, max_values=2))
    assert re.search(r"\[\S+ \S+ …\]", nodes["forget"])


def test_gru_concept_has_its_gates_and_values():
    example = viz.cell_example("gru", units=3)
    graph = viz.draw_cell_concept("gru", example.outputs, equations=False, title="")
    nodes = concept_nodes(graph)
    for part, scope in (("update", "update_gate"), ("reset", "reset_gate"),
                        ("candidate", "candidate"), ("mix", "hidden_state")):
        assert f'fillcolor="{viz.style.SCOPE_COLORS[scope][0]}"' in nodes[part], part
    h_previous = [t for t, name in example.labels.items() if name == "h(t−1)"][0].numpy()
    text = " ".join(f"{v:.2f}".replace("-", "−") for v in h_previous[0])
    assert f"[{text}]" in nodes["h_in"]
    assert "equations" not in nodes and "label=" not in graph.source.splitlines()[1]


def test_concept_refuses_an_unknown_kind_and_a_step_of_another_cell():
    with pytest.raises(ValueError, match="lstm, gru.*'rnn'"):
        viz.draw_cell_concept("rnn")
    with pytest.raises(ValueError, match="none of the scopes"):
        viz.draw_cell_concept("lstm", viz.cell_example("rnn").outputs)
    with pytest.raises(ValueError, match="max_values"):
        viz.draw_cell_concept("lstm", max_values=0)


@needs_dot
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_concept_renders_to_svg_no_wider_than_a_slide(kind, tmp_path):
    root = ElementTree.parse(viz.write(viz.draw_cell_concept(kind), tmp_path / "c.svg")).getroot()
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"σ", "tanh", "×", "+", "h(t)"} <= texts
    assert float(root.get("width").removesuffix("pt")) <= 960  # 1280 px: a 16:9 slide


# ---- the compact unrolled view -----------------------------------------------------------------
def bptt_norms_by_hand(cell, x):
    """‖∂L/∂h(t)‖ of a tanh RNN, L = sum(h(T)), by backpropagation through time in numpy."""
    kernel, recurrent, bias = (p.numpy().astype(np.float64) for p in cell.parameters())
    h, states = np.zeros((1, cell.units)), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        states.append(h)
    grad, norms = np.ones_like(h), []
    for h in reversed(states):
        norms.append(np.linalg.norm(grad))
        grad = (grad * (1 - h ** 2)) @ recurrent.T
    return norms[::-1]


def test_unrolled_grad_norms_match_backpropagation_through_time_by_hand():
    cell = viz.make_cell("rnn", 5)
    norms = viz.unrolled_grad_norms(cell, 12, features=2, seed=3)
    x = np.random.default_rng(3).normal(size=(1, 12, 2))  # the inputs it drew
    assert norms.shape == (12,)
    np.testing.assert_allclose(norms, bptt_norms_by_hand(cell, x), rtol=1e-4)


def test_unrolled_grad_norms_reads_an_unrolled_network_after_backward():
    cell = viz.make_cell("lstm", 4)
    x = tinyseq.tensor(np.random.default_rng(0).normal(size=(1, 6, 2)).astype(np.float32))
    unrolled = viz.unroll(cell, x, cell.get_initial_state(1))
    loss = unrolled.states[-1][0].sum()
    with pytest.raises(ValueError, match=r"h\(1\) has no gradient.*retain_grads"):
        loss.backward(retain_graph=True)
        viz.unrolled_grad_norms(unrolled)
    viz.retain_grads(loss)
    loss.backward()
    h_norms = viz.unrolled_grad_norms(unrolled)
    c_norms = viz.unrolled_grad_norms(unrolled, state="c")
    assert h_norms[-1] == pytest.approx(2.0)  # d sum(h) / d h = ones(4); norm 2
    assert c_norms[0] == pytest.approx(np.linalg.norm(unrolled.states[0][1].grad))
    with pytest.raises(ValueError, match="state must be one of h, c.*'x'"):
        viz.unrolled_grad_norms(unrolled, state="x")


def box_fills(source):
    return re.findall(r'<td border="1" bgcolor="(#\w+)" color="#9a9a9a"', source)


def test_unrolled_view_draws_one_box_per_step_coloured_by_its_norm():
    norms = [10.0 ** -k for k in range(30, 0, -1)]  # a vanishing gradient: step 1 the faintest
    source = viz.draw_unrolled_norms(norms, grad_scale=(-30, 0)).source
    fills = box_fills(source)
    assert fills == [viz.heat_color(math.log10(n), -30, 0) for n in norms]
    lights = [luminance(fill) for fill in fills]
    assert all(a > b for a, b in zip(lights, lights[1:]))  # darker step by step towards T
    numbers = re.findall(r"<td><font point-size=\"[\d.]+\">(\d+)</font></td>", source)
    assert numbers == [str(t) for t in range(1, 31)]  # 25 in the first row, 5 in the second


def test_unrolled_view_of_a_vanishing_rnn_fades_towards_the_first_step():
    norms = viz.unrolled_grad_norms("rnn", 40, units=8)
    assert all(a < b for a, b in zip(norms, norms[1:]))
    assert norms[0] < norms[-1] * 1e-4
    lights = [luminance(fill) for fill in box_fills(viz.draw_unrolled_norms(norms).source)]
    assert all(a >= b for a, b in zip(lights, lights[1:])) and lights[0] > lights[-1]


def test_unrolled_view_puts_networks_one_above_the_other_on_one_scale():
    rows = {"SimpleRNN": [1e-6, 1e-3, 1.0], "LSTM": [1e-1, 1e-1, 1.0]}
    source = viz.draw_unrolled_norms(rows, title="").source
    fills = box_fills(source)
    assert fills[:3] == [viz.heat_color(v, -6, 0) for v in (-6, -3, 0)]
    assert fills[3:] == [viz.heat_color(v, -6, 0) for v in (-1, -1, 0)]
    assert source.index(">SimpleRNN <") < source.index(">LSTM <")
    assert "≤ −6" in source and "≥ 0" in source


def test_unrolled_view_wraps_rows_networks_interleaved():
    rows = {"A": np.ones(60), "B": np.ones(60)}
    source = viz.draw_unrolled_norms(rows, steps_per_row=25).source
    assert re.findall(r">([AB]) <", source) == ["A", "B"] * 3
    assert len(box_fills(source)) == 120


def test_unrolled_view_explains_bad_norms():
    for bad, message in (([], "non-empty 1-D"), ([[1.0, 2.0]], "1-D"), ([1.0, -1.0], ">= 0"),
                         ([1.0, float("nan")], "finite"), ({}, "empty")):
        with pytest.raises(ValueError, match=message):
            viz.draw_unrolled_norms(bad)
    with pytest.raises(ValueError, match="steps_per_row"):
        viz.draw_unrolled_norms([1.0], steps_per_row=0)
    with pytest.raises(ValueError, match=r"draw_unrolled_norms: grad_scale .* got \(0, -1\)"):
        viz.draw_unrolled_norms([1.0], grad_scale=(0, -1))
    with pytest.raises(ValueError, match="steps must be a positive int"):
        viz.unrolled_grad_norms("rnn", 0)


@needs_dot
@pytest.mark.parametrize("steps", [16, 50, 100])
def test_unrolled_view_fits_a_page_width(steps, tmp_path):
    rows = {"SimpleRNN": viz.unrolled_grad_norms("rnn", steps),
            "LSTM": viz.unrolled_grad_norms("lstm", steps)}
    root = ElementTree.parse(viz.write(viz.draw_unrolled_norms(rows), tmp_path / "n.svg")).getroot()
    width, height = (float(root.get(side).removesuffix("pt")) for side in ("width", "height"))
    assert 450 <= width <= 600  # 600 pt = 800 px, a page's width
    assert height <= width
