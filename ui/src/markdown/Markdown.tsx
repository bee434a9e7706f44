import { memo, useLayoutEffect, useMemo, useReducer, useRef } from "react";
import { useTranslation } from "react-i18next";
import { cn } from "@/lib/utils";
import { renderMarkdown } from "./parser";
import { enhance } from "./enhance";

interface MarkdownProps {
  text: string;
  className?: string;
}

/** Rendered Markdown of a message; re-renders only when its text changes. */
export const Markdown = memo(function Markdown({ text, className }: MarkdownProps) {
  const { t } = useTranslation();
  const ref = useRef<HTMLDivElement>(null);
  const [revision, bump] = useReducer((value: number) => value + 1, 0);
  const copyLabel = t("markdown.copy");
  const html = useMemo(() => renderMarkdown(text, { copyLabel }), [text, copyLabel]);

  useLayoutEffect(() => {
    const root = ref.current;
    if (!root) return;
    root.innerHTML = html;
    enhance(root, { onUpdate: bump, mermaidErrorLabel: t("markdown.diagramError") });
  }, [html, revision, t]);

  const onClick = (event: React.MouseEvent<HTMLDivElement>) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-copy]");
    if (!button) return;
    const code = button.closest(".md-code")?.querySelector("pre code")?.textContent ?? "";
    void navigator.clipboard?.writeText(code).then(() => {
      button.textContent = t("markdown.copied");
      setTimeout(() => (button.textContent = copyLabel), 1500);
    });
  };

  return <div ref={ref} className={cn("markdown", className)} data-testid="message-content" onClick={onClick} />;
});
