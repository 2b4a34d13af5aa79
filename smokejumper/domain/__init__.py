"""Domain models shared by intake, the API, the store and workflows."""
