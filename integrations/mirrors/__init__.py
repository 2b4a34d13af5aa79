"""Mirrors: the incident in the tools responders already use (PagerDuty, Opsgenie, Jira,
Microsoft Teams), kept in step with its timeline by one relay workflow per incident and
tool (see docs/integrations.md)."""
