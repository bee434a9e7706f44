import { useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { useTranslation } from "react-i18next";
import { auth } from "@/api/endpoints";
import type { SiteInfo } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Alert, Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { LanguageSelect, ThemeSwitch } from "@/components/ThemeLanguage";
import { useAuth } from "@/lib/auth";
import { useSite } from "@/lib/site";
import { SiteBrand } from "@/components/SiteBrand";
import { describeError } from "@/api/errors";

function AuthShell({ title, description, children }: { title: string; description: string; children: ReactNode }) {
  return (
    <div className="flex min-h-full flex-col items-center justify-center gap-4 p-4">
      <SiteBrand className="text-xl font-semibold" />
      <div className="flex items-center gap-2">
        <ThemeSwitch />
        <LanguageSelect />
      </div>
      <Card className="w-full max-w-sm">
        <CardHeader>
          <CardTitle>{title}</CardTitle>
          <CardDescription>{description}</CardDescription>
        </CardHeader>
        <CardContent>{children}</CardContent>
      </Card>
    </div>
  );
}

function Field({ id, label, ...props }: { id: string; label: string } & React.InputHTMLAttributes<HTMLInputElement>) {
  return (
    <div className="grid gap-1.5">
      <Label htmlFor={id}>{label}</Label>
      <Input id={id} name={id} required {...props} />
    </div>
  );
}

function useNextPath(): string {
  const [params] = useSearchParams();
  const next = params.get("next") ?? "/";
  // Only same-site paths: "//host" or "https://..." would leave the site.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function LoginPage() {
  const { t } = useTranslation();
  const site = useSite();
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const next = useNextPath();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const result = await auth.login(String(form.get("username")), String(form.get("password")));
      signIn(result.token, result.user);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthShell title={t("auth.signInTitle")} description={t("auth.signInDescription")}>
      <form className="grid gap-4" onSubmit={submit}>
        <Field id="username" label={t("auth.username")} autoComplete="username" />
        <Field id="password" label={t("auth.password")} type="password" autoComplete="current-password" />
        {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
        <Button type="submit" disabled={busy} data-testid="login-submit">
          {t("auth.signIn")}
        </Button>
        {!site?.registration_closed && (
          <p className="text-center text-sm text-muted-foreground">
            {t("auth.noAccount")}{" "}
            <Link className="underline" to={`/register?next=${encodeURIComponent(next)}`}>
              {t("auth.register")}
            </Link>
          </p>
        )}
      </form>
    </AuthShell>
  );
}

export function RegisterPage() {
  const { t } = useTranslation();
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const next = useNextPath();
  const info: Partial<SiteInfo> = useSite() ?? {};
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [email, setEmail] = useState("");

  const sendCode = async () => {
    setError(null);
    try {
      await auth.emailCode(email, "register");
      setNotice(t("auth.codeSent"));
    } catch (caught) {
      setError(describeError(caught));
    }
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    if (form.get("password") !== form.get("confirm")) {
      setError(t("auth.passwordMismatch"));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const result = await auth.register({
        username: String(form.get("username")),
        password: String(form.get("password")),
        email: email || undefined,
        code: form.get("code") ? String(form.get("code")) : undefined,
      });
      signIn(result.token, result.user);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  if (info.registration_closed) {
    return (
      <AuthShell title={t("auth.registerTitle")} description={t("auth.registrationClosed")}>
        <Link className="underline" to="/login">
          {t("auth.signIn")}
        </Link>
      </AuthShell>
    );
  }

  return (
    <AuthShell title={t("auth.registerTitle")} description={t("auth.registerDescription")}>
      <form className="grid gap-4" onSubmit={submit}>
        <Field id="username" label={t("auth.username")} autoComplete="username" minLength={2} maxLength={24} />
        <div className="grid gap-1.5">
          <Label htmlFor="email">{t("auth.email")}</Label>
          <Input
            id="email"
            type="email"
            autoComplete="email"
            required={Boolean(info.email_verification_required)}
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </div>
        {info.email_verification_required && (
          <div className="flex items-end gap-2">
            <div className="flex-1">
              <Field id="code" label={t("auth.code")} inputMode="numeric" autoComplete="one-time-code" />
            </div>
            <Button variant="outline" onClick={() => void sendCode()} disabled={!email}>
              {t("auth.sendCode")}
            </Button>
          </div>
        )}
        <Field id="password" label={t("auth.password")} type="password" autoComplete="new-password" minLength={6} />
        <Field id="confirm" label={t("auth.confirmPassword")} type="password" autoComplete="new-password" />
        {notice && <Alert>{notice}</Alert>}
        {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
        <Button type="submit" disabled={busy} data-testid="register-submit">
          {t("auth.register")}
        </Button>
        <p className="text-center text-sm text-muted-foreground">
          {t("auth.haveAccount")}{" "}
          <Link className="underline" to={`/login?next=${encodeURIComponent(next)}`}>
            {t("auth.signIn")}
          </Link>
        </p>
      </form>
    </AuthShell>
  );
}
