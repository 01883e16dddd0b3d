"""Benchmark of the check-in page's accept path over HTTP (no Telegram, no network).

    python bench/bench_web.py [--members 3000]

The full accept path - a POST of signed initData and answers, the signature checked, the member
found by pseudonym, the round's form, the answers sealed and committed with the participation
mark through the group commit - against a bare aiohttp handler that only parses the same JSON
and answers, on the same machine, in the same run, at 1 and 64 members sending at once. Each
send is a different member (one answer per round). Client and servers share one process and
event loop, for both alike. Also the page's weight, as sent and gzipped.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_bot import _setup
from bench.report import publish
from local_bot_api.web_app import init_data_for
from survey.intake import SubmissionIntake
from web.checkin import CheckinDesk
from web.server import WebServer, build_web_app
from web.settings import WebSettings

TOKEN = "4242424242:" + "B" * 35
#: (concurrent members, sends measured at that concurrency)
LEVELS = [(1, 300), (64, 1280)]


async def _bare(request: web.Request) -> web.Response:
    body = await request.json()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest()
    return web.json_response({"state": "sent", "message": "Thank you!"})


async def _measure(
    http: aiohttp.ClientSession, url: str, bodies: list[dict], concurrency: int
) -> list[float]:
    """Latency of each POST, ``concurrency`` at a time."""
    queue = list(reversed(bodies))
    timings: list[float] = []

    async def member() -> None:
        while queue:
            body = queue.pop()
            start = time.perf_counter()
            async with http.post(url, json=body) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            timings.append(time.perf_counter() - start)

    await asyncio.gather(*(member() for _ in range(concurrency)))
    return timings


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def bench(args: argparse.Namespace, figures: dict[str, object]) -> dict[int, float]:
    with tempfile.TemporaryDirectory(prefix="pulse-bench-web-") as tmp:
        _, db, keys, survey_round, _ = _setup(Path(tmp), args.members)
        desk = CheckinDesk(
            db,
            keys,
            SubmissionIntake(db, keys),
            TOKEN,
            WebSettings(
                _env_file=None,
                public_url="https://bench.invalid",
                web_address_requests_per_minute=10**9,
                web_member_requests_per_minute=10**6,
            ),
        )
        pages = WebServer(build_web_app(desk), "127.0.0.1", 0)
        bare_app = web.Application()
        bare_app.router.add_post("/checkin/send", _bare)
        bare = WebServer(bare_app, "127.0.0.1", 0)
        await pages.start()
        await bare.start()
        ratios: dict[int, float] = {}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as http:
                page_url = f"http://127.0.0.1:{pages.port}"
                opened = await _open(http, page_url, survey_round.id)
                answers = {item["key"]: 1 for item in opened["items"]}
                users = iter(range(6_000_000_000, 6_000_000_000 + args.members))
                for concurrency, count in LEVELS:
                    bodies = [
                        {
                            "init_data": init_data_for(next(users), TOKEN),
                            "round": survey_round.id,
                            "answers": answers,
                        }
                        for _ in range(count)
                    ]
                    warm = bodies[: max(8, concurrency)]
                    await _measure(http, page_url + "/checkin/send", warm, concurrency)
                    ours = await _measure(
                        http, page_url + "/checkin/send", bodies[len(warm) :], concurrency
                    )
                    base = await _measure(
                        http, f"http://127.0.0.1:{bare.port}/checkin/send", bodies, concurrency
                    )
                    label = f"{concurrency} at once"
                    figures[f"accept, {label}: p50 / p99 (ms)"] = (
                        f"{_p(ours, 0.5):.1f} / {_p(ours, 0.99):.1f}"
                    )
                    figures[f"bare aiohttp handler, {label}: p50 / p99 (ms)"] = (
                        f"{_p(base, 0.5):.2f} / {_p(base, 0.99):.2f}"
                    )
                    throughput = len(ours) / sum(ours) * concurrency
                    figures[f"accepted per second, {label}"] = round(throughput)
                    ratios[concurrency] = statistics.median(ours) / statistics.median(base)
                    figures[f"accept / bare, median, {label}"] = round(ratios[concurrency], 1)
                await _weigh(http, page_url, figures)
        finally:
            await pages.stop()
            await bare.stop()
            db.dispose()
        return ratios


async def _open(http: aiohttp.ClientSession, base: str, round_id: int) -> dict:
    """The round's form, as the first member's page asks for it."""
    body = {"init_data": init_data_for(6_000_000_000, TOKEN), "round": round_id}
    async with http.post(base + "/checkin/open", json=body) as response:
        opened = await response.json()
    if opened["state"] != "open":
        raise RuntimeError(opened)
    return opened


async def _weigh(http: aiohttp.ClientSession, base: str, figures: dict[str, object]) -> None:
    sent = zipped = 0
    for path in ("/checkin?lang=sv", "/static/checkin.js", "/static/checkin.css"):
        async with http.get(base + path) as response:
            body = await response.read()
        sent += len(body)
        zipped += len(gzip.compress(body, 9))
    figures["page weight: HTML + JS + CSS (KB)"] = round(sent / 1024, 1)
    figures["page weight gzipped (KB)"] = round(zipped / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    asyncio.run(bench(args, figures))
    weight = figures["page weight: HTML + JS + CSS (KB)"]
    assert isinstance(weight, float)
    publish(
        "Staff Pulse check-in page benchmark",
        figures,
        [(f"page under 30 KB ({weight} KB)", weight < 30)],
        args.json,
    )


if __name__ == "__main__":
    main()
