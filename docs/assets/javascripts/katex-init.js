// Render \( \) and \[ \] math emitted by pymdownx.arithmatex (generic mode) with the
// KaTeX copy that the build installs from the npm registry (no CDN).
function renderMath() {
  if (typeof renderMathInElement !== "function") return;
  for (const el of document.querySelectorAll(".arithmatex")) {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
