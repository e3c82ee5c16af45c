"""Export from the web for commanders: an alert or a camera's time range, made in the background, as a zip.

A long export must not hold an HTTP request, so it is a job:

- ``POST /api/replay/exports`` (an ExportRequest) checks the request (422 bad body or window, 404 unknown
  alert or camera, or recording not configured) and answers 202 with the job;
- ``GET /api/replay/exports/{id}`` is its state (queued, running, done, failed) and progress in frames;
- ``GET /api/replay/exports/{id}/download`` is the zip of its files once done (409 before).

One job runs at a time (a worker thread: an export decodes and encodes video, beside the live
pipeline), and at most MAX_ACTIVE wait or run: past that a new one is refused with 409. Job ids are
unguessable; a job is seen only by who made it (its principal's stable key: a user, or one API token;
anyone else gets 404, as for an unknown id).

The files lie under `Storage.dir` (by default `<recording.dir>/.exports`: the recordings' disk, not a
small /tmp, and no camera's directory, so the recordings' sweep never looks there), in a directory of
this process, locked while it lives so that another process may remove what a dead one left. They
are bounded: a web clip spans at most an hour and holds at most MAX_FRAMES frames; ended jobs' files
are removed when the job expires (TTL after it ended, more than MAX_KEPT ended jobs, or their bytes
over `Storage.max_bytes`: oldest first; checked on every request) and at shutdown; before a job
starts and every CHECK_EVERY frames, the oldest ended jobs make room, and a job that would leave less
than `Storage.min_free_bytes` free on the disk (the recorders stop when it runs low) or would itself
pass the budget fails, saying so, its files removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from routewatch.config.recording import RecordingConfig
from routewatch.config.web import WebConfig
from routewatch.geo.bbox import area
from routewatch.replay.export import ExportError, export_alert
from routewatch.replay.rangeexport import MAX_CLIP_S, check_range, export_range
from routewatch.replay.report import range_name, safe_name
from routewatch.store import Store
from routewatch.web.bodies import body_schema, read_model
from routewatch.web.deps import ClockDep, Commander, ExportsDep, RecordingConfigDep, StoreDep
from routewatch.web.routes.replay import window
from routewatch.web.schemas import ExportJob
from routewatch.web.settings import Clock

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/replay/exports", tags=["replay"])
JobId = Annotated[str, PathParam(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

MAX_ACTIVE = 3  # jobs queued or running at once; past it, 409
MAX_KEPT = 20  # ended jobs kept for download; past it the oldest go
TTL = timedelta(hours=1)  # an ended job (and its zip) is kept this long
MAX_BODY = 4096  # bytes of a request body
# Recordings are stream copies at the camera's rate (often 25-30 fps): an hour may be 100,000 frames.
MAX_FRAMES = 36_000  # frames of a web export's clip at most (20 min at 30 fps, 2 h at 5 fps)
CHECK_EVERY = 25  # a running job checks the disk and the budget every this many frames
EXPORTS_DIR = ".exports"  # under recording.dir, by default
STALE_S = 3600.0  # what another process left: a lock older than this that no one holds, or a directory without one
_OURS = re.compile(r"^jobs-[0-9a-f]{16}(\.lock)?$")  # a process's jobs directory and its lock file

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
    size_bytes: int = 0  # of its zip, once done

    def view(self) -> ExportJob:
        """The job as the API shows it."""
        return ExportJob(id=self.id, kind=self.kind, state=self.state, file_name=self.name,
                         created_at=self.created_at.isoformat(),
                         ended_at=self.ended_at.isoformat() if self.ended_at is not None else None,
                         frames_done=self.frames_done, frames_total=self.frames_total, note=self.note,
                         error=self.error, size_bytes=self.size_bytes,
                         download_url=f"{router.prefix}/{self.id}/download" if self.state == "done" else None)


class _Stopped(Exception):
    """The server is shutting down: the running export gives up."""


class _NoRoom(Exception):
    """The disk or the exports' budget has no room for the running export (the message says which)."""


@dataclass(frozen=True, slots=True)
class Storage:
    """Where export jobs keep their files, the bytes ended jobs may keep, and the disk space that must stay free."""

    dir: Path
    max_bytes: int
    min_free_bytes: int


def storage(web: WebConfig, recording: RecordingConfig | None) -> Storage | None:
    """The jobs' storage from the config; None with neither web.exports_dir nor recording (no exports then)."""
    base = web.exports_dir
    if base is None and recording is not None:
        base = Path(recording.dir) / EXPORTS_DIR
    floor = web.exports_min_free_bytes
    if floor is None:  # what the recorders need to go on: an export must not stop them
        floor = (recording or RecordingConfig()).resume_free_bytes
    return None if base is None else Storage(Path(base), web.exports_max_bytes, floor)


def disk_free(path: Path) -> int:
    """Bytes free on the file system holding `path`."""
    return shutil.disk_usage(path).free


def bytes_under(path: Path) -> int:
    """Bytes of the files under `path` (0 when it is gone)."""
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def size_text(n: int) -> str:
    """A byte count for people: '1.5 GB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def remove_stale(base: Path, now_s: float) -> None:
    """Remove the jobs directories under `base` left by processes that are gone (see the module doc).

    A live process holds its lock (flock), released by the kernel when it dies. A young lock may be
    about to be taken, and a directory without a lock about to get one, so only old ones go.
    """
    names = {n for n in os.listdir(base) if _OURS.match(n)}
    for stem in sorted({n.removesuffix(".lock") for n in names}):
        directory, lock = base / stem, base / f"{stem}.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)  # never create one: it may have just been removed
        except OSError:
            with contextlib.suppress(OSError):
                if not directory.is_symlink() and now_s - directory.stat().st_mtime > STALE_S:
                    shutil.rmtree(directory, ignore_errors=True)
            continue
        try:
            if now_s - os.fstat(fd).st_mtime <= STALE_S:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: its process lives
                continue
            if not directory.is_symlink():
                shutil.rmtree(directory, ignore_errors=True)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)


class ExportJobs:
    """The jobs of one app: a worker thread, their files, their expiry and their bounds."""

    def __init__(self, clock: Clock, storage: Storage | None = None, *,
                 free_bytes: Callable[[Path], int] = disk_free) -> None:
        self._clock = clock
        self._storage = storage
        self._free = free_bytes
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
        self._root: Path | None = None  # made on the first job
        self._root_lock: int | None = None  # the fd holding the root's lock
        self._closing = threading.Event()

    @property
    def root(self) -> Path | None:
        """This process's directory holding every job's files (None until the first job)."""
        return self._root

    def _open_root(self) -> Path:
        """This process's jobs directory, made and locked (under `_lock`); 404 without storage, 507 on errors."""
        if self._root is not None:
            return self._root
        if self._storage is None:
            raise HTTPException(404, "recording is not configured for this server")
        base = self._storage.dir
        fd: int | None = None
        try:
            base.mkdir(parents=True, exist_ok=True)
            remove_stale(base, time.time())
            stem = f"jobs-{secrets.token_hex(8)}"
            # The lock first, then the directory: another process never sees ours without its lock held.
            fd = os.open(base / f"{stem}.lock", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            (base / stem).mkdir(mode=0o700)
        except OSError:
            log.exception("cannot make the exports directory under %s", base)
            if fd is not None:
                os.close(fd)
            raise HTTPException(507, "this server cannot store exports now; see its log") from None
        self._root, self._root_lock = base / stem, fd
        return self._root

    def _dir(self, job_id: str) -> Path:
        assert self._root is not None
        return self._root / job_id

    def submit(self, owner: str, kind: Literal["alert", "range"], name: str,
               work: Callable[[Path, Callable[[int, int], None]], str]) -> Job:
        """Queue `work(directory, progress) -> note` for `owner` (a principal's key).

        HTTPException 409 when MAX_ACTIVE jobs are on already; 507 when the disk is low even after the
        ended jobs made room (or the directory cannot be made); 503 while shutting down.
        """
        self.sweep()
        with self._lock:
            if self._closing.is_set():
                raise HTTPException(503, "the server is shutting down")
            self._open_root()
        problem = self._make_room(None, 0, 0)
        if problem is not None:
            raise HTTPException(507, problem)
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

    def _make_room(self, job_id: str | None, used: int, extra: int) -> str | None:
        """Drop the oldest done jobs (never `job_id`) until their bytes plus `used` fit the budget and writing
        `extra` bytes more keeps the disk's floor free; None when that holds, else why it cannot."""
        storage, root = self._storage, self._root
        assert storage is not None and root is not None
        if used > storage.max_bytes:
            return (f"the export is over the {size_text(storage.max_bytes)} kept for exports; "
                    "export a shorter time")
        while True:
            with self._lock:
                done = sorted((j for j in self._jobs.values() if j.state == "done" and j.id != job_id),
                              key=lambda j: (j.ended_at or j.created_at, j.id))
            free = self._free(root)
            low = free - extra < storage.min_free_bytes
            if not low and sum(j.size_bytes for j in done) + used <= storage.max_bytes:
                return None
            if not done:
                break
            self._drop(done[:1])
        return (f"not enough free disk space for the export: {size_text(max(0, free))} free, "
                f"{size_text(storage.min_free_bytes)} must stay free for the recordings")

    def _drop(self, jobs: list[Job]) -> None:
        """Forget these jobs and remove their files."""
        with self._lock:
            for j in jobs:
                self._jobs.pop(j.id, None)
            root = self._root
        for j in jobs:
            if root is not None:
                shutil.rmtree(root / j.id, ignore_errors=True)

    def _run(self, job_id: str, directory: Path, work: Callable[[Path, Callable[[int, int], None]], str]) -> None:
        if self._closing.is_set():
            return

        def check(extra: int = 0) -> None:
            problem = self._make_room(job_id, bytes_under(directory), extra)
            if problem is not None:
                raise _NoRoom(problem)

        def progress(done: int, total: int) -> None:
            if self._closing.is_set():
                raise _Stopped
            if done == 1 or done % CHECK_EVERY == 0:
                check()
            self._update(job_id, frames_done=done, frames_total=total)

        self._update(job_id, state="running")
        files = directory / "files"
        try:
            check()
            note = work(files, progress)
            with self._lock:
                name = self._jobs[job_id].name if job_id in self._jobs else "export.zip"
            check(extra=bytes_under(files))  # the zip is about as large as the files, kept until it is whole
            zip_dir(files, directory / name)
            shutil.rmtree(files)  # the zip holds them: half the disk
            self._update(job_id, state="done", note=note, size_bytes=(directory / name).stat().st_size,
                         ended_at=self._clock())
            return
        except (ExportError, _NoRoom) as exc:
            error = str(exc)
        except _Stopped:
            error = "stopped: the server is shutting down"
        except Exception as exc:  # a job must end, and the caller sees no internals
            log.exception("export job %s failed", job_id)
            full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
            error = "the disk is full" if full else "the export failed; see the server log"
        shutil.rmtree(directory, ignore_errors=True)  # before it shows as ended: no half files are left then
        self._update(job_id, state="failed", error=error, ended_at=self._clock())

    def get(self, job_id: str, owner: str) -> Job:
        """The job of `owner` (a principal's key); 404 when unknown, expired or someone else's (not told apart)."""
        self.sweep()
        with self._lock:
            job = self._jobs.get(job_id)
        # The id is the secret (unguessable); the owner is a plain equality on a stable key.
        if job is None or job.owner != owner:
            raise HTTPException(404, "no such export (unknown, expired, or not yours)")
        return job

    def zip_path(self, job: Job) -> Path:
        """Where a done job's zip lies."""
        return self._dir(job.id) / job.name

    def sweep(self) -> None:
        """Forget ended jobs past their TTL, the oldest past MAX_KEPT or over the byte budget; remove their files."""
        now = self._clock()
        budget = self._storage.max_bytes if self._storage is not None else 0
        with self._lock:
            ended = sorted((j for j in self._jobs.values() if j.ended_at is not None),
                           key=lambda j: (j.ended_at or now, j.id))
            expired = [j for j in ended if now - (j.ended_at or now) > TTL]
            fresh = [j for j in ended if j not in expired]
            expired += fresh[:max(0, len(fresh) - MAX_KEPT)]
            kept = [j for j in fresh if j not in expired]
            total = sum(j.size_bytes for j in kept)
            for j in kept[:-1]:  # the newest stays: a job that fits alone was let finish
                if total <= budget:
                    break
                expired.append(j)
                total -= j.size_bytes
        self._drop(expired)

    def close(self) -> None:
        """At shutdown: stop the running job, drop the queued ones, remove every file."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._jobs.clear()
            root, self._root = self._root, None
            fd, self._root_lock = self._root_lock, None
            # Ready again, should the app be started anew (as tests do).
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
            self._closing.clear()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
            root.with_name(root.name + ".lock").unlink(missing_ok=True)
        if fd is not None:
            os.close(fd)


def zip_dir(directory: Path, target: Path) -> None:
    """Zip the plain files of `directory` (flat) into `target`; video stored as is, text deflated."""
    part = target.with_name(target.name + ".part")
    with zipfile.ZipFile(part, "w") as z:
        for path in sorted(directory.iterdir()):
            if path.is_file() and not path.is_symlink():
                method = zipfile.ZIP_STORED if path.suffix == ".mp4" else zipfile.ZIP_DEFLATED
                z.write(path, arcname=path.name, compress_type=method)
    part.replace(target)


def _plan(store: Store, recording: RecordingConfig | None, clock: Clock, body: ExportRequest
          ) -> tuple[Literal["alert", "range"], str, Callable[[Path, Callable[[int, int], None]], str]]:
    """Check what is asked against the store (404, 422) and return (kind, zip name, the work to do)."""
    if recording is None:
        raise HTTPException(404, "recording is not configured for this server")
    recordings = Path(recording.dir)
    if body.alert_id is not None:
        alert_id, before_s, after_s, boxes = body.alert_id, body.before_s, body.after_s, body.boxes
        alert = store.alerts.get(alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert with id {alert_id!r}")

        def alert_work(out: Path, progress: Callable[[int, int], None]) -> str:
            return export_alert(store, recordings, alert_id, out, before_s=before_s, after_s=after_s, boxes=boxes,
                                progress=progress, clock=clock, max_clip_s=MAX_CLIP_S, max_frames=MAX_FRAMES).note

        return "alert", f"routewatch-alert-{safe_name(alert.id)}.zip", alert_work
    assert body.camera is not None and body.start is not None and body.end is not None
    since, until = window(body.start, body.end)
    try:
        check_range(since, until, max_s=MAX_CLIP_S)
    except ExportError as exc:
        raise HTTPException(422, str(exc).replace("--from", "from").replace("--to", "to")) from None
    camera, boxes = body.camera, body.boxes
    if camera not in store.recordings.cameras():
        raise HTTPException(404, f"nothing recorded for camera {camera!r}")
    box = area(body.area, label="area") if body.area is not None else None

    def range_work(out: Path, progress: Callable[[int, int], None]) -> str:
        return export_range(store, recordings, camera, since, until, out, boxes=boxes, area=box, progress=progress,
                            clock=clock, max_frames=MAX_FRAMES).note

    return "range", f"routewatch-{range_name(camera, since, until)}.zip", range_work


@router.post("", status_code=202, responses={
    202: {"description": "The job, queued; poll its URL (Location)."},
    404: {"description": "unknown alert or camera, or recording not configured"},
    409: {"description": "too many exports queued or running"}, 413: {"description": "request too large"},
    507: {"description": "not enough disk space for an export"}},
    openapi_extra=body_schema(ExportRequest))
async def create(request: Request, response: Response, store: StoreDep, recording: RecordingConfigDep, clock: ClockDep,
                 jobs: ExportsDep, who: Commander) -> ExportJob:
    """Start exporting an alert or a camera's window (the body is an ExportRequest); 202 with the job."""
    body = await read_model(request, ExportRequest, MAX_BODY)
    kind, name, work = await run_in_threadpool(_plan, store, recording, clock, body)
    # In a worker thread: making room may remove files, and that must not hold the event loop.
    job = await run_in_threadpool(jobs.submit, who.key, kind, name, work)
    response.headers["Location"] = f"{router.prefix}/{job.id}"
    return job.view()


@router.get("/{job_id}", responses={404: {"description": "unknown, expired or someone else's job"}})
async def status(jobs: ExportsDep, who: Commander, job_id: JobId) -> ExportJob:
    """An export job's state and progress (frames written of the clip's total)."""
    job = await run_in_threadpool(jobs.get, job_id, who.key)  # its sweep may remove files
    return job.view()


@router.get("/{job_id}/download", response_class=FileResponse, responses={
    200: {"content": {"application/zip": {}}, "description": "The export's files, zipped."},
    404: {"description": "unknown, expired or someone else's job"}, 409: {"description": "not done (yet)"}})
async def download(jobs: ExportsDep, who: Commander, job_id: JobId) -> FileResponse:
    """The zip of a done export (clip, tracks, report)."""
    job = await run_in_threadpool(jobs.get, job_id, who.key)
    if job.state != "done":
        detail = f"export failed: {job.error}" if job.state == "failed" else f"export is {job.state}; not done yet"
        raise HTTPException(409, detail)
    path = jobs.zip_path(job)
    if not path.is_file():
        raise HTTPException(404, "the export's files are gone (expired)")
    # The name is ours (sanitised parts only), so it needs no quoting beyond the plain form.
    return FileResponse(path, media_type="application/zip", filename=job.name,
                        headers={"Cache-Control": "private, no-store"})

