"""Draw computation graphs: gates as clusters, gradients as a heatmap.

Drawing your own code takes three steps: wrap the parts you want grouped in
`tinyseq.name_scope`, compute, and call `draw` on the result.

    >>> import tinyseq
    >>> from tinyseq import viz
    >>> x = tinyseq.tensor([[0.5, -1.0]])
    >>> w = tinyseq.tensor([[0.3], [0.8]], requires_grad=True)
    >>> with tinyseq.name_scope("neuron"):
    ...     y = tinyseq.sigmoid(x @ w)
    >>> graph = viz.draw(y, labels={x: "x", w: "w", y: "y"})
    >>> viz.write(graph, "neuron.svg")     # or .png, .pdf, .dot; in Jupyter just show `graph`
    PosixPath('neuron.svg')

For a gradient heatmap, keep every intermediate gradient, run backward, and draw with
`grad_heatmap=True` (pass `grad_scale=(-6, 0)` to compare several drawings on one scale):

    >>> loss = y.sum()
    >>> viz.retain_grads(loss)             # the number of ops marked
    3
    >>> loss.backward()
    >>> heat = viz.draw(loss, grad_heatmap=True)

Large graphs: `collapse=["forget_gate"]` or `max_depth=1` draw whole scopes as single nodes.
For long sequences, `draw_unrolled_norms` draws one box per time step instead, coloured by the
gradient norm `unrolled_grad_norms` measures there. `draw_cell_concept("lstm")` draws the
textbook picture of a cell, in the same colours as the clusters of its op-level graph.
`explain_review` runs a trained sentiment model over a review and returns, for each word, the
prediction had the review ended there and its gates' mean activity (`explanation_to_ansi`,
`explanation_to_svg` and `explanation_to_html` draw it).
Ready-made recurrent graphs come from `cell_example` (what `tinyseq graph` draws) and `unroll`
(any cell over a sequence, one "t=k" scope per step). `draw` needs only the `graphviz` Python
package; rendering images needs the Graphviz program `dot` as well.
"""

from .concept import draw_cell_concept
from .drawing import Drawing, GraphvizNotFoundError, draw, write
from .examples import Example, Unrolled, cell_example, make_cell, unroll
from .explain import ReviewExplanation, explain_review, explanation_to_ansi, explanation_to_html, explanation_to_svg
from .graph import retain_grads, topological_order
from .style import heat_color
from .unrolled import draw_unrolled_norms, unrolled_grad_norms

__all__ = ["draw", "write", "retain_grads", "topological_order", "heat_color", "cell_example",
           "unroll", "make_cell", "Example", "Unrolled", "Drawing", "GraphvizNotFoundError",
           "draw_cell_concept", "draw_unrolled_norms", "unrolled_grad_norms", "explain_review", "ReviewExplanation",
           "explanation_to_ansi", "explanation_to_html", "explanation_to_svg"]
