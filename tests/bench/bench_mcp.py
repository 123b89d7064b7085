"""MCP server benchmark: startup and the `status` round trip, as ratios to a bare MCPServer.

    python tests/bench/bench_mcp.py [--runs N]

Both servers run as stdio subprocesses driven with raw JSON-RPC lines (no client library in the
timing). Measured in the same run:
* start: process spawn -> `initialize` answered (what a client waits for when it connects);
* round trip: one `tools/call` on an initialized session — our `status` on a SQLite project with
  two applied and one pending migration, against the bare server's trivial tool.
Medians are printed with the ratio ours / bare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_SERVER = '''
from mcp.server.mcpserver import MCPServer
server = MCPServer("bare")

@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"

server.run("stdio")
'''

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class Session:
    def __init__(self, command: list[str]) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
        )
        self.next_id = 2

    def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def answer(self, request_id: int) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed its output")
            message = json.loads(line)
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]

    def initialize(self) -> float:
        self.send(INITIALIZE)
        self.answer(1)
        elapsed = time.perf_counter() - self.started
        self.send(INITIALIZED)
        return elapsed

    def call(self, tool: str, arguments: dict) -> float:
        request_id, self.next_id = self.next_id, self.next_id + 1
        started = time.perf_counter()
        self.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": tool, "arguments": arguments},
            }
        )
        result = self.answer(request_id)
        if result.get("isError"):
            raise RuntimeError(result["content"])
        return time.perf_counter() - started

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sqlite_project(root: Path) -> Path:
    (root / ".claude").mkdir(parents=True)
    (root / "migrations").mkdir()
    settings = {"skills": {"migration-manager": {"environments": {"dev": {"url": f"sqlite:///{root / 'dev.db'}"}}}}}
    (root / ".claude" / "settings.json").write_text(json.dumps(settings))
    for version, up, down in [
        ("20240101000000", "CREATE TABLE users (id integer PRIMARY KEY, email text)", "DROP TABLE users"),
        ("20240102000000", "CREATE INDEX idx_users_email ON users (email)", "DROP INDEX idx_users_email"),
        ("20240103000000", "ALTER TABLE users ADD COLUMN phone text", "ALTER TABLE users DROP COLUMN phone"),
    ]:
        (root / "migrations" / f"{version}_m.sql").write_text(f"-- UP\n{up};\n-- DOWN\n{down};\n")
    return root


def measure(command: list[str], tool: str, arguments: dict, runs: int, calls: int) -> tuple[float, float]:
    starts, trips = [], []
    for _ in range(runs):
        session = Session(command)
        try:
            starts.append(session.initialize())
            session.call(tool, arguments)  # warm: first call pays lazy imports, measured by `start` users anyway
            trips += [session.call(tool, arguments) for _ in range(calls)]
        finally:
            session.close()
    return statistics.median(starts), statistics.median(trips)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="server processes per variant")
    parser.add_argument("--calls", type=int, default=20, help="tool calls per process")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = root / "bare_server.py"
        bare.write_text(BARE_SERVER)
        project = sqlite_project(root / "project")
        ours = [sys.executable, "-m", "migration_manager.surfaces.mcp", "--project-dir", str(project)]
        apply = subprocess.run(
            [
                sys.executable,
                "-m",
                "migration_manager.surfaces.cli",
                "--project",
                str(project),
                "--env",
                "dev",
                "apply",
                "--to",
                "20240102000000",
            ],
            capture_output=True,
            text=True,
        )
        if apply.returncode != 0:
            raise SystemExit(f"could not prepare the SQLite project:\n{apply.stdout}{apply.stderr}")
        bare_start, bare_trip = measure([sys.executable, str(bare)], "ping", {}, args.runs, args.calls)
        our_start, our_trip = measure(ours, "status", {"env": "dev"}, args.runs, args.calls)
    print("MCP server (stdio), medians")
    print(
        f"  start -> initialize answered : {our_start * 1000:7.1f} ms  (bare MCPServer {bare_start * 1000:6.1f} ms)"
        f"  ratio {our_start / bare_start:5.2f}"
    )
    print(
        f"  status round trip (SQLite)   : {our_trip * 1000:7.1f} ms  (bare tool call  {bare_trip * 1000:6.1f} ms)"
        f"  ratio {our_trip / bare_trip:5.2f}"
    )


if __name__ == "__main__":
    main()
