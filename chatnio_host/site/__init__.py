"""Site settings that admins change at run time."""

from chatnio_host.site.store import SiteSettingsStore

__all__ = ["SiteSettingsStore"]
