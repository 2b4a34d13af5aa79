"""AWS IAM access keys: revoking sets the key Inactive, which AWS can undo (Active again).

Needs iam:GetAccessKeyLastUsed (to find the key's user from its id alone),
iam:ListAccessKeys (state and verification) and iam:UpdateAccessKey.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from integrations.aws_client import LazyAwsClient, retry_can_help, why
from integrations.keys.base import KeyAccessDenied, KeyNotFound, KeyProviderError, KeyState
from smokejumper.domain.containment import KeyStatus

PROVIDER = "aws_iam"

_NOT_FOUND = frozenset({"NoSuchEntity", "NoSuchEntityException"})
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
# A malformed request fails the same way every time; retrying only delays the responder.
_INVALID = frozenset({"ValidationError", "InvalidInput", "MalformedInput"})


def _translate(exc: Exception, key_id: str, operation: str) -> KeyProviderError:
    # Messages are rebuilt from the error code: AWS messages can quote ARNs and endpoints,
    # which are not secret, but a fixed shape keeps rows and logs predictable.
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        if code in _NOT_FOUND:
            return KeyNotFound(f"aws_iam {operation}: no access key {key_id} ({code})")
        if code in _DENIED:
            return KeyAccessDenied(f"aws_iam {operation} on {key_id}: access denied ({code})")
        if code in _INVALID:
            return KeyProviderError(
                f"aws_iam {operation} on {key_id}: invalid request ({code})", retryable=False
            )
        return KeyProviderError(f"aws_iam {operation} on {key_id}: {code}")
    return KeyProviderError(
        f"aws_iam {operation} on {key_id}: {why(exc)}", retryable=retry_can_help(exc)
    )


class AwsIamKeys:
    """One IAM client per provider, built on first use."""

    name = PROVIDER
    restorable = True

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self._client = LazyAwsClient("iam", endpoint_url)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _call(self, operation: str, key_id: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, key_id, operation) from None
        return response

    def _user_of(self, key_id: str) -> str:
        response = self._call("get_access_key_last_used", key_id, AccessKeyId=key_id)
        user = response.get("UserName")
        if not user:
            raise KeyNotFound(f"aws_iam: access key {key_id} belongs to no IAM user")
        return str(user)

    def state(self, key_id: str) -> KeyState:
        user = self._user_of(key_id)
        return self._state_of(user, key_id)

    def _state_of(self, user: str, key_id: str) -> KeyState:
        response = self._call("list_access_keys", key_id, UserName=user)
        for key in response.get("AccessKeyMetadata", []):
            if key.get("AccessKeyId") == key_id:
                status = str(key.get("Status", "Unknown"))
                return KeyState(
                    key_id=key_id,
                    provider=PROVIDER,
                    status=status.lower(),
                    details={"user_name": user, "aws_status": status},
                )
        raise KeyNotFound(f"aws_iam: access key {key_id} is not listed for user {user}")

    def _set(self, key_id: str, status: str) -> KeyState:
        user = self._user_of(key_id)
        self._call("update_access_key", key_id, UserName=user, AccessKeyId=key_id, Status=status)
        return self._state_of(user, key_id)

    def revoke(self, key_id: str) -> KeyState:
        return self._set(key_id, "Inactive")

    def verify_revoked(self, key_id: str) -> bool:
        return self.state(key_id).status == KeyStatus.INACTIVE

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        aws_status = str(before.details.get("aws_status") or before.status.capitalize())
        if aws_status not in ("Active", "Inactive"):
            raise KeyProviderError(
                f"aws_iam: cannot restore {key_id} to status {aws_status!r}", retryable=False
            )
        return self._set(key_id, aws_status)
