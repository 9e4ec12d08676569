"""What an upgrade tells its caller while it runs (the CLI draws progress bars from it).

Its own module so that the CLI's renderers can subclass it without importing the transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

if TYPE_CHECKING:
    from envdoctor.upgrade.verify import VerifyStep


class Events:
    """Callbacks of a running upgrade; this base class ignores them all."""

    def step(self, name: str, **params: object) -> None: ...

    def stage_progress(self, done: int, total: int) -> None: ...

    def download_progress(self, filename: str, done: int, total: Optional[int]) -> None: ...

    def install_progress(self, done: int, total: int) -> None: ...

    def verify_step(self, step: VerifyStep) -> None: ...

    def notice(self, key: str, params: Dict[str, object]) -> None:
        """Something the user should hear now (a stalled download is retried: 'retrying')."""
