"""Seed (once) and serve the dev server the listing benchmark reads.

The database lives in ``benchmarks/.data/list/temporal.db`` (gitignored) and is reused between
runs: seeding 20,000 workflows takes minutes on 2 cores. Every workflow is *completed* by a real
``temporalio`` worker, carries one value of every custom search-attribute type and a memo
encrypted with AES-GCM in the format of Temporal's encryption samples (design.md §2).

    .venv/bin/python benchmarks/_seed.py --count 20000     # seed only (idempotent)

``open_server(count)`` is what ``bench_list.py`` uses: start the server on the seeded database,
seeding the missing workflows first (in a subprocess, so the benchmark process never hosts a
worker whose threads would be counted in its CPU time).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.workflowservice.v1 import CountWorkflowExecutionsRequest, WorkflowServiceStub
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.worker import PollerBehaviorSimpleMaximum, UnsandboxedWorkflowRunner, Worker

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from workbench.devserver import BENCHMARK_DYNAMIC_CONFIG, DevServer  # noqa: E402

DATA_DIR = ROOT / ".data" / "list"
MARKER = DATA_DIR / "seeded.json"
TASK_QUEUE = "bench-list"
ID_PREFIX = "bench-list-"
SEARCH_ATTRIBUTES = {
    "WbKeyword": "Keyword",
    "WbText": "Text",
    "WbInt": "Int",
    "WbDouble": "Double",
    "WbBool": "Bool",
    "WbDatetime": "Datetime",
    "WbKeywordList": "KeywordList",
}
# A benchmark key, not a secret: derived so that every run can decrypt the seeded memos.
KEY_ID = "bench-key-1"
KEY = hashlib.sha256(b"temporal-workbench benchmark key").digest()
DATETIME_BASE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class AesGcmCodec(PayloadCodec):
    """Temporal's sample AES-GCM codec: ``nonce(12) || AESGCM.encrypt(serialized payload)``."""

    def __init__(self, key_id: str = KEY_ID, key: bytes = KEY) -> None:
        self.key_id = key_id
        self._aead = AESGCM(key)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, p: Payload) -> Payload:
        nonce = os.urandom(12)
        return Payload(
            metadata={"encoding": b"binary/encrypted", "encryption-key-id": self.key_id.encode()},
            data=nonce + self._aead.encrypt(nonce, p.SerializeToString(), None),
        )

    def decrypt(self, p: Payload) -> Payload:
        if p.metadata.get("encoding") != b"binary/encrypted":
            return p
        key_id = p.metadata.get("encryption-key-id", b"").decode()
        if key_id != self.key_id:
            raise ValueError(f"unknown encryption key id {key_id!r}")
        inner = Payload()
        inner.ParseFromString(self._aead.decrypt(p.data[:12], p.data[12:], None))
        return inner


@workflow.defn(name="BenchListWorkflow")
class BenchListWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return n


def search_attributes(i: int) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(SearchAttributeKey.for_keyword("WbKeyword"), f"kw-{i % 50}"),
            SearchAttributePair(SearchAttributeKey.for_text("WbText"), f"text number {i}"),
            SearchAttributePair(SearchAttributeKey.for_int("WbInt"), i),
            SearchAttributePair(SearchAttributeKey.for_float("WbDouble"), i * 0.5),
            SearchAttributePair(SearchAttributeKey.for_bool("WbBool"), i % 2 == 0),
            SearchAttributePair(
                SearchAttributeKey.for_datetime("WbDatetime"),
                DATETIME_BASE + dt.timedelta(seconds=i),
            ),
            SearchAttributePair(
                SearchAttributeKey.for_keyword_list("WbKeywordList"), [f"a{i % 3}", f"b{i % 5}"]
            ),
        ]
    )


def memo(i: int) -> dict[str, object]:
    return {"customer": {"id": i, "name": f"customer-{i}", "tier": ["gold", "silver"][i % 2]}}


def make_server() -> DevServer:
    return DevServer(
        data_dir=DATA_DIR,
        search_attributes=SEARCH_ATTRIBUTES,
        dynamic_config=BENCHMARK_DYNAMIC_CONFIG,
        startup_timeout=120.0,
    )


def count(address: str, query: str = "") -> int:
    import grpc

    with grpc.insecure_channel(address) as ch:
        resp = WorkflowServiceStub(ch).CountWorkflowExecutions(
            CountWorkflowExecutionsRequest(namespace="default", query=query), timeout=30
        )
        return int(resp.count)


async def _seed(address: str, target: int, concurrency: int) -> None:
    converter = dataclasses.replace(DataConverter.default, payload_codec=AesGcmCodec())
    client = await Client.connect(address, namespace="default", data_converter=converter)
    start = count(address, f"WorkflowId STARTS_WITH '{ID_PREFIX}'")
    print(f"seeding workflows {start}..{target - 1} at {address}", flush=True)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BenchListWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=200,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(maximum=20),
        max_cached_workflows=0,
    ):
        sem = asyncio.Semaphore(concurrency)
        t0 = time.monotonic()

        async def one(i: int) -> None:
            async with sem:
                await client.start_workflow(
                    BenchListWorkflow.run,
                    i,
                    id=f"{ID_PREFIX}{i:06d}",
                    task_queue=TASK_QUEUE,
                    search_attributes=search_attributes(i),
                    memo=memo(i),
                )
                if i % 1000 == 0:
                    print(f"  started {i} ({time.monotonic() - t0:.0f} s)", flush=True)

        await asyncio.gather(*(one(i) for i in range(start, target)))
        # Wait until every run completed and visibility shows it.
        query = f"WorkflowId STARTS_WITH '{ID_PREFIX}' AND ExecutionStatus='Completed'"
        deadline = time.monotonic() + 600
        while (done := count(address, query)) < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {target} completed after 10 minutes")
            await asyncio.sleep(1.0)
        print(f"seeded {target} completed workflows in {time.monotonic() - t0:.0f} s", flush=True)


def seed(target: int, concurrency: int = 64) -> None:
    """Seed the database in ``DATA_DIR`` up to ``target`` completed workflows (this process)."""
    if MARKER.exists() and json.loads(MARKER.read_text()).get("count", 0) >= target:
        print(f"already seeded: {MARKER.read_text().strip()}")
        return
    server = make_server()
    server.start()
    try:
        asyncio.run(_seed(server.address, target, concurrency))
        MARKER.write_text(json.dumps({"count": target, "key_id": KEY_ID}) + "\n")
    finally:
        server.stop()


def open_server(target: int) -> DevServer:
    """Make sure ``target`` workflows are seeded (in a subprocess), then start the server."""
    if not (MARKER.exists() and json.loads(MARKER.read_text()).get("count", 0) >= target):
        subprocess.run([sys.executable, str(Path(__file__)), "--count", str(target)], check=True)
    server = make_server()
    server.start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    seed(args.count, args.concurrency)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # sdk-python#300: a worker's runtime may abort at interpreter exit


if __name__ == "__main__":
    main()
