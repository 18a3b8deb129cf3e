"""Logs and New Relic for every Volley process: one place that knows how.

- `init(component)` starts New Relic's agent when `NEW_RELIC_LICENSE_KEY` is set (the
  agent reads all its settings from `NEW_RELIC_*` variables) and otherwise says, in one
  log line, that it is off. Nothing else in Volley imports `newrelic`.
- `record_event(type, attributes)` sends a custom event (a stage run, a scaler
  decision) when the agent is on, and always writes it as a log line, so an operator
  without New Relic sees the same facts.
- `context(game=..., stage=...)` tags every log line written inside it; with
  `VOLLEY_LOG_FORMAT=json` (what the Kubernetes config sets) each line is one JSON
  object carrying those tags, ready for New Relic's or any other log pipeline.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import threading
import time
from typing import Any, Iterator

log = logging.getLogger("volley.telemetry")

#: Log tags of the work in hand (game, stage, attempt...), per thread and task.
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("volley_log_context", default={})
_state = {"component": "", "on": False}
_lock = threading.Lock()
#: Seconds `init` waits for the agent to connect in a long-running non-web process.
REGISTER_TIMEOUT = 10.0


def init(component: str) -> bool:
    """Start New Relic for this process (once). Returns whether it is on.

    Call it before Django is imported in the web process, so the agent can instrument
    Django; workers and the scaler register their application eagerly, because their
    events are recorded outside any web transaction."""
    with _lock:
        if _state["component"]:
            return _state["on"]
        _state["component"] = component
        if not logging.getLogger().handlers:  # before Django configures logging
            configure_logging()
        if not os.environ.get("NEW_RELIC_LICENSE_KEY", "").strip():
            log.info("New Relic is off: NEW_RELIC_LICENSE_KEY is not set (component %s)", component)
            return False
        import newrelic.agent

        newrelic.agent.initialize(config_file=os.environ.get("NEW_RELIC_CONFIG_FILE") or None)
        if component != "web":
            newrelic.agent.register_application(timeout=REGISTER_TIMEOUT)
        _state["on"] = True
        log.info("New Relic is on for %s (app %s)", component, os.environ.get("NEW_RELIC_APP_NAME", "Python Application"))
        return True


def shutdown(timeout: float = 10.0) -> None:
    """Send what the agent holds before the process exits (a final harvest)."""
    if _state["on"]:
        import newrelic.agent

        newrelic.agent.shutdown_agent(timeout=timeout)


def record_event(event_type: str, attributes: dict[str, Any]) -> None:
    """One custom event: New Relic when on, and a log line always. Attribute values
    must be str, int, float or bool (New Relic's rule); None values are left out and
    anything else is written as text."""
    clean = {k: _value(v) for k, v in attributes.items() if v is not None}
    log.info("%s %s", event_type, json.dumps(clean, sort_keys=True), extra={"event": event_type, **_prefixed(clean)})
    if _state["on"]:
        import newrelic.agent

        newrelic.agent.record_custom_event(event_type, clean, application=newrelic.agent.application())


def _value(value: Any) -> str | int | float | bool:
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _prefixed(attributes: dict[str, Any]) -> dict[str, Any]:
    """Event attributes as log record extras, kept clear of LogRecord's own names."""
    return {f"attr_{k}": v for k, v in attributes.items()}


@contextlib.contextmanager
def context(**tags: Any) -> Iterator[None]:
    """Tag the log lines written inside (in this thread or task) with `tags`."""
    token = _context.set({**_context.get(), **{k: v for k, v in tags.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the current `context` tags on each record (as `record.context`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _context.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context tags (game,
    stage...) and an event's attributes; a traceback, when there is one, as `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "context", None) or _context.get())
        if getattr(record, "event", None):
            line["event"] = record.event
            line.update({k[5:]: v for k, v in record.__dict__.items() if k.startswith("attr_")})
        if _state["component"]:
            line["component"] = _state["component"]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the context tags after the message (`game=… stage=…`)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tags = getattr(record, "context", None) or _context.get()
        if not tags:
            return text
        head, sep, tail = text.partition("\n")
        return head + " [" + " ".join(f"{k}={v}" for k, v in tags.items()) + "]" + sep + tail


def configure_logging() -> None:
    """Logging from `VOLLEY_LOG_LEVEL` and `VOLLEY_LOG_FORMAT` for a process that has
    not set it up yet (Django's settings apply the same later)."""
    import logging.config

    from volley.settings import env_choice, env_str

    logging.config.dictConfig(logging_config(env_str("LOG_LEVEL", "INFO"), env_choice("LOG_FORMAT", "text", ("text", "json"))))


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for `VOLLEY_LOG_LEVEL` and `VOLLEY_LOG_FORMAT`."""
    formatter = "volley.telemetry.JsonFormatter" if fmt == "json" else "volley.telemetry.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "volley.telemetry.ContextFilter"}},
        "formatters": {"volley": {"()": formatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "volley", "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.server": {"level": "WARNING"}},
    }
