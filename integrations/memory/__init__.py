"""Memory providers: where the conversation memory and LLM caches of an application are
kept, so that one conversation's entries can be purged."""
