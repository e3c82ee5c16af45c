"""Export from the web for commanders: an alert or a camera's time range, made in the background, as a zip.

A long export must not hold an HTTP request, so it is a job:

- ``POST /api/replay/exports`` (an ExportRequest) checks the request (422 bad body or window, 404 unknown
  alert or camera, or recording not configured) and answers 202 with the job;
- ``GET /api/replay/exports/{id}`` is its state (queued, running, done, failed) and progress in frames;
- ``GET /api/replay/exports/{id}/download`` is the zip of its files once done (409 before).

One job runs at a time (a worker thread: an export decodes and encodes video, beside the live
pipeline), and at most MAX_ACTIVE wait or run: past that a new one is refused with 409. Job ids are
unguessable; a job is seen only by who made it (anyone else gets 404, as for an unknown id). Each
job's files lie in a temporary directory, removed when it expires (TTL after it ended, or when more
than MAX_KEPT ended jobs are kept: oldest first; checked on every request) and at shutdown.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from routewatch.geo.bbox import area
from routewatch.replay.export import ExportError, export_alert
from routewatch.replay.rangeexport import MAX_CLIP_S, check_range, export_range
from routewatch.replay.report import range_name, safe_name
from routewatch.web.bodies import read_model
from routewatch.web.replay import window
from routewatch.web.security import Perm, Principal, require
from routewatch.web.settings import Clock, WebSettings, WebStore

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/replay/exports", tags=["replay"])
Commander = Annotated[Principal, Depends(require(Perm.REPLAY))]
JobId = Annotated[str, PathParam(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

MAX_ACTIVE = 3  # jobs queued or running at once; past it, 409
MAX_KEPT = 20  # ended jobs kept for download; past it the oldest go
TTL = timedelta(hours=1)  # an ended job (and its zip) is kept this long
MAX_BODY = 4096  # bytes of a request body

State = Literal["queued", "running", "done", "failed"]


class ExportRequest(BaseModel):
    """What to export: an alert (`alert_id`), or a camera's window (`camera`, `from`, `to`, optional `area`)."""

    model_config = ConfigDict(extra="forbid")

    alert_id: str | None = Field(None, min_length=1, max_length=200, description="The alert to export.")
    camera: str | None = Field(None, min_length=1, max_length=64, description="The camera whose window to export.")
    start: datetime | None = Field(None, alias="from", description="Window start, ISO 8601 with a time zone.")
    end: datetime | None = Field(None, alias="to", description="Window end, ISO 8601 with a time zone (1 h at most).")
    area: tuple[float, float, float, float] | None = Field(
        None, description="With a window: only tracks with a fix (and alerts) in [minlon, minlat, maxlon, maxlat].")
    boxes: bool = Field(True, strict=True, description="Burn the stored boxes into the clip.")
    before_s: float = Field(10.0, ge=0, le=600, description="With an alert: seconds of video before it opened.")
    after_s: float = Field(10.0, ge=0, le=600, description="With an alert: seconds of video after it ended.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.alert_id is None) == (self.camera is None):
            raise ValueError("give either alert_id, or camera with from and to")
        if self.camera is not None and (self.start is None or self.end is None):
            raise ValueError("a camera export needs from and to")
        if self.alert_id is not None and (self.start is not None or self.end is not None or self.area is not None):
            raise ValueError("from, to and area go with camera, not alert_id")
        if self.area is not None:
            area(self.area, label="area")  # ValueError says what is wrong
        return self


@dataclass(frozen=True, slots=True)
class Job:
    """One export job, as last seen (replaced whole under the lock as it moves on)."""

    id: str
    owner: str
    kind: Literal["alert", "range"]
    name: str  # the zip's file name, from sanitised parts only
    created_at: datetime
    state: State = "queued"
    frames_done: int = 0
    frames_total: int = 0
    note: str = ""
    error: str = ""
    ended_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {"id": self.id, "kind": self.kind, "state": self.state, "file_name": self.name,
                "created_at": self.created_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at is not None else None,
                "frames_done": self.frames_done, "frames_total": self.frames_total, "note": self.note,
                "error": self.error,
                "download_url": f"{router.prefix}/{self.id}/download" if self.state == "done" else None}


class _Stopped(Exception):
    """The server is shutting down: the running export gives up."""


class ExportJobs:
    """The jobs of one app: a worker thread, their temporary files, their expiry."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
        self._root: Path | None = None  # made on the first job
        self._closing = threading.Event()

    @property
    def root(self) -> Path | None:
        """The temporary directory holding every job's files (None until the first job)."""
        return self._root

    def _dir(self, job_id: str) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="routewatch-exports-"))
        return self._root / job_id

    def submit(self, owner: str, kind: Literal["alert", "range"], name: str,
               work: Callable[[Path, Callable[[int, int], None]], str]) -> Job:
        """Queue `work(directory, progress) -> note`; HTTPException 409 when MAX_ACTIVE jobs are on already."""
        self.sweep()
        with self._lock:
            if self._closing.is_set():
                raise HTTPException(503, "the server is shutting down")
            active = sum(j.state in ("queued", "running") for j in self._jobs.values())
            if active >= MAX_ACTIVE:
                raise HTTPException(409, f"{active} exports are queued or running; try again when one has ended")
            job = Job(secrets.token_urlsafe(24), owner, kind, name, self._clock())
            self._jobs[job.id] = job
            directory = self._dir(job.id)
        self._pool.submit(self._run, job.id, directory, work)
        return job

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _run(self, job_id: str, directory: Path, work: Callable[[Path, Callable[[int, int], None]], str]) -> None:
        if self._closing.is_set():
            return

        def progress(done: int, total: int) -> None:
            if self._closing.is_set():
                raise _Stopped
            self._update(job_id, frames_done=done, frames_total=total)

        self._update(job_id, state="running")
        files = directory / "files"
        try:
            note = work(files, progress)
            with self._lock:
                name = self._jobs[job_id].name if job_id in self._jobs else "export.zip"
            zip_dir(files, directory / name)
            shutil.rmtree(files)  # the zip holds them: half the disk
            self._update(job_id, state="done", note=note, ended_at=self._clock())
            return
        except ExportError as exc:
            error = str(exc)
        except _Stopped:
            error = "stopped: the server is shutting down"
        except Exception:  # a job must end, and the caller sees no internals
            log.exception("export job %s failed", job_id)
            error = "the export failed; see the server log"
        shutil.rmtree(directory, ignore_errors=True)  # before it shows as ended: no half files are left then
        self._update(job_id, state="failed", error=error, ended_at=self._clock())

    def get(self, job_id: str, owner: str) -> Job:
        """The caller's job; 404 when unknown, expired or someone else's (which is not told apart)."""
        self.sweep()
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.owner, owner):
            raise HTTPException(404, "no such export (unknown, expired, or not yours)")
        return job

    def zip_path(self, job: Job) -> Path:
        """Where a done job's zip lies."""
        return self._dir(job.id) / job.name

    def sweep(self) -> None:
        """Forget ended jobs past their TTL, and the oldest ended ones past MAX_KEPT; remove their files."""
        now = self._clock()
        with self._lock:
            ended = sorted((j for j in self._jobs.values() if j.ended_at is not None),
                           key=lambda j: (j.ended_at or now, j.id))
            expired = [j for j in ended if now - (j.ended_at or now) > TTL]
            fresh = [j for j in ended if j not in expired]
            expired += fresh[:max(0, len(fresh) - MAX_KEPT)]
            for j in expired:
                del self._jobs[j.id]
            root = self._root
        for j in expired:
            if root is not None:
                shutil.rmtree(root / j.id, ignore_errors=True)

    def close(self) -> None:
        """At shutdown: stop the running job, drop the queued ones, remove every file."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._jobs.clear()
            root, self._root = self._root, None
            # Ready again, should the app be started anew (as tests do).
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
            self._closing.clear()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


def zip_dir(directory: Path, target: Path) -> None:
    """Zip the plain files of `directory` (flat) into `target`; video stored as is, text deflated."""
    part = target.with_name(target.name + ".part")
    with zipfile.ZipFile(part, "w") as z:
        for path in sorted(directory.iterdir()):
            if path.is_file() and not path.is_symlink():
                method = zipfile.ZIP_STORED if path.suffix == ".mp4" else zipfile.ZIP_DEFLATED
                z.write(path, arcname=path.name, compress_type=method)
    part.replace(target)


def jobs_of(request: Request) -> ExportJobs:
    """The app's export jobs."""
    jobs: ExportJobs = request.app.state.exports
    return jobs


def _plan(request: Request, body: ExportRequest) -> tuple[Literal["alert", "range"], str,
                                                          Callable[[Path, Callable[[int, int], None]], str]]:
    """Check what is asked against the store (404, 422) and return (kind, zip name, the work to do)."""
    store: WebStore = request.app.state.store
    settings: WebSettings = request.app.state.settings
    clock: Clock = request.app.state.clock
    root = settings.recordings_dir
    if root is None:
        raise HTTPException(404, "recording is not configured for this server")
    recordings = Path(root)
    if body.alert_id is not None:
        alert_id, before_s, after_s, boxes = body.alert_id, body.before_s, body.after_s, body.boxes
        alert = store.get_alert(alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert with id {alert_id!r}")

        def alert_work(out: Path, progress: Callable[[int, int], None]) -> str:
            return export_alert(store, recordings, alert_id, out, before_s=before_s, after_s=after_s, boxes=boxes,
                                progress=progress, clock=clock).note

        return "alert", f"routewatch-alert-{safe_name(alert.id)}.zip", alert_work
    assert body.camera is not None and body.start is not None and body.end is not None
    since, until = window(body.start, body.end)
    try:
        check_range(since, until, max_s=MAX_CLIP_S)
    except ExportError as exc:
        raise HTTPException(422, str(exc).replace("--from", "from").replace("--to", "to")) from None
    camera, boxes = body.camera, body.boxes
    if camera not in store.recording_cameras():
        raise HTTPException(404, f"nothing recorded for camera {camera!r}")
    box = area(body.area, label="area") if body.area is not None else None

    def range_work(out: Path, progress: Callable[[int, int], None]) -> str:
        return export_range(store, recordings, camera, since, until, out, boxes=boxes, area=box, progress=progress,
                            clock=clock).note

    return "range", f"routewatch-{range_name(camera, since, until)}.zip", range_work


@router.post("", status_code=202, responses={
    202: {"description": "The job, queued; poll its URL (Location)."},
    404: {"description": "unknown alert or camera, or recording not configured"},
    409: {"description": "too many exports queued or running"}, 413: {"description": "request too large"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": ExportRequest.model_json_schema(by_alias=True)}}}})
async def create(request: Request, who: Commander) -> JSONResponse:
    """Start exporting an alert or a camera's window (the body is an ExportRequest); 202 with the job."""
    body = await read_model(request, ExportRequest, MAX_BODY)
    kind, name, work = await run_in_threadpool(_plan, request, body)
    job = jobs_of(request).submit(who.name, kind, name, work)
    return JSONResponse(job.as_dict(), status_code=202, headers={"Location": f"{router.prefix}/{job.id}"})


@router.get("/{job_id}", responses={404: {"description": "unknown, expired or someone else's job"}})
async def status(request: Request, who: Commander, job_id: JobId) -> dict[str, Any]:
    """An export job's state and progress (frames written of the clip's total)."""
    return jobs_of(request).get(job_id, who.name).as_dict()


@router.get("/{job_id}/download", response_class=FileResponse, responses={
    200: {"content": {"application/zip": {}}, "description": "The export's files, zipped."},
    404: {"description": "unknown, expired or someone else's job"}, 409: {"description": "not done (yet)"}})
async def download(request: Request, who: Commander, job_id: JobId) -> FileResponse:
    """The zip of a done export (clip, tracks, report)."""
    jobs = jobs_of(request)
    job = jobs.get(job_id, who.name)
    if job.state != "done":
        detail = f"export failed: {job.error}" if job.state == "failed" else f"export is {job.state}; not done yet"
        raise HTTPException(409, detail)
    path = jobs.zip_path(job)
    if not path.is_file():
        raise HTTPException(404, "the export's files are gone (expired)")
    # The name is ours (sanitised parts only), so it needs no quoting beyond the plain form.
    return FileResponse(path, media_type="application/zip", filename=job.name,
                        headers={"Cache-Control": "private, no-store"})

