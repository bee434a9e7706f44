import { useEffect, useState } from "react";
import { Link, Outlet, useLocation } from "react-router-dom";
import { useTranslation } from "react-i18next";
import * as DialogPrimitive from "@radix-ui/react-dialog";
import { Menu } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { useAuth } from "@/lib/auth";
import { Sidebar } from "./Sidebar";
import { AnnouncementDialog } from "./AnnouncementDialog";
import { NotificationToasts } from "./NotificationToasts";
import { SiteBrand } from "./SiteBrand";

function DefaultPasswordBanner() {
  const { t } = useTranslation();
  const { user } = useAuth();
  if (!user?.must_change_password) return null;
  return (
    <Alert
      data-testid="default-password-banner"
      className="m-2 border-amber-500/50 bg-amber-50 text-amber-900 dark:bg-amber-950 dark:text-amber-100"
    >
      {t("banner.defaultPassword")}{" "}
      <Link className="font-medium underline" to="/settings#password">
        {t("banner.changeNow")}
      </Link>
    </Alert>
  );
}

/** App shell: a sidebar on wide screens, a drawer behind a menu button below 768 px. */
export function Layout() {
  const { t } = useTranslation();
  const [drawerOpen, setDrawerOpen] = useState(false);
  const location = useLocation();

  // Any navigation, also to the page already shown, closes the drawer.
  useEffect(() => setDrawerOpen(false), [location.key]);

  return (
    <div className="flex h-full">
      <aside className="hidden w-72 shrink-0 border-r border-border bg-sidebar md:flex md:flex-col">
        <Sidebar />
      </aside>
      <DialogPrimitive.Root open={drawerOpen} onOpenChange={setDrawerOpen}>
        <DialogPrimitive.Portal>
          <DialogPrimitive.Overlay className="fixed inset-0 z-40 bg-black/50 md:hidden" />
          <DialogPrimitive.Content
            className="fixed inset-y-0 left-0 z-50 flex w-[85vw] max-w-80 flex-col border-r border-border bg-sidebar md:hidden"
            aria-describedby={undefined}
            data-testid="sidebar-drawer"
          >
            <DialogPrimitive.Title className="sr-only">{t("nav.menu")}</DialogPrimitive.Title>
            <Sidebar />
          </DialogPrimitive.Content>
        </DialogPrimitive.Portal>
      </DialogPrimitive.Root>
      <main className="flex min-w-0 flex-1 flex-col">
        <header className="flex h-12 items-center gap-2 border-b border-border px-2 md:hidden">
          <Button variant="ghost" size="icon" aria-label={t("nav.openMenu")} data-testid="menu-button" onClick={() => setDrawerOpen(true)}>
            <Menu className="h-5 w-5" />
          </Button>
          <SiteBrand className="truncate font-semibold" />
        </header>
        <DefaultPasswordBanner />
        <div className="min-h-0 flex-1">
          <Outlet />
        </div>
      </main>
      <AnnouncementDialog />
      <NotificationToasts />
    </div>
  );
}
