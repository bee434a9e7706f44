// Fail the build when the JavaScript that index.html loads first is over 500 KB gzip.
// Lazily imported chunks (KaTeX, highlight.js, Mermaid) are not counted.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { resolve } from "node:path";

const LIMIT = 500 * 1024;
const dist = resolve(import.meta.dirname, "../dist");
const html = readFileSync(resolve(dist, "index.html"), "utf8");
const scripts = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="([^"]+\.js)"/g)].map(
  (match) => match[1],
);
let total = 0;
for (const path of new Set(scripts)) {
  const size = gzipSync(readFileSync(resolve(dist, "." + path))).length;
  total += size;
  console.log(`initial JS ${path}: ${(size / 1024).toFixed(1)} KB gzip`);
}
console.log(`initial JS total: ${(total / 1024).toFixed(1)} KB gzip (limit ${LIMIT / 1024} KB)`);
if (total > LIMIT) {
  console.error("The initial JavaScript is over the limit; load heavy modules with import().");
  process.exit(1);
}
