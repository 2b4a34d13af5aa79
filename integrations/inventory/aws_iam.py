"""AWS IAM access keys as an inventory source: each key's id, its user (the owner) and its
status. The secret is never listed by IAM after creation, and never asked for.

Needs iam:ListUsers and iam:ListAccessKeys; it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from smokejumper.inventory.sync import ListedKey, ListedModel, SourceError

# The key provider's name, so `key:aws_iam/<id>` in blast radius is what `revoke_key` takes.
PROVIDER = "aws_iam"


class AwsIamKeySource:
    name = "aws-iam"

    def __init__(self, endpoint_url: str | None = None, *, prefix: str = "") -> None:
        self.endpoint_url = endpoint_url
        self.prefix = prefix

    def _client(self) -> Any:
        return boto3.session.Session().client(
            "iam",
            endpoint_url=self.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    def models(self) -> Iterator[ListedModel]:
        return iter(())

    def keys(self) -> Iterator[ListedKey]:
        client = self._client()
        try:
            for page in client.get_paginator("list_users").paginate():
                for user in page.get("Users", []):
                    name = str(user["UserName"])
                    if not name.startswith(self.prefix):
                        continue
                    pages = client.get_paginator("list_access_keys").paginate(UserName=name)
                    for keys in pages:
                        for key in keys.get("AccessKeyMetadata", []):
                            yield ListedKey(
                                key_id=str(key["AccessKeyId"]),
                                provider=PROVIDER,
                                owner=name,
                                status=str(key.get("Status", "Unknown")).lower(),
                            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise SourceError(f"aws-iam: listing access keys failed ({code})") from None
        except BotoCoreError as exc:
            raise SourceError(
                f"aws-iam: listing access keys failed ({type(exc).__name__})"
            ) from None

    def digest(self, model: str, version: str) -> str | None:
        return None
