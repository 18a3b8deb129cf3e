"""Storage settings (`VOLLEY_S3_*`, `VOLLEY_CDN_URL`, `VOLLEY_URL_EXPIRY`, `VOLLEY_DATA_DIR`,
`VOLLEY_SECRET_KEY`), read once into a `StoreSettings`. docs/settings.md lists them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from volley.exceptions import SettingError
from volley.settings import env_choice, env_int, env_path, env_str
from volley.settings import secret_key as _secret_key

#: SigV4 presigned URLs live at most 7 days.
MAX_URL_EXPIRY = 7 * 24 * 3600
CHECKSUMS = ("when_required", "when_supported")
ADDRESSING = ("auto", "path", "virtual")


@dataclass(frozen=True)
class StoreSettings:
    endpoint: str  # "" = no S3: the local store
    region: str
    bucket: str
    access_key: str
    secret_key: str
    checksum: str  # when_required | when_supported
    addressing: str  # path | virtual (auto resolved)
    cdn_url: str  # "" = presigned GET URLs
    url_expiry: int  # seconds
    data_dir: Path
    secret: str  # HMAC key of local URLs

    @property
    def local_root(self) -> Path:
        return self.data_dir / "store"


def is_aws(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host == "amazonaws.com" or host.endswith(".amazonaws.com")


def _url(name: str) -> str:
    value = env_str(name, "").rstrip("/")
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise SettingError(f"VOLLEY_{name} must be an http(s):// URL, got {value!r}")
    return value


def _addressing(endpoint: str) -> str:
    # SeaweedFS and MinIO need path-style; AWS is retiring it; Spaces takes both.
    chosen = env_choice("S3_ADDRESSING", "auto", ADDRESSING)
    if chosen == "auto":
        return "virtual" if is_aws(endpoint) else "path"
    return chosen


def load() -> StoreSettings:
    endpoint = _url("S3_ENDPOINT")
    access_key, s3_secret = env_str("S3_ACCESS_KEY", ""), env_str("S3_SECRET_KEY", "")
    if bool(access_key) != bool(s3_secret):
        raise SettingError("VOLLEY_S3_ACCESS_KEY and VOLLEY_S3_SECRET_KEY must be set together")
    expiry = env_int("URL_EXPIRY", 6 * 3600, minimum=60)
    if expiry > MAX_URL_EXPIRY:
        raise SettingError(f"VOLLEY_URL_EXPIRY must be <= {MAX_URL_EXPIRY} (7 days, the SigV4 limit), got {expiry}")
    data_dir = env_path("DATA_DIR", Path("volley-data")).resolve()
    return StoreSettings(
        endpoint=endpoint,
        region=env_str("S3_REGION", "us-east-1"),
        bucket=env_str("S3_BUCKET", "volley"),
        access_key=access_key,
        secret_key=s3_secret,
        # boto3 >= 1.36 sends CRC checksums that Spaces and other non-AWS stores reject.
        checksum=env_choice("S3_CHECKSUM", "when_supported" if is_aws(endpoint) else "when_required", CHECKSUMS),
        addressing=_addressing(endpoint),
        cdn_url=_url("CDN_URL"),
        url_expiry=expiry,
        data_dir=data_dir,
        # The same key as the front's (volley.settings), so both sign and check alike.
        secret=_secret_key(data_dir),
    )
