"""The playbook SDK: write incident response as a Python class."""
