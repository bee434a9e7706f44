// Chat Markdown rules: prices stay prices, math renders, code stays byte-exact, no live HTML.
import { beforeAll, describe, expect, it } from "vitest";
import * as katex from "katex";
import { renderMarkdown, isSafeUrl } from "./parser";
import { enhance, provideKatex } from "./enhance";

const R1 =
  "Plan A costs $5 and Plan B costs $10. Upgrade for $5-$10 per month. Only $59 (save $100). 价格是 $100 到 $200。";
const R2 =
  "Euler: $e^{i\\pi}+1=0$, also $1 + 1 = 2$ and $2$. 在表达式$\\lambda . 1$中，$1$是封闭的。\n\n" +
  "$$\\frac{a}{b}$$\n\nInline \\( x^2 \\) and display:\n\n\\[ \\int_0^1 x\\,dx \\]\n\nEscaped: \\$5.";
const R3 =
  '```python\nimport re\npat = re.compile(r"\\(\\d+\\)\\s*\\[x\\]")\nprint(f"cost: ${5}")\n```\n\n' +
  "```js\nconst re = /[.*+?^${}()|[\\]\\\\]/g;\n```\n\nInline code `export PATH=$HOME/bin:$PATH` stays.";
const R4 = "$$\\log p(x_n \\mid x_{<n}) = \\sum_i a_i \\\\[4pt] b$$";
const R5 = ["Here:\n\n```python\nprint(1)\n", '<img src=x onerror="window.__xss=1">\n', "```\n\nDone $x", "^2$."];
const R6 = "```mermaid\ngraph TD\nA-->\n```\n\nAfter diagram.\n\n```mermaid\ngraph TD\nA-->B\n```";

function render(source: string): HTMLElement {
  const root = document.createElement("div");
  root.innerHTML = renderMarkdown(source);
  enhance(root, { onUpdate: () => undefined, mermaidErrorLabel: "Diagram error" });
  return root;
}

function inlineKatex(root: HTMLElement): Element[] {
  return [...root.querySelectorAll(".katex")].filter((node) => !node.closest(".katex-display"));
}

beforeAll(() => {
  provideKatex(katex);
});

describe("dollar rule", () => {
  it("keeps prices as text", () => {
    const root = render(R1);
    expect(root.querySelectorAll(".katex")).toHaveLength(0);
    expect(root.textContent?.trim()).toBe(R1);
  });

  it("renders every formula of R2", () => {
    const root = render(R2);
    expect(root.querySelectorAll(".katex")).toHaveLength(8);
    expect(root.querySelectorAll(".katex-display")).toHaveLength(2);
    expect(inlineKatex(root)).toHaveLength(6);
    expect(root.querySelectorAll(".katex-error")).toHaveLength(0);
    const annotations = [...root.querySelectorAll('annotation[encoding="application/x-tex"]')].map((node) =>
      node.textContent?.trim(),
    );
    expect(annotations).toEqual([
      "e^{i\\pi}+1=0",
      "1 + 1 = 2",
      "2",
      "\\lambda . 1",
      "1",
      "\\frac{a}{b}",
      "x^2",
      "\\int_0^1 x\\,dx",
    ]);
    expect(root.textContent).toContain("Escaped: $5.");
  });

  it("keeps multi-line and multi-row display math", () => {
    const root = render(R4);
    expect(root.querySelectorAll(".katex-display")).toHaveLength(1);
    expect(root.querySelectorAll(".katex-error")).toHaveLength(0);
    const tex = root.querySelector('annotation[encoding="application/x-tex"]')?.textContent ?? "";
    expect(tex).toContain("x_{<n}");
    expect(tex).toContain("\\\\[4pt]");
  });

  it("follows Pandoc's opener and closer rules", () => {
    expect(render("a $ b$ c").querySelectorAll(".katex")).toHaveLength(0);
    expect(render("a $b $ c").querySelectorAll(".katex")).toHaveLength(0);
    expect(render("from $1$2 to").querySelectorAll(".katex")).toHaveLength(0);
    expect(render("see $x$.").querySelectorAll(".katex")).toHaveLength(1);
    expect(render("unmatched $$ stays").textContent).toContain("unmatched $$ stays");
  });
});

describe("code", () => {
  it("keeps fenced and inline code byte-exact", () => {
    const root = render(R3);
    const blocks = [...root.querySelectorAll("pre code")].map((node) => node.textContent);
    expect(blocks).toEqual([
      'import re\npat = re.compile(r"\\(\\d+\\)\\s*\\[x\\]")\nprint(f"cost: ${5}")\n',
      "const re = /[.*+?^${}()|[\\]\\\\]/g;\n",
    ]);
    const inline = [...root.querySelectorAll("p code")].map((node) => node.textContent);
    expect(inline).toEqual(["export PATH=$HOME/bin:$PATH"]);
    expect(root.querySelectorAll(".katex")).toHaveLength(0);
  });

  it("renders an open fence as code while streaming", () => {
    let text = "";
    const snapshots: HTMLElement[] = [];
    for (const chunk of R5) {
      text += chunk;
      snapshots.push(render(text));
    }
    for (const root of snapshots.slice(0, 2)) {
      expect(root.querySelector("pre > code")).not.toBeNull();
      expect(root.querySelector("img")).toBeNull();
    }
    expect(snapshots[1].querySelector("pre code")?.textContent).toContain('<img src=x onerror="window.__xss=1">');
    expect(snapshots[2].querySelectorAll(".katex, .katex-error")).toHaveLength(0);
    expect(snapshots[2].textContent).toContain("Done $x");
    const last = snapshots[3];
    expect(last.querySelectorAll(".katex")).toHaveLength(1);
    expect(last.textContent).toContain("Done");
    expect(last.querySelector("img")).toBeNull();
  });
});

describe("mermaid fences", () => {
  it("stay code until the fence closes", () => {
    const open = render("```mermaid\ngraph TD\nA-->B\n");
    expect(open.querySelector(".md-mermaid")).toBeNull();
    expect(open.querySelector("pre code")?.textContent).toBe("graph TD\nA-->B\n");
  });

  it("are marked for rendering once closed", () => {
    const root = document.createElement("div");
    root.innerHTML = renderMarkdown(R6);
    expect(root.querySelectorAll(".md-mermaid")).toHaveLength(2);
    expect(root.textContent).toContain("After diagram.");
  });

  it("stay code for a shorter closing marker", () => {
    const root = document.createElement("div");
    root.innerHTML = renderMarkdown("````mermaid\ngraph TD\n```\n");
    expect(root.querySelector(".md-mermaid")).toBeNull();
  });
});

describe("unsafe content", () => {
  const payloads = [
    "<img src=x onerror=\"window.__xss='p1'\">",
    "<svg onload=\"window.__xss='p2'\"><circle r=\"4\"/></svg>",
    "[a](javascript:window.__xss='p3') [b](JaVaScRiPt:window.__xss='p3b') " +
      "[c](&#106;avascript:window.__xss='p3c') [d]( javascript:window.__xss='p3d')",
    "<a href=\"javascript:window.__xss='p4'\">x</a> <a href=\"data:text/html,<script>alert(1)</script>\">y</a>",
    "<iframe srcdoc=\"<script>parent.__xss='p5'</script>\"></iframe><object data=\"javascript:window.__xss='p5b'\"></object>",
    '<style>body{display:none}</style><form action="https://evil.test"><input name=pw></form>',
    "$\\href{javascript:window.__xss='p8'}{x}$ and $\\htmlId{x}{y}$",
    "![i](javascript:window.__xss='p9')",
    "[ok](https://example.com/a) [rel](/share/abc) [mail](mailto:a@example.com)",
  ];

  it.each(payloads)("renders %s inert", (payload) => {
    const root = render(payload);
    expect(root.querySelectorAll("script, iframe, object, embed, style, form, input, svg, img")).toHaveLength(0);
    for (const element of root.querySelectorAll("*")) {
      for (const attribute of element.attributes) expect(attribute.name.startsWith("on")).toBe(false);
    }
    for (const link of root.querySelectorAll("a[href]")) {
      const href = link.getAttribute("href") ?? "";
      expect(/^(https?:|mailto:|\/)/.test(href)).toBe(true);
      if (href.startsWith("http")) {
        expect(link.getAttribute("rel")).toContain("noopener");
        expect(link.getAttribute("rel")).toContain("noreferrer");
      }
    }
  });

  it("keeps KaTeX from making links", () => {
    const root = render("$\\href{javascript:alert(1)}{x}$");
    expect(root.querySelector("a")).toBeNull();
  });

  it("classifies link schemes", () => {
    expect(isSafeUrl("https://example.com")).toBe(true);
    expect(isSafeUrl("/chat/1")).toBe(true);
    expect(isSafeUrl("mailto:a@b.c")).toBe(true);
    expect(isSafeUrl(" JaVaScRiPt:alert(1)")).toBe(false);
    expect(isSafeUrl("java\tscript:alert(1)")).toBe(false);
    expect(isSafeUrl("data:text/html,x")).toBe(false);
    expect(isSafeUrl("//evil.example")).toBe(false);
  });
});
