"""Alert lifecycle: open, update, close, reopen within cooldown, expiry; deterministic ids."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routewatch.alerts.manager import AlertManager
from routewatch.config.engine import AlertsConfig
from routewatch.model import ALERT_KINDS, AlertState, Change, EventKind, RuleEvent, Severity
from tests.kits.engine import T0, box

E = EventKind
CFG = AlertsConfig(cooldown_s=60, close_after_s=300)


def ev(kind: EventKind, t: float, subject: str = "s1", corridor: str = "zone") -> RuleEvent:
    return RuleEvent(kind, T0 + timedelta(seconds=t), subject, "person", corridor, 1, 149.0, -35.0, detail="d")


def run(events, cfg=CFG, corridors=(), sweep_at=None, finish=True):
    am = AlertManager(cfg, corridors)
    out = []
    for e in events:
        out.extend(am.sweep(e.time))
        out.extend(am.on_event(e))
    if finish:
        out.extend(am.finish())
    if sweep_at is not None:
        am.touch("s1", T0)
        out.extend(am.sweep(T0 + timedelta(seconds=sweep_at)))
    return am, [(c.change.value, c.alert.kind.value, c.alert.state.value) for c in out], out


TABLE = [
    ("nothing", [], []),
    ("enter opens", [ev(E.ENTER, 0)], [("opened", "enter", "open")]),
    ("exit closes enter, dwell and along",
     [ev(E.ENTER, 0), ev(E.DWELL, 60), ev(E.ALONG, 70), ev(E.EXIT, 80)],
     [("opened", "enter", "open"), ("opened", "dwell", "open"), ("opened", "along", "open"),
      ("closed", "enter", "closed"), ("closed", "dwell", "closed"), ("closed", "along", "closed")]),
    ("exit without enter does nothing (exit alerts are opt-in)", [ev(E.EXIT, 5)], []),
    ("repeat while open is an update", [ev(E.CROSS, 0), ev(E.CROSS, 10)],
     [("opened", "cross", "open"), ("updated", "cross", "open")]),
    ("re-entry within cooldown continues the same alert",
     [ev(E.ENTER, 0), ev(E.EXIT, 10), ev(E.ENTER, 30)],
     [("opened", "enter", "open"), ("updated", "enter", "open")]),
    ("re-entry after cooldown is a new alert",
     [ev(E.ENTER, 0), ev(E.EXIT, 10), ev(E.ENTER, 80)],
     [("opened", "enter", "open"), ("closed", "enter", "closed"), ("opened", "enter", "open")]),
    ("cross again within cooldown of its expiry reopens it",
     [ev(E.CROSS, 0), ev(E.CROSS, 320)],
     [("opened", "cross", "open"), ("closed", "cross", "closed"), ("opened", "cross", "open")]),
    ("breach closes on return", [ev(E.BREACH, 0), ev(E.RETURN, 20)],
     [("opened", "breach", "open"), ("closed", "breach", "closed")]),
    ("return alone is nothing", [ev(E.RETURN, 20)], []),
    ("other subjects are separate", [ev(E.ENTER, 0), ev(E.ENTER, 0, subject="s2")],
     [("opened", "enter", "open"), ("opened", "enter", "open")]),
]


@pytest.mark.parametrize(("name", "events", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_lifecycle(name, events, expected):
    assert run(events)[1] == expected


def test_episode_keeps_id_and_late_reentry_gets_new_id():
    _, _, out = run([ev(E.ENTER, 0), ev(E.EXIT, 10), ev(E.ENTER, 30), ev(E.EXIT, 40), ev(E.ENTER, 200)])
    assert [c.change for c in out] == [Change.OPENED, Change.UPDATED, Change.CLOSED, Change.OPENED]
    assert out[0].alert.id == out[1].alert.id == out[2].alert.id != out[3].alert.id
    # closed at the time the condition ended, not when the cooldown ran out
    assert out[2].alert.closed_at == T0 + timedelta(seconds=40)


def test_cross_reopen_keeps_id():
    _, _, out = run([ev(E.CROSS, 0), ev(E.CROSS, 320)])
    assert out[0].alert.id == out[2].alert.id and out[2].alert.updates == 1


def test_ids_are_deterministic():
    events = [ev(E.ENTER, 0), ev(E.DWELL, 60), ev(E.CROSS, 3, corridor="b"), ev(E.EXIT, 90)]
    assert [c.alert for c in run(events)[2]] == [c.alert for c in run(events)[2]]


def test_instant_alerts_expire_after_quiet_time():
    am, changes, _ = run([ev(E.CROSS, 0)], sweep_at=299)
    assert changes == [("opened", "cross", "open")]
    closed = am.sweep(T0 + timedelta(seconds=300))
    assert [(c.change, c.alert.closed_at) for c in closed] == [(Change.CLOSED, T0 + timedelta(seconds=300))]


def test_silent_subject_alert_closes_at_last_fix():
    am = AlertManager(CFG)
    am.on_event(ev(E.ENTER, 0))
    am.touch("s1", T0 + timedelta(seconds=50))
    assert am.sweep(T0 + timedelta(seconds=349)) == []
    closed = am.sweep(T0 + timedelta(seconds=350))
    assert len(closed) == 1 and closed[0].alert.closed_at == T0 + timedelta(seconds=50)
    assert "no fix" in closed[0].alert.detail


def test_severity_from_corridor_then_config():
    crit = box("zone", 0, 0, 1, 1, severity=Severity.CRITICAL)
    _, _, out = run([ev(E.ENTER, 0), ev(E.ENTER, 0, corridor="other")], corridors=[crit])
    assert [c.alert.severity for c in out] == [Severity.CRITICAL, CFG.severity["enter"]]


def test_disabled_kind_is_not_raised_and_exit_opt_in():
    cfg = AlertsConfig(kinds=frozenset({"exit"}))
    _, changes, _ = run([ev(E.ENTER, 0), ev(E.EXIT, 5)], cfg=cfg)
    assert changes == [("opened", "exit", "open")]


def test_acknowledge():
    am, _, out = run([ev(E.ENTER, 0)])
    ch = am.acknowledge(out[0].alert.id, T0)
    assert ch is not None and ch.alert.state is AlertState.ACKNOWLEDGED
    assert am.acknowledge("nope", T0) is None
    # an acknowledged alert still closes on exit
    am.on_event(ev(E.EXIT, 10))
    closed = am.sweep(T0 + timedelta(seconds=70))
    assert closed[0].alert.state is AlertState.CLOSED and closed[0].alert.kind is EventKind.ENTER


def test_unknown_kind_in_config_is_refused():
    with pytest.raises(ValueError, match="unknown alert kind"):
        AlertsConfig(kinds=frozenset({"teleport"}))



def test_alert_kinds_are_the_event_kinds_that_open_an_alert() -> None:
    # One enum: an alert's kind is a rule event's kind, RETURN aside (it only closes a breach).
    assert set(EventKind) - set(ALERT_KINDS) == {EventKind.RETURN}
    assert [k.value for k in ALERT_KINDS] == ["enter", "exit", "dwell", "along", "cross", "breach"]
