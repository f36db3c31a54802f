"""Schedule expressions: a job's frequency normalized, and the next fire time the local clock uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.core.schedules import Cron, next_fire, normalize_frequency

T0 = datetime(2026, 3, 2, 10, 17, 30, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("rate(1 minute)", T0, datetime(2026, 3, 2, 10, 18, tzinfo=UTC)),
        (
            "rate(5 minutes)",
            datetime(2026, 3, 2, 10, 23, tzinfo=UTC),
            datetime(2026, 3, 2, 10, 27, tzinfo=UTC),
        ),
        ("rate(2 hours)", T0, datetime(2026, 3, 2, 12, 17, tzinfo=UTC)),
        ("rate(1 day)", T0, datetime(2026, 3, 3, 10, 17, tzinfo=UTC)),
    ],
)
def test_rate_counts_periods_from_the_anchor(expression, after, expected):
    anchor = datetime(2026, 3, 2, 10, 17, tzinfo=UTC)
    assert next_fire(expression, after, anchor) == expected


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("cron(0/15 * * * ? *)", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        ("cron(5 * * * ? *)", datetime(2026, 3, 2, 11, 5, tzinfo=UTC)),
        ("cron(0 8 * * ? *)", datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
        ("cron(30 9-17 ? * MON-FRI *)", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        ("cron(0 12 ? * SUN *)", datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        ("cron(0 0 1 * ? *)", datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
        ("cron(15,45 10 * * ? 2026)", datetime(2026, 3, 2, 10, 45, tzinfo=UTC)),
    ],
)
def test_cron_next_minute(expression, expected):
    assert next_fire(expression, T0, T0) == expected


def test_cron_in_a_time_zone():
    # 08:00 in Paris is 07:00 UTC in winter.
    assert next_fire("cron(0 8 * * ? *)", T0, T0, "Europe/Paris") == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


def test_at_fires_once():
    at = "at(2026-03-02T11:00:00)"
    assert next_fire(at, T0, T0) == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert next_fire(at, datetime(2026, 3, 2, 11, 0, tzinfo=UTC), T0) is None


@pytest.mark.parametrize("expression", ["rate(1 week)", "cron(0 8 * *)", "cron(0 8 L * ? *)", "every day"])
def test_unsupported_expressions_are_refused(expression):
    with pytest.raises(ValueError):
        next_fire(expression, T0, T0)


def test_cron_weekday_numbers_are_aws_ones():
    assert Cron.parse("* * ? * 2 *").matches(T0)  # 2 = Monday in AWS cron
    assert not Cron.parse("* * ? * 1 *").matches(T0)


@pytest.mark.parametrize(
    "frequency, expression",
    [
        ("manual", "manual"),
        ("MANUAL", "manual"),
        ("15-minutes", "rate(15 minutes)"),
        ("1-minute", "rate(1 minute)"),
        ("1-minutes", "rate(1 minute)"),
        ("2-hours", "rate(2 hours)"),
        ("1-days", "rate(1 day)"),
        ("2-weeks", "rate(14 days)"),
        ("1-months", "cron(0 0 1 * ? *)"),
        ("3-months", "cron(0 0 1 1/3 ? *)"),
        ("*/15 * * * *", "cron(*/15 * * * ? *)"),
        ("0 2 * * 1-5", "cron(0 2 ? * 2-6 *)"),  # Unix Monday..Friday is AWS 2..6
        ("0 2 * * 0", "cron(0 2 ? * 1 *)"),  # Sunday
        ("0 2 * * 7", "cron(0 2 ? * 1 *)"),
        ("0 2 * * MON-FRI", "cron(0 2 ? * MON-FRI *)"),
        ("30 6 1 * *", "cron(30 6 1 * ? *)"),
        ("  0   2 * * *  ", "cron(0 2 * * ? *)"),
        ("rate(5 minutes)", "rate(5 minutes)"),
        ("cron(0 12 * * ? *)", "cron(0 12 * * ? *)"),
    ],
)
def test_frequency_is_normalized(frequency, expression):
    normalized = normalize_frequency(frequency)
    assert normalized == expression
    if normalized != "manual":  # the local clock can run every normalized expression
        assert next_fire(normalized, T0, T0) is not None


@pytest.mark.parametrize(
    "frequency",
    [
        "0-minutes", "5-years", "13-months", "every day", "* * * *", "61 * * * *", "0 2 1 * 1",
        "0 2 * * 8", "rate(0 minutes)", "rate(5 minute)", "rate(1 weeks)", "cron(0 12 * * *)",
        "cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(0 12 L * ? *)", "\x00", "9" * 500,
        # what Python's int() takes and AWS does not: underscores, signs, other scripts' digits; bad steps
        "0_5 * * * *", "+5 * * * *", "\u0665 * * * *", "*/-1 * * * *", "*/0 * * * *",
        "rate(100000000000 minutes)", "\u0665-minutes",
    ],
)  # fmt: skip
def test_invalid_frequency_is_refused(frequency):
    with pytest.raises(ValueError):
        normalize_frequency(frequency)
