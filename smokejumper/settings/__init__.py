"""The settings of each subsystem and provider family, one module each; `smokejumper.config`
composes them into the one `Settings` model and loads it."""
