"""Retention decisions (pure): which segments go, by age, by disk budget, and which alert footage stays longer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routewatch.config.recording import AlertTierConfig, CameraRecordingConfig
from routewatch.model import Severity
from routewatch.recording.policy import Doomed, Rule, SegmentFacts, Span, Tier, keep, plan

T0 = datetime(2026, 5, 1, tzinfo=UTC)
DAY = 86_400.0


def seg(i: int, *, size: int = 100, recorded_days_ago: float = 0.0, now: datetime = T0 + timedelta(days=60)
        ) -> SegmentFacts:
    """Segment i spans minute i (event time) and was recorded `recorded_days_ago` before `now`."""
    start = T0 + timedelta(minutes=i)
    return SegmentFacts(i, start, start + timedelta(seconds=59.8), now - timedelta(days=recorded_days_ago), size)


def span(minute: float, length_s: float = 10.0, severity: Severity = Severity.HIGH, own: bool = True) -> Span:
    start = T0 + timedelta(minutes=minute)
    return Span(start, start + timedelta(seconds=length_s), severity, own)


NOW = T0 + timedelta(days=60)
BASE = Rule(max_age_s=7 * DAY, max_bytes=None)
TIERED = Rule(7 * DAY, None, (Tier(Severity.LOW, 30, 30, 30 * DAY), Tier(Severity.HIGH, 0, 0, 90 * DAY)))


@pytest.mark.parametrize(("segments", "spans", "rule", "want"), [
    pytest.param([], [], BASE, [], id="nothing-recorded"),
    pytest.param([], [span(0)], TIERED, [], id="alerts-but-no-segments"),
    pytest.param([seg(0, recorded_days_ago=1), seg(1, recorded_days_ago=6.9)], [], BASE, [], id="all-young"),
    pytest.param([seg(0, recorded_days_ago=8), seg(1, recorded_days_ago=7.01), seg(2, recorded_days_ago=6)], [],
                 BASE, [Doomed(0, "age"), Doomed(1, "age")], id="past-max-age"),
    # Alert at minute 1 (+10 s) with 30 s either side: only segment 1 overlaps [0:30, 1:40] -> and segment 0
    # ends at 0:59.8, inside the window's start (0:30) -> both kept for 30 days.
    pytest.param([seg(i, recorded_days_ago=10) for i in range(4)], [span(1, severity=Severity.LOW)], TIERED,
                 [Doomed(2, "age"), Doomed(3, "age")], id="alert-window-with-before-after"),
    pytest.param([seg(i, recorded_days_ago=40) for i in range(3)], [span(1, severity=Severity.LOW)], TIERED,
                 [Doomed(0, "age"), Doomed(1, "age"), Doomed(2, "age")], id="low-tier-expired-too"),
    pytest.param([seg(i, recorded_days_ago=40) for i in range(3)], [span(1, severity=Severity.CRITICAL)], TIERED,
                 [Doomed(0, "age"), Doomed(2, "age")], id="high-tier-keeps-90-days"),
    pytest.param([seg(i, recorded_days_ago=10) for i in range(3)], [span(1, severity=Severity.INFO)], TIERED,
                 [Doomed(0, "age"), Doomed(1, "age"), Doomed(2, "age")], id="severity-below-every-tier"),
    pytest.param([seg(i, recorded_days_ago=10) for i in range(3)], [span(1, own=False)], TIERED,
                 [Doomed(0, "age"), Doomed(1, "age"), Doomed(2, "age")], id="another-cameras-alert-scope-camera"),
    pytest.param([seg(i, recorded_days_ago=10) for i in range(3)], [span(1, own=False)],
                 Rule(7 * DAY, None, (Tier(Severity.INFO, 0, 0, 30 * DAY, "all"),)),
                 [Doomed(0, "age"), Doomed(2, "age")], id="scope-all-counts-any-alert"),
    # Over budget (500 > 300): oldest first, but the alert's segments (0 and 1, its window is 0:30..1:40) last.
    pytest.param([seg(i) for i in range(5)], [span(1)], Rule(7 * DAY, 300, TIERED.tiers),
                 [Doomed(2, "budget"), Doomed(3, "budget")], id="budget-spares-alert-footage"),
    pytest.param([seg(i) for i in range(3)], [span(0), span(1), span(2)], Rule(7 * DAY, 100, TIERED.tiers),
                 [Doomed(0, "budget"), Doomed(1, "budget")], id="budget-beats-alert-tiers"),
    pytest.param([seg(0, recorded_days_ago=8), seg(1, size=250), seg(2)], [], Rule(7 * DAY, 300),
                 [Doomed(0, "age"), Doomed(1, "budget")], id="age-first-then-budget"),
    pytest.param([seg(i) for i in range(3)], [], Rule(7 * DAY, 300), [], id="exactly-at-budget"),
])
def test_plan(segments: list[SegmentFacts], spans: list[Span], rule: Rule, want: list[Doomed]) -> None:
    assert plan(segments, spans, rule, NOW) == want


def test_an_open_ended_long_alert_protects_every_segment_it_spans() -> None:
    segments = [seg(i, recorded_days_ago=10) for i in range(6)]
    ages = keep(segments, [span(1.5, length_s=150)], TIERED)  # 1:30 .. 4:00, +-30 s: minutes 1..4
    assert [a for a, _ in ages] == [7 * DAY, 90 * DAY, 90 * DAY, 90 * DAY, 90 * DAY, 7 * DAY]


def test_the_longest_tier_wins_and_ranks_follow_tier_age() -> None:
    segments = [seg(0), seg(1), seg(2)]
    ages = keep(segments, [span(0.2, severity=Severity.LOW), span(2.2, severity=Severity.HIGH)],
                Rule(7 * DAY, None, (Tier(Severity.HIGH, 0, 0, 90 * DAY), Tier(Severity.LOW, 0, 0, 30 * DAY))))
    assert ages == [(30 * DAY, 1), (7 * DAY, 0), (90 * DAY, 2)]


def test_rule_from_config() -> None:
    cfg = CameraRecordingConfig(max_age_s=3600, max_bytes=None, alert_tiers=[
        AlertTierConfig(min_severity=Severity.HIGH, before_s=5, after_s=7, max_age_s=7200, scope="all")])
    rule = Rule.from_config(cfg)
    assert rule == Rule(3600, None, (Tier(Severity.HIGH, 5, 7, 7200, "all"),))
    assert rule.reach() == timedelta(seconds=7)


@pytest.mark.parametrize(("settings", "message"), [
    ({"segment_s": 0.5}, "greater than or equal to 1"),
    ({"max_bytes": 10}, "greater than or equal to 1000000"),
    ({"codec": "avc1"}, "mp4v"),
    ({"alert_tiers": [{"min_severity": "urgent"}]}, "min_severity"),
    ({"alert_tiers": [{"max_age_s": 0}]}, "greater than 0"),
])
def test_bad_recording_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CameraRecordingConfig.model_validate(settings)


def test_resume_threshold_below_stop_threshold_is_refused() -> None:
    from routewatch.config.recording import RecordingConfig

    with pytest.raises(ValueError, match="resume_free_bytes"):
        RecordingConfig(min_free_bytes=10_000, resume_free_bytes=5_000)


def test_now_must_be_tz_aware() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        plan([seg(0)], [], BASE, datetime(2026, 5, 1))
