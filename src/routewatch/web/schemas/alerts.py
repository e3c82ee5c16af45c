"""Alerts as the API shows them (alert.v1, plus the API's own fields)."""

from __future__ import annotations

from pydantic import Field

from routewatch.web.schemas.base import Out, Time


class AlertOut(Out):
    """An alert in its wire form (schema alert.v1)."""

    id: str
    kind: str
    corridor_id: str
    corridor_version: int
    subject_id: str
    subject_class: str | None
    opened_at: Time
    last_seen: Time
    closed_at: Time | None
    lat: float
    lon: float
    heading_deg: float | None
    speed_m_s: float | None
    progress_m: float | None
    severity: str
    state: str
    updates: int
    detail: str
    source: str
    evidence: list[str]
    # The witnesses (sensor tracks), with world tracking; absent in alert.v1 when none are listed.
    sensors: list[str] = Field(default_factory=list)


class ApiAlert(AlertOut):
    """An alert from the API: `snapshot_url` is its JPEG snapshot's URL, or null when there is none."""

    snapshot_url: str | None


class AlertPage(Out):
    """A page of alerts; `next_offset` pages on (null: no more)."""

    items: list[ApiAlert]
    limit: int
    offset: int
    next_offset: int | None


class AlertEventOut(Out):
    """A stored alert event (a change in its lifecycle, or an acknowledgement)."""

    seq: int
    alert_id: str
    change: str
    time: Time
    state: str
    updates: int
    actor: str
    comment: str


class TrackPoint(Out):
    """One fix of an alert's subject."""

    time: Time
    lon: float
    lat: float
    alt_m: float | None
    heading_deg: float | None
    speed_m_s: float | None


class AlertDetail(ApiAlert):
    """One alert with its events and its subject's track."""

    dismissed: bool
    events: list[AlertEventOut]
    track: list[TrackPoint]
