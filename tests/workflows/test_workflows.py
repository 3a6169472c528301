"""The GitHub workflows lint clean offline (actionlint, zizmor with no pin exception), pin every action by commit,
and have the shape the security of the pipeline depends on (forks, permissions, environments, order, locks)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
CLOUDS = ("aws", "azure", "gcp")


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: it comes with the dev extra (make install)"
    return path


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_actionlint_is_clean() -> None:
    result = subprocess.run([_tool("actionlint")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_and_has_no_pin_exception() -> None:
    config = yaml.safe_load((ROOT / ".github/zizmor.yml").read_text())
    assert "unpinned-uses" not in config.get("rules", {}), "actions are pinned by hash: no ref-pin policy"
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--config", ".github/zizmor.yml", ".github/workflows"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    uses = [
        (path.name, line.strip())
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if re.match(r"\s*(- )?uses:", line)
    ]
    assert len(uses) > 20
    for name, line in uses:
        if "./.github/workflows/" in line:
            continue  # this repository's reusable workflow, at the caller's commit
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), (name, line)
    assert (ROOT / ".github/pulumi.version").read_text().strip() == "3.259.0"  # a released CLI, not `latest`


def test_no_workflow_reads_a_stored_secret() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "secrets." not in text, f"{path.name}: credentials come from OIDC, not stored secrets"
        assert "aws-access-key-id" not in text and "creds:" not in text and "credentials_json" not in text


def test_preview_never_runs_with_rights_on_forks_and_comments_without_the_prs_code() -> None:
    wf = load("preview.yml")
    assert set(wf["on"]) == {"pull_request"}  # never pull_request_target: PR code never meets a write token
    preview = wf["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert "environment" not in preview  # an environment would make the token's sub an environment's
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert preview["strategy"]["matrix"]["cloud"] == list(CLOUDS)
    steps = preview["steps"]
    auth = next(s for s in steps if s.get("uses", "").startswith("pulumi/auth-actions@"))
    assert auth["with"]["scope"] == "team:${{ vars.PULUMI_READ_TEAM }}"  # stack read only, no stored token
    roles = [s["with"] for s in steps if "with" in s]
    assert {
        "role-to-assume": "${{ vars.AWS_PREVIEW_ROLE_ARN }}",
        "aws-region": "${{ vars.AWS_REGION }}",
    } in roles
    cost = wf["jobs"]["cost"]
    assert cost["permissions"] == {"contents": "read"} and "if" not in cost  # forks get a cost diff too
    comment = wf["jobs"]["cost-comment"]
    checkout = comment["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert not any("make install" in s.get("run", "") for s in comment["steps"])


def test_deploy_goes_dev_then_prod_per_cloud_one_at_a_time() -> None:
    jobs = load("deploy.yml")["jobs"]
    for cloud in CLOUDS:
        dev, prod = jobs[f"{cloud}-dev"], jobs[f"{cloud}-prod"]
        assert prod["needs"] == f"{cloud}-dev" and "needs" not in dev
        for stage, job in (("dev", dev), ("prod", prod)):
            assert job["uses"] == "./.github/workflows/deploy-stack.yml"
            assert job["with"] == {
                "cloud": cloud,
                "stack": stage,
                "environment": stage,
                "rollout-environment": f"{stage}-model",
            }
            assert job["concurrency"] == {"group": f"deploy-{cloud}-{stage}", "cancel-in-progress": False}
            assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_deploy_stack_signs_in_per_duty_and_rolls_back_on_failure() -> None:
    wf = load("deploy-stack.yml")
    assert set(wf["on"]) == {"workflow_call"}
    infra, model = wf["jobs"]["infrastructure"], wf["jobs"]["model"]
    assert infra["environment"] == "${{ inputs.environment }}"
    assert model["environment"] == "${{ inputs.rollout-environment }}" and model["needs"] == "infrastructure"
    text = (WORKFLOWS / "deploy-stack.yml").read_text()
    infra_text = text[text.index("  infrastructure:") : text.index("  model:")]
    model_text = text[text.index("  model:") :]
    assert "ROLLOUT" not in infra_text.replace("rollout-environment", "")  # each job its own identity
    assert "INFRASTRUCTURE" not in model_text
    up = next(s for s in infra["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert up["with"]["command"] == "up" and up["with"]["pulumi-version-file"] == ".github/pulumi.version"
    commands = [re.search(r"tricloud model (\w+)", s.get("run", "")) for s in model["steps"]]
    assert [m.group(1) for m in commands if m] == [
        "train",
        "register",
        "approve",
        "rollout",
        "smoke",
        "rollback",
    ]
    # The registries' tags are immutable: the image is pushed under the commit only and trained on by that tag.
    train = next(s for s in model["steps"] if "tricloud model train" in s.get("run", ""))
    assert '--image-tag "$GITHUB_SHA"' in train["run"]
    push = (ROOT / ".github/scripts/push-image.sh").read_text()
    assert 'latest"' not in push and push.count(':$sha"') == 3  # ACR build, docker build, docker push
    rollback = model["steps"][-1]
    # A refused rollout already restored the previous version: rolling back after it would undo a good one.
    assert rollback["if"] == "failure() && steps.smoke.outcome == 'failure'"
    smoke = next(s for s in model["steps"] if s.get("id") == "smoke")
    assert smoke["env"] == {"LABEL": "${{ steps.register.outputs.label }}"}  # the API answers the label
    aws = next(s for s in model["steps"] if s.get("name") == "AWS rollout identity")
    # The session covers the job: the job's timeout is below the role's maximum session (tricloud:ci default).
    assert int(aws["with"]["role-duration-seconds"]) == 180 * 60 > model["timeout-minutes"] * 60


def test_require_vars_skips_with_a_notice(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = str(ROOT / ".github/scripts/require-vars.sh")
    env = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(out), "CLOUD": "gcp", "A": "x"}
    result = subprocess.run([script, "A", "B"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "::notice title=gcp not configured::" in result.stdout and "variables B " in result.stdout
    assert out.read_text() == "configured=false\n"
    subprocess.run([script, "A"], env=env, check=True, capture_output=True, timeout=30)
    assert out.read_text().splitlines()[-1] == "configured=true"
