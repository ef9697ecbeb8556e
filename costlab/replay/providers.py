"""Where paid calls go: the Claude API, Amazon Bedrock and Google Vertex AI, each an anthropic SDK
client behind one protocol (`MessagesClient`), listed in one registry (`PROVIDERS`).

A provider says how to connect (its SDK client, credentials checked before anything is sent), which
model id a tier is sent as on it and at which geo class that is priced, and where its credentials
come from (for error messages). `Api.of` turns a client's own retries off: costlab retries
(attempts.attempt). Adding a provider is one `Provider(...)` entry here (and its prices).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from costlab.errors import ConfigError, did_you_mean
from costlab.keys import check_env_keys, env_key

DEFAULT_TIMEOUT_S = 120.0  # per attempt; the SDK's own default is 600 s
DEFAULT_MAX_RETRIES = 4


class MessagesClient(Protocol):
    """What costlab uses of an SDK client (anthropic.Anthropic, AnthropicBedrock, AnthropicVertex, or a
    test double): `messages.create(**args)` (and `messages.batches` on the Claude API), its
    `max_retries`, and `with_options(max_retries=0)`."""

    max_retries: int
    messages: Any

    def with_options(self, **options: Any) -> "MessagesClient": ...


@dataclass(frozen=True)
class Provider:
    """One platform paid calls can be sent to.

    connect(settings, base_url, max_retries, timeout, http_client) -> the SDK client, or ConfigError
        when its credentials or settings are missing (before anything is sent);
    model_id(given, model, plain, settings) -> (the id sent, its geo class), for a tier configured as
        `given` ([tiers]) and priced as catalogue `model`; `plain`: `given` is a plain catalogue id;
    credentials: where its credentials come from, for error messages.
    """

    name: str
    connect: Callable[[dict[str, Any], str | None, int, float, Any], MessagesClient]
    model_id: Callable[[str, str, bool, dict[str, Any]], tuple[str, str]]
    credentials: str


def _anthropic_client(settings: dict[str, Any], url: str | None, max_retries: int, timeout: float,
                      http: Any) -> MessagesClient:
    import anthropic  # heavy (hundreds of modules): loaded when a run sends, not when costlab starts

    api_key, token = env_key("ANTHROPIC_API_KEY"), env_key("ANTHROPIC_AUTH_TOKEN")
    if api_key is None and token is None:
        raise ConfigError("no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment. "
                          "costlab never reads it from a file and never stores it.")
    return anthropic.Anthropic(api_key=api_key, auth_token=None if api_key else token, base_url=url,
                               max_retries=max_retries, timeout=timeout, http_client=http)


def _bedrock_client(settings: dict[str, Any], url: str | None, max_retries: int, timeout: float,
                    http: Any) -> MessagesClient:
    import anthropic  # heavy: see _anthropic_client

    try:
        client = anthropic.AnthropicBedrock(aws_region=settings.get("region"), aws_profile=settings.get("aws_profile"),
                                            base_url=url, api_key=env_key("AWS_BEARER_TOKEN_BEDROCK"),
                                            max_retries=max_retries, timeout=timeout, http_client=http)
    except ValueError as ex:  # no region, or a key and a profile at once: the SDK's own words
        raise ConfigError(f"[replay] provider = 'bedrock': {ex}") from None
    if client.api_key is None:
        import boto3  # heavy, and only for Bedrock's AWS credentials

        if boto3.Session(profile_name=settings.get("aws_profile"), region_name=client.aws_region).get_credentials() is None:
            raise ConfigError("no AWS credentials for Bedrock: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a "
                              "profile, [replay] aws_profile), or AWS_BEARER_TOKEN_BEDROCK. costlab never stores them.")
    return client


def _vertex_client(settings: dict[str, Any], url: str | None, max_retries: int, timeout: float,
                   http: Any) -> MessagesClient:
    import anthropic  # heavy: see _anthropic_client

    try:
        client = anthropic.AnthropicVertex(region=settings.get("region") or anthropic.NOT_GIVEN,
                                           project_id=settings.get("project_id") or anthropic.NOT_GIVEN,
                                           access_token=env_key("GOOGLE_OAUTH_ACCESS_TOKEN"),
                                           base_url=url, max_retries=max_retries, timeout=timeout, http_client=http)
    except ValueError as ex:  # no region: the SDK's own words
        raise ConfigError(f"[replay] provider = 'vertex': {ex}") from None
    if client.project_id is None:
        raise ConfigError("Vertex needs a project: set [replay] project_id or ANTHROPIC_VERTEX_PROJECT_ID")
    if client.access_token is None:
        try:
            import google.auth  # noqa: F401  (optional: the SDK's Vertex credentials come from it)
        except ImportError:
            raise ConfigError("no Google credentials for Vertex: set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. from "
                              "`gcloud auth print-access-token`), or install google-auth (pip install "
                              "'anthropic[vertex]') for application default credentials.") from None
    return client


def _anthropic_model_id(given: str, model: str, plain: bool, settings: dict[str, Any]) -> tuple[str, str]:
    return given, "global"


def _bedrock_model_id(given: str, model: str, plain: bool, settings: dict[str, Any]) -> tuple[str, str]:
    """A plain catalogue id is sent through a cross-Region profile ([replay] bedrock_profile, default
    global); a global. profile is priced global, any other id at a regional endpoint."""
    profile = str(settings.get("bedrock_profile", "global")).strip(". ")
    sent = given if not plain else (f"{profile}.anthropic.{given}" if profile else f"anthropic.{given}")
    return sent, "global" if sent.lower().split("/")[-1].startswith("global.") else "regional"


def _vertex_model_id(given: str, model: str, plain: bool, settings: dict[str, Any]) -> tuple[str, str]:
    """Sent as given (a catalogue id or claude-...@date), else as the catalogue model; region 'global'
    is priced global, a region or multi-region regional."""
    sent = given if plain or "@" in given else model
    return sent, "global" if str(settings.get("region") or "") == "global" else "regional"


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    Provider("anthropic", _anthropic_client, _anthropic_model_id, "ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN)"),
    Provider("bedrock", _bedrock_client, _bedrock_model_id,
             "the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, [replay] aws_profile) "
             "or AWS_BEARER_TOKEN_BEDROCK"),
    Provider("vertex", _vertex_client, _vertex_model_id, "GOOGLE_OAUTH_ACCESS_TOKEN (or the application default credentials)"),
)}


def platform_of(settings: dict[str, Any]) -> str:
    """[replay] provider, checked against PROVIDERS (default anthropic)."""
    provider = str(settings.get("provider", "anthropic"))
    if provider not in PROVIDERS:
        raise ConfigError(f"[replay] provider = {provider!r}: use anthropic, bedrock or vertex.{did_you_mean(provider, list(PROVIDERS))}")
    return provider


def key_hint(platform: str) -> str:
    """Where the credentials for `platform` come from, for an error message."""
    return PROVIDERS.get(platform, PROVIDERS["anthropic"]).credentials


def client_settings(settings: dict[str, Any], max_retries: int | None = None,
                    timeout: float | None = None) -> tuple[int, float]:
    """Retries per call and the per-attempt timeout: the flag, else [replay] max_retries / timeout_s, else the defaults."""
    retries = max_retries if max_retries is not None else settings.get("max_retries", DEFAULT_MAX_RETRIES)
    seconds = timeout if timeout is not None else settings.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"[replay] max_retries / --max-retries = {retries!r}: expected a whole number, 0 or more")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 3600:
        raise ConfigError(f"[replay] timeout_s / --timeout = {seconds!r}: expected seconds, more than 0 and at most 3600")
    return retries, float(seconds)


def make_client(settings: dict[str, Any], max_retries: int | None = None,
                on_response: Callable[[int, Any], None] | None = None, base_url: str | None = None,
                timeout: float | None = None) -> MessagesClient:
    """An SDK client by config ([replay] provider = anthropic | bedrock | vertex; base_url for gateways).

    Credentials come from the environment or the SDK's usual configuration (ANTHROPIC_API_KEY; AWS
    credentials or AWS_BEARER_TOKEN_BEDROCK through boto3; for Vertex GOOGLE_OAUTH_ACCESS_TOKEN, else
    google-auth's application default credentials); costlab never stores them. Every one that is set
    is stripped and checked first (costlab.keys), and missing ones are a clear error here, before
    anything is sent. Each attempt times out after `timeout` seconds ([replay] timeout_s, default
    120). The client carries `max_retries` ([replay] max_retries, default 4): the SDK's own retries
    for the batch calls; paid synchronous calls turn them off and retry in costlab (Api.of, attempt).
    """
    import anthropic  # heavy: see _anthropic_client

    max_retries, timeout = client_settings(settings, max_retries, timeout)
    check_env_keys()  # a key with a line break fails here, naming its variable, not in an HTTP library's error
    hooks: dict[str, list] = {"response": [lambda r: on_response(r.status_code, r.headers)] if on_response else []}
    http = anthropic.DefaultHttpxClient(event_hooks=hooks)
    provider = PROVIDERS[platform_of(settings)]
    return provider.connect(settings, base_url or settings.get("base_url"), max_retries, timeout, http)


@dataclass
class Api:
    """The client paid calls are made with, its own retries off; `retries` is how many costlab makes."""

    client: Any
    retries: int

    @classmethod
    def of(cls, client: Any) -> "Api":
        """From any SDK client: its max_retries become costlab's, and the client's own are turned off."""
        if isinstance(client, Api):
            return client
        retries = int(getattr(client, "max_retries", 0) or 0)
        return cls(client.with_options(max_retries=0) if retries else client, retries)


_SDK_PARAMS: dict[type, frozenset[str]] = {}


def sdk_arguments(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The body as messages.create arguments: the fields this SDK release names as parameters, and the
    rest (temperature, top_p, anything newer or older than it) in extra_body, so they reach the API
    unchanged instead of failing locally with a TypeError."""
    kind = type(client.messages)
    if kind not in _SDK_PARAMS:
        _SDK_PARAMS[kind] = frozenset(inspect.signature(kind.create).parameters) - {"self", "extra_body"}
    known = _SDK_PARAMS[kind]
    args = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known}
    if extra:
        args["extra_body"] = extra
    return args
