import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { setToken } from "@/api/client";
import { auth } from "@/api/endpoints";
import { Button } from "@/components/ui/button";
import { Alert, Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { LanguageSelect, ThemeSwitch } from "@/components/ThemeLanguage";
import { useAuth } from "@/lib/auth";
import { resetPreferences, setPreferences, usePreferences, type Preferences } from "@/lib/prefs";
import { PageShell } from "./Account";
import { describeError } from "@/api/errors";

type NumberKey = {
  [K in keyof Preferences]: Preferences[K] extends number ? K : never;
}[keyof Preferences];

const NUMBER_FIELDS: { key: NumberKey; min: number; max: number; step: number }[] = [
  { key: "contextLength", min: 0, max: 100, step: 1 },
  { key: "maxTokens", min: 1, max: 200000, step: 1 },
  { key: "temperature", min: 0, max: 2, step: 0.1 },
  { key: "topP", min: 0, max: 1, step: 0.05 },
  { key: "topK", min: 0, max: 100, step: 1 },
  { key: "presencePenalty", min: -2, max: 2, step: 0.1 },
  { key: "frequencyPenalty", min: -2, max: 2, step: 0.1 },
];

function PasswordForm() {
  const { t } = useTranslation();
  const { refresh } = useAuth();
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    if (form.get("new") !== form.get("confirm")) {
      setMessage({ ok: false, text: t("auth.passwordMismatch") });
      return;
    }
    try {
      // A password change revokes older tokens; the response carries a new one.
      const result = await auth.changePassword(String(form.get("old")), String(form.get("new")));
      if (result?.token) setToken(result.token);
      setMessage({ ok: true, text: t("settings.passwordChanged") });
      formElement.reset();
      await refresh();
    } catch (caught) {
      setMessage({ ok: false, text: describeError(caught) });
    }
  };
  return (
    <Card id="password">
      <CardHeader>
        <CardTitle>{t("settings.password")}</CardTitle>
      </CardHeader>
      <CardContent>
        <form className="grid gap-3" onSubmit={submit}>
          <Label htmlFor="old">{t("settings.oldPassword")}</Label>
          <Input id="old" name="old" type="password" autoComplete="current-password" required />
          <Label htmlFor="new">{t("settings.newPassword")}</Label>
          <Input id="new" name="new" type="password" autoComplete="new-password" minLength={6} required />
          <Label htmlFor="confirm">{t("auth.confirmPassword")}</Label>
          <Input id="confirm" name="confirm" type="password" autoComplete="new-password" required />
          {message && <Alert className={message.ok ? "" : "border-destructive/50 text-destructive"}>{message.text}</Alert>}
          <Button type="submit">{t("settings.changePassword")}</Button>
        </form>
      </CardContent>
    </Card>
  );
}

export default function SettingsPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  const prefs = usePreferences();
  return (
    <PageShell title={t("settings.title")}>
      <Card>
        <CardHeader>
          <CardTitle>{t("settings.appearance")}</CardTitle>
        </CardHeader>
        <CardContent className="grid gap-3">
          <div className="flex items-center justify-between gap-2">
            <span className="text-sm">{t("settings.theme")}</span>
            <ThemeSwitch />
          </div>
          <div className="flex items-center justify-between gap-2">
            <span className="text-sm">{t("settings.language")}</span>
            <LanguageSelect />
          </div>
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>{t("settings.chat")}</CardTitle>
        </CardHeader>
        <CardContent className="grid gap-3">
          <div className="flex items-center justify-between gap-2">
            <Label htmlFor="send-key">{t("settings.sendKey")}</Label>
            <select
              id="send-key"
              data-testid="send-key-select"
              className="h-8 rounded-md border border-input bg-background px-2 text-sm"
              value={prefs.sendKey}
              onChange={(event) => setPreferences({ sendKey: event.target.value as Preferences["sendKey"] })}
            >
              <option value="enter">{t("settings.sendEnter")}</option>
              <option value="ctrl-enter">{t("settings.sendCtrlEnter")}</option>
            </select>
          </div>
          {NUMBER_FIELDS.map(({ key, min, max, step }) => (
            <div key={key} className="flex items-center justify-between gap-2">
              <Label htmlFor={key}>{t(`settings.${key}`)}</Label>
              <Input
                id={key}
                type="number"
                className="w-28"
                min={min}
                max={max}
                step={step}
                value={prefs[key]}
                onChange={(event) => {
                  const value = Number(event.target.value);
                  if (Number.isFinite(value)) setPreferences({ [key]: Math.min(max, Math.max(min, value)) });
                }}
              />
            </div>
          ))}
          <div>
            <Button variant="outline" onClick={resetPreferences}>
              {t("settings.reset")}
            </Button>
          </div>
        </CardContent>
      </Card>
      {user && <PasswordForm />}
    </PageShell>
  );
}
