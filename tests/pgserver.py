"""The tests' throwaway PostgreSQL: `harness.pgserver`, skipping when PostgreSQL is absent."""

from __future__ import annotations

import pytest

from harness.pgserver import PgServer as _PgServer
from harness.pgserver import PostgresMissing


class PgServer(_PgServer):
    def start(self) -> PgServer:
        try:
            super().start()
        except PostgresMissing as exc:
            pytest.skip(str(exc))
        return self
