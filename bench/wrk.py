"""Drive wrk (C, one thread, pinned to the other core) with a Lua script that walks a
list of prepared requests. PUT bodies are made distinct per request, so deduplication
never skips work."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOAD_CPU = "1"

_LUA = """
local requests = {
%(entries)s
}
local size = %(size)d
local filler = string.rep("s", math.max(size - 24, 0))
local counter = 0
local salt = tostring(os.time()) .. tostring(math.random(1000000))
request = function()
  counter = counter + 1
  local entry = requests[(counter %% #requests) + 1]
  local body = nil
  if entry[1] == "PUT" then
    body = string.sub(string.format("%%12s%%12d", salt, counter) .. filler, 1, size)
  end
  return wrk.format(entry[1], entry[2], nil, body)
end
"""


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def ops(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run(base_url: str, entries: list[tuple[str, str]], size: int, connections: int,
        seconds: float, workdir: Path) -> Result:
    script = workdir / "load.lua"
    script.write_text(_LUA % {
        "entries": ",\n".join(f"  {{{_lua_string(m)}, {_lua_string(p)}}}" for m, p in entries),
        "size": size,
    })
    duration = max(1, round(seconds))
    done = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
         "--latency", "--timeout", "30s", "-s", str(script), base_url],
        capture_output=True, text=True, timeout=seconds + 120,
    )
    out = done.stdout
    if done.returncode != 0 or "requests in" not in out:
        raise RuntimeError(f"wrk failed: {out}\n{done.stderr}")
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert total is not None
    elapsed = float(total.group(2)) * {"s": 1.0, "ms": 0.001, "m": 60.0}.get(total.group(3), 1.0)
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      out):
        errors += sum(int(g) for g in m.groups())
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return Result(int(total.group(1)), elapsed, errors,
                  _ms(p50.group(1)) if p50 else 0.0, _ms(p99.group(1)) if p99 else 0.0)
