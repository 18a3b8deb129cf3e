"""The scaler's settings (`VOLLEY_SCALER_*`, `VOLLEY_DO_*`), read once into a
`ScalerSettings`; a bad or missing value stops the scaler with a `SettingError` that
names the variable. docs/settings.md ("The scaler") lists them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from scaler import defaults
from volley.exceptions import SettingError
from volley.settings import env_choice, env_int, env_str


@dataclass(frozen=True)
class Limits:
    """What `scaler.decide` needs: the bounds and pace of sizing."""

    min_workers: int = defaults.MIN_WORKERS
    max_workers: int = defaults.MAX_WORKERS
    games_per_worker: int = defaults.GAMES_PER_WORKER
    pods_per_node: int = defaults.PODS_PER_NODE
    cooldown: int = defaults.COOLDOWN  # seconds
    pool_mode: str = defaults.POOL_MODE  # autoscale | count

    @property
    def max_nodes(self) -> int:
        return -(-self.max_workers // self.pods_per_node)


@dataclass(frozen=True)
class ScalerSettings:
    limits: Limits
    interval: int  # seconds between ticks
    upload_window: int  # seconds an unfinished upload counts as a game to come
    namespace: str
    deployment: str
    metrics_port: int  # 0 = any free port (tests)
    do_token: str
    do_cluster_id: str  # "" with do_pool_id "": no node pool to size (a local cluster)
    do_pool_id: str
    do_api_url: str

    @property
    def sizes_pool(self) -> bool:
        return bool(self.do_pool_id)


def load() -> ScalerSettings:
    min_workers = env_int("SCALER_MIN_WORKERS", defaults.MIN_WORKERS, minimum=0)
    max_workers = env_int("SCALER_MAX_WORKERS", defaults.MAX_WORKERS, minimum=1)
    if max_workers < min_workers:
        raise SettingError(
            f"VOLLEY_SCALER_MAX_WORKERS ({max_workers}) must be >= VOLLEY_SCALER_MIN_WORKERS ({min_workers})")
    limits = Limits(
        min_workers=min_workers,
        max_workers=max_workers,
        games_per_worker=env_int("SCALER_GAMES_PER_WORKER", defaults.GAMES_PER_WORKER, minimum=1),
        pods_per_node=env_int("SCALER_PODS_PER_NODE", defaults.PODS_PER_NODE, minimum=1),
        cooldown=env_int("SCALER_COOLDOWN", defaults.COOLDOWN, minimum=0),
        pool_mode=env_choice("SCALER_POOL_MODE", defaults.POOL_MODE, defaults.POOL_MODES),
    )
    cluster_id, pool_id, token = env_str("DO_CLUSTER_ID", ""), env_str("DO_NODE_POOL_ID", ""), env_str("DO_TOKEN", "")
    if bool(cluster_id) != bool(pool_id):
        raise SettingError("VOLLEY_DO_CLUSTER_ID and VOLLEY_DO_NODE_POOL_ID must be set together "
                           "(neither: the scaler sizes only the worker Deployment)")
    metrics_port = env_int("SCALER_METRICS_PORT", defaults.METRICS_PORT, minimum=0)
    if metrics_port > 65535:
        raise SettingError(f"VOLLEY_SCALER_METRICS_PORT must be a TCP port (<= 65535), got {metrics_port}")
    if pool_id and not token:
        raise SettingError("VOLLEY_DO_TOKEN must be set to size the node pool (a DigitalOcean API token "
                           "with kubernetes read and update scopes)")
    return ScalerSettings(
        limits=limits,
        interval=env_int("SCALER_INTERVAL", defaults.INTERVAL, minimum=1),
        upload_window=env_int("SCALER_UPLOAD_WINDOW", defaults.UPLOAD_WINDOW, minimum=0),
        namespace=env_str("SCALER_NAMESPACE", defaults.NAMESPACE),
        deployment=env_str("SCALER_DEPLOYMENT", defaults.DEPLOYMENT),
        metrics_port=metrics_port,
        do_token=token,
        do_cluster_id=cluster_id,
        do_pool_id=pool_id,
        do_api_url=_url("DO_API_URL", defaults.DO_API_URL),
    )


def _url(name: str, default: str) -> str:
    value = env_str(name, default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(f"VOLLEY_{name} must be an http(s):// URL, got {value!r}")
    return value
