"""Local HTTP emulators of the admin APIs that cannot run on a test machine (OpenAI Admin,
LiteLLM proxy, Kubernetes): real HTTP servers speaking exactly the endpoints the providers
use, with the documented request and response shapes, keeping state and recording every
request so tests can count the calls a provider made. `proxy` puts the same recording and
injected failures in front of a real server (OpenBao)."""
