// Markdown to sanitised HTML for chat messages.
//
// Rules that the chat relies on:
// * Raw HTML in the source is never rendered: markdown-it runs with `html: false`, so tags show as text.
// * Math follows Pandoc's `tex_math_dollars`: a single `$` opens inline math only when the next
//   character is not whitespace, and closes only when the previous character is not whitespace and
//   the next one is not a digit. `$$...$$`, `\(...\)` and `\[...\]` are math too, and `\$` is a
//   literal dollar. Nothing rewrites the source before parsing, so code spans and fences stay
//   byte-exact.
// * Math, highlighting and Mermaid are left as placeholders here; `enhance.ts` fills them in once
//   their (lazily loaded) libraries are available.
import MarkdownIt, { type StateBlock, type StateInline, type Token } from "markdown-it";
import DOMPurify from "dompurify";

const DOLLAR = 0x24;
const BACKSLASH = 0x5c;
const BACKTICK = 0x60;

function isWhitespace(ch: string | undefined): boolean {
  return ch === undefined || /\s/.test(ch);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

function pushMath(state: StateInline, content: string, display: boolean, markup: string): void {
  const token = state.push(display ? "math_inline_display" : "math_inline", "math", 0);
  token.content = content;
  token.markup = markup;
}

/** Find the closing `$` of inline math that opens at `start`, or -1 (Pandoc's rule). */
export function findDollarCloser(src: string, start: number, max: number): number {
  if (isWhitespace(src[start + 1])) return -1;
  for (let i = start + 1; i < max; i++) {
    const code = src.charCodeAt(i);
    if (code === BACKSLASH) {
      i++;
      continue;
    }
    // A code span wins over math: math never swallows a backtick.
    if (code === BACKTICK) return -1;
    if (code !== DOLLAR) continue;
    if (i === start + 1) return -1;
    if (!isWhitespace(src[i - 1]) && !isDigit(src[i + 1])) return i;
  }
  return -1;
}

function mathInlineRule(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const pos = state.pos;
  const max = state.posMax;
  const code = src.charCodeAt(pos);

  if (code === BACKSLASH) {
    const next = src[pos + 1];
    if (next !== "(" && next !== "[") return false;
    const closer = next === "(" ? "\\)" : "\\]";
    const end = src.indexOf(closer, pos + 2);
    if (end < 0 || end + 2 > max) return false;
    const content = src.slice(pos + 2, end);
    if (!content.trim()) return false;
    if (!silent) pushMath(state, content, next === "[", next === "(" ? "\\(" : "\\[");
    state.pos = end + 2;
    return true;
  }

  if (code !== DOLLAR) return false;

  if (src.charCodeAt(pos + 1) === DOLLAR) {
    const end = src.indexOf("$$", pos + 2);
    if (end < 0 || end + 2 > max || !src.slice(pos + 2, end).trim()) {
      // An unmatched `$$` is literal text; consume both so the second is not an opener.
      if (!silent) state.pending += "$$";
      state.pos = pos + 2;
      return true;
    }
    if (!silent) pushMath(state, src.slice(pos + 2, end), true, "$$");
    state.pos = end + 2;
    return true;
  }

  const end = findDollarCloser(src, pos, max);
  if (end < 0) return false;
  if (!silent) pushMath(state, src.slice(pos + 1, end), false, "$");
  state.pos = end + 1;
  return true;
}

// Display math on lines of its own: `$$ ... $$` or `\[ ... \]`, possibly over several lines.
function mathBlockRule(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  if (state.sCount[startLine] - state.blkIndent >= 4) return false;
  const start = state.bMarks[startLine] + state.tShift[startLine];
  const firstLine = state.src.slice(start, state.eMarks[startLine]);
  const opener = firstLine.slice(0, 2);
  if (opener !== "$$" && opener !== "\\[") return false;
  const closer = opener === "$$" ? "$$" : "\\]";

  const rest = firstLine.slice(2).trimEnd();
  let lastLine = -1;
  let body = "";
  if (rest.endsWith(closer) && rest.length >= 2) {
    const inner = rest.slice(0, -2);
    // `$$a$$ and $$b$$` on one line is inline content, not one block.
    if (inner.includes(closer) || !inner.trim()) return false;
    lastLine = startLine;
    body = inner;
  } else {
    if (rest.includes(closer)) return false;
    const lines = [rest];
    for (let line = startLine + 1; line < endLine; line++) {
      const text = state.src.slice(state.bMarks[line] + state.tShift[line], state.eMarks[line]).trimEnd();
      if (text.endsWith(closer)) {
        lines.push(text.slice(0, -2));
        lastLine = line;
        break;
      }
      if (text.includes(closer)) return false;
      lines.push(text);
    }
    // Unclosed (for example while streaming): leave it to the paragraph rule as plain text.
    if (lastLine < 0) return false;
    body = lines.join("\n");
  }
  if (!body.trim()) return false;
  if (silent) return true;

  const token = state.push("math_block", "math", 0);
  token.block = true;
  token.content = body;
  token.markup = opener;
  token.map = [startLine, lastLine + 1];
  state.line = lastLine + 1;
  return true;
}

const SAFE_SCHEMES = ["http:", "https:", "mailto:"];

/** Return whether a link target is http(s), mailto or a same-site relative path. */
export function isSafeUrl(url: string): boolean {
  const trimmed = url.trim();
  // Control characters and whitespace inside a scheme can hide `javascript:` from naive checks.
  const compact = trimmed.replace(/[\u0000-\u0020\u007f]+/g, "").toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(compact);
  if (scheme) return SAFE_SCHEMES.includes(scheme[1] + ":");
  if (compact.startsWith("//")) return false;
  return true;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Return whether a fence was closed in the source (markdown-it runs an unclosed fence to the end). */
export function isFenceClosed(token: Token, lines: string[]): boolean {
  if (!token.map) return false;
  const [first, end] = token.map;
  const last = end - 1;
  if (last <= first || last >= lines.length) return false;
  const text = lines[last].trim();
  const marker = token.markup;
  if (!marker || text.length < marker.length) return false;
  return [...text].every((ch) => ch === marker[0]);
}

export interface RenderOptions {
  /** Label of the copy button on code blocks. */
  copyLabel?: string;
}

type RenderEnv = {
  lines: string[];
  copyLabel: string;
  [key: string]: unknown;
};

function createParser() {
  const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
  md.validateLink = isSafeUrl;
  md.inline.ruler.before("escape", "math_inline", mathInlineRule);
  md.block.ruler.before("fence", "math_block", mathBlockRule, {
    alt: ["paragraph", "reference", "blockquote", "list"],
  });

  const mathSpan = (content: string, display: boolean) =>
    `<span class="md-math" data-display="${display}">${escapeHtml(content)}</span>`;
  md.renderer.rules.math_inline = (tokens, idx) => mathSpan(tokens[idx].content, false);
  md.renderer.rules.math_inline_display = (tokens, idx) => mathSpan(tokens[idx].content, true);
  md.renderer.rules.math_block = (tokens, idx) =>
    `<div class="md-math md-math-block" data-display="true">${escapeHtml(tokens[idx].content)}</div>\n`;

  md.renderer.rules.fence = (tokens, idx, _options, rawEnv) => {
    const env = rawEnv as RenderEnv;
    const token = tokens[idx];
    const language = token.info.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
    const safeLanguage = language.replace(/[^a-z0-9_+#-]/g, "");
    const codeClass = safeLanguage ? ` class="language-${safeLanguage}"` : "";
    const code = `<pre><code${codeClass}>${escapeHtml(token.content)}</code></pre>`;
    if (safeLanguage === "mermaid" && isFenceClosed(token, env.lines)) {
      return `<div class="md-mermaid">${code}</div>\n`;
    }
    return (
      `<div class="md-code"><div class="md-code-bar"><span class="md-code-lang">${escapeHtml(safeLanguage)}</span>` +
      `<button type="button" class="md-copy" data-copy="code">${escapeHtml(env.copyLabel)}</button></div>${code}</div>\n`
    );
  };
  return md;
}

const parser = createParser();

let hooksInstalled = false;

function installSanitizerHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName === "A") {
      const href = node.getAttribute("href");
      if (href === null || !isSafeUrl(href)) {
        node.removeAttribute("href");
        return;
      }
      if (/^(https?:)?\/\//i.test(href.trim())) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    }
    if (node.nodeName === "IMG") {
      const src = node.getAttribute("src") ?? "";
      if (!/^https?:\/\//i.test(src.trim()) && !src.startsWith("/")) node.removeAttribute("src");
    }
  });
}

/** Render Markdown to sanitised HTML with placeholders for math, code highlighting and Mermaid. */
export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  installSanitizerHooks();
  const env: RenderEnv = { lines: source.split("\n"), copyLabel: options.copyLabel ?? "Copy" };
  const html = parser.render(source, env);
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "iframe", "object", "embed", "script", "textarea", "select"],
    FORBID_ATTR: ["style"],
    ADD_ATTR: ["target"],
  });
}
