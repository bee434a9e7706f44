import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./locales/en.json";
import zhCN from "./locales/zh-CN.json";

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "zh-CN", label: "简体中文" },
] as const;

export type LanguageCode = (typeof LANGUAGES)[number]["code"];

function initialLanguage(): LanguageCode {
  try {
    const stored = localStorage.getItem("language");
    if (stored === "en" || stored === "zh-CN") return stored;
  } catch {
    // Storage unavailable: fall back to the browser language.
  }
  return typeof navigator !== "undefined" && navigator.language?.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, "zh-CN": { translation: zhCN } },
  lng: initialLanguage(),
  fallbackLng: "en",
  interpolation: { escapeValue: false },
  returnNull: false,
});

i18n.on("languageChanged", (language) => {
  document.documentElement.lang = language;
  try {
    localStorage.setItem("language", language);
  } catch {
    // Ignore: the choice then lasts for this page only.
  }
});
if (typeof document !== "undefined") document.documentElement.lang = i18n.language;

export default i18n;
