import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { shares } from "@/api/endpoints";
import type { ChatMessage } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Markdown } from "@/markdown/Markdown";
import { messageText } from "./MessageItem";
import { describeError } from "@/api/errors";

/** Create a share of the selected messages, then offer the link, a copy button and an image. */
export default function ShareDialog({
  conversationId,
  messages,
  onClose,
}: {
  conversationId: string;
  messages: ChatMessage[];
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const snapshot = useRef<HTMLDivElement>(null);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    shares
      .create(
        conversationId,
        messages.map((message) => message.id),
      )
      .then((share) => setLink(`${window.location.origin}/share/${share.id}`))
      .catch((caught: unknown) => setError(describeError(caught)));
  }, [conversationId, messages]);

  const copy = async () => {
    if (!link) return;
    await navigator.clipboard?.writeText(link);
    setCopied(true);
  };

  const saveImage = async () => {
    if (!snapshot.current) return;
    const { toPng } = await import("html-to-image");
    const background = getComputedStyle(document.body).backgroundColor;
    const url = await toPng(snapshot.current, { backgroundColor: background, pixelRatio: 2 });
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = "conversation.png";
    anchor.click();
  };

  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={t("share.title")} description={t("share.description", { count: messages.length })}>
        {error && <p className="text-sm text-destructive">{error}</p>}
        {!link && !error && <p className="text-sm text-muted-foreground">{t("common.loading")}</p>}
        {link && (
          <div className="flex gap-2">
            <Input readOnly value={link} data-testid="share-link" aria-label={t("share.link")} />
            <Button onClick={() => void copy()}>{copied ? t("common.copied") : t("common.copy")}</Button>
          </div>
        )}
        <div className="max-h-64 overflow-y-auto rounded-md border border-border">
          <div ref={snapshot} className="space-y-3 bg-background p-3">
            {messages.map((message) => (
              <div key={String(message.id)} className="text-sm">
                <div className="mb-1 text-xs font-medium text-muted-foreground">{t(`roles.${message.role}`)}</div>
                {message.role === "user" ? (
                  <div className="whitespace-pre-wrap">{messageText(message)}</div>
                ) : (
                  <Markdown text={messageText(message)} />
                )}
              </div>
            ))}
          </div>
        </div>
        <Button variant="outline" onClick={() => void saveImage()}>
          {t("share.image")}
        </Button>
      </DialogContent>
    </Dialog>
  );
}
