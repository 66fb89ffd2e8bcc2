// Collects, in a settled page, what the per-page tests check (one object, JSON-serialisable).
async () => {
  const content = document.querySelector(".md-content") || document.body;

  // Images: lazy ones are made eager, so that every image is fetched and decoded.
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => (img.complete ? null : img.decode().catch(() => null))));
  const brokenImages = images
    .filter((img) => !(img.complete && img.naturalWidth > 0))
    .map((img) => img.currentSrc || img.src);

  // Links: the absolute URL of every <a href>, and same-page anchors without a target.
  const anchors = [...document.querySelectorAll("a[href]")];
  const links = anchors.map((a) => a.href);
  const missingAnchors = anchors
    .map((a) => a.getAttribute("href"))
    .filter((h) => h.startsWith("#") && h.length > 1)
    .filter((h) => {
      const id = decodeURIComponent(h.slice(1));
      return !document.getElementById(id) && !document.getElementsByName(id).length;
    });

  // Math: every arithmatex span rendered by KaTeX, no KaTeX error, no TeX left as text
  // (outside code, where a backslash or a dollar sign is just code).
  const arithmatex = [...content.querySelectorAll(".arithmatex")];
  const unrendered = arithmatex
    .filter((e) => !e.querySelector(".katex"))
    .map((e) => e.textContent.slice(0, 80));
  const katexErrors = [...content.querySelectorAll(".katex-error")].map(
    (e) => e.title || e.textContent,
  );
  const texRe = /\\\(|\\\[|\$\$|\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$/;
  const rawTex = [];
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest("pre, code, script, style, .katex, .md-code")) continue;
    if (texRe.test(n.textContent)) rawTex.push(n.textContent.trim().slice(0, 80));
  }

  // Code blocks: Material's copy button on every one.
  const codeBlocks = [...content.querySelectorAll("pre:not(.mermaid) > code")];
  const withoutCopy = codeBlocks
    .filter((c) => {
      const block = c.closest(".highlight") || c.parentElement;
      return !block.querySelector('button.md-code__button[data-md-type="copy"], .md-clipboard');
    })
    .map((c) => c.textContent.trim().split("\n")[0].slice(0, 60));

  // Diagrams: Material has replaced each <pre class="mermaid"> by a <div> whose closed
  // shadow root holds the SVG that mermaid drew (so a drawn diagram has a height).
  const diagrams = [...content.querySelectorAll(".mermaid")];
  const unrenderedDiagrams = diagrams.filter(
    (d) => d.tagName === "PRE" || d.getBoundingClientRect().height === 0,
  ).length;

  return {
    lang: document.documentElement.lang,
    images: images.length,
    brokenImages,
    links,
    missingAnchors,
    arithmatex: arithmatex.length,
    katex: content.querySelectorAll(".katex").length,
    unrendered,
    katexErrors,
    rawTex,
    codeBlocks: codeBlocks.length,
    withoutCopy,
    diagrams: diagrams.length,
    unrenderedDiagrams,
  };
}
