"""Alerts: list with filters and pagination, one alert with its track and events, ack and dismiss."""

from __future__ import annotations

import math
import urllib.parse
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from routewatch.geo.bbox import parse_bbox
from routewatch.model import ALERT_KINDS, Alert, AlertState, EventKind
from routewatch.store import UnknownAlertError
from routewatch.store.records import AlertEvent
from routewatch.web.deps import (
    Acker,
    AlertsDep,
    AuditDep,
    ClockDep,
    HubDep,
    PositionsDep,
    Reader,
    SettingsDep,
    SnapshotsDep,
)
from routewatch.web.repos import AlertReads, AlertRepo, AuditRepo, SnapshotRepo
from routewatch.web.routes.live import LiveHub
from routewatch.web.schemas import AlertDetail, AlertEventOut, AlertPage, ApiAlert, SnapshotLink, TrackPoint
from routewatch.web.security import Principal
from routewatch.web.settings import Clock
from routewatch.wire import alert_to_dict

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
DISMISSED = "dismissed:"
_CHUNK = 500


class Comment(BaseModel):
    """Why an alert is acknowledged or dismissed."""

    comment: str = Field(default="", max_length=2000)


def parse_area(text: str) -> Any:
    """A lon/lat box polygon from 'minlon,minlat,maxlon,maxlat', or 422 saying what is wrong."""
    try:
        return parse_bbox(text).polygon()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise HTTPException(422, f"{name} needs a time zone (e.g. 2026-03-01T12:00:00Z)")
    return value


# A camera name as the camera settings allow it (config.cameras.CameraConfig.name).
CAMERA_NAME = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"


def snapshot_url(alert_id: str, camera: str | None = None) -> str:
    """Where an alert's JPEG snapshot from `camera` is served (None: its first snapshot).

    >>> snapshot_url("a1"), snapshot_url("a1", "cam-b")
    ('/api/alerts/a1/snapshot', '/api/alerts/a1/snapshot?camera=cam-b')
    """
    url = f"/api/alerts/{alert_id}/snapshot"
    return url if camera is None else f"{url}?{urllib.parse.urlencode({'camera': camera})}"


def alert_dicts(snapshots: SnapshotRepo, alerts: list[Alert]) -> list[ApiAlert]:
    """Alerts for the API: `snapshots` a link per camera, `snapshot_url` the first's URL (null when none)."""
    cameras = snapshots.cameras_of([a.id for a in alerts]) if alerts else {}
    return [ApiAlert.model_validate({
        **alert_to_dict(a),
        "snapshot_url": snapshot_url(a.id) if cameras.get(a.id) else None,
        "snapshots": [SnapshotLink(camera=c, url=snapshot_url(a.id, c)) for c in cameras.get(a.id, ())],
    }) for a in alerts]


def event_dict(e: AlertEvent) -> AlertEventOut:
    """A stored alert event for the API."""
    return AlertEventOut(seq=e.seq, alert_id=e.alert_id, change=e.change.value, time=e.time.isoformat(),
                         state=e.state.value, updates=e.updates, actor=e.actor, comment=e.comment)


def _page(alerts: AlertReads, filters: dict[str, Any], cls: str | None, limit: int, offset: int) -> list[Alert]:
    if cls is None:
        return list(alerts.find(**filters, limit=limit, offset=offset))
    # The store has no class filter: scan in chunks so pagination still counts matching alerts only.
    found: list[Alert] = []
    skip, at = offset, 0
    while len(found) < limit:
        chunk = alerts.find(**filters, limit=_CHUNK, offset=at)
        for alert in chunk:
            if alert.subject_class != cls:
                continue
            if skip:
                skip -= 1
            elif len(found) < limit:
                found.append(alert)
        if len(chunk) < _CHUNK:
            break
        at += _CHUNK
    return found


@router.get("")
def list_alerts(
    alerts: AlertsDep,
    snapshots: SnapshotsDep,
    _: Reader,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: EventKind | None = None,
    corridor: Annotated[str | None, Query(max_length=64)] = None,
    state: AlertState | None = None,
    cls: Annotated[str | None, Query(alias="class", max_length=64)] = None,
    bbox: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AlertPage:
    """Alerts opened in [since, until) matching every filter, by opening time; `next_offset` pages on."""
    filters: dict[str, Any] = {
        "since": _aware("since", since), "until": _aware("until", until), "kind": kind,
        "corridor_id": corridor, "state": state,
    }
    if since is not None and until is not None and until <= since:
        raise HTTPException(422, "until must be after since")
    if kind is not None and kind not in ALERT_KINDS:
        raise HTTPException(422, f"{kind.value!r} is not an alert kind (it only closes a breach alert)")
    if bbox is not None:
        filters["within"] = parse_area(bbox)
    items = _page(alerts, filters, cls, limit + 1, offset)
    more = len(items) > limit
    return AlertPage(items=alert_dicts(snapshots, items[:limit]), limit=limit, offset=offset,
                     next_offset=offset + limit if more else None)


def _get(alerts: AlertReads, alert_id: str) -> Alert:
    alert = alerts.get(alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return alert


@router.get("/{alert_id}")
def get_alert(alert_id: str, alerts: AlertsDep, snapshots: SnapshotsDep, positions: PositionsDep,
              settings: SettingsDep, _: Reader) -> AlertDetail:
    """One alert with its events and the subject's track from opening to closing (or last seen)."""
    alert = _get(alerts, alert_id)
    end = (alert.closed_at or alert.last_seen) + timedelta(microseconds=1)
    fixes = positions.of_subject(alert.subject_id, since=alert.opened_at, until=end)
    most = settings.max_track_points
    if len(fixes) > most:  # thin long tracks evenly, keeping the last fix
        step = math.ceil(len(fixes) / most)
        fixes = fixes[:-1:step] + fixes[-1:]
    events = alerts.events(alert_id, limit=10_000)
    last_ack = next((e for e in reversed(events) if e.change.value == "acknowledged"), None)
    return AlertDetail(
        **dict(alert_dicts(snapshots, [alert])[0]),
        dismissed=last_ack is not None and last_ack.comment.startswith(DISMISSED),
        events=[event_dict(e) for e in events],
        track=[TrackPoint(time=f.time.isoformat(), lon=f.lon, lat=f.lat, alt_m=f.alt_m, heading_deg=f.heading_deg,
                          speed_m_s=f.speed_m_s) for f in fixes],
    )


def _acknowledge(alerts: AlertRepo, audit: AuditRepo, snapshots: SnapshotRepo, clock: Clock, hub: LiveHub,
                 alert_id: str, principal: Principal, comment: str, action: str) -> ApiAlert:
    at = clock()
    try:
        alert = alerts.acknowledge(alert_id, by=principal.name, comment=comment, time=at)
    except UnknownAlertError:
        raise HTTPException(404, f"no alert {alert_id!r}") from None
    audit.add(action, actor=principal.name, target=alert_id, detail=comment, at=at)
    hub.publish(())
    return alert_dicts(snapshots, [alert])[0]


@router.get("/{alert_id}/snapshot", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "The alert's JPEG snapshot."},
                       404: {"description": "No such alert, or it has no snapshot (from that camera)."}})
def get_snapshot(
    alert_id: str,
    snapshots: SnapshotsDep,
    _: Reader,
    camera: Annotated[str | None, Query(min_length=1, max_length=64, pattern=CAMERA_NAME,
                                        description="The camera whose snapshot (default: the first stored).")] = None,
) -> Response:
    """The JPEG evidence of an alert raised from video: its opening frame from a camera, the tracked box drawn."""
    snap = snapshots.get(alert_id, camera)
    if snap is None:
        raise HTTPException(404, f"no snapshot for alert {alert_id!r}" + (f" from camera {camera!r}" if camera else ""))
    # A snapshot never changes once stored, but it is evidence: keep it in the user's cache only.
    return Response(snap.jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.post("/{alert_id}/ack")
def acknowledge(alert_id: str, body: Comment, alerts: AlertsDep, audit: AuditDep, snapshots: SnapshotsDep,
                clock: ClockDep, hub: HubDep, principal: Acker) -> ApiAlert:
    """Acknowledge an alert with a comment (audited)."""
    return _acknowledge(alerts, audit, snapshots, clock, hub, alert_id, principal, body.comment, "ack")


@router.post("/{alert_id}/dismiss")
def dismiss(alert_id: str, body: Comment, alerts: AlertsDep, audit: AuditDep, snapshots: SnapshotsDep,
            clock: ClockDep, hub: HubDep, principal: Acker) -> ApiAlert:
    """Dismiss an alert (an acknowledgement whose comment starts with 'dismissed:'; audited)."""
    return _acknowledge(alerts, audit, snapshots, clock, hub, alert_id, principal,
                        f"{DISMISSED} {body.comment}".strip(), "dismiss")
