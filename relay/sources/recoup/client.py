"""Recoup's API: GET {base_url}/tasks/runs (list, or one run by `?runId=`) and GET
{base_url}/tasks (scheduled tasks). docs/platforms.md 3 and 4.3."""

from __future__ import annotations

import httpx2

from relay.config import SourceConfig
from relay.errors import SourceError
from relay.models import JSON
from relay.sources.http import ApiClient, what
from relay.sources.parsing import type_name

RUNS_PATH = "/tasks/runs"
TASKS_PATH = "/tasks"


class RecoupClient(ApiClient):
    """Authenticates with `x-api-key` only: Recoup answers 401 when a request carries both
    x-api-key and Authorization (a shared client's default Authorization is dropped)."""

    @classmethod
    def for_source(cls, config: SourceConfig, http: httpx2.AsyncClient) -> RecoupClient:
        return cls(http, base_url=config.base_url, api_key=config.api_key)

    def credentials(self) -> dict[str, str]:
        return {"x-api-key": self._api_key}

    async def list_runs(self, limit: int, account_id: str | None = None) -> list[object]:
        """The raw items, newest first, not yet validated (parse_run does that per item)."""
        params = {"limit": str(limit)}
        if account_id:
            params["account_id"] = account_id
        return await self._items(RUNS_PATH, params, "runs")

    async def list_tasks(self, account_id: str | None = None) -> list[object]:
        """GET {base_url}/tasks: scheduled tasks with `schedule`, `enabled`, `recent_runs`."""
        return await self._items(TASKS_PATH, {"account_id": account_id} if account_id else {}, "tasks")

    async def get_run(self, run_id: str) -> JSON | None:
        """One run with output and error (new status names); None when Recoup answers 404."""
        response = await self.send(RUNS_PATH, {"runId": run_id})
        if response.status_code == 404:
            return None
        runs = self.listed(response, self.json(response), "runs")
        if not runs:
            return None
        if not isinstance(runs[0], dict):
            raise SourceError(f"{what(response)}: runs[0] is {type_name(runs[0])}, not a run")
        return runs[0]

    async def _items(self, path: str, params: dict[str, str], key: str) -> list[object]:
        response = await self.send(path, params)
        return self.listed(response, self.json(response), key)
