"""Remote sites for geo-replication: registered, changed and removed by administrators."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from domain.errors import NoSuchSite
from domain.records import RequestMeta
from domain.sites import Site
from domain.store.core import StoreCore


class SiteCommands(StoreCore):
    def register_site(self, name: str, endpoint: str, access_key: str, secret_ciphertext: str,
                      meta: RequestMeta, now: datetime) -> bool:
        """True when the site is new (or back after its removal)."""

        def attempt() -> bool:
            try:
                site: Site = self.repository.get(Site.create_id(name))
            except AggregateNotFoundError:
                self._save(Site.register(name, endpoint, access_key, secret_ciphertext, meta,
                                         now))
                return True
            was_live = site.is_live
            site.change(endpoint, access_key, secret_ciphertext, meta, now)
            self._save(site)
            return not was_live

        return self._retrying(attempt, Site.create_id(name))

    def remove_site(self, name: str, meta: RequestMeta, now: datetime) -> None:
        def attempt() -> None:
            try:
                site: Site = self.repository.get(Site.create_id(name))
            except AggregateNotFoundError:
                raise NoSuchSite(f"No site named {name!r} is registered", site=name) from None
            if not site.is_live:
                raise NoSuchSite(f"No site named {name!r} is registered", site=name)
            site.remove(meta, now)
            self._save(site)

        self._retrying(attempt, Site.create_id(name))
