// Fill the placeholders that `renderMarkdown` leaves: math (KaTeX), code highlighting and Mermaid.
// Each library is loaded on first need, so none of them is part of the initial bundle; Mermaid is
// loaded only when a closed ```mermaid fence appears. Results are cached by source, so re-rendering
// a streaming message applies them synchronously without flicker.
import DOMPurify from "dompurify";

type KatexModule = typeof import("katex");
type HighlighterModule = typeof import("./highlight");

let katexModule: KatexModule | null = null;
let katexLoading: Promise<KatexModule> | null = null;
let highlighter: HighlighterModule | null = null;
let highlighterLoading: Promise<HighlighterModule> | null = null;

const mathCache = new Map<string, string | null>();
const highlightCache = new Map<string, string>();

export interface MermaidResult {
  svg?: string;
  error?: string;
}
const mermaidCache = new Map<string, MermaidResult>();
const mermaidPending = new Map<string, Promise<MermaidResult>>();

/** Make an already imported KaTeX available synchronously (tests, and after the lazy load). */
export function provideKatex(module: KatexModule): void {
  katexModule = module;
}

function loadKatex(): Promise<KatexModule> {
  katexLoading ??= Promise.all([import("katex"), import("katex/dist/katex.min.css")]).then(([module]) => {
    katexModule = module;
    return module;
  });
  return katexLoading;
}

function loadHighlighter(): Promise<HighlighterModule> {
  highlighterLoading ??= import("./highlight").then((module) => {
    highlighter = module;
    return module;
  });
  return highlighterLoading;
}

/** Render TeX to HTML, or null when it is invalid (the caller then shows the source as text). */
export function renderMath(katex: KatexModule, tex: string, display: boolean): string | null {
  const key = `${display ? "D" : "I"}${tex}`;
  const cached = mathCache.get(key);
  if (cached !== undefined) return cached;
  let html: string | null;
  try {
    html = katex.default.renderToString(tex, {
      displayMode: display,
      // `trust: false` keeps \href, \url, \htmlId and friends from producing links or attributes.
      trust: false,
      throwOnError: true,
      strict: "ignore",
      output: "htmlAndMathml",
    });
  } catch {
    html = null;
  }
  mathCache.set(key, html);
  return html;
}

function applyMath(root: HTMLElement, katex: KatexModule): void {
  for (const node of root.querySelectorAll<HTMLElement>(".md-math:not([data-done])")) {
    const tex = node.textContent ?? "";
    const display = node.dataset.display === "true";
    const html = renderMath(katex, tex, display);
    node.dataset.done = "1";
    if (html === null) {
      // Invalid or half-streamed TeX: show the source as quiet text rather than a red error box.
      node.classList.add("md-math-source");
      node.textContent = display ? `$$${tex}$$` : `$${tex}$`;
      continue;
    }
    node.innerHTML = html;
  }
}

function applyHighlight(root: HTMLElement, module: HighlighterModule): void {
  for (const code of root.querySelectorAll<HTMLElement>(".md-code pre code:not([data-done])")) {
    const language = /language-([\w+#-]+)/.exec(code.className)?.[1] ?? "";
    const text = code.textContent ?? "";
    const key = `${language}\u0000${text}`;
    let html = highlightCache.get(key);
    if (html === undefined) {
      html = module.highlight(text, language);
      if (highlightCache.size > 500) highlightCache.clear();
      highlightCache.set(key, html);
    }
    code.innerHTML = html;
    code.dataset.done = "1";
    code.classList.add("hljs");
  }
}

let mermaidCounter = 0;

async function renderMermaid(source: string, dark: boolean): Promise<MermaidResult> {
  const mermaid = (await import("mermaid")).default;
  mermaid.initialize({
    startOnLoad: false,
    securityLevel: "strict",
    theme: dark ? "dark" : "default",
    suppressErrorRendering: true,
    // Labels as SVG text, not HTML in <foreignObject>, so the sanitiser below keeps them.
    htmlLabels: false,
    flowchart: { htmlLabels: false },
  });
  try {
    await mermaid.parse(source);
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
  // Mermaid measures text in a temporary element; keep it inside the app root (never a direct
  // child of <body>) and remove whatever it leaves behind, even when rendering fails.
  const id = `mmd-${++mermaidCounter}`;
  const holder = document.createElement("div");
  holder.setAttribute("aria-hidden", "true");
  holder.style.cssText = "position:absolute;left:-10000px;top:0;width:800px;visibility:hidden";
  (document.getElementById("root") ?? document.body).appendChild(holder);
  try {
    const { svg } = await mermaid.render(id, source, holder);
    const clean = DOMPurify.sanitize(svg, {
      USE_PROFILES: { svg: true, svgFilters: true, html: true },
      ADD_TAGS: ["foreignObject"],
      FORBID_TAGS: ["script", "iframe", "object", "embed", "form", "input"],
    });
    return { svg: clean };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    holder.remove();
    document.getElementById(id)?.remove();
    document.getElementById(`d${id}`)?.remove();
  }
}

const hoistedStyles = new Set<string>();

// Mermaid scopes its CSS to the diagram's id; moving it to <head> keeps <style> out of messages.
function hoistStyles(figure: HTMLElement): void {
  for (const style of figure.querySelectorAll("style")) {
    const css = style.textContent ?? "";
    style.remove();
    if (hoistedStyles.has(css)) continue;
    hoistedStyles.add(css);
    const element = document.createElement("style");
    element.dataset.source = "mermaid";
    element.textContent = css;
    document.head.appendChild(element);
  }
}

function applyMermaid(root: HTMLElement, errorLabel: string, onUpdate: () => void): void {
  const dark = document.documentElement.classList.contains("dark");
  for (const block of root.querySelectorAll<HTMLElement>(".md-mermaid:not([data-done])")) {
    const source = block.querySelector("code")?.textContent ?? "";
    const key = `${dark ? "D" : "L"}${source}`;
    const result = mermaidCache.get(key);
    if (!result) {
      let pending = mermaidPending.get(key);
      if (!pending) {
        pending = renderMermaid(source, dark)
          .catch((error: unknown): MermaidResult => ({ error: error instanceof Error ? error.message : String(error) }))
          .then((value) => {
            mermaidCache.set(key, value);
            mermaidPending.delete(key);
            return value;
          });
        mermaidPending.set(key, pending);
      }
      // Every caller is notified, not only the first: a streamed message is remounted when it is saved.
      void pending.then(onUpdate);
      continue;
    }
    block.dataset.done = "1";
    if (result.svg) {
      const figure = document.createElement("div");
      figure.className = "md-mermaid-svg";
      figure.innerHTML = result.svg;
      hoistStyles(figure);
      block.replaceChildren(figure);
    } else {
      const message = document.createElement("div");
      message.className = "md-mermaid-error";
      message.textContent = `${errorLabel}: ${(result.error ?? "").split("\n")[0]}`;
      block.insertBefore(message, block.firstChild);
    }
  }
}

export interface EnhanceOptions {
  /** Called when a library finished loading or a diagram finished rendering; re-run `enhance`. */
  onUpdate: () => void;
  mermaidErrorLabel: string;
}

/** Apply every loaded enhancement to `root` now, and start loading what is missing. */
export function enhance(root: HTMLElement, options: EnhanceOptions): void {
  if (root.querySelector(".md-math")) {
    if (katexModule) applyMath(root, katexModule);
    else void loadKatex().then(options.onUpdate);
  }
  if (root.querySelector(".md-code pre code")) {
    if (highlighter) applyHighlight(root, highlighter);
    else void loadHighlighter().then(options.onUpdate);
  }
  if (root.querySelector(".md-mermaid")) applyMermaid(root, options.mermaidErrorLabel, options.onUpdate);
}
