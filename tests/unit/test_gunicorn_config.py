"""`tameio serve` runs gunicorn from a config file: sizes from the environment, timeouts and
a graceful stop from the file, and a bad size named on one line before anything forks."""

from __future__ import annotations

import pytest

from services.cli import GUNICORN_CONFIG, gunicorn_settings
from shared.config import ConfigError


def test_the_default_file_sets_sizes_timeouts_and_a_graceful_stop(monkeypatch) -> None:
    monkeypatch.setenv("TAMEIO_WEB_WORKERS", "3")
    monkeypatch.setenv("TAMEIO_WEB_THREADS", "8")

    settings = gunicorn_settings(GUNICORN_CONFIG)

    assert settings["workers"] == 3
    assert settings["threads"] == 8
    assert settings["worker_class"] == "gthread"
    assert settings["timeout"] > 30  # longer than the gateway waits for a service
    assert 0 < settings["graceful_timeout"] < 30  # within Kubernetes' default grace period
    assert "bind" not in settings  # always the command's


def test_defaults_without_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("TAMEIO_WEB_WORKERS", raising=False)
    monkeypatch.delenv("TAMEIO_WEB_THREADS", raising=False)

    settings = gunicorn_settings(GUNICORN_CONFIG)

    assert (settings["workers"], settings["threads"]) == (2, 4)


@pytest.mark.parametrize("bad", ["0", "two", "-1"])
def test_a_bad_size_is_named(monkeypatch, bad: str) -> None:
    monkeypatch.setenv("TAMEIO_WEB_WORKERS", bad)

    with pytest.raises(ConfigError, match=r"^TAMEIO_WEB_WORKERS: "):
        gunicorn_settings(GUNICORN_CONFIG)
