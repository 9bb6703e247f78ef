"""The bot's EngineClient over HTTP: one or more `beautynet engine serve` services.

Each call goes to the healthy engine with the fewest calls in flight. An engine that
refuses connections, drops one, or times out is marked down (a health check brings it
back) and the call moves on to another engine with the same request id, which the
services use as an idempotency key, so a retry never runs a job twice on one engine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from .admin import DatasetInfo, DatasetReport, TrainDone, TrainRequest, TrainStatus
from .base import (
    DEFAULT_BUDGET_BYTES,
    EngineUnavailableError,
    EngineUserError,
    ModelId,
    ModelInfo,
    ProgressCallback,
    Translated,
    TranslateParams,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
FormFactory = Callable[[], aiohttp.FormData | None]


@dataclass
class Backend:
    """One engine service and what this client knows about it."""

    url: str
    in_flight: int = 0
    healthy: bool = True


@dataclass(frozen=True)
class Answer:
    """A finished HTTP exchange."""

    backend: Backend
    status: int
    headers: dict[str, str]
    body: bytes


class _Unavailable(Exception):
    """This engine cannot answer now (down, busy, or failing); try another."""

    def __init__(self, retry_after_s: float | None = None) -> None:
        super().__init__("engine unavailable")
        self.retry_after_s = retry_after_s


def _form(data: bytes, field: str, params: TranslateParams, **extra: object) -> aiohttp.FormData:
    form = aiohttp.FormData()
    chosen = {
        "model": params.model,
        "k": params.k,
        "panels": params.panels,
        "size": params.size,
        "max_seconds": params.max_seconds,
    }
    for name, value in {**chosen, **extra}.items():
        if value is not None:
            form.add_field(name, str(value))
    form.add_field(field, data, filename="upload", content_type="application/octet-stream")
    return form


def _panel(header: str | None) -> tuple[int, int] | None:
    """'1024x768' -> (1024, 768); None from an engine that does not say (or says nonsense)."""
    width, _, height = (header or "").partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def _image(answer: Answer, filename: str, with_model: bool = True) -> Translated:
    """A still image answered at once, with how it was made (its headers)."""
    headers = answer.headers
    notes = headers.get("X-Notes", "")
    model = None
    if with_model:
        model = ModelId(headers["X-Model-Name"], int(headers["X-Model-Version"]))
    return Translated(
        data=answer.body,
        filename=filename,
        model=model,
        kind="image",
        width=int(headers["X-Width"]),
        height=int(headers["X-Height"]),
        quality_reduced=headers.get("X-Quality-Reduced") == "1",
        notes=notes.split("; ") if notes else [],
        panel=_panel(headers.get("X-Panel-Size")),
    )


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")


class HttpEngine:
    """EngineClient backed by engine services: least-loaded routing, failover, health checks."""

    def __init__(
        self,
        urls: Sequence[str],
        token: str | None = None,
        *,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
        health_interval_s: float = 5.0,
        poll_interval_s: float = 0.5,
        rounds: int = 2,
        backoff_s: float = 0.25,
    ) -> None:
        if not urls:
            raise ValueError("urls must list at least one engine service")
        self.backends = [Backend(url.rstrip("/")) for url in urls]
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self.health_interval_s, self.poll_interval_s = health_interval_s, poll_interval_s
        self.rounds, self.backoff_s = rounds, backoff_s
        self._session: aiohttp.ClientSession | None = None
        self._health_task: asyncio.Task[None] | None = None

    async def start(self) -> Self:
        """Open the HTTP session and start the health checks, in the owner's event loop."""
        if self._session is not None:
            raise RuntimeError("HttpEngine.start() was already called")
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        self._health_task = asyncio.get_running_loop().create_task(self._health_loop())
        return self

    # ---- plumbing ------------------------------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("HttpEngine.start() must be awaited before use")
        return self._session

    def pick(self, exclude: set[str]) -> Backend | None:
        """The healthy engine with the fewest calls in flight (else any not yet tried)."""
        candidates = [b for b in self.backends if b.url not in exclude]
        healthy = [b for b in candidates if b.healthy] or candidates
        return min(healthy, key=lambda b: b.in_flight, default=None)

    async def check_health(self) -> None:
        """Ask every engine's /healthz; mark each up or down."""
        session = self._client()

        async def check(backend: Backend) -> None:
            try:
                async with session.get(
                    f"{backend.url}/healthz", timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    healthy = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                healthy = False
            if healthy != backend.healthy:
                log.warning("engine %s is %s", backend.url, "up" if healthy else "down")
            backend.healthy = healthy

        await asyncio.gather(*(check(backend) for backend in self.backends))

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval_s)
            await self.check_health()

    async def _exchange(
        self, backend: Backend, method: str, path: str, form: FormFactory, request_id: str
    ) -> Answer:
        """One request to one engine; _Unavailable when another engine should be tried."""
        backend.in_flight += 1
        try:
            async with self._client().request(
                method, f"{backend.url}{path}", data=form(), headers={"X-Request-Id": request_id}
            ) as response:
                answer = Answer(
                    backend, response.status, dict(response.headers), await response.read()
                )
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            log.warning("engine %s failed (%s); trying another", backend.url, type(exc).__name__)
            backend.healthy = False
            raise _Unavailable() from exc
        finally:
            backend.in_flight -= 1
        if answer.status in RETRYABLE_STATUS:
            retry = answer.headers.get("Retry-After")
            raise _Unavailable(float(retry) if retry and retry.isdigit() else None)
        return answer

    async def _call(
        self, method: str, path: str, request_id: str, form: FormFactory = lambda: None
    ) -> Answer:
        """The answer of the first engine that can give one; user errors are raised."""
        retry_after: float | None = None
        for round_ in range(self.rounds):
            if round_:  # every engine failed or was busy: give them a moment
                await asyncio.sleep(min(retry_after or self.backoff_s, self.backoff_s * round_))
            tried: set[str] = set()
            while (backend := self.pick(tried)) is not None:
                tried.add(backend.url)
                try:
                    return self._checked(
                        await self._exchange(backend, method, path, form, request_id)
                    )
                except _Unavailable as exc:
                    retry_after = exc.retry_after_s or retry_after
        raise EngineUnavailableError("no engine could take the job; try again later", retry_after)

    @staticmethod
    def _checked(answer: Answer) -> Answer:
        if answer.status == 401:
            raise RuntimeError(f"engine {answer.backend.url} refused ENGINE_TOKEN")
        if 400 <= answer.status < 500:
            raise EngineUserError(_error_message(answer.body))
        return answer

    # ---- EngineClient --------------------------------------------------------------------
    async def translate(
        self,
        data: bytes,
        params: TranslateParams,
        request_id: str,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        progress: ProgressCallback | None = None,
    ) -> Translated:
        """POST /v1/translate on the least-loaded engine: a still image comes back at once, a
        clip (the engine's rule) as a job to follow; restarted elsewhere if its engine dies."""
        for _ in range(self.rounds * len(self.backends)):
            answer = await self._call(
                "POST",
                "/v1/translate",
                request_id,
                lambda: _form(data, "image", params, budget_bytes=budget_bytes),
            )
            if answer.status != 202:
                return _image(answer, "beautynet.png")
            try:
                return await self._follow(answer.backend, request_id, progress)
            except _Unavailable:
                continue
        raise EngineUnavailableError("no engine could finish the clip; try again later")

    async def compare(
        self, data: bytes, models: list[str], request_id: str, budget_bytes: int
    ) -> Translated:
        """One still image through each model, in one labelled grid (POST /v1/compare)."""

        def form() -> aiohttp.FormData:
            chosen = {"models": ",".join(models), "budget_bytes": str(budget_bytes)}
            body = aiohttp.FormData(chosen)
            body.add_field("image", data, filename="upload")
            return body

        answer = await self._call("POST", "/v1/compare", request_id, form)
        return replace(_image(answer, "compare.png", with_model=False), model=None)

    async def _follow(
        self, backend: Backend, job_id: str, progress: ProgressCallback | None
    ) -> Translated:
        path = f"/v1/clips/{job_id}"
        while True:
            job = self._job(await self._exchange(backend, "GET", path, lambda: None, job_id))
            if progress is not None and job["total"]:
                progress(job["done"], job["total"])
            if job["state"] == "done":
                break
            if job["state"] == "failed":
                raise EngineUserError(job["error"] or "the clip could not be translated")
            await asyncio.sleep(self.poll_interval_s)
        answer = await self._exchange(backend, "GET", f"{path}/result", lambda: None, job_id)
        job = self._job(await self._exchange(backend, "GET", path, lambda: None, job_id))
        return Translated(
            data=self._checked(answer).body,
            filename=f"beautynet.{job.get('format', 'mp4')}",
            model=ModelId(job["model_name"], job["model_version"]),
            kind="clip",
            width=job["width"],
            height=job["height"],
            quality_reduced=job["quality_reduced"],
            notes=list(job["notes"]),
            duration_s=job.get("duration"),
            format_note=job.get("format_note"),
        )

    def _job(self, answer: Answer) -> dict[str, Any]:
        if answer.status == 404:  # the engine restarted and forgot the job
            raise _Unavailable()
        return dict(json.loads(self._checked(answer).body))

    async def runtimes(self) -> list[str]:
        """How each engine runs its loaded models (from each one's /healthz)."""
        session, lines = self._client(), []
        for backend in self.backends:
            try:
                async with session.get(
                    f"{backend.url}/healthz", timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    runtimes = (await response.json())["runtimes"]
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                lines.append(f"{backend.url}: not answering")
                continue
            lines += [f"{backend.url}: {label} on {how}" for label, how in runtimes.items()]
        return lines

    async def models(self) -> list[ModelInfo]:
        """Every installed model version (with sample sheets) from any engine."""
        answer = await self._call("GET", "/v1/models", f"models-{time.monotonic_ns()}")
        infos = []
        for item in json.loads(answer.body)["models"]:
            sheet = None
            if item["has_sample_sheet"]:
                path = f"/v1/models/{item['name']}/{item['version']}/sample.png"
                sheet = (await self._call("GET", path, f"sheet-{time.monotonic_ns()}")).body
            info = ModelInfo(
                name=item["name"],
                version=item["version"],
                description=item["description"],
                segmenter=item["segmenter"],
                served=item["served"],
                default=item["default"],
                sample_sheet=sheet,
            )
            infos.append(info)
        return infos

    # ---- model administration (ModelAdmin) -----------------------------------------------
    # Engines behind one bot share their models folder (one volume): a change made through
    # one engine is seen by the others at their next request (a lookup checks the folder).
    async def _admin(self, method: str, path: str, form: FormFactory = lambda: None) -> Answer:
        return await self._call(method, path, f"admin-{uuid.uuid4().hex}", form)

    async def promote(self, name: str, version: int | None = None) -> str:
        """Serve `version` (default: newest) of `name`; returns the served label."""
        fields = {"version": str(version)} if version is not None else {}
        path = f"/v1/models/{quote(name, safe='')}/promote"
        answer = await self._admin("POST", path, lambda: aiohttp.FormData(fields))
        return str(json.loads(answer.body)["label"])

    async def rollback(self, name: str) -> str:
        """Undo the last promotion of `name`; returns the label now served."""
        path = f"/v1/models/{quote(name, safe='')}/rollback"
        answer = await self._admin("POST", path)
        return str(json.loads(answer.body)["label"])

    async def delete(self, name: str, version: int) -> None:
        """Remove a user model version."""
        await self._admin("DELETE", f"/v1/models/{quote(name, safe='')}/{version}")

    # ---- datasets (DatasetAdmin) -----------------------------------------------------------
    async def add_images(self, name: str, files: list[tuple[str, bytes]]) -> DatasetReport:
        """Decode, deduplicate and store images (untrusted bytes) in dataset `name`."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            for filename, content in files:
                data.add_field("images", content, filename=filename)
            return data

        path = f"/v1/datasets/{quote(name, safe='')}/images"
        report = json.loads((await self._admin("POST", path, form)).body)
        return DatasetReport(
            name=report["name"],
            added=report["added"],
            duplicates=report["duplicates"],
            rejected=[(source, reason) for source, reason in report["rejected"]],
            total_images=report["total_images"],
        )

    async def datasets(self) -> list[DatasetInfo]:
        """Every dataset."""
        listed = json.loads((await self._admin("GET", "/v1/datasets")).body)["datasets"]
        return [DatasetInfo(d["name"], d["images"], d["bytes"], d["updated"]) for d in listed]

    # ---- training (TrainingAdmin) -----------------------------------------------------------
    @staticmethod
    def _training_form(request: TrainRequest, **extra: str) -> dict[str, str]:
        fields = {
            "dataset": request.dataset,
            "name": request.name,
            "segmenter": request.segmenter,
            "k": str(request.k),
            **extra,
        }
        if request.time_budget:
            fields["time_budget"] = request.time_budget
        return fields

    async def check_training(self, request: TrainRequest) -> None:
        """The engine's door checks the form (`dry_run`): nothing starts."""
        fields = self._training_form(request, dry_run="true")
        await self._admin("POST", "/v1/trainings", lambda: aiohttp.FormData(fields))

    async def train(
        self,
        request: TrainRequest,
        progress: Callable[[TrainStatus], None],
        stop: threading.Event,
    ) -> TrainDone:
        """Train on the least-loaded engine, following it until the run ends."""
        fields = self._training_form(request)
        started = await self._admin("POST", "/v1/trainings", lambda: aiohttp.FormData(fields))
        backend, job = started.backend, json.loads(started.body)
        path, sheets, stopping = f"/v1/trainings/{job['id']}", 0, False
        while job["state"] == "running":
            await asyncio.sleep(self.poll_interval_s)
            if stop.is_set() and not stopping:
                stopping = True
                await self._follow_training(backend, "POST", f"{path}/stop")
            job = json.loads((await self._follow_training(backend, "GET", path)).body)
            sheet = None
            if job["sheets"] > sheets:
                sheets = job["sheets"]
                sheet = (await self._follow_training(backend, "GET", f"{path}/sample.png")).body
            progress(
                TrainStatus(
                    job["step"],
                    job["total_steps"],
                    job["epoch"],
                    job["eta_s"],
                    dict(job["losses"]),
                    sheet,
                )
            )
        if job["state"] == "failed":
            raise EngineUserError(job["error"] or "the training failed")
        last_sheet = None
        if job["sheets"]:
            last_sheet = (await self._follow_training(backend, "GET", f"{path}/sample.png")).body
        return TrainDone(
            status=job["state"],
            model=job["model"],
            sample_sheet=last_sheet,
            version=job.get("version"),
            metrics=dict(job.get("metrics") or {}),
        )

    async def _follow_training(self, backend: Backend, method: str, path: str) -> Answer:
        try:
            answer = await self._exchange(backend, method, path, lambda: None, uuid.uuid4().hex)
        except _Unavailable as exc:
            raise EngineUnavailableError(f"lost the engine running the training: {exc}") from exc
        return self._checked(answer)

    async def close(self) -> None:
        """Stop health checks and close connections."""
        if self._health_task is not None:
            self._health_task.cancel()
            await asyncio.gather(self._health_task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._session = self._health_task = None
