"""Fetch a model folder from Cloud Storage for Vertex AI (``AIP_STORAGE_URI``).

Vertex copies the registered artifact to a gs:// folder and tells the container where; the container downloads it
itself. Plain JSON API calls over urllib, and the deployment's service-account token from the metadata server
(``GCE_METADATA_HOST``, the variable the Google libraries honour, moves it): the image needs no Google library.
``STORAGE_EMULATOR_HOST`` (the variable the Google client libraries use) points it at a local emulator, which,
like those libraries, gets no credentials.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

GCS_API = "https://storage.googleapis.com"
READ_ONLY_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
TIMEOUT_S = 30.0
MAX_FILES = 100  # an artifact folder holds four files; anything far larger is the wrong URI


METADATA_HOST = "metadata.google.internal"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


class StorageError(RuntimeError):
    """The model folder cannot be fetched; the message names the URI or the credential source."""


def _token() -> str:
    """The service account's access token from the metadata server (Vertex runs the container with one)."""
    host = os.environ.get("GCE_METADATA_HOST") or METADATA_HOST
    req = urllib.request.Request(
        f"http://{host}{TOKEN_PATH}?{urllib.parse.urlencode({'scopes': READ_ONLY_SCOPE})}",
        headers={"Metadata-Flavor": "Google"},
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
            token = json.loads(r.read()).get("access_token")
    except (OSError, ValueError) as exc:
        raise StorageError(f"no access token from the metadata server {host}: {exc}") from None
    if not token:
        raise StorageError(f"the metadata server {host} answered without an access_token")
    return str(token)


def download_folder(uri: str, dest: Path) -> Path:
    """Copy every object under ``gs://bucket/prefix/`` into ``dest``; returns ``dest``."""
    if not uri.startswith("gs://"):
        raise ValueError(f"AIP_STORAGE_URI must be a gs:// URI, got {uri!r}")
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        base, headers = (emulator if "://" in emulator else f"http://{emulator}").rstrip("/"), {}
    else:
        base, headers = GCS_API, {"Authorization": f"Bearer {_token()}"}

    def get(url: str) -> bytes:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S) as r:
                return bytes(r.read())
        except OSError as exc:  # HTTPError, URLError, timeouts: one line naming the URI, not a traceback
            raise StorageError(f"cannot read {uri!r} from {base}: {exc}") from None

    names: list[str] = []
    page = ""
    while True:
        query = urllib.parse.urlencode({"prefix": prefix, **({"pageToken": page} if page else {})})
        listing = json.loads(get(f"{base}/storage/v1/b/{urllib.parse.quote(bucket)}/o?{query}"))
        names += [item["name"] for item in listing.get("items", []) if not item["name"].endswith("/")]
        page = listing.get("nextPageToken", "")
        if not page or len(names) > MAX_FILES:
            break
    if not names:
        raise FileNotFoundError(f"no objects under {uri!r}")
    if len(names) > MAX_FILES:
        raise ValueError(f"more than {MAX_FILES} objects under {uri!r}; is it the model folder?")
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        rel = PurePosixPath(name[len(prefix) :])
        # Object names are untrusted paths: never write outside dest.
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"refusing object name {name!r} in {uri!r}")
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        obj = urllib.parse.quote(name, safe="")
        target.write_bytes(get(f"{base}/storage/v1/b/{urllib.parse.quote(bucket)}/o/{obj}?alt=media"))
    return dest
