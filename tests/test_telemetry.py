"""Logs and New Relic (volley.telemetry): off without a licence key and saying so once;
with one, custom events reach what the agent sends to New Relic's collector (checked
with the agent's own developer mode, which answers as the collector would and writes
every payload to an audit log); JSON log lines carry the game and stage in hand."""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys

import pytest

from volley import telemetry


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEW_RELIC_")}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_it_says_once_that_new_relic_is_off_without_a_licence_key():
    done = run_python(
        "from volley import telemetry\n"
        "print(telemetry.init('worker'), telemetry.init('worker'))\n"
        "telemetry.record_event('VolleyStageRun', {'game': 'g1', 'stage': 'cutting', 'duration': 1.5})\n",
        VOLLEY_LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    off = [line for line in lines if "New Relic is off" in line["message"]]
    assert len(off) == 1 and "NEW_RELIC_LICENSE_KEY" in off[0]["message"]
    event = next(line for line in lines if line.get("event") == "VolleyStageRun")
    assert (event["game"], event["stage"], event["duration"]) == ("g1", "cutting", 1.5)


def test_it_sends_custom_events_to_new_relic_when_a_licence_key_is_set(tmp_path):
    audit = tmp_path / "newrelic-audit.log"
    done = run_python(
        "from volley import telemetry\n"
        "assert telemetry.init('worker')\n"
        "telemetry.record_event('VolleyStageRun', {'game': 'g1', 'stage': 'analysing', 'frames': 4000, 'fps': 91.5,"
        " 'rallies': 7, 'outcome': 'ok', 'error': None})\n"
        "telemetry.shutdown()\n",
        NEW_RELIC_LICENSE_KEY="0123456789abcdef0123456789abcdef01234567", NEW_RELIC_APP_NAME="volley-test",
        NEW_RELIC_DEVELOPER_MODE="true", NEW_RELIC_AUDIT_LOG=str(audit), NEW_RELIC_STARTUP_TIMEOUT="10")
    assert done.returncode == 0, done.stderr
    assert "New Relic is on for worker" in done.stderr
    (batch,) = sent_data(audit.read_text(), "custom_event_data")
    (header, attributes), = batch[2]
    assert header["type"] == "VolleyStageRun"
    assert attributes == {"game": "g1", "stage": "analysing", "frames": 4000, "fps": 91.5, "rallies": 7, "outcome": "ok"}


def sent_data(audit: str, method: str) -> list:
    """The payloads of `method` calls in the agent's audit log (Python reprs)."""
    found = []
    for entry in audit.split("=" * 78):
        if f"'method': '{method}'" in entry and "DATA: " in entry:
            found.append(ast.literal_eval(entry.split("DATA: ", 1)[1].split("\n\n", 1)[0]))
    return found


def json_logger(stream) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(telemetry.JsonFormatter())
    handler.addFilter(telemetry.ContextFilter())
    logger = logging.getLogger("volley.test.json")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_json_log_lines_carry_the_game_and_stage_in_hand(capsys):
    import io

    stream = io.StringIO()
    logger = json_logger(stream)
    with telemetry.context(game="g7", stage="building", attempt=2):
        logger.info("clip %s built", 3)
        try:
            raise ValueError("bad clip")
        except ValueError:
            logger.exception("clip failed")
    logger.info("between games")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["message"], first["game"], first["stage"], first["attempt"], first["level"]) == (
        "clip 3 built", "g7", "building", 2, "info")
    assert second["level"] == "error" and "ValueError: bad clip" in second["exc"]
    assert "game" not in third and third["message"] == "between games"


def test_text_log_lines_end_with_the_context_tags():
    record = logging.LogRecord("volley.stage", logging.INFO, __file__, 1, "started", None, None)
    with telemetry.context(game="g7", stage="cutting"):
        telemetry.ContextFilter().filter(record)
    assert telemetry.TextFormatter().format(record).endswith("started [game=g7 stage=cutting]")


def test_a_bad_log_format_stops_the_process_with_the_variable_named(monkeypatch):
    from volley.exceptions import SettingError

    monkeypatch.setenv("VOLLEY_LOG_FORMAT", "xml")
    with pytest.raises(SettingError, match="VOLLEY_LOG_FORMAT"):
        telemetry.configure_logging()
