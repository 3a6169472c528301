"""The preview workflow's cost steps, run as the workflow runs them:

- `.github/scripts/cost-diff.sh` on two real commits of this repository (a clone in the test's tmp dir, so no
  worktree is added to the repository under test): the base's inventories come from the base's own code;
- `.github/scripts/pr_comment.py` against a GitHub API stand-in on 127.0.0.1: it updates only the comment carrying
  its marker and written by github-actions[bot], never another bot's (the old `--edit-last` did).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / ".github" / "scripts"


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def totals(markdown: str) -> dict[str, tuple[float | str, float | str]]:
    """cloud -> (base, head) monthly totals: a number (a lower bound where marked "≥"), "absent" where that side has
    no such stack ("-"), "no estimate" where every price it needs is missing ("?")."""
    found = re.findall(r"^\| (aws|azure|gcp) \| ([^|]+) \| ([^|]+) \|", markdown, re.M)

    def figure(text: str) -> float | str:
        text = text.strip()
        if text == "-":
            return "absent"
        if text == "?":
            return "no estimate"
        return float(re.sub(r"[^\d.]", "", text.split("+")[0]))

    return {c: (figure(b), figure(h)) for c, b, h in found if not b.startswith("`")}


def rows(markdown: str) -> dict[tuple[str, str], str]:
    """(cloud, resource) -> change, from the per-resource table."""
    found = re.findall(r"^\| (aws|azure|gcp) \| `([^`]+)` \(`[^`]+`\) \| (\w+) \|", markdown, re.M)
    return {(c, r): change for c, r, change in found}


def test_cost_diff_prices_the_base_commit_with_its_own_code(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "clone", "--quiet", str(ROOT), str(repo))
    # Base: this repository without the Azure stack (a stack the base does not have yet).
    git(repo, "rm", "--quiet", "stacks/azure/Pulumi.dev.yaml")
    git(repo, "commit", "--quiet", "-m", "base without an azure stack")
    base = git(repo, "rev-parse", "HEAD")
    # Head: the Azure stack back, Spark on EMR on EC2 instead of EMR Serverless, no GCP preview identity.
    git(repo, "checkout", "--quiet", "HEAD~1", "--", "stacks/azure/Pulumi.dev.yaml")
    aws = repo / "stacks/aws/Pulumi.dev.yaml"
    aws.write_text(
        aws.read_text().replace("mode: serverless               # or cluster (EMR on EC2)", "mode: cluster")
    )
    gcp = repo / "stacks/gcp/Pulumi.dev.yaml"
    gcp.write_text(gcp.read_text().replace("preview: true ", "preview: false"))
    git(repo, "commit", "--quiet", "-am", "head")
    out = tmp_path / "cost-diff.md"

    result = subprocess.run(
        [str(SCRIPTS / "cost-diff.sh"), base, str(out)],
        cwd=repo,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the base ({base}) has no azure inventory" in result.stdout
    markdown = out.read_text()
    t = totals(markdown)
    assert t["aws"][1] < t["aws"][0]  # type: ignore[operator]  # the EMR Serverless application (priced) is gone; EMR on EC2 is unpriced
    # not in the base; in the head, but Central India has no prices: "no estimate", never $0.00
    assert t["azure"] == ("absent", "no estimate")
    assert t["gcp"][0] == t["gcp"][1]  # IAM is free
    changes = rows(markdown)
    assert (
        changes[("gcp", "ci-preview-sa")] == "removed"
        and changes[("gcp", "ci-preview-wif-user")] == "removed"
    )
    assert any(c == "azure" and ch == "added" for (c, _), ch in changes.items())
    assert changes[("aws", "spark-app")] == "removed" and changes[("aws", "spark-cluster")] == "added"
    assert {r for (c, r), ch in changes.items() if c == "aws" and ch == "removed"} == {"spark-app"}
    assert git(repo, "worktree", "list").count("\n") == 0  # the base worktree is gone


class FakeGitHub(BaseHTTPRequestHandler):
    comments: list[dict[str, Any]] = []
    calls: list[tuple[str, str, Any]] = []

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        assert self.headers["Authorization"] == "Bearer t0ken"
        self.calls.append(("GET", self.path, None))
        page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))  # type: ignore[union-attr]
        self._send(200, self.comments[(page - 1) * 100 : page * 100])

    def do_PATCH(self) -> None:
        body = self._body()
        self.calls.append(("PATCH", self.path, body))
        self._send(200, {"id": int(self.path.rsplit("/", 1)[1])})

    def do_POST(self) -> None:
        body = self._body()
        self.calls.append(("POST", self.path, body))
        self._send(201, {"id": 999})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def post(api: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    body = tmp_path / "diff.md"
    body.write_text("### tricloud cost diff\n| aws | $1 | $2 |\n")
    env = {
        **os.environ,
        "GITHUB_API_URL": api,
        "GITHUB_TOKEN": "t0ken",
        "GITHUB_REPOSITORY": "o/r",
        "PR": "5",
    }
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "pr_comment.py"), "tricloud-cost-diff", str(body)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_pr_comment_updates_only_its_own_marked_comment(api: str, tmp_path: Path) -> None:
    other_bot = {"id": 1, "user": {"login": "github-actions[bot]"}, "body": "### Pulumi preview\n..."}
    human = {"id": 2, "user": {"login": "alice"}, "body": "<!-- tricloud-cost-diff -->\nquoting the bot"}
    ours = {"id": 3, "user": {"login": "github-actions[bot]"}, "body": "<!-- tricloud-cost-diff -->\nold"}
    filler = [{"id": 100 + i, "user": {"login": "bob"}, "body": "lgtm"} for i in range(100)]
    FakeGitHub.comments = [other_bot, human, *filler, ours]  # ours is on the second page
    FakeGitHub.calls = []
    result = post(api, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "updated comment 3"
    writes = [c for c in FakeGitHub.calls if c[0] != "GET"]
    assert writes == [("PATCH", "/repos/o/r/issues/comments/3", {"body": "<!-- tricloud-cost-diff -->\n"
                                                                  "### tricloud cost diff\n| aws | $1 | $2 |\n"})]  # fmt: skip


def test_pr_comment_creates_one_when_none_is_its_own(api: str, tmp_path: Path) -> None:
    FakeGitHub.comments = [{"id": 1, "user": {"login": "github-actions[bot]"}, "body": "### Pulumi preview"}]
    FakeGitHub.calls = []
    result = post(api, tmp_path)
    assert result.stdout.strip() == "created comment 999"
    (write,) = [c for c in FakeGitHub.calls if c[0] != "GET"]
    assert write[0:2] == ("POST", "/repos/o/r/issues/5/comments")
    assert write[2]["body"].startswith("<!-- tricloud-cost-diff -->\n### tricloud cost diff")
