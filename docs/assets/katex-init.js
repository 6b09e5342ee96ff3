// Render the maths that pymdownx.arithmatex marks (\( ... \) inline, \[ ... \] display) with the
// KaTeX copy shipped in assets/katex/, after every page load (instant navigation included).
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
});
