"""Seed (once) the benchmarks' second history shape: one run holding N signals, each carrying an
AES-GCM(zlib) payload (the Go sample's order: compress, then encrypt). Used by bench_history.py
and bench_histories.py; run in a subprocess so the measuring process hosts no worker."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SIGNALS_WORKFLOW_ID = "bench-history-signals"
KEY_ID = "bench-history-key"
KEY = hashlib.sha256(b"temporal-workbench history benchmark key").digest()


def signal_item(k: int) -> dict[str, object]:
    return {
        "k": k,
        "customer": f"cust-{k % 997:04d}",
        "sku": f"SKU-{k % 331:04d}",
        "qty": 1 + k % 5,
    }


async def seed_signals(address: str, count: int, workflow_id: str = SIGNALS_WORKFLOW_ID) -> None:
    from codec_samples import SampleChain, SampleEncryptionCodec, SampleZlibCodec
    from temporalio.client import Client
    from temporalio.converter import DataConverter
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker
    from workflows_many import SignalsWorkflow

    converter = dataclasses.replace(
        DataConverter.default,
        payload_codec=SampleChain(SampleZlibCodec(), SampleEncryptionCodec({KEY_ID: KEY})),
    )
    client = await Client.connect(address, data_converter=converter)
    async with Worker(
        client,
        task_queue="bench-signals",
        workflows=[SignalsWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            SignalsWorkflow.run, count, id=workflow_id, task_queue="bench-signals"
        )
        for start in range(0, count, 50):
            await asyncio.gather(
                *(
                    handle.signal(SignalsWorkflow.item, signal_item(k))
                    for k in range(start, min(count, start + 50))
                )
            )
        assert await handle.result() == count


if __name__ == "__main__":
    wid = sys.argv[3] if len(sys.argv) > 3 else SIGNALS_WORKFLOW_ID
    asyncio.run(seed_signals(sys.argv[1], int(sys.argv[2]), wid))
    sys.stdout.flush()
    os._exit(0)  # sdk-python#300
