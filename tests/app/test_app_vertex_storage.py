"""Vertex: the server fetches its model from AIP_STORAGE_URI (gcp-storage-emulator on loopback)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_storage_emulator.server import create_server

from app.serve.storage import download_folder

BUCKET = "tricloud-models"


@pytest.fixture()
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    host = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    yield host
    server.stop()


def upload(host: str, name: str, data: bytes) -> None:
    query = urllib.parse.urlencode({"uploadType": "media", "name": name})
    req = urllib.request.Request(f"{host}/upload/storage/v1/b/{BUCKET}/o?{query}", data=data, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_download_folder_copies_the_artifact(gcs: str, model_dir: Path, tmp_path: Path) -> None:
    for f in model_dir.iterdir():
        upload(gcs, f"models/house/1/{f.name}", f.read_bytes())
    upload(gcs, "models/other/x.txt", b"not ours")
    out = download_folder(f"gs://{BUCKET}/models/house/1", tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in model_dir.iterdir())
    assert (out / "model.joblib").read_bytes() == (model_dir / "model.joblib").read_bytes()
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        download_folder(f"gs://{BUCKET}/nothing-here", tmp_path / "n")
    with pytest.raises(ValueError, match="s3://x"):
        download_folder("s3://x/y", tmp_path / "n")


def test_vertex_server_loads_model_from_storage_uri(
    gcs: str, model_dir: Path, valid_listing: dict, monkeypatch, serve_process
) -> None:
    # Through the fixture: `from conftest import ...` resolves to whichever tests/*/conftest.py loaded first.
    start_server, stop_server = serve_process
    for f in model_dir.iterdir():
        upload(gcs, f"vertex/model/{f.name}", f.read_bytes())
    monkeypatch.delenv("MODEL_DIR", raising=False)
    proc, port = start_server(
        ["vertex"], {"AIP_STORAGE_URI": f"gs://{BUCKET}/vertex/model", "STORAGE_EMULATOR_HOST": gcs}
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            "/predict",
            json.dumps({"instances": [valid_listing]}),
            {"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        out = json.loads(resp.read())
        assert resp.status == 200 and len(out["predictions"]) == 1
        assert out["model_version"] == json.loads((model_dir / "metadata.json").read_text())["version"]
    finally:
        stop_server(proc)
