"""The minimal Redis client of the limits' hot path, against real servers: auth, databases,
scripts the server forgot, connections it dropped, forks, errors."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from guardfn.errors import StoreUnavailable
from guardfn.store import Claim
from guardfn.store.redis import RedisStore
from guardfn.store.resp import Connection, ReplyError, Script, pack
from tests._redis import LocalServer, cluster_tools_missing, redis_url

REDIS = redis_url(9)
T0 = 1_763_000_000.0


@pytest.fixture
def key() -> Iterator[str]:
    name = f"guardfn:b:{{u:resp-{uuid.uuid4().hex}}}:requests_per_day"
    yield name
    Connection(REDIS).call("DEL", name)


def _claim(key: str, capacity: float = 10) -> Claim:
    return Claim(key, "requests_per_day", 86400.0, capacity, 1.0)


def test_pack_is_resp_bulk_strings() -> None:
    assert pack(("EVALSHA", "ab", 2, 1.5, "é")) == b"*5\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n$3\r\n1.5\r\n$2\r\n\xc3\xa9\r\n"


def test_replies_of_every_kind() -> None:
    conn = Connection(REDIS)
    assert conn.call("PING") == "PONG"
    assert conn.call("ECHO", "x\r\ny") == b"x\r\ny"
    assert conn.call("EVAL", "return {1, 'a', {2}, false}", 0) == [1, b"a", [2], None]
    with pytest.raises(ReplyError, match="unknown command"):
        conn.call("NO-SUCH-COMMAND")
    assert conn.call("PING") == "PONG"  # an error reply leaves the connection usable


def test_the_url_database_is_selected(key: str) -> None:
    store = RedisStore(REDIS)
    assert store.reserve([_claim(key)], T0) is None
    assert Connection(redis_url(9)).call("EXISTS", key) == 1
    assert Connection(redis_url(8)).call("EXISTS", key) == 0


def test_a_flushed_script_is_loaded_again(key: str) -> None:
    store = RedisStore(REDIS)
    assert store.reserve([_claim(key)], T0) is None
    store.connection().call("SCRIPT", "FLUSH")
    assert store.reserve([_claim(key)], T0 + 1) is None
    assert store.used(key, 86400.0, T0 + 1) == 2


def test_a_dropped_connection_is_made_again_transparently(key: str) -> None:
    store = RedisStore(REDIS)
    assert store.reserve([_claim(key)], T0) is None
    conn = store.connection()
    conn.call("CLIENT", "KILL", "ID", conn.call("CLIENT", "ID"))  # the server drops this connection
    time.sleep(0.05)
    assert store.reserve([_claim(key)], T0 + 1) is None
    assert store.used(key, 86400.0, T0 + 1) == 2  # sent once, not twice


def _reserve_in_child(url: str, key: str, out: Any) -> None:
    from guardfn.store import open_store

    out.put(open_store(url).reserve([_claim(key)], T0) is None)


def test_a_forked_child_gets_its_own_connection(key: str) -> None:
    from guardfn.store import open_store

    store: Any = open_store(REDIS)
    assert store.reserve([_claim(key)], T0) is None  # the parent's connection is open
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_reserve_in_child, args=(REDIS, key, queue))
    child.start()
    assert queue.get(timeout=30) is True
    child.join(timeout=30)
    assert store.reserve([_claim(key)], T0 + 1) is None  # the parent's socket was not shared
    assert store.used(key, 86400.0, T0 + 1) == 3


def test_a_reply_error_is_store_unavailable(key: str) -> None:
    Connection(REDIS).call("SET", key, "not a hash")
    with pytest.raises(StoreUnavailable, match="ReplyError"):
        RedisStore(REDIS).reserve([_claim(key)], T0)


@pytest.fixture(scope="module")
def password_server() -> Iterator[LocalServer]:
    reason = cluster_tools_missing()
    if reason is not None:
        if os.environ.get("GUARDFN_TEST_CLUSTER") == "required":
            pytest.fail(reason)
        pytest.skip(reason)
    with LocalServer("--requirepass", "s3cret pass", "--user", "bench", "on", ">u-pass", "~*", "&*", "+@all") as server:
        yield server


@pytest.mark.parametrize("credentials", [":s3cret%20pass@", "bench:u-pass@"])
def test_auth_with_a_password_or_a_user(password_server: LocalServer, credentials: str) -> None:
    url = f"redis://{credentials}127.0.0.1:{password_server.port}/2"
    store = RedisStore(url)
    key = f"guardfn:b:{{u:{uuid.uuid4().hex}}}:requests_per_day"
    assert store.reserve([_claim(key, 1)], T0) is None
    assert store.reserve([_claim(key, 1)], T0) is not None


def test_a_wrong_password_is_store_unavailable_without_the_password(password_server: LocalServer) -> None:
    store = RedisStore(f"redis://:wrong-hunter2@127.0.0.1:{password_server.port}/0")
    with pytest.raises(StoreUnavailable) as info:
        store.reserve([_claim("guardfn:b:{u:x}:requests_per_day")], T0)
    assert "hunter2" not in str(info.value)


def test_scripts_run_the_same_on_the_lean_and_the_redis_py_connection(key: str) -> None:
    script = Script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
    lean, full = RedisStore(REDIS), RedisStore(REDIS)
    full.lean = False
    assert lean.eval(script, [key], ["a", 41]) == full.eval(script, [key], ["a", 41]) == [key.encode(), b"a", 42]
    assert lean.eval_many(script, [([key], ["b", 1]), ([key], ["c", 2])]) == [[key.encode(), b"b", 2],
                                                                             [key.encode(), b"c", 3]]  # fmt: skip
