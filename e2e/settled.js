// True once the page's client-side rendering is done (or when it has nothing to render):
// KaTeX has rendered every arithmatex span, Material has given every code block its buttons,
// mermaid has drawn every diagram, and the fonts that this text needs have loaded.
() => {
  const content = document.querySelector(".md-content") || document.body;
  const math = [...content.querySelectorAll(".arithmatex")].every((e) =>
    e.querySelector(".katex"),
  );
  const code = [...content.querySelectorAll("pre:not(.mermaid) > code")].every((c) =>
    c.parentElement.querySelector(".md-code__nav, .md-clipboard"),
  );
  // Material draws each diagram into a closed shadow root: a drawn one has a height.
  const diagrams = [...content.querySelectorAll(".mermaid")].every(
    (d) => d.tagName !== "PRE" && d.getBoundingClientRect().height > 0,
  );
  return math && code && diagrams && document.fonts.status === "loaded";
}
