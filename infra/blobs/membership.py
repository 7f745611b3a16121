"""Keeps a NodeBlobStore's members in step with the membership view, and probes them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from domain.runtime.periodic import Periodic
from infra.blobs.nodes import NodeBlobStore
from projections.base import ViewReader
from projections.nodes import list_nodes
from projections.runner import BarrierTimeout

log = logging.getLogger("strata.nodes")


class MembershipWatcher:
    def __init__(
        self,
        blobs: NodeBlobStore,
        views: ViewReader,
        current_position: Callable[[], int],
        wait_for_views: Callable[[int], None],
        interval_seconds: float,
    ) -> None:
        self._blobs = blobs
        self._views = views
        self._current_position = current_position
        self._wait_for_views = wait_for_views
        self._periodic = Periodic("membership", interval_seconds, self.refresh, log)

    def refresh(self) -> None:
        """Read membership as of now (after the read barrier), then probe every node.
        Views behind the store (a relay down, a long restart) answer with the
        membership they hold: members change seldom, and a process that knows last
        minute's nodes can serve, where one that waits cannot."""
        try:
            self._wait_for_views(self._current_position())
        except BarrierTimeout as behind:
            log.warning("blob node membership read from views behind the store (%s)", behind)
        self._blobs.set_members(
            (n.node_id, n.url, n.zone, n.state) for n in list_nodes(self._views)
        )
        self._blobs.probe()

    def start(self) -> None:
        self.refresh()
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
