"""The emulator's AWS Backup selections: kept per plan and answered as AWS Backup does (ADR 0012).

moto keeps plans, vaults and vault locks, but a selection request finds no handler in it: moto runs in process here
with the emulator's selection handlers installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.backup.responses import BackupResponse

from tools.local.emulator_server import (
    create_backup_selection,
    delete_backup_selection,
    get_backup_selection,
    list_backup_selections,
)
from tools.local.tests.emulated import REGION, emulated_account

ROLE = "arn:aws:iam::123456789012:role/backup"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/readings"
BUCKET = "arn:aws:s3:::failed-batches"


@pytest.fixture
def backup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for handler in (create_backup_selection, get_backup_selection, delete_backup_selection, list_backup_selections):
        monkeypatch.setattr(BackupResponse, handler.__name__, handler, raising=False)
    with emulated_account():
        yield boto3.client("backup", region_name=REGION)


def plan(client: Any, name: str = "iot-dev-ingest") -> str:
    rule = {"RuleName": "daily", "TargetBackupVaultName": "vault", "ScheduleExpression": "cron(0 3 * * ? *)"}
    return str(client.create_backup_plan(BackupPlan={"BackupPlanName": name, "Rules": [rule]})["BackupPlanId"])


def select(client: Any, plan_id: str, name: str = "iot-dev-ingest", **selection: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={"SelectionName": name, "IamRoleArn": ROLE, "Resources": [TABLE, BUCKET], **selection},
    )
    return answer


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def test_a_selection_is_kept_with_its_plan_and_read_back_as_given(backup: Any) -> None:
    plan_id = plan(backup)
    created = select(backup, plan_id)
    assert created["BackupPlanId"] == plan_id
    found = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert found["BackupSelection"] == {
        "SelectionName": "iot-dev-ingest",
        "IamRoleArn": ROLE,
        "Resources": [TABLE, BUCKET],
    }
    assert found["CreationDate"] == created["CreationDate"]
    (listed,) = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert (listed["SelectionId"], listed["SelectionName"], listed["IamRoleArn"]) == (
        created["SelectionId"],
        "iot-dev-ingest",
        ROLE,
    )


def test_each_plan_lists_only_its_own_selections(backup: Any) -> None:
    ingest, archive = plan(backup), plan(backup, "iot-dev-archive")
    select(backup, ingest)
    assert backup.list_backup_selections(BackupPlanId=archive)["BackupSelectionsList"] == []
    select(backup, archive)  # the same name in another plan
    assert len(backup.list_backup_selections(BackupPlanId=ingest)["BackupSelectionsList"]) == 1


def test_a_deleted_selection_is_gone(backup: Any) -> None:
    plan_id = plan(backup)
    selection_id = select(backup, plan_id)["SelectionId"]
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id)
    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    code = error_code(lambda: backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id))
    assert code == "ResourceNotFoundException"


def test_a_name_of_50_characters_is_taken_and_one_of_51_refused(backup: Any) -> None:
    plan_id = plan(backup)
    select(backup, plan_id, name="n" * 50)
    assert error_code(lambda: select(backup, plan_id, name="n" * 51)) == "InvalidParameterValueException"
    assert error_code(lambda: select(backup, plan_id, name="a b")) == "InvalidParameterValueException"


def test_a_second_selection_of_the_same_name_in_a_plan_is_refused(backup: Any) -> None:
    plan_id = plan(backup)
    select(backup, plan_id)
    assert error_code(lambda: select(backup, plan_id)) == "AlreadyExistsException"


def test_a_selection_of_an_unknown_plan_or_without_a_role_is_refused(backup: Any) -> None:
    assert error_code(lambda: select(backup, "no-such-plan")) == "ResourceNotFoundException"
    code = error_code(
        lambda: backup.list_backup_selections(BackupPlanId="no-such-plan")  # the plan, not the list, is missing
    )
    assert code == "ResourceNotFoundException"
    assert error_code(lambda: select(backup, plan(backup), IamRoleArn="")) == "InvalidParameterValueException"
