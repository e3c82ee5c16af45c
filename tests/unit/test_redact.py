"""Secrets never reach logs: camera URLs are masked before they are printed."""

from __future__ import annotations

import doctest

import pytest

import routewatch.config.redact
from routewatch.config.redact import redact_url


@pytest.mark.parametrize(("url", "shown"), [
    ("", ""),
    ("gate.mp4", "gate.mp4"),
    ("0", "0"),
    ("rtsp://10.0.0.5/main", "rtsp://10.0.0.5/main"),
    ("rtsp://admin:secret@10.0.0.5:554/main", "rtsp://admin:***@10.0.0.5:554/main"),
    ("rtsp://admin@10.0.0.5/main", "rtsp://admin:***@10.0.0.5/main"),
    ("rtsp://admin:pa/ss@host/main", "rtsp://admin:***@host/main"),
    ("rtsp://admin:p@ss@host/main", "rtsp://admin:***@host/main"),
    ("http://cam/cgi?user=admin&pwd=secret", "http://cam/cgi?user=admin&pwd=***"),
    ("http://cam/cgi?Password=x&token=y&res=hd&flag", "http://cam/cgi?Password=***&token=***&res=hd&flag"),
    ("https://u:p@cam/x?api_key=k", "https://u:***@cam/x?api_key=***"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "secret" not in redact_url(url)


def test_docstring_examples() -> None:
    assert doctest.testmod(routewatch.config.redact).failed == 0


def test_config_errors_do_not_print_the_password() -> None:
    from routewatch.config.cameras import camera_source

    with pytest.raises(ValueError) as err:
        camera_source("rtsp://admin:hunter2@cam /main")  # a space: refused, and the url is quoted
    assert "hunter2" not in str(err.value) and "admin:***@" in str(err.value)
