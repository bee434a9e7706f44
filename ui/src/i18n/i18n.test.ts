// Every translation key exists in both languages, and every key the code uses exists.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import en from "./locales/en.json";
import zhCN from "./locales/zh-CN.json";

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ""): Map<string, string> {
  const result = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string") result.set(path, value);
    else for (const [inner, text] of flatten(value, path)) result.set(inner, text);
  }
  return result;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith(".test.ts") ? [path] : [];
  });
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{\{(\w+)\}\}/g)].map((match) => match[1]).sort();
}

const enKeys = flatten(en as Tree);
const zhKeys = flatten(zhCN as Tree);
const srcDir = join(import.meta.dirname, "..");

// Keys built at run time from a fixed set of values.
const DYNAMIC_KEYS = [
  ...["light", "dark", "system"].map((value) => `theme.${value}`),
  ...["edit", "split", "preview"].map((value) => `editor.${value}`),
  ...["user", "assistant", "system"].map((value) => `roles.${value}`),
  "composer.placeholderEnter",
  "composer.placeholderCtrlEnter",
  ...["contextLength", "maxTokens", "temperature", "topP", "topK", "presencePenalty", "frequencyPenalty"].map(
    (value) => `settings.${value}`,
  ),
];

describe("translations", () => {
  it("zh-CN has every en key", () => {
    const missing = [...enKeys.keys()].filter((key) => !zhKeys.has(key));
    expect(missing).toEqual([]);
  });

  it("en has every zh-CN key", () => {
    const missing = [...zhKeys.keys()].filter((key) => !enKeys.has(key));
    expect(missing).toEqual([]);
  });

  it("no translation is empty", () => {
    const empty = [...enKeys, ...zhKeys].filter(([, text]) => !text.trim()).map(([key]) => key);
    expect(empty).toEqual([]);
  });

  it("placeholders match between languages", () => {
    const different = [...enKeys.keys()].filter(
      (key) => zhKeys.has(key) && placeholders(enKeys.get(key)!).join() !== placeholders(zhKeys.get(key)!).join(),
    );
    expect(different).toEqual([]);
  });

  it("every key used in the code exists", () => {
    const used = new Set<string>(DYNAMIC_KEYS);
    for (const file of sourceFiles(srcDir)) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/\bt\(\s*"([\w.]+)"/g)) used.add(match[1]);
      for (const match of text.matchAll(/"((?:nav|levels|errors)\.\w+)"/g)) used.add(match[1]);
    }
    const missing = [...used].filter((key) => !enKeys.has(key) || !zhKeys.has(key));
    expect(missing).toEqual([]);
  });
});
