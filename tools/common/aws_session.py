"""AWS sessions for the CLIs: the caller's credentials, or a role in a stage account assumed first."""

from __future__ import annotations

import boto3


def session_for(role_arn: str | None, *, session_name: str, via: boto3.Session | None = None) -> boto3.Session:
    """``session_name`` shows in the stage account's CloudTrail, so each tool names itself. ``via``: the session
    whose credentials assume the role, and whose region the new session keeps (default: the caller's)."""
    if not role_arn:
        return via or boto3.Session()
    sts = via.client("sts") if via else boto3.client("sts")
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=via.region_name if via else None,
    )


def credentials_environment(session: boto3.Session) -> dict[str, str]:
    """A session's credentials as the variables a process reads them from (a CodeBuild build's role, say)."""
    credentials = session.get_credentials()
    if credentials is None:
        raise ValueError("the session has no credentials")
    frozen = credentials.get_frozen_credentials()
    environment = {"AWS_ACCESS_KEY_ID": str(frozen.access_key), "AWS_SECRET_ACCESS_KEY": str(frozen.secret_key)}
    if frozen.token:
        environment["AWS_SESSION_TOKEN"] = frozen.token
    return environment
