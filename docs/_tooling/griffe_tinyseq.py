"""A griffe extension for the API reference (listed under mkdocstrings' `extensions`).

tinyseq's docstrings title their example sections "Example:". Google style, as griffe reads it,
knows only "Examples:"; under any other title the `>>>` lines would be rendered as Markdown
(nested block quotes) instead of as code. This extension renames the title before parsing.
"""

from __future__ import annotations

import re

from griffe import Extension

_EXAMPLE_TITLE = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(Extension):
    """Read a docstring's "Example:" section as "Examples:"."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE_TITLE.sub(r"\1Examples:", obj.docstring.value)
