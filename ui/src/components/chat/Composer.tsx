import { lazy, Suspense, useRef, useState, type ClipboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { Globe, Maximize2, Paperclip, Send, Square, X } from "lucide-react";
import type { UploadedFile } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { setPreferences, usePreferences } from "@/lib/prefs";
import { uploadFile } from "@/lib/upload";
import { useSubmitKey } from "@/lib/useSubmitKey";
import { cn } from "@/lib/utils";
import { ModelPicker } from "./ModelPicker";

const FullscreenEditor = lazy(() => import("./FullscreenEditor"));

export interface Attachment {
  key: string;
  name: string;
  progress: number;
  file?: UploadedFile;
  /** Images are sent inline as data: URLs for vision models, not uploaded. */
  image?: string;
  error?: string;
}

const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const INLINE_IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

interface ComposerProps {
  value: string;
  onChange: (value: string) => void;
  /** Returns false when the message was not sent, so the attachments stay. */
  onSend: (text: string, files: UploadedFile[], images: string[]) => boolean;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
}

export function Composer({ value, onChange, onSend, onStop, streaming, disabled }: ComposerProps) {
  const { t } = useTranslation();
  const prefs = usePreferences();
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const [preview, setPreview] = useState<Attachment | null>(null);
  const [fullscreen, setFullscreen] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  const uploading = attachments.some((item) => !item.file && !item.image && !item.error);

  const submit = (text: string) => {
    if (streaming || uploading || disabled) return;
    const files = attachments.flatMap((item) => (item.file ? [item.file] : []));
    const images = attachments.flatMap((item) => (item.image ? [item.image] : []));
    if (!text.trim() && files.length === 0 && images.length === 0) return;
    if (onSend(text, files, images)) setAttachments([]);
  };
  const keys = useSubmitKey(submit, prefs.sendKey);

  const addFiles = (files: Iterable<File>) => {
    for (const file of files) {
      const key = `${Date.now()}-${Math.random()}`;
      setAttachments((items) => [...items, { key, name: file.name, progress: 0 }]);
      const patch = (change: Partial<Attachment>) =>
        setAttachments((items) => items.map((item) => (item.key === key ? { ...item, ...change } : item)));
      // Raster images go inline to vision models; anything else (SVG too) is uploaded and parsed.
      if (INLINE_IMAGE_TYPES.includes(file.type)) {
        if (file.size > MAX_IMAGE_BYTES) {
          patch({ error: t("composer.imageTooLarge", { size: MAX_IMAGE_BYTES / 1024 / 1024 }) });
          continue;
        }
        readDataUrl(file)
          .then((image) => patch({ image, progress: 1 }))
          .catch((error: unknown) => patch({ error: String(error) }));
        continue;
      }
      uploadFile(file, (progress) => patch({ progress }))
        .then((uploaded) => patch({ file: uploaded, progress: 1 }))
        .catch((error: { status?: number; message?: string }) =>
          patch({ error: error.status === 0 ? t("errors.network") : (error.message ?? String(error)) }),
        );
    }
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const images = [...event.clipboardData.files].filter((file) => INLINE_IMAGE_TYPES.includes(file.type));
    if (images.length === 0) return;
    event.preventDefault();
    addFiles(images);
  };

  return (
    <div className="mx-auto w-full max-w-3xl px-3 pb-3">
      {attachments.length > 0 && (
        <div className="mb-2 flex flex-wrap gap-2">
          {attachments.map((item) => (
            <div
              key={item.key}
              data-testid="attachment-chip"
              className={cn(
                "flex max-w-60 items-center gap-1 rounded-md border border-border px-2 py-1 text-xs",
                item.error && "border-destructive text-destructive",
              )}
            >
              {item.image && <img src={item.image} alt="" className="h-6 w-6 rounded object-cover" />}
              <button type="button" className="min-w-0 truncate" title={item.error ?? item.name} onClick={() => setPreview(item)}>
                {item.name}
              </button>
              {!item.file && !item.image && !item.error && <span className="tabular-nums">{Math.round(item.progress * 100)}%</span>}
              <button
                type="button"
                aria-label={t("composer.removeAttachment")}
                onClick={() => setAttachments((items) => items.filter((other) => other.key !== item.key))}
              >
                <X className="h-3 w-3" />
              </button>
            </div>
          ))}
        </div>
      )}
      <div className="rounded-xl border border-border bg-background shadow-sm focus-within:ring-2 focus-within:ring-ring">
        <textarea
          data-testid="composer"
          aria-label={t("composer.placeholder")}
          placeholder={t(prefs.sendKey === "enter" ? "composer.placeholderEnter" : "composer.placeholderCtrlEnter")}
          className="block max-h-60 min-h-14 w-full resize-none bg-transparent px-3 py-3 text-sm outline-none"
          rows={2}
          value={value}
          disabled={disabled}
          onChange={(event) => onChange(event.target.value)}
          onPaste={onPaste}
          {...keys}
        />
        <div className="flex items-center gap-1 px-2 pb-2">
          <input
            ref={fileInput}
            type="file"
            multiple
            hidden
            data-testid="file-input"
            onChange={(event) => {
              if (event.target.files) addFiles(event.target.files);
              event.target.value = "";
            }}
          />
          <Button variant="ghost" size="icon" aria-label={t("composer.attach")} title={t("composer.attach")} onClick={() => fileInput.current?.click()}>
            <Paperclip className="h-4 w-4" />
          </Button>
          <Button
            variant={prefs.search ? "secondary" : "ghost"}
            size="sm"
            aria-pressed={prefs.search}
            data-testid="search-toggle"
            onClick={() => setPreferences({ search: !prefs.search })}
          >
            <Globe className="h-4 w-4" /> <span className="hidden sm:inline">{t("composer.search")}</span>
          </Button>
          <Button variant="ghost" size="icon" aria-label={t("composer.fullscreen")} title={t("composer.fullscreen")} onClick={() => setFullscreen(true)}>
            <Maximize2 className="h-4 w-4" />
          </Button>
          <div className="min-w-0 flex-1">
            <ModelPicker />
          </div>
          {streaming ? (
            <Button size="icon" variant="secondary" aria-label={t("composer.stop")} data-testid="stop-button" onClick={onStop}>
              <Square className="h-4 w-4" />
            </Button>
          ) : (
            <Button
              size="icon"
              aria-label={t("composer.send")}
              data-testid="send-button"
              disabled={disabled || uploading || (!value.trim() && attachments.length === 0)}
              onClick={() => submit(value)}
            >
              <Send className="h-4 w-4" />
            </Button>
          )}
        </div>
      </div>
      <Dialog open={preview !== null} onOpenChange={(open) => !open && setPreview(null)}>
        <DialogContent title={preview?.name ?? ""} className="max-w-2xl">
          {preview?.error && <p className="text-sm text-destructive">{preview.error}</p>}
          {preview?.file?.warnings.map((warning) => (
            <p key={warning} className="text-sm text-amber-600">
              {warning}
            </p>
          ))}
          {preview?.image && <img src={preview.image} alt={preview.name} className="max-h-[60vh] rounded-md object-contain" />}
          {preview?.file?.text_preview ? (
            <pre className="max-h-[60vh] overflow-auto whitespace-pre-wrap rounded-md bg-muted p-3 text-xs" data-testid="file-preview">
              {preview.file.text_preview}
            </pre>
          ) : (
            !preview?.error && !preview?.image && <p className="text-sm text-muted-foreground">{t("composer.noPreview")}</p>
          )}
        </DialogContent>
      </Dialog>
      {fullscreen && (
        <Suspense fallback={null}>
          <FullscreenEditor
            value={value}
            onChange={onChange}
            onClose={() => setFullscreen(false)}
            onSend={(text) => {
              setFullscreen(false);
              submit(text);
            }}
          />
        </Suspense>
      )}
    </div>
  );
}
