"""Making text safe for Slack: what the redactor finds is masked, not just removed, the
same way as on every other surface a viewer sees (smokejumper.masking)."""

from __future__ import annotations

from smokejumper.masking import mask, mask_email, mask_key, mask_phone

__all__ = ["mask", "mask_email", "mask_key", "mask_phone"]
