"""The refresh over real HTTP: a loopback server replays the recorded Azure Retail Prices pages
(and a transient 503) to the real urllib client, paging through NextPageLink."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tricloud.cost import refresh as refresh_mod
from tricloud.cost.catalogs import load_catalog
from tricloud.cost.refresh import HttpClient, RefreshError

from .conftest import RECORDED


class _Handler(BaseHTTPRequestHandler):
    base = ""
    requests: list[str] = []
    fail_first = True

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if type(self).fail_first:
            type(self).fail_first = False
            self.send_response(503)
            self.end_headers()
            return
        page = 2 if "skip=100" in self.path else 1
        doc = json.loads((RECORDED / f"azure_functions_page{page}.json").read_text(encoding="utf-8"))
        if page == 1:  # the next link points back at this server, as the real API points at itself
            doc["NextPageLink"] = f"{type(self).base}/api/retail/prices?$filter=eastus+Execution&$skip=100"
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.base, _Handler.requests, _Handler.fail_first = base, [], True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_azure_refresh_over_loopback_http(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = load_catalog().directory
    assert src is not None
    for name in ("aws.yaml", "azure.yaml", "gcp.yaml", "fx.yaml"):
        shutil.copy(src / name, tmp_path / name)
    catalog = load_catalog(tmp_path)
    for entry_id in [
        e.id for e in catalog.for_cloud("azure") if e.id != "azure/eastus/Functions/execution-time"
    ]:
        del catalog.entries[entry_id]
    catalog.wanted.clear()
    monkeypatch.setattr(refresh_mod, "AZURE_PRICES_URL", f"{server}/api/retail/prices")
    client = HttpClient(timeout_s=5, retries=3, backoff_s=0.01)

    result = refresh_mod.refresh(catalog, ["azure"], fetch=client.get_json, today="2026-11-30")["azure"]

    assert result.updated == ["azure/eastus/Functions/execution-time"] and result.errors == []
    entry = catalog.entries["azure/eastus/Functions/execution-time"]
    assert [(t.start, t.end, t.usd) for t in entry.tiers] == [(0, 400000, 0.0), (400000, None, 0.000017)]
    assert entry.source.url.startswith(f"{server}/api/retail/prices?api-version=")
    assert len(_Handler.requests) == 3  # 503, page 1, page 2
    assert "%24filter=" in _Handler.requests[1] and "eastus" in _Handler.requests[1]


def test_client_times_out_against_a_silent_server() -> None:
    import socket

    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
        client = HttpClient(timeout_s=0.2, retries=2, backoff_s=0.0)
        with pytest.raises(RefreshError, match="failed after 2 attempts"):
            client.get_json(url)
