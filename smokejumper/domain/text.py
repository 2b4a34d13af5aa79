"""Text a store can keep: PostgreSQL refuses NUL in text and JSON columns (and in a query's
parameters), and an unpaired surrogate is no UTF-8. Input types that end up in the store or
in a query use `StorableText`, so such input is a 4xx naming the field, not a 500."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")
UNSTORABLE_MESSAGE = "NUL characters and unpaired surrogates cannot be stored"


def _storable(value: str) -> str:
    if UNSTORABLE.search(value) is not None:
        raise PydanticCustomError("string_unstorable", UNSTORABLE_MESSAGE)
    return value


StorableText = Annotated[str, AfterValidator(_storable)]
