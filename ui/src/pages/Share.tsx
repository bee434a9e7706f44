import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useTranslation } from "react-i18next";
import { shares } from "@/api/endpoints";
import type { Share } from "@/api/types";
import { Button } from "@/components/ui/button";
import { MessageItem } from "@/components/chat/MessageItem";
import { LanguageSelect, ThemeSwitch } from "@/components/ThemeLanguage";
import { SiteBrand } from "@/components/SiteBrand";
import { useAuth } from "@/lib/auth";

/** The public page of a share: works logged out, and offers to continue the conversation. */
export default function SharePage() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const { user } = useAuth();
  const navigate = useNavigate();
  const [share, setShare] = useState<Share | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    shares
      .get(id)
      .then(setShare)
      .catch((caught: { status?: number; message?: string }) =>
        setError(caught.status === 404 ? t("share.notFound") : (caught.message ?? String(caught))),
      );
  }, [id, t]);

  const continueChat = async () => {
    if (!user) {
      navigate(`/login?next=${encodeURIComponent(`/share/${id}`)}`);
      return;
    }
    const conversation = await shares.fork(id);
    navigate(`/chat/${conversation.id}`);
  };

  return (
    <div className="mx-auto flex min-h-full max-w-3xl flex-col">
      <header className="flex items-center gap-2 border-b border-border p-3">
        <Link to="/" className="font-semibold">
          <SiteBrand />
        </Link>
        <span className="min-w-0 flex-1 truncate text-sm text-muted-foreground" data-testid="share-title">
          {share?.title}
        </span>
        <ThemeSwitch />
        <LanguageSelect />
      </header>
      {error && <p className="p-6 text-center text-sm text-muted-foreground">{error}</p>}
      {!share && !error && <p className="p-6 text-sm text-muted-foreground">{t("common.loading")}</p>}
      <div className="flex-1">
        {share?.messages.map((message, index) => (
          <MessageItem
            key={String(message.id ?? index)}
            message={message}
            index={index}
            isLast={false}
            busy={false}
            selecting={false}
            selected={false}
          />
        ))}
      </div>
      {share && (
        <div className="sticky bottom-0 border-t border-border bg-background p-3 text-center">
          <Button onClick={() => void continueChat()} data-testid="continue-share">
            {t("share.continue")}
          </Button>
        </div>
      )}
    </div>
  );
}
