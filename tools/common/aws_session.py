"""AWS sessions for the CLIs: the caller's credentials, or a role in a stage account assumed first."""

from __future__ import annotations

import boto3


def session_for(role_arn: str | None, *, session_name: str) -> boto3.Session:
    """``session_name`` shows in the stage account's CloudTrail, so each tool names itself."""
    if not role_arn:
        return boto3.Session()
    credentials = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600)[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
