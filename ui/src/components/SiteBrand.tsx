import { useState } from "react";
import { useTranslation } from "react-i18next";
import { BookOpen, Mail } from "lucide-react";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Markdown } from "@/markdown/Markdown";
import { useSite } from "@/lib/site";

/** Return whether `url` is a same-site path or an http(s) URL, because logo and link URLs are admin input shown to everyone. */
export function isSafeLink(url: string): boolean {
  return /^https?:\/\//i.test(url) || (url.startsWith("/") && !url.startsWith("//"));
}

/** The site's logo (when set) and name, both from GET /api/site. */
export function SiteBrand({ className }: { className?: string }) {
  const info = useSite();
  const logo = info?.logo_url && isSafeLink(info.logo_url) ? info.logo_url : "";
  return (
    <span className={className} data-testid="site-name">
      {logo && <img src={logo} alt="" className="mr-2 inline-block h-6 w-6 rounded object-contain align-middle" />}
      <span className="align-middle">{info?.site_name ?? ""}</span>
    </span>
  );
}

/** The footer Markdown, the docs link and the contact details, each shown only when set. */
export function SiteFooter() {
  const { t } = useTranslation();
  const info = useSite();
  const [contactOpen, setContactOpen] = useState(false);
  if (!info) return null;
  const docs = info.docs_url && isSafeLink(info.docs_url) ? info.docs_url : "";
  if (!info.footer && !docs && !info.contact) return null;
  return (
    <div className="space-y-1 border-t border-border pt-2 text-xs text-muted-foreground" data-testid="site-footer">
      <div className="flex flex-wrap gap-3">
        {docs && (
          <a className="inline-flex items-center gap-1 hover:underline" href={docs} target="_blank" rel="noopener noreferrer">
            <BookOpen className="h-3 w-3" /> {t("site.docs")}
          </a>
        )}
        {info.contact && (
          <button type="button" className="inline-flex items-center gap-1 hover:underline" onClick={() => setContactOpen(true)}>
            <Mail className="h-3 w-3" /> {t("site.contact")}
          </button>
        )}
      </div>
      {info.footer && <Markdown text={info.footer} className="text-xs" />}
      <Dialog open={contactOpen} onOpenChange={setContactOpen}>
        <DialogContent title={t("site.contact")}>
          <Markdown text={info.contact} />
        </DialogContent>
      </Dialog>
    </div>
  );
}
