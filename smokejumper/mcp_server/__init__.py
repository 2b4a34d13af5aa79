"""`smokejumper mcp`: the Model Context Protocol server through which an assistant reads
incidents and adds to their case work, as a user, through the REST API."""
