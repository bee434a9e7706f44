import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "@/api/client";
import type { ChatMessage } from "@/api/types";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Markdown } from "@/markdown/Markdown";
import { messageText } from "./MessageItem";
import { describeError } from "@/api/errors";

/** The earlier replies that regenerating replaced, newest first. */
export default function AlternativesDialog({ messageId, onClose }: { messageId: string; onClose: () => void }) {
  const { t } = useTranslation();
  const [items, setItems] = useState<ChatMessage[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<ChatMessage[]>(`/api/messages/${encodeURIComponent(messageId)}/alternatives`)
      .then(setItems)
      .catch((caught: unknown) => setError(describeError(caught)));
  }, [messageId]);

  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={t("message.alternatives")} className="max-w-2xl">
        {error && <p className="text-sm text-destructive">{error}</p>}
        {items === null && !error && <p className="text-sm text-muted-foreground">{t("common.loading")}</p>}
        {items?.length === 0 && <p className="text-sm text-muted-foreground">{t("message.noAlternatives")}</p>}
        <div className="grid gap-3" data-testid="alternatives">
          {items?.map((item, index) => (
            <div key={String(item.id)} className="rounded-md border border-border p-3 text-sm">
              <div className="mb-1 text-xs text-muted-foreground">{t("message.alternative", { number: index + 1 })}</div>
              <Markdown text={messageText(item)} />
            </div>
          ))}
        </div>
      </DialogContent>
    </Dialog>
  );
}
