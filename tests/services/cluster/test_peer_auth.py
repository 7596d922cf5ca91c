"""Node-to-node trust: src/services/cluster/peer_auth.py -- the cluster's secret, made
once on a real PostgreSQL however many nodes ask at once; signatures and their checks.
(A daemon refusing unsigned, forged and expired requests: test_peer_files.py.)"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from src.services.cluster.database import engine_for
from src.services.cluster.peer_auth import (
    EXPIRES_HEADER,
    NODE_HEADER,
    PEER_HEADERS,
    SIGNATURE_HEADER,
    PeerRefused,
    check_peer,
    peer_secret,
    says_peer,
    signed_headers,
)
from src.services.cluster.settings import PEER_REQUEST_SECONDS

SECRET = b"0123456789abcdef" * 4
ROUTE = "/api/runs/r1/files/sales.xlsx"
NOW = 1_800_000_000.0


@pytest.mark.postgres
def test_the_secret_is_made_once_even_when_eight_nodes_ask_at_once(cluster_url: str) -> None:
    engine = engine_for(cluster_url)
    barrier = threading.Barrier(8)
    got: list[bytes] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait(10)
            got.append(peer_secret(engine))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(got) == 8
    assert len(set(got)) == 1 and len(got[0]) == 64  # 32 random bytes, as hex
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT count(*) FROM scheduler_meta WHERE key = 'peer_secret'")
        ).scalar_one()
    assert rows == 1
    assert peer_secret(engine) == got[0]  # kept: read back, not made again


def test_a_signed_request_is_believed_and_names_its_node() -> None:
    headers = signed_headers(SECRET, "GET", ROUTE, "node-a", NOW)
    assert set(headers) == set(PEER_HEADERS) and says_peer(headers)
    assert int(headers[EXPIRES_HEADER]) == int(NOW) + PEER_REQUEST_SECONDS
    assert check_peer(SECRET, "GET", ROUTE, headers, NOW + 30) == "node-a"
    assert not says_peer({})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({SIGNATURE_HEADER: "0" * 64}, "does not match"),
        ({SIGNATURE_HEADER: "not hex, ünïcode"}, "does not match"),
        ({NODE_HEADER: "node-b"}, "does not match"),  # the node is signed too
        ({EXPIRES_HEADER: str(int(NOW) + PEER_REQUEST_SECONDS - 1)}, "does not match"),
        ({EXPIRES_HEADER: "soon"}, "must be a time in Unix seconds"),
        ({EXPIRES_HEADER: "9" * 40}, "must be a time in Unix seconds"),
        ({SIGNATURE_HEADER: ""}, f"needs the headers {SIGNATURE_HEADER}"),
    ],
)
def test_a_changed_or_forged_request_is_refused(change: dict[str, str], message: str) -> None:
    headers = {**signed_headers(SECRET, "GET", ROUTE, "node-a", NOW), **change}
    with pytest.raises(PeerRefused, match=message):
        check_peer(SECRET, "GET", ROUTE, headers, NOW)


def test_a_signature_is_for_one_secret_method_and_file() -> None:
    headers = signed_headers(SECRET, "GET", ROUTE, "node-a", NOW)
    for secret, method, route in (
        (b"another cluster's secret", "GET", ROUTE),
        (SECRET, "DELETE", ROUTE),
        (SECRET, "GET", "/api/runs/r1/files/other.xlsx"),
        (SECRET, "GET", "/api/runs/r2/files/sales.xlsx"),
    ):
        with pytest.raises(PeerRefused, match="does not match"):
            check_peer(secret, method, route, headers, NOW)


def test_an_expired_request_or_one_too_far_ahead_is_refused_saying_why() -> None:
    headers = signed_headers(SECRET, "GET", ROUTE, "node-a", NOW)
    with pytest.raises(PeerRefused, match=r"expired 1 s ago .* in sync with NTP"):
        check_peer(SECRET, "GET", ROUTE, headers, NOW + PEER_REQUEST_SECONDS + 1)
    ahead = signed_headers(SECRET, "GET", ROUTE, "node-a", NOW + 3600)
    with pytest.raises(PeerRefused, match="past the 60 s a node signs for"):
        check_peer(SECRET, "GET", ROUTE, ahead, NOW)


def test_no_refusal_quotes_the_secret_or_a_signature() -> None:
    good = signed_headers(SECRET, "GET", ROUTE, "node-a", NOW)
    for headers, now in ((good, NOW + 3600), ({**good, NODE_HEADER: "x"}, NOW)):
        with pytest.raises(PeerRefused) as refused:
            check_peer(SECRET, "GET", ROUTE, headers, now)
        text = str(refused.value)
        assert SECRET.decode() not in text and good[SIGNATURE_HEADER] not in text
