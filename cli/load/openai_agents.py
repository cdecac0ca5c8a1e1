"""Mode (c) of `responses-ws load`: the official OpenAI Python client (`openai[realtime]`,
`AsyncOpenAI().responses.connect()`), one WebSocket per agent, all agents on one asyncio loop.

Run by `responses-ws load` with the interop venv's python (tests/.peers/openai-venv), the script
on stdin:

    python - --base http://127.0.0.1:PORT/v1 --agents N --turns K
    python - --base ... --agents N --rate R --duration D
    python - --base ... --idle M
    (any of them with --deflate: the client offers permessage-deflate, `compression="deflate"`;
    the SDK's own default offers nothing)

Each turn is what the Rust modes do: a user message, the model's tool call answered with a
`function_call_output` chained by `previous_response_id`, then the model's short text answer.
Before the clock starts, one extra agent runs one turn (not counted): the SDK builds its event
types on first use, which costs seconds once per process. Turn latency runs from the turn's start (burst) or its scheduled start (rate: open loop, so a
late start counts) to the text answer's `response.completed`.

Prints `progress N` lines (turns completed) while running, then one JSON line:
{"turns": N, "failed": N, "latencies_us": [...], "wall_s": s, "cpu_s": s, "max_rss_kib": n,
 "connections_opened": n, "retries": 0, "errors": [...]}
or, with --idle (M connections, one turn on each, then left idle; the resident set read after
`gc.collect()` and glibc's `malloc_trim`, as the Rust probe reads its own),
{"idle_connections": M, "rss_before_bytes": n, "rss_after_bytes": n}.
"""

import argparse
import asyncio
import ctypes
import ctypes.util
import gc
import json
import os
import resource
import sys
import time

from openai import AsyncOpenAI

MODEL = "gpt-5.5"
TOOLS = [
    {
        "type": "function",
        "name": "lookup_order",
        "description": "Looks an order up by its id.",
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
    }
]
ERRORS_KEPT = 5


def tool_output(arguments: str) -> str:
    order = json.loads(arguments or "{}").get("order", "")
    return json.dumps({"order": order, "status": "shipped", "eta_days": len(order) % 5 + 1})


def rss_bytes() -> int:
    """The resident set once the garbage and the allocator's cached free memory are given back."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc:
        trim = getattr(ctypes.CDLL(libc), "malloc_trim", None)
        if trim is not None:
            trim(0)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def connect(client, deflate: bool):
    """`responses.connect()`, offering permessage-deflate when `deflate`."""
    return client.responses.connect(websocket_connection_options={"compression": "deflate" if deflate else None})


class Run:
    def __init__(self, deflate: bool = False) -> None:
        self.deflate = deflate
        self.latencies_us: list[int] = []
        self.failed = 0
        self.errors: list[str] = []
        self.connections = 0

    def fail(self, why: str) -> None:
        self.failed += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(why)


async def until_completed(connection):
    """The next response's terminal event; raises on an error event or a failed response."""
    while True:
        event = await connection.recv()
        if event.type == "error":
            raise RuntimeError(f"error event: {event}")
        if event.type in ("response.failed", "response.incomplete"):
            raise RuntimeError(f"response ended {event.type}")
        if event.type in ("response.completed", "response.done"):
            return event.response


async def one_turn(connection, previous_id, agent: int, turn: int):
    """One turn: user message, tool call round, text answer. Returns the answer's id."""
    await connection.response.create(
        model=MODEL,
        store=False,
        tools=TOOLS,
        previous_response_id=previous_id,
        input=f"Agent {agent}, turn {turn}: where is my order?",
    )
    response = await until_completed(connection)
    calls = [item for item in response.output if item.type == "function_call"]
    if not calls:
        raise RuntimeError("the model made no tool call")
    await connection.response.create(
        model=MODEL,
        store=False,
        tools=TOOLS,
        previous_response_id=response.id,
        input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": tool_output(call.arguments)}
            for call in calls
        ],
    )
    answer = await until_completed(connection)
    if not any(item.type == "message" for item in answer.output):
        raise RuntimeError("the answer has no message")
    return answer.id


async def agent(client, run: Run, index: int, starts) -> None:
    """Runs the turns whose start times `starts` yields (None: at once)."""
    try:
        async with connect(client, run.deflate) as connection:
            run.connections += 1
            previous_id = None
            for turn, start in enumerate(starts):
                if start is not None:
                    delay = start - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                began = time.perf_counter() if start is None else start
                try:
                    previous_id = await one_turn(connection, previous_id, index, turn)
                except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                    run.fail(f"agent {index} turn {turn}: {error}")
                    return
                run.latencies_us.append(int((time.perf_counter() - began) * 1e6))
    except Exception as error:  # noqa: BLE001
        run.fail(f"agent {index}: {error}")


async def progress(run: Run) -> None:
    while True:
        print(f"progress {len(run.latencies_us)}", flush=True)
        await asyncio.sleep(0.1)


async def load(args) -> dict:
    client = AsyncOpenAI(api_key="sk-load", base_url=args.base, max_retries=0)
    # One turn first, not counted: the SDK builds its event types on first use (seconds).
    warm_up = Run(args.deflate)
    await agent(client, warm_up, args.agents, [None])
    if warm_up.failed:
        return {"turns": 0, "failed": 1, "latencies_us": [], "wall_s": 0.0, "cpu_s": 0.0, "max_rss_kib": 0,
                "connections_opened": 0, "retries": 0, "errors": warm_up.errors}
    run = Run(args.deflate)
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    if args.rate:
        total = round(args.rate * args.duration)
        schedule = [[] for _ in range(args.agents)]
        for n in range(total):
            schedule[n % args.agents].append(began + n / args.rate)
    else:
        schedule = [[None] * args.turns for _ in range(args.agents)]
    reporter = asyncio.create_task(progress(run))
    await asyncio.gather(*(agent(client, run, i, starts) for i, starts in enumerate(schedule) if starts))
    wall = time.perf_counter() - began
    reporter.cancel()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "turns": len(run.latencies_us),
        "failed": run.failed,
        "latencies_us": run.latencies_us,
        "wall_s": wall,
        "cpu_s": cpu,
        "max_rss_kib": after.ru_maxrss,
        "connections_opened": run.connections,
        "retries": 0,
        "errors": run.errors,
    }


async def idle(args) -> dict:
    client = AsyncOpenAI(api_key="sk-load", base_url=args.base, max_retries=0)

    async def connect_and_turn(agent: int):
        connection = await connect(client, args.deflate).enter()
        await one_turn(connection, None, agent, 0)
        return connection

    # One connection and turn first, so that imports and first-use allocations are not counted.
    first = await connect_and_turn(0)
    before = rss_bytes()
    connections = [await connect_and_turn(agent) for agent in range(1, args.idle + 1)]
    after = rss_bytes()
    for connection in connections + [first]:
        await connection.close()
    return {"idle_connections": args.idle, "rss_before_bytes": before, "rss_after_bytes": after}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--agents", type=int, default=1)
    parser.add_argument("--turns", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--idle", type=int, default=0)
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()
    summary = asyncio.run(idle(args) if args.idle else load(args))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
