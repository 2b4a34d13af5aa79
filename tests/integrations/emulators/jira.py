"""Jira Cloud's REST API v3, the calls a mirror makes, and the webhooks Jira sends back.

    POST /rest/api/3/issue                          201 {"id", "key", "self"}
    GET  /rest/api/3/issue/{key}                    200 {"id", "key", "fields": {...}}
    GET  /rest/api/3/issue/{key}/transitions        200 {"transitions": [{"id", "name", "to"}]}
    POST /rest/api/3/issue/{key}/transitions        204 ({"transition": {"id"}})
    POST /rest/api/3/issue/{key}/comment            201 {"id", "body", "author", "created"}

Documented at
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post,
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get,
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-post,
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post,
https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/ (basic auth,
e-mail and API token) and
https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/ (v3 takes rich
text as an Atlassian Document: `{"type": "doc", "version": 1, "content": [...]}`; a plain
string is refused). Errors answer `{"errorMessages": [...], "errors": {field: message}}`.

Webhooks: https://developer.atlassian.com/cloud/jira/platform/webhooks/ (`comment_created`,
`jira:issue_updated` with a `changelog`; with a secret, `X-Hub-Signature:
sha256=<hex HMAC-SHA256 of the body>`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

# A simplified workflow: every status can be reached from every other.
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}


class JiraCloud(Emulator):
    def __init__(self, email: str, api_token: str, projects: dict[str, list[str]]) -> None:
        """`projects`: project key → its issue types."""
        super().__init__()
        self.credential_token = api_token
        self.credential = "Basic " + base64.b64encode(f"{email}:{api_token}".encode()).decode()
        self.projects = projects
        self.issues: dict[str, dict[str, Any]] = {}
        self._next_id = 10000
        key = r"(?P<key>[A-Z][A-Z0-9]+-\d+)"
        self.route("POST", "/rest/api/3/issue", self._create)
        self.route("GET", f"/rest/api/3/issue/{key}", self._get)
        self.route("GET", f"/rest/api/3/issue/{key}/transitions", self._transitions)
        self.route("POST", f"/rest/api/3/issue/{key}/transitions", self._transition)
        self.route("POST", f"/rest/api/3/issue/{key}/comment", self._comment)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == self.credential)

    def error(self, status: int, message: str) -> Answer:
        return status, {"errorMessages": [message], "errors": {}}

    def _field_errors(self, errors: dict[str, str]) -> Answer:
        return 400, {"errorMessages": [], "errors": errors}

    def _create(self, request: Request) -> Answer:
        body = request.body
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return self.error(400, "Field 'fields' is required.")
        errors: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            errors["project"] = "valid project is required"
        elif (fields.get("issuetype") or {}).get("name") not in self.projects[project]:
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255 or "\n" in summary:
            errors["summary"] = "Summary must be less than 255 characters and one line."
        if "description" in fields and not _is_adf(fields["description"]):
            errors["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)."
            )
        if errors:
            return self._field_errors(errors)
        self._next_id += 1
        key = f"{project}-{len(self.issues) + 1}"
        issue = {
            "id": str(self._next_id),
            "key": key,
            "self": f"{self.url}/rest/api/3/issue/{self._next_id}",
            "fields": {**fields, "status": {"name": "To Do"}, "comment": {"comments": []}},
        }
        self.issues[key] = issue
        return 201, {"id": issue["id"], "key": key, "self": issue["self"]}

    def _issue(self, request: Request) -> dict[str, Any] | None:
        return self.issues.get(request.match["key"])

    def _get(self, request: Request) -> Answer:
        issue = self._issue(request)
        if issue is None:
            return self.error(404, "Issue does not exist or you do not have permission to see it.")
        return 200, issue

    def _transitions(self, request: Request) -> Answer:
        issue = self._issue(request)
        if issue is None:
            return self.error(404, "Issue does not exist or you do not have permission to see it.")
        current = issue["fields"]["status"]["name"]
        return 200, {
            "expand": "transitions",
            "transitions": [
                {"id": tid, "name": name, "to": {"name": name}, "hasScreen": False}
                for tid, name in TRANSITIONS.items()
                if name != current
            ],
        }

    def _transition(self, request: Request) -> Answer:
        issue = self._issue(request)
        if issue is None:
            return self.error(404, "Issue does not exist or you do not have permission to see it.")
        wanted = ((request.body or {}).get("transition") or {}).get("id")
        current = issue["fields"]["status"]["name"]
        if wanted not in TRANSITIONS or TRANSITIONS[wanted] == current:
            return self.error(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue["fields"]["status"] = {"name": TRANSITIONS[wanted]}
        return 204, None

    def _comment(self, request: Request) -> Answer:
        issue = self._issue(request)
        if issue is None:
            return self.error(404, "Issue does not exist or you do not have permission to see it.")
        body = (request.body or {}).get("body")
        if not _is_adf(body):
            return self._field_errors({"comment": "Comment body must be an Atlassian Document."})
        self._next_id += 1
        comment = {
            "id": str(self._next_id),
            "body": body,
            "author": {"accountId": "557058:smokejumper", "displayName": "smokejumper"},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
        }
        issue["fields"]["comment"]["comments"].append(comment)
        return 201, comment

    def status(self, key: str) -> str:
        with self._lock:
            return str(self.issues[key]["fields"]["status"]["name"])

    def comments(self, key: str) -> list[str]:
        with self._lock:
            return [_text(c["body"]) for c in self.issues[key]["fields"]["comment"]["comments"]]


def _is_adf(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def _text(node: Any) -> str:
    if isinstance(node, dict):
        own = node.get("text") if node.get("type") == "text" else ""
        return str(own or "") + "".join(_text(c) for c in node.get("content") or [])
    return ""


def comment_webhook(
    issue_key: str, comment_id: str, text: str, secret: str, *, author: str = "Erin Analyst"
) -> tuple[bytes, dict[str, str]]:
    """A `comment_created` delivery (comment bodies come as v2's plain text), signed."""
    body = json.dumps(
        {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "comment_created",
            "comment": {
                "id": comment_id,
                "body": text,
                "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": author},
                "created": "2026-12-05T20:00:00.000+0000",
            },
            "issue": {"id": "10001", "key": issue_key, "fields": {"summary": "x"}},
        }
    ).encode()
    return body, {"content-type": "application/json", **sign(body, secret)}


def transition_webhook(
    issue_key: str, from_status: str, to_status: str, secret: str, *, author: str = "Erin"
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": author},
            "issue": {"id": "10001", "key": issue_key, "fields": {"summary": "x"}},
            "changelog": {
                "id": str(int(time.time() * 1000)),
                "items": [
                    {
                        "field": "status",
                        "fieldtype": "jira",
                        "fromString": from_status,
                        "toString": to_status,
                    }
                ],
            },
        }
    ).encode()
    return body, {"content-type": "application/json", **sign(body, secret)}


def sign(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-hub-signature": f"sha256={digest}"}
