import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { site } from "@/api/endpoints";
import type { Announcement } from "@/api/types";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Button } from "@/components/ui/button";
import { Markdown } from "@/markdown/Markdown";

const SEEN_KEY = "announcement-seen";

/** Show the latest announcement once per change (its id is remembered after closing). */
export function AnnouncementDialog() {
  const { t } = useTranslation();
  const [announcement, setAnnouncement] = useState<Announcement | null>(null);

  useEffect(() => {
    site
      .announcement()
      .then((latest) => {
        if (latest?.content && localStorage.getItem(SEEN_KEY) !== String(latest.id)) setAnnouncement(latest);
      })
      .catch(() => undefined);
  }, []);

  const close = () => {
    if (announcement) localStorage.setItem(SEEN_KEY, String(announcement.id));
    setAnnouncement(null);
  };

  return (
    <Dialog open={announcement !== null} onOpenChange={(open) => !open && close()}>
      <DialogContent title={announcement?.title || t("announcement.title")}>
        {announcement && <Markdown text={announcement.content} />}
        <Button onClick={close}>{t("common.ok")}</Button>
      </DialogContent>
    </Dialog>
  );
}
