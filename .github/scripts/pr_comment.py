"""Post or update this workflow's own comment on a pull request.

Usage: python pr_comment.py MARKER BODY_FILE
Env: GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), PR (number), GITHUB_API_URL (set by Actions).

The comment carries an HTML marker (`<!-- MARKER -->`) as its first line; an existing comment is updated only when
it has that marker and was written by the same account as this token's (github-actions[bot]), so another bot's or
a person's comment is never overwritten (`gh pr comment --edit-last` edits whatever the token posted last).
Standard library only: it runs before any dependency is installed, in a job that never checks out the PR's code.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

BOT = "github-actions[bot]"
MAX_BODY = 65_000  # GitHub refuses comment bodies over 65,536 characters
TIMEOUT_SECONDS = 30


def call(method: str, url: str, token: str, payload: dict[str, Any] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return json.loads(response.read() or b"null")


def own_comment(comments: list[dict[str, Any]], marker: str) -> dict[str, Any] | None:
    tag = f"<!-- {marker} -->"
    for comment in comments:
        if comment.get("user", {}).get("login") == BOT and comment.get("body", "").startswith(tag):
            return comment
    return None


def upsert(api: str, repo: str, pr: int, token: str, marker: str, text: str) -> tuple[str, int]:
    body = f"<!-- {marker} -->\n{text}"
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY] + "\n\n_(truncated: the full report is in the job summary)_"
    comments: list[dict[str, Any]] = []
    page = 1
    while True:  # every page: the marked comment may be older than the first hundred
        batch = call("GET", f"{api}/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}", token)
        comments.extend(batch)
        if len(batch) < 100:
            break
        page += 1
    existing = own_comment(comments, marker)
    if existing is not None:
        call("PATCH", f"{api}/repos/{repo}/issues/comments/{existing['id']}", token, {"body": body})
        return "updated", int(existing["id"])
    created = call("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
    return "created", int(created["id"])


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    marker, body_file = argv[1], argv[2]
    env = os.environ
    missing = [k for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "PR") if not env.get(k)]
    if missing:
        print(f"error: set {', '.join(missing)}", file=sys.stderr)
        return 2
    with open(body_file, encoding="utf-8") as fh:
        text = fh.read()
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    action, comment_id = upsert(
        api, env["GITHUB_REPOSITORY"], int(env["PR"]), env["GITHUB_TOKEN"], marker, text
    )
    print(f"{action} comment {comment_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
