"""The JWKS cache against a real HTTP server on 127.0.0.1 that rotates its keys, fails,
stalls and counts the requests it gets."""

import socket
import time

import pytest

from tests.oidc_provider import SigningKey, jwks, serve_jwks
from wspush.dal.jwks import MAX_DOCUMENT_BYTES, JwksCache, fetch_json
from wspush.logic.oidc import OidcVerifier, TrustedIssuer
from wspush.models.errors import KeysUnavailable

KEY_1 = SigningKey.rsa("key-1", index=0)
KEY_2 = SigningKey.rsa("key-2", index=1)
COGNITO = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _issuer(server, **overrides):
    settings = {"audiences": frozenset({"app"}), "jwks_uri": server.jwks_uri, **overrides}
    return TrustedIssuer(server.url, **settings)


def _claims(server):
    now = int(time.time())
    return {"iss": server.url, "aud": "app", "sub": "user-1", "iat": now, "exp": now + 60}


@pytest.fixture
def server():
    with serve_jwks(jwks(KEY_1)) as state:
        yield state


def _cache(clock=None, **kwargs):
    failures = []
    cache = JwksCache(
        clock=clock or Clock(),
        on_fetch_failure=lambda issuer, error: failures.append(issuer),
        environment={},
        **kwargs,
    )
    return cache, failures


def test_the_key_set_is_fetched_once_and_kept(server):
    cache, _ = _cache()
    for _ in range(5):
        assert set(cache.key_set(_issuer(server), "key-1").keys) == {"key-1"}
    assert server.requests_for("/jwks.json") == 1


def test_a_rotated_key_is_fetched_once_its_kid_appears(server):
    clock = Clock()
    cache, _ = _cache(clock, refetch_interval=60)
    issuer = _issuer(server)
    verifier = OidcVerifier([issuer], cache.key_set)
    assert verifier.verify(KEY_1.sign(_claims(server))).entity_id == "user-1"
    # The provider rotates: key-2 signs from now on, key-1 is gone.
    server.document = jwks(KEY_2)
    clock.now += 61
    assert verifier.verify(KEY_2.sign(_claims(server))).entity_id == "user-1"
    assert server.requests_for("/jwks.json") == 2


def test_unknown_kids_refetch_at_most_once_per_interval(server):
    clock = Clock()
    cache, _ = _cache(clock, refetch_interval=60)
    issuer = _issuer(server)
    cache.key_set(issuer, "key-1")
    # A flood of random kids within one interval: not one more request.
    for number in range(200):
        assert not cache.key_set(issuer, f"random-{number}").knows(f"random-{number}")
    assert server.requests_for("/jwks.json") == 1
    # The next interval allows one refetch, however many kids arrive.
    clock.now += 60
    for number in range(200):
        cache.key_set(issuer, f"again-{number}")
    assert server.requests_for("/jwks.json") == 2


def test_the_set_is_fetched_again_after_its_ttl(server):
    clock = Clock()
    cache, _ = _cache(clock, ttl=300)
    cache.key_set(_issuer(server), "key-1")
    clock.now += 299
    cache.key_set(_issuer(server), "key-1")
    assert server.requests_for("/jwks.json") == 1
    clock.now += 2
    cache.key_set(_issuer(server), "key-1")
    assert server.requests_for("/jwks.json") == 2


def test_kept_keys_stand_in_while_the_provider_fails_then_run_out(server):
    clock = Clock()
    cache, failures = _cache(clock, ttl=300, refetch_interval=60, max_stale=600)
    issuer = _issuer(server)
    cache.key_set(issuer, "key-1")
    server.status = 500
    clock.now += 301
    assert cache.key_set(issuer, "key-1").knows("key-1")  # stale, and one failed attempt
    assert failures == [server.url]
    clock.now += 30
    cache.key_set(issuer, "key-1")  # within the interval: no new attempt
    assert server.requests_for("/jwks.json") == 2
    clock.now += 600
    with pytest.raises(KeysUnavailable):
        cache.key_set(issuer, "key-1")


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_provider_refuses_and_is_not_asked_again_within_the_interval():
    clock = Clock()
    cache, failures = _cache(clock, refetch_interval=60)
    issuer = TrustedIssuer(
        "https://idp.example",
        audiences=frozenset({"app"}),
        jwks_uri=f"http://127.0.0.1:{_closed_port()}/jwks.json",
    )
    for _ in range(3):
        with pytest.raises(KeysUnavailable):
            cache.key_set(issuer, "key-1")
    assert failures == ["https://idp.example"]


def test_a_stalled_provider_times_out_within_the_budget(server):
    server.delay = 2.0
    cache, failures = _cache(fetch_budget=0.3)
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        cache.key_set(_issuer(server), "key-1")
    assert time.monotonic() - started < 1.5
    assert failures == [server.url]


@pytest.mark.parametrize(
    ("document", "status"),
    [
        (b"x" * (MAX_DOCUMENT_BYTES + 1), 200),
        (b"{not json", 200),
        (b'{"keys": NaN}', 200),
        (b'{"keys": []}', 404),
        (b'{"keys": []}', 302),
        (b'["keys"]', 200),
    ],
)
def test_a_bad_answer_is_no_key_set(server, document, status):
    server.document, server.status = document, status
    cache, failures = _cache()
    with pytest.raises(KeysUnavailable):
        cache.key_set(_issuer(server), "key-1")
    assert failures == [server.url]


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://idp.example/jwks.json", "ftp://127.0.0.1/jwks", "https:///jwks"],
)
def test_only_https_or_plain_http_to_this_machine_is_fetched(url):
    with pytest.raises(KeysUnavailable):
        fetch_json(url, time.monotonic() + 1)


def test_without_a_jwks_uri_the_discovery_document_names_it(server):
    cache, _ = _cache()
    issuer = _issuer(server, jwks_uri=None)
    assert cache.key_set(issuer, "key-1").knows("key-1")
    cache.key_set(issuer, "key-1")
    assert server.requests == ["/.well-known/openid-configuration", "/jwks.json"]


def test_a_discovery_document_naming_another_issuer_is_refused(server):
    server.discovery = {"issuer": "https://attacker.example", "jwks_uri": server.jwks_uri}
    cache, _ = _cache()
    with pytest.raises(KeysUnavailable):
        cache.key_set(_issuer(server, jwks_uri=None), "key-1")
    assert server.requests_for("/jwks.json") == 0


def test_a_cognito_pools_keys_are_at_its_documented_url_or_the_sdk_endpoint(server):
    pool = TrustedIssuer(COGNITO, audiences=frozenset({"app"}))
    deadline = time.monotonic() + 1
    assert JwksCache(environment={}).jwks_url(pool, deadline) == f"{COGNITO}/.well-known/jwks.json"
    local = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1/"}
    assert (
        JwksCache(environment=local).jwks_url(pool, deadline)
        == "http://127.0.0.1:1/us-east-1_Example1/.well-known/jwks.json"
    )
    specific = {**local, "AWS_ENDPOINT_URL_COGNITO_IDP": server.url}
    assert JwksCache(environment=specific).key_set(pool, "key-1").knows("key-1")
    assert server.requests == ["/us-east-1_Example1/.well-known/jwks.json"]
    ignored = {**specific, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert JwksCache(environment=ignored).jwks_url(pool, deadline).startswith(COGNITO)
