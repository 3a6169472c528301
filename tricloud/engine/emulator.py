"""Where the engine and the data plane send AWS API calls: moto (in-process or at a URL), optionally LocalStack.

`Emulator.start(...)` gives boto3 clients per service and the `AWS_*` environment a subprocess needs to reach the
same emulator through the standard `AWS_ENDPOINT_URL_<SERVICE>` variables (so app code needs no change).

IAM is enforced on moto by default (`tricloud.engine.iam`): the engine's clients sign as the deployer user, and a
workload gets its role's session from `assume_role`, never the deployer's keys.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from tricloud.engine import iam, moto_server

# The learner's keys: the local gateway and the runtime shim accept them as the account's root (the curl example),
# and LocalStack takes the 12-digit id as the account, matching moto's default account, so ARNs agree. moto, with
# IAM enforced, knows no root: the engine signs its calls there as the deployer user instead.
ACCESS_KEY_ID = "123456789012"
SECRET_ACCESS_KEY = "tricloud-local-emulator-secret-key-0000000"
# Services the LocalStack tier takes (it evaluates alarms and enforces S3 settings moto ignores); the rest is moto.
# Firehose goes with Logs: LocalStack's PutSubscriptionFilter checks that the delivery stream exists beside it.
LOCALSTACK_SERVICES = frozenset({"s3", "iam", "kms", "cloudwatch", "logs", "firehose"})
# boto3 service name -> the suffix of its AWS_ENDPOINT_URL_<SUFFIX> variable.
ENV_SUFFIX = {
    "s3": "S3",
    "iam": "IAM",
    "kms": "KMS",
    "cloudwatch": "CLOUDWATCH",
    "logs": "CLOUDWATCH_LOGS",
    "firehose": "FIREHOSE",
    "sagemaker-runtime": "SAGEMAKER_RUNTIME",
}
MOTO_CONFIG = {
    # moto cannot run Lambda code without Docker; the local gateway runs the handler instead.
    "lambda": {"use_docker": False},
    "batch": {"use_docker": False},
    # EMR's service role attaches an AWS-managed policy, which moto only knows when it loads them.
    "iam": {"load_aws_managed_policies": True},
}


# Set to "environment" (as `tricloud emulate run-as` does), an emulator opened with `endpoint=` signs its moto calls
# with the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN of the environment instead of the deployer's:
# a command run as a role (the CI rollout role) then makes every call as that role.
SIGN_AS_ENV = "TRICLOUD_EMULATOR_CREDENTIALS"

T = TypeVar("T")
_ENFORCING_IN_PROCESS = 0  # in-process emulators enforcing IAM: moto's switch is process-wide
_ENFORCE_LOCK = threading.Lock()


class EmulatorError(Exception):
    """The emulator cannot be started or reached."""


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


def reachable(url: str, path: str = "/moto-api/") -> bool:
    try:
        _get(url.rstrip("/") + path, timeout=5.0)
        return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer (LocalStack has no /moto-api) still means a server listens
    except (OSError, ValueError):
        return False


@dataclass
class Emulator:
    region: str
    moto_url: str
    backend: str = "moto"  # moto | localstack
    localstack_url: str | None = None
    in_process: bool = False
    enforce_iam: bool = False
    _server: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sessions: dict[str, Any] = field(default_factory=dict)
    _deployer: tuple[str, str] | None = None
    _signer: iam.Session | None = None  # sign_as: moto calls go out as this session instead of the deployer

    # --- lifecycle ---

    @classmethod
    def start(
        cls,
        region: str,
        *,
        endpoint: str | None = None,
        backend: str = "moto",
        localstack_url: str | None = None,
        enforce_iam: bool = True,
    ) -> Emulator:
        """In-process moto on a free loopback port, or the moto server at `endpoint`; IAM enforced unless told."""
        if backend not in ("moto", "localstack"):
            raise EmulatorError(f"backend = {backend!r}: must be moto or localstack")
        if backend == "localstack":
            localstack_url = localstack_url or os.environ.get("LOCALSTACK_URL", "http://127.0.0.1:4566")
            if not reachable(localstack_url, "/_localstack/health"):
                raise EmulatorError(
                    f"LocalStack is not reachable at {localstack_url}: run `scripts/localstack.sh start` first"
                )
        if endpoint:
            if not reachable(endpoint):
                raise EmulatorError(
                    f"--endpoint {endpoint}: no emulator answers there (is moto_server running?)"
                )
            emu = cls(
                region=region, moto_url=endpoint.rstrip("/"), backend=backend, localstack_url=localstack_url
            )
        else:
            os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            emu = cls(
                region=region,
                moto_url=f"http://{host}:{port}",
                backend=backend,
                localstack_url=localstack_url,
                in_process=True,
                _server=server,
            )
        emu.configure_moto()
        if enforce_iam:
            try:
                emu.enforce()
            except Exception:
                emu.stop()
                raise
        if endpoint and os.environ.get(SIGN_AS_ENV) == "environment":
            emu.sign_as(_environment_session(emu))
        return emu

    def configure_moto(self) -> None:
        req = urllib.request.Request(
            self.moto_url + "/moto-api/config",
            data=json.dumps(MOTO_CONFIG).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=5):
                pass
        except (OSError, urllib.error.HTTPError) as exc:
            raise EmulatorError(
                f"{self.moto_url} is not a moto server (POST /moto-api/config: {exc})"
            ) from None

    # --- IAM ---

    def _reset_auth(self, count: float) -> None:
        """moto's switch: the next `count` requests are not authenticated, every later one is (0: from now on)."""
        req = urllib.request.Request(
            self.moto_url + "/moto-api/reset-auth",
            data=str(count).encode(),
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5):
            pass

    @contextmanager
    def _no_auth(self, count: float = 1_000_000) -> Iterator[Any]:
        """moto's no-auth window for the emulator's own set-up calls, closed (enforcement on) on the way out."""
        with _ENFORCE_LOCK:
            self._reset_auth(count)
            try:
                yield boto3.session.Session(
                    aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name=self.region
                )
            finally:
                self._reset_auth(0)

    def enforce(self) -> None:
        """Turn IAM enforcement on and sign the engine's calls to moto as the deployer user (created if needed)."""
        global _ENFORCING_IN_PROCESS
        if self.in_process:
            moto_server.patch()  # before the first authenticated request
        try:
            with self._no_auth() as anonymous:
                client = anonymous.client("iam", endpoint_url=self.moto_url, config=_CONFIG)
                self._deployer = _deployer_keys(client)
        except (OSError, urllib.error.HTTPError) as exc:
            raise EmulatorError(
                f"{self.moto_url}: cannot switch on IAM enforcement (/moto-api/reset-auth: {exc})"
            ) from None
        with self._lock:
            self._clients = {k: v for k, v in self._clients.items() if not k.startswith("moto:")}
            self._sessions.pop("moto", None)
        if self.in_process and not self.enforce_iam:
            with _ENFORCE_LOCK:
                _ENFORCING_IN_PROCESS += 1
        self.enforce_iam = True
        if not self.in_process:
            self._probe_signatures()

    def sign_as(self, session: iam.Session | None) -> None:
        """Sign every later moto call of this emulator's clients (the engine's, the model commands') as `session`,
        e.g. a CI role assumed with `assume_role`; None signs as the deployer again."""
        with self._lock:
            self._signer = session
            self._clients = {k: v for k, v in self._clients.items() if not k.startswith("moto:")}
            self._sessions.pop("moto", None)

    @property
    def signer(self) -> iam.Session | None:
        return self._signer

    def deployer_client(self, service: str) -> Any:
        """A client signed as the deployer whatever `sign_as` chose: for what the emulator does as AWS itself."""
        if self._signer is None:
            return self.client(service)
        key = f"deployer:{service}"
        with self._lock:
            if key not in self._clients:
                key_id, secret = self._deployer or (ACCESS_KEY_ID, SECRET_ACCESS_KEY)
                self._clients[key] = boto3.session.Session(
                    aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=self.region
                ).client(service, endpoint_url=self.moto_url, config=_CONFIG)
            return self._clients[key]

    def _probe_signatures(self) -> None:
        """A plain moto server refuses correctly signed body-less requests once it enforces IAM (see
        `tricloud.engine.moto_server`): say so now rather than halfway through an apply."""
        try:
            self.client("apigatewayv2").get_apis()
        except Exception as exc:
            if "SignatureDoesNotMatch" not in str(exc):
                raise
            raise EmulatorError(
                f"{self.moto_url} refuses correctly signed requests with IAM enforced (moto's SigV4 check): start "
                "it with `python -m tricloud.engine.moto_server -p PORT` instead of moto_server"
            ) from None

    def assume_role(
        self,
        role_arn: str,
        principal: Mapping[str, str],
        *,
        session_name: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> iam.Session:
        """The session `principal` (the AWS service a workload runs in, e.g. {"Service": "lambda.amazonaws.com"},
        or a federated identity with its token's claims in `context`) gets when it assumes `role_arn`.

        The role's trust policy must allow it (checked here: moto's trust check knows IAM principals only). The
        service's own AssumeRole is not a call of the account's principals, so it is not one moto authorizes:
        in-process it goes to moto's STS backend directly; against a moto server, through a one-request window.
        """
        name = role_arn.rsplit("/", 1)[-1]
        # The service reads the role, not the caller: as the deployer even when this emulator signs as a role.
        iam_client = self.deployer_client("iam")
        try:
            role = iam_client.get_role(RoleName=name)["Role"]
        except iam_client.exceptions.NoSuchEntityException:
            raise iam.IamError(f"role {role_arn} does not exist") from None
        action = "sts:AssumeRoleWithWebIdentity" if "Federated" in principal else "sts:AssumeRole"
        context = {"aws:SourceAccount": self.account_id(), **(context or {})}
        if not iam.trust_allows(role["AssumeRolePolicyDocument"], principal, action=action, context=context):
            who = next(iter(principal.values()))
            raise iam.IamError(
                f"{who} may not assume {role_arn}: its trust policy does not allow {action} to it"
            )
        session = (session_name or f"tricloud-{name}")[:64]
        duration = int(role.get("MaxSessionDuration", 3600))
        if self.in_process:
            from moto.sts.models import sts_backends

            account = role["Arn"].split(":")[4]
            assumed = sts_backends[account]["aws"].assume_role(
                region_name=self.region,
                role_session_name=session,
                role_arn=role["Arn"],
                policy=None,  # type: ignore[arg-type]
                duration=duration,
                external_id=None,  # type: ignore[arg-type]
            )
            creds = {
                "AccessKeyId": assumed.access_key_id,
                "SecretAccessKey": assumed.secret_access_key,
                "SessionToken": assumed.session_token,
                "Expiration": assumed.expiration.timestamp(),
            }
        elif self.enforce_iam:
            creds = _retry(lambda: self._assume_in_window(role["Arn"], session, duration))
        else:
            creds = self.client("sts").assume_role(
                RoleArn=role["Arn"], RoleSessionName=session, DurationSeconds=duration
            )["Credentials"]
            creds["Expiration"] = creds["Expiration"].timestamp()
        return iam.Session(
            role_arn=role["Arn"],
            session_arn=f"arn:aws:sts::{role['Arn'].split(':')[4]}:assumed-role/{name}/{session}",
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expires_at=float(creds["Expiration"]),
        )

    def _assume_in_window(self, role_arn: str, session: str, duration: int) -> dict[str, Any]:
        with self._no_auth(1) as anonymous:
            sts = anonymous.client("sts", endpoint_url=self.moto_url, config=_CONFIG)
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session, DurationSeconds=duration)
        out = dict(creds["Credentials"])
        out["Expiration"] = out["Expiration"].timestamp()
        return out

    def stop(self) -> None:
        global _ENFORCING_IN_PROCESS
        if self.in_process and self.enforce_iam:
            from moto import settings

            with _ENFORCE_LOCK:
                _ENFORCING_IN_PROCESS -= 1
                if _ENFORCING_IN_PROCESS == 0:  # the last one: other moto users of this process are not ours
                    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
            self.enforce_iam = False
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addressing ---

    def url_for(self, service: str) -> str:
        if self.backend == "localstack" and service in LOCALSTACK_SERVICES and self.localstack_url:
            return self.localstack_url
        return self.moto_url

    def moto_client(self, service: str) -> Any:
        """A client of moto even when the service is routed to LocalStack (for mirrored IAM roles)."""
        return self.client(service, moto=True)

    def caller_keys(self, service: str = "s3") -> tuple[str, str, str | None]:
        """The key pair and session token `client(service)` signs with (the deployer on moto, or the role session
        of `sign_as`), for SDKs that are not boto3 (Arrow's S3 filesystem under `tricloud query`)."""
        return self._keys("moto" if self.url_for(service) == self.moto_url else "localstack")

    def _keys(self, where: str) -> tuple[str, str, str | None]:
        if where == "moto" and self._signer is not None:
            return self._signer.access_key_id, self._signer.secret_access_key, self._signer.session_token
        if where == "moto" and self._deployer:
            return (*self._deployer, None)
        return ACCESS_KEY_ID, SECRET_ACCESS_KEY, None

    def client(self, service: str, *, moto: bool = False) -> Any:
        """The engine's (deployer's) client: signed as the deployer on moto, with the learner's keys on LocalStack."""
        url = self.moto_url if moto else self.url_for(service)
        where = "moto" if url == self.moto_url else "localstack"
        key = f"{where}:{service}"
        with self._lock:
            if key not in self._clients:
                if where not in self._sessions:
                    key_id, secret, token = self._keys(where)
                    self._sessions[where] = boto3.session.Session(
                        aws_access_key_id=key_id,
                        aws_secret_access_key=secret,
                        aws_session_token=token,
                        region_name=self.region,
                    )
                self._clients[key] = self._sessions[where].client(service, endpoint_url=url, config=_CONFIG)
            return self._clients[key]

    def session_client(self, service: str, session: iam.Session) -> Any:
        """A client signed with a role's session (what a workload's SDK would build from its environment)."""
        return boto3.session.Session(
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
            region_name=self.region,
        ).client(service, endpoint_url=self.url_for(service), config=_CONFIG)

    def env(self) -> dict[str, str]:
        """`AWS_*` variables for a subprocess (Spark, training, the Lambda worker) to reach this emulator; no
        credentials: a workload adds its role's session (`iam.Session.env`)."""
        env = {
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.moto_url,
        }
        for service, suffix in ENV_SUFFIX.items():
            if service != "sagemaker-runtime":
                env[f"AWS_ENDPOINT_URL_{suffix}"] = self.url_for(service)
        return env

    def describe(self) -> dict[str, Any]:
        """Recorded in the state file: a later run must reach the same emulator for the state to mean anything."""
        return {
            "backend": self.backend,
            "moto_url": self.moto_url,
            "localstack_url": self.localstack_url if self.backend == "localstack" else None,
            "in_process": self.in_process,
            "pid": os.getpid() if self.in_process else None,
            "region": self.region,
        }

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])


_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"})


def _environment_session(emu: Emulator) -> iam.Session:
    """The role session `tricloud emulate run-as` put in the environment, with the ARNs STS says it has."""
    missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(k)]
    if missing:
        raise EmulatorError(f"{SIGN_AS_ENV}=environment: {', '.join(missing)} not set")
    keys = {
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": os.environ.get("AWS_SESSION_TOKEN") or None,
    }
    sts = boto3.session.Session(**keys, region_name=emu.region).client(
        "sts", endpoint_url=emu.moto_url, config=_CONFIG
    )
    arn = str(sts.get_caller_identity()["Arn"])  # arn:aws:sts::<account>:assumed-role/<role>/<session>
    role = arn.replace(":sts::", ":iam::").replace(":assumed-role/", ":role/").rsplit("/", 1)[0]
    return iam.Session(
        role_arn=role if ":assumed-role/" in arn else arn,
        session_arn=arn,
        access_key_id=keys["aws_access_key_id"],
        secret_access_key=keys["aws_secret_access_key"],
        session_token=keys["aws_session_token"] or "",
        expires_at=0.0,
    )


def _deployer_keys(client: Any) -> tuple[str, str]:
    """The deployer user's access key: created with the user, then read back from its tags by later runs."""
    try:
        tags = {t["Key"]: t["Value"] for t in client.list_user_tags(UserName=iam.DEPLOYER)["Tags"]}
    except client.exceptions.NoSuchEntityException:
        client.create_user(UserName=iam.DEPLOYER, Path=iam.DEPLOYER_PATH)
        tags = {}
    client.put_user_policy(
        UserName=iam.DEPLOYER, PolicyName="deployer", PolicyDocument=json.dumps(iam.DEPLOYER_POLICY)
    )
    live = {k["AccessKeyId"] for k in client.list_access_keys(UserName=iam.DEPLOYER)["AccessKeyMetadata"]}
    if tags.get(iam.KEY_TAG) in live and tags.get(iam.SECRET_TAG):
        return tags[iam.KEY_TAG], tags[iam.SECRET_TAG]
    for stale in live:
        client.delete_access_key(UserName=iam.DEPLOYER, AccessKeyId=stale)
    key = client.create_access_key(UserName=iam.DEPLOYER)["AccessKey"]
    client.tag_user(
        UserName=iam.DEPLOYER,
        Tags=[
            {"Key": iam.KEY_TAG, "Value": key["AccessKeyId"]},
            {"Key": iam.SECRET_TAG, "Value": key["SecretAccessKey"]},
        ],
    )
    return key["AccessKeyId"], key["SecretAccessKey"]


def _retry(call: Callable[[], T], attempts: int = 6) -> T:
    """A concurrent request (of this process or another: a Lambda worker, a serving process) may take the
    one-request window first: then ours is authorized and refused. Bounded retries, about 3 s of pauses in all."""
    for i in range(attempts):
        try:
            return call()
        except Exception:
            if i == attempts - 1:
                raise
            time.sleep(0.2 * (i + 1))
    raise AssertionError("unreachable")
