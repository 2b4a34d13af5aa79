"""Post-incident reports: what happened, what was done and how it was checked, who
approved it, what was kept as evidence, and what is still open. Redacted always."""
