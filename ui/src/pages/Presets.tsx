import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { useTranslation } from "react-i18next";
import { itemsOf, presets } from "@/api/endpoints";
import type { Preset, PresetCreate } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Alert, Badge, Card } from "@/components/ui/card";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Input, Label, Textarea } from "@/components/ui/input";
import { PageShell } from "./Account";
import { describeError } from "@/api/errors";

type Draft = PresetCreate & { id?: Preset["id"] };

function PresetEditor({ draft, onClose, onSaved }: { draft: Draft; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const [value, setValue] = useState(draft);
  const [error, setError] = useState<string | null>(null);
  const system = String(value.context?.find((message) => message.role === "system")?.content ?? "");

  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const { id, ...fields } = value;
      const body = { ...fields, context: system ? [{ role: "system", content: system }] : [] };
      if (id !== undefined) await presets.update(id, body);
      else await presets.create(body);
      onSaved();
    } catch (caught) {
      setError(describeError(caught));
    }
  };

  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title={value.id !== undefined ? t("presets.edit") : t("presets.create")}>
        <form className="grid gap-3" onSubmit={save}>
          <div className="grid gap-1.5">
            <Label htmlFor="preset-name">{t("presets.name")}</Label>
            <Input id="preset-name" required value={value.name} onChange={(event) => setValue({ ...value, name: event.target.value })} />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="preset-avatar">{t("presets.avatar")}</Label>
            <Input id="preset-avatar" value={value.avatar ?? ""} onChange={(event) => setValue({ ...value, avatar: event.target.value })} />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="preset-description">{t("presets.description")}</Label>
            <Input
              id="preset-description"
              value={value.description ?? ""}
              onChange={(event) => setValue({ ...value, description: event.target.value })}
            />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="preset-system">{t("presets.system")}</Label>
            <Textarea
              id="preset-system"
              rows={5}
              value={system}
              onChange={(event) => setValue({ ...value, context: [{ role: "system", content: event.target.value }] })}
            />
          </div>
          {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
          <Button type="submit">{t("common.save")}</Button>
        </form>
      </DialogContent>
    </Dialog>
  );
}

/** Avatars are emoji or http(s) image URLs; anything else shows as text. */
function Avatar({ value }: { value?: string }) {
  if (value && /^https?:\/\//i.test(value)) return <img src={value} alt="" className="h-10 w-10 rounded-md object-cover" />;
  return <span className="flex h-10 w-10 items-center justify-center rounded-md bg-muted text-xl">{value || "🤖"}</span>;
}

export default function PresetsPage() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const [items, setItems] = useState<Preset[]>([]);
  const [editing, setEditing] = useState<Draft | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(() => {
    presets
      .list(i18n.language)
      .then((value) => setItems(itemsOf<Preset>(value)))
      .catch((caught: unknown) => setError(describeError(caught)));
  }, [i18n.language]);
  useEffect(reload, [reload]);

  // Built-in presets are cloned first: a conversation starts from one of the user's own presets.
  const startChat = async (preset: Preset) => {
    try {
      const own = preset.builtin ? await presets.clone(preset.id, i18n.language) : preset;
      navigate(`/?preset=${encodeURIComponent(String(own.id))}`);
    } catch (caught) {
      setError(describeError(caught));
    }
  };

  const act = (action: () => Promise<unknown>) =>
    void action()
      .then(reload)
      .catch((caught: unknown) => setError(describeError(caught)));

  return (
    <PageShell title={t("presets.title")}>
      <div>
        <Button onClick={() => setEditing({ name: "", avatar: "", description: "", context: [], model: null })}>{t("presets.create")}</Button>
      </div>
      {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
      <div className="grid gap-3 sm:grid-cols-2">
        {items.map((preset) => (
          <Card key={preset.id} className="flex flex-col gap-2 p-4">
            <div className="flex items-center gap-3">
              <Avatar value={preset.avatar} />
              <div className="min-w-0 flex-1">
                <div className="truncate font-medium">{preset.name}</div>
                {preset.builtin && <Badge>{t("presets.builtin")}</Badge>}
              </div>
            </div>
            {preset.description && <p className="text-sm text-muted-foreground">{preset.description}</p>}
            <div className="flex flex-wrap gap-2">
              <Button size="sm" onClick={() => void startChat(preset)}>
                {t("presets.use")}
              </Button>
              <Button size="sm" variant="outline" onClick={() => act(() => presets.clone(preset.id, i18n.language))}>
                {t("presets.clone")}
              </Button>
              {!preset.builtin && (
                <>
                  <Button size="sm" variant="outline" onClick={() => setEditing(preset)}>
                    {t("presets.edit")}
                  </Button>
                  <Button
                    size="sm"
                    variant="destructive"
                    onClick={() => window.confirm(t("presets.confirmDelete")) && act(() => presets.remove(preset.id))}
                  >
                    {t("common.delete")}
                  </Button>
                </>
              )}
            </div>
          </Card>
        ))}
      </div>
      {items.length === 0 && !error && <p className="text-sm text-muted-foreground">{t("presets.empty")}</p>}
      {editing && (
        <PresetEditor
          draft={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
        />
      )}
    </PageShell>
  );
}
