"""Typed activity contracts: every activity the engine and its playbooks call, declared
once by family (keys, endpoints, models, memory, controls, evidence, assessment, notify and
the engine's own bookkeeping). The `activities/` package implements them."""
