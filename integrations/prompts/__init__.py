"""Prompt registries: where an application's system prompt is versioned and which version
its serving alias points at (`mlflow`: MLflow's Prompt Registry; `local`: the embedded
control plane's)."""
