"""`S3Store`: the store on an S3-compatible service (DigitalOcean Spaces in production,
AWS, SeaweedFS in the tests), through boto3."""

from __future__ import annotations

import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from pusher.base import (ByteProgress, Part, attachment, check_contiguous, check_key, check_part_number,
                         check_prefix)
from pusher import sigv4
from pusher.exceptions import StoreError

MiB = 1024 * 1024
#: Files above 64 MiB go up in 16 MiB parts, 4 at a time: a game's digest uploads in
#: parallel, and a failed part is retried alone.
TRANSFER = TransferConfig(multipart_threshold=64 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4)
MISSING = ("404", "NoSuchKey", "NotFound")


@contextmanager
def _errors(operation: str, key: str) -> Iterator[None]:
    try:
        yield
    except Boto3Error as error:  # the transfer manager wraps the ClientError it met
        cause = error.__context__
        if isinstance(cause, ClientError):
            raise _client_error(operation, key, cause) from error
        raise StoreError(operation, key, str(error), code=type(error).__name__) from error
    except ClientError as error:
        raise _client_error(operation, key, error) from error
    except BotoCoreError as error:  # EndpointConnectionError, NoCredentialsError, timeouts...
        raise StoreError(operation, key, str(error), code=type(error).__name__) from error


def _client_error(operation: str, key: str, error: ClientError) -> StoreError:
    info = error.response.get("Error", {})
    code = str(info.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return StoreError(operation, key, f"{code}: {info.get('Message') or error}", code=code)


class S3Store:
    """Objects in one bucket. With a CDN, public objects get a public-read ACL and CDN URLs;
    without one, every URL is presigned and expires after `expiry` seconds."""

    def __init__(self, endpoint: str, bucket: str, *, region: str = "us-east-1", access_key: str = "",
                 secret_key: str = "", checksum: str = "when_required", addressing: str = "path",
                 cdn_url: str = "", expiry: int = 6 * 3600):
        self.bucket = bucket
        self.cdn_url = cdn_url.rstrip("/")
        self.expiry = expiry
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            request_checksum_calculation=checksum,
            response_checksum_validation=checksum,
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key} if access_key else {}
        # Own session: boto3's default session is not thread-safe, clients are.
        self.session = boto3.session.Session(region_name=region, **credentials)
        self.client = self.session.client("s3", endpoint_url=endpoint or None, config=config)
        self.region = region
        self.endpoint = self.client.meta.endpoint_url
        self.virtual = addressing == "virtual"

    # --- objects ----------------------------------------------------------------
    def put_file(self, key: str, path: Path, *, content_type: str | None = None,
                 cache_control: str | None = None, public: bool = False) -> None:
        extra = {}
        if content_type:
            extra["ContentType"] = content_type
        if cache_control:
            extra["CacheControl"] = cache_control
        if public and self.cdn_url:  # without a CDN, objects stay private behind presigned URLs
            extra["ACL"] = "public-read"
        with _errors("put_file", check_key(key)):
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=TRANSFER)

    def download(self, key: str, path: Path, progress: ByteProgress | None = None) -> None:
        total = self.size(key)
        if total is None:
            raise StoreError("download", key, "no such object", code="NoSuchKey")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            with _errors("download", key):
                self.client.download_file(self.bucket, key, str(tmp), Config=TRANSFER,
                                          Callback=_Counter(total, progress) if progress else None)
            os.replace(tmp, path)  # readers never see half a file
        finally:
            tmp.unlink(missing_ok=True)

    def size(self, key: str) -> int | None:
        try:
            with _errors("size", check_key(key)):
                return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except StoreError as error:
            if error.code in MISSING:
                return None
            raise

    def read_head(self, key: str, length: int = 65536) -> bytes:
        try:
            with _errors("read_head", check_key(key)):
                reply = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{max(length, 1) - 1}")
                return reply["Body"].read()[:length]
        except StoreError as error:
            if error.code == "InvalidRange":  # an empty object has no byte 0
                return b""
            raise

    def url(self, key: str, *, download_name: str | None = None) -> str:
        check_key(key)
        if self.cdn_url and not download_name:  # a CDN URL cannot ask for Content-Disposition
            return f"{self.cdn_url}/{quote(key)}"
        params = {"response-content-disposition": attachment(download_name)} if download_name else {}
        with _errors("url", key):
            frozen = self.session.get_credentials()
            if frozen is None:
                raise NoCredentialsError()
            frozen = frozen.get_frozen_credentials()  # refreshable chains (roles) stay fresh
        credentials = sigv4.Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        return sigv4.presign_get(self.endpoint, self.region, self.bucket, key, credentials, self.expiry,
                                 signed_at=sigv4.window_start(self.expiry), virtual=self.virtual, params=params)

    def delete_prefix(self, prefix: str) -> int:
        """Deletes every object under `prefix` and aborts its unfinished uploads."""
        check_prefix(prefix)
        deleted = 0
        with _errors("delete_prefix", prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if objects:  # a listing page holds at most 1000 keys, the DeleteObjects limit
                    reply = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
                    if reply.get("Errors"):
                        first = reply["Errors"][0]
                        raise StoreError("delete_prefix", first.get("Key", prefix),
                                         f"{first.get('Code')}: {first.get('Message')}", code=first.get("Code"))
                    deleted += len(objects)
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    self.abort_upload(upload["Key"], upload["UploadId"])
        return deleted

    # --- browser uploads: multipart with presigned part URLs -------------------------
    def start_upload(self, key: str, content_type: str) -> str:
        with _errors("start_upload", check_key(key)):
            reply = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return reply["UploadId"]

    def part_url(self, key: str, upload_id: str, part_number: int, size: int | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": check_key(key), "UploadId": upload_id,
                  "PartNumber": check_part_number(part_number)}
        if size is not None:
            # Content-Length is then a signed header: S3 itself refuses any other length.
            params["ContentLength"] = size
        with _errors("part_url", key):
            return self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=self.expiry)

    def uploaded_parts(self, key: str, upload_id: str) -> list[Part]:
        parts = []
        with _errors("uploaded_parts", check_key(key)):
            pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                parts += [Part(p["PartNumber"], p["ETag"].strip('"'), p["Size"]) for p in page.get("Parts", [])]
        return sorted(parts)

    def complete_upload(self, key: str, upload_id: str) -> None:
        # The store's own list, never the client's: a client could name parts it never sent.
        parts = self.uploaded_parts(key, upload_id)
        check_contiguous(key, parts)
        listed = [{"PartNumber": p.number, "ETag": f'"{p.etag}"'} for p in parts]
        with _errors("complete_upload", key):
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": listed})

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            with _errors("abort_upload", check_key(key)):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except StoreError as error:
            if error.code not in ("NoSuchUpload", "404"):  # already gone: aborting again is fine
                raise


class _Counter:
    """boto's transfer callback gets byte increments from several threads."""

    def __init__(self, total: int, progress: ByteProgress):
        self.total, self.done, self.progress = total, 0, progress
        self.lock = threading.Lock()

    def __call__(self, increment: int) -> None:
        with self.lock:
            self.done += increment
            self.progress(self.done, self.total)
