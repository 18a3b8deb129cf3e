"""The scaler's named errors. Each says which API refused what, so that one log line
is enough to act on."""

from __future__ import annotations

from volley.exceptions import VolleyError


class ScalerError(VolleyError):
    """Base class of the scaler's errors: a tick that raises one changes nothing more
    and the next tick starts over from what the database and the cluster say."""


class DigitalOceanError(ScalerError):
    """The DigitalOcean API answered with an error (or not at all). `status` is the HTTP
    status (0 when no answer came), `error_id` DigitalOcean's error "id" (`not_found`,
    `unauthorized`, `unprocessable_entity`, `too_many_requests`...)."""

    def __init__(self, method: str, path: str, status: int, error_id: str, message: str):
        self.method = method
        self.path = path
        self.status = status
        self.error_id = error_id
        self.message = message
        answer = f"HTTP {status} {error_id}" if status else "no answer"
        super().__init__(f"DigitalOcean {method} {path}: {answer}: {message}")


class KubernetesError(ScalerError):
    """A Kubernetes API call failed (`status` is the HTTP status; 0 when no answer came:
    the API server unreachable, or no configuration to reach it)."""

    def __init__(self, action: str, status: int, reason: str):
        self.action = action
        self.status = status
        self.reason = reason
        answer = f"HTTP {status}: " if status else ""
        super().__init__(f"Kubernetes: cannot {action}: {answer}{reason}")
