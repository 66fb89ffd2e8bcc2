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
  markScrollable();
  document.fonts.ready.then(markScrollable); // widths change once KaTeX's fonts are in
}
// A formula wider than the column scrolls (extra.css): let keyboard users focus it.
function markScrollable() {
  for (const el of document.querySelectorAll(".katex-display")) {
    if (el.scrollWidth > el.clientWidth) el.tabIndex = 0;
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
