"""The AI inventory (AI-BOM): what models, endpoints, keys and data an incident can touch."""
