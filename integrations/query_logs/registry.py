"""The query log of an application, as `[query_logs.<application>]` configures it."""

from __future__ import annotations

from integrations.query_logs.base import QueryLogSource
from integrations.query_logs.jsonl import JsonlQueryLog
from integrations.query_logs.s3 import S3QueryLog
from smokejumper.settings.query_logs import QueryLogSettings


def query_log(config: QueryLogSettings) -> QueryLogSource:
    if config.source == "s3":
        assert config.s3_bucket is not None  # the settings require it
        return S3QueryLog(config.s3_bucket, config.s3_prefix, config.s3_endpoint_url)
    assert config.path is not None
    return JsonlQueryLog(config.path)
