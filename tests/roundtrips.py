"""Round trips between the tool and a database server, counted on the wire.

`RoundTripCounter` is a TCP proxy in front of a server: point a URL at it (`counter.url(url)`) and it
counts every time a client speaks again after the server answered (one request/answer turn per
connection). Nothing is mocked: the bytes go to the real server unchanged.
"""

from __future__ import annotations

import selectors
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

from dbcheck import Project, events, history, user_tables


class RoundTripCounter:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or {"postgresql": 5432}.get(parts.scheme, 3306))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.turns = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, server)
        selector.register(server, selectors.EVENT_READ, client)
        client_turn = False  # a new connection: its first request is a turn too
        with client, server:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                    if key.fileobj is client and not client_turn:
                        with self._lock:
                            self.turns += 1
                    client_turn = key.fileobj is client


def three_statements(i: int) -> str:
    return (
        f"CREATE TABLE t{i} (id integer PRIMARY KEY, label varchar(40) NOT NULL);\n"
        f"ALTER TABLE t{i} ADD COLUMN note varchar(80);\nCREATE INDEX t{i}_label ON t{i} (label);"
    )


def counted_apply(project: Project, counter: RoundTripCounter, first: int, last: int) -> int:
    """Apply migrations first..last (each CREATE TABLE + ALTER + CREATE INDEX) through `counter`: the turns taken."""
    for i in range(first, last + 1):
        project.native(f"{i:03d}", f"table_{i}", three_statements(i), f"DROP TABLE t{i};")
    before = counter.turns
    done = project.run("apply", url=counter.url(project.url))
    assert done.returncode == 0, done.stdout + done.stderr
    return counter.turns - before


def one_then_eleven(project: Project, url: str) -> tuple[int, int]:
    """The round trips of applying one migration, then eleven (`counted_apply`), after a first apply that created
    the history tables; checks that all 13 are applied and recorded."""
    counter = RoundTripCounter(url)
    try:
        counted_apply(project, counter, 1, 1)  # creates the history tables: not counted
        one = counted_apply(project, counter, 2, 2)
        eleven = counted_apply(project, counter, 3, 13)
    finally:
        counter.close()
    assert user_tables(url) == {f"t{i}" for i in range(1, 14)}
    assert all(row[:3] == ("applied", 3, 3) for row in history(url).values()) and len(history(url)) == 13
    assert events(url) == [(f"{i:03d}", "apply", "ok") for i in range(1, 14)]
    return one, eleven
