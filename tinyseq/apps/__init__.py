"""The applications: the `tinyseq` command (`cli`) and the jobs it runs, one module each (`imdb`,
`graph`, `vanishing`, `exercise`, `demo`), with their shared argument checks (`arguments`).

The top layer: applications import the library; nothing in the library imports them.
"""
