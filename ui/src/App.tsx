import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { useTranslation } from "react-i18next";
import { AuthProvider, useAuth } from "@/lib/auth";
import { ThemeProvider } from "@/lib/theme";
import { useDocumentTitle } from "@/lib/site";
import { Layout } from "@/components/Layout";
import { LoginPage, RegisterPage } from "@/pages/Auth";
import { ChatPage } from "@/pages/Chat";

const SharePage = lazy(() => import("@/pages/Share"));
const AccountPages = lazy(() => import("@/pages/Account"));
const PresetsPage = lazy(() => import("@/pages/Presets"));
const MarketPage = lazy(() => import("@/pages/Market"));
const SettingsPage = lazy(() => import("@/pages/Settings"));

function Loading() {
  const { t } = useTranslation();
  return <div className="p-6 text-sm text-muted-foreground">{t("common.loading")}</div>;
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { user, loading } = useAuth();
  const location = useLocation();
  if (loading) return <Loading />;
  if (!user) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname)}`} replace />;
  return <>{children}</>;
}

function DocumentTitle() {
  useDocumentTitle();
  return null;
}

export function App() {
  return (
    <ThemeProvider>
      <DocumentTitle />
      <AuthProvider>
        <BrowserRouter>
          <Suspense fallback={<Loading />}>
            <Routes>
              <Route path="/login" element={<LoginPage />} />
              <Route path="/register" element={<RegisterPage />} />
              <Route path="/share/:id" element={<SharePage />} />
              <Route element={<Layout />}>
                <Route path="/" element={<ChatPage />} />
                <Route path="/chat/:id" element={<ChatPage />} />
                <Route path="/market" element={<MarketPage />} />
                <Route path="/presets" element={<RequireAuth><PresetsPage /></RequireAuth>} />
                <Route path="/settings" element={<SettingsPage />} />
                <Route path="/account/*" element={<RequireAuth><AccountPages /></RequireAuth>} />
                <Route path="*" element={<Navigate to="/" replace />} />
              </Route>
            </Routes>
          </Suspense>
        </BrowserRouter>
      </AuthProvider>
    </ThemeProvider>
  );
}
