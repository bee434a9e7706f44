import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Markdown } from "@/markdown/Markdown";
import { cn } from "@/lib/utils";

type Mode = "edit" | "split" | "preview";

/** A full-screen editor for long input, with edit, split and preview modes. */
export default function FullscreenEditor({
  value,
  onChange,
  onClose,
  onSend,
}: {
  value: string;
  onChange: (value: string) => void;
  onClose: () => void;
  onSend: (text: string) => void;
}) {
  const { t } = useTranslation();
  const [mode, setMode] = useState<Mode>("edit");
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={t("composer.fullscreen")} className="h-[90vh] max-w-5xl grid-rows-[auto_auto_1fr_auto]">
        <div className="flex gap-1" role="tablist">
          {(["edit", "split", "preview"] as const).map((item) => (
            <Button key={item} size="sm" role="tab" aria-selected={mode === item} variant={mode === item ? "secondary" : "ghost"} onClick={() => setMode(item)}>
              {t(`editor.${item}`)}
            </Button>
          ))}
        </div>
        <div className={cn("grid min-h-0 gap-3", mode === "split" && "md:grid-cols-2")}>
          {mode !== "preview" && (
            <textarea
              aria-label={t("composer.placeholder")}
              className="h-full min-h-40 w-full resize-none rounded-md border border-input bg-background p-3 font-mono text-sm outline-none"
              value={value}
              onChange={(event) => onChange(event.target.value)}
            />
          )}
          {mode !== "edit" && (
            <div className="min-h-40 overflow-auto rounded-md border border-border p-3">
              <Markdown text={value} />
            </div>
          )}
        </div>
        <div className="flex justify-end gap-2">
          <Button variant="outline" onClick={onClose}>
            {t("common.close")}
          </Button>
          <Button onClick={() => onSend(value)} disabled={!value.trim()}>
            {t("composer.send")}
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}
