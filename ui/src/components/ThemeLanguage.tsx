import { useTranslation } from "react-i18next";
import { Monitor, Moon, Sun } from "lucide-react";
import { LANGUAGES } from "@/i18n";
import { useTheme, type Theme } from "@/lib/theme";
import { cn } from "@/lib/utils";

const THEMES: { value: Theme; icon: typeof Sun }[] = [
  { value: "light", icon: Sun },
  { value: "dark", icon: Moon },
  { value: "system", icon: Monitor },
];

export function ThemeSwitch() {
  const { t } = useTranslation();
  const { theme, setTheme } = useTheme();
  return (
    <div className="inline-flex rounded-md border border-border p-0.5" role="radiogroup" aria-label={t("settings.theme")}>
      {THEMES.map(({ value, icon: Icon }) => (
        <button
          key={value}
          type="button"
          role="radio"
          aria-checked={theme === value}
          aria-label={t(`theme.${value}`)}
          title={t(`theme.${value}`)}
          data-testid={`theme-${value}`}
          onClick={() => setTheme(value)}
          className={cn("rounded p-1.5", theme === value ? "bg-accent" : "opacity-60 hover:opacity-100")}
        >
          <Icon className="h-4 w-4" />
        </button>
      ))}
    </div>
  );
}

export function LanguageSelect({ className }: { className?: string }) {
  const { t, i18n } = useTranslation();
  return (
    <select
      aria-label={t("settings.language")}
      data-testid="language-select"
      className={cn("h-8 rounded-md border border-input bg-background px-2 text-sm", className)}
      value={i18n.language}
      onChange={(event) => void i18n.changeLanguage(event.target.value)}
    >
      {LANGUAGES.map((language) => (
        <option key={language.code} value={language.code}>
          {language.label}
        </option>
      ))}
    </select>
  );
}
