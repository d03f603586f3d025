"""Client-side decode speed: AES-GCM encrypted JSON payloads -> Python values.

No server: payloads are generated here the way a worker using Temporal's encryption sample
writes activity inputs (100-300 bytes of JSON each, AES-256-GCM, one key id), then decoded by

  (a) the minimal pipeline, the limit: ``AESGCM.decrypt`` + ``Payload.FromString`` +
      ``json.loads`` in a tight loop;
  (b) workbench: ``Chain(AesGcm(...)).decode_values(payloads)`` (decoded payloads, encodings,
      key id, error and value per payload);
  (c) temporalio's way: the sample-style ``PayloadCodec.decode`` awaited on an event loop, then
      ``DataConverter.default.payload_converter.from_payloads``;
  (d) for reference, ``DataConverter(payload_codec=codec).decode(payloads)``.

Runs are interleaved (a, b, c, d, a, b, ...) and the median of each is reported. Each
pipeline's result is kept until its timer stops and freed outside the timed region.

Usage::

    .venv/bin/python benchmarks/bench_decode.py [--payloads 20000] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from codec_samples import SampleEncryptionCodec  # noqa: E402

from workbench import codecs  # noqa: E402

KEY_ID = "bench-key"


def activity_input(rng: random.Random, i: int) -> Any:
    """A JSON value like an activity's input: ids, amounts, a few nested fields."""
    kind = i % 4
    if kind == 0:
        return {
            "order_id": f"order-{i:08d}",
            "customer_id": f"cust-{rng.randrange(10**6):06d}",
            "amount": round(rng.uniform(1, 5000), 2),
            "currency": rng.choice(["USD", "EUR", "GBP"]),
            "items": [
                {"sku": f"SKU-{rng.randrange(10**5):05d}", "qty": rng.randrange(1, 5)}
                for _ in range(rng.randrange(1, 4))
            ],
        }
    if kind == 1:
        return {
            "email": f"user{i}@example.com",
            "template": "welcome",
            "locale": rng.choice(["en-US", "de-DE", "fr-FR"]),
            "attempt": rng.randrange(1, 4),
            "dry_run": False,
        }
    if kind == 2:
        return [f"s3://bucket/path/{i}/part-{n}.parquet" for n in range(rng.randrange(2, 6))]
    return {
        "workflow_ref": {"namespace": "default", "workflow_id": f"wf-{i}", "run_id": None},
        "reason": "retry after timeout " * rng.randrange(1, 4),
        "deadline_s": rng.randrange(30, 3600),
    }


def make_payloads(count: int, key: bytes) -> list[Payload]:
    rng = random.Random(42)
    converter = DataConverter.default.payload_converter
    inner = converter.to_payloads([activity_input(rng, i) for i in range(count)])
    codec = SampleEncryptionCodec({KEY_ID: key})
    return asyncio.run(codec.encode(inner))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payloads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    key = os.urandom(32)
    payloads = make_payloads(args.payloads, key)
    sizes = sorted(len(p.data) for p in payloads)
    expected = DataConverter.default.payload_converter.from_payloads(
        asyncio.run(SampleEncryptionCodec({KEY_ID: key}).decode(payloads))
    )

    cipher = AESGCM(key)

    def minimal() -> list[Any]:
        decrypt = cipher.decrypt
        from_string = Payload.FromString
        loads = json.loads
        out = []
        for p in payloads:
            d = p.data
            out.append(loads(from_string(decrypt(d[:12], d[12:], None)).data))
        return out

    chain = codecs.Chain(codecs.AesGcm({KEY_ID: key}))

    def ours() -> list[Any]:
        return chain.decode_values(payloads)

    loop = asyncio.new_event_loop()
    sample = SampleEncryptionCodec({KEY_ID: key})
    payload_converter = DataConverter.default.payload_converter

    def sdk() -> list[Any]:
        decoded = loop.run_until_complete(sample.decode(payloads))
        return payload_converter.from_payloads(decoded)

    data_converter = DataConverter(payload_codec=sample)

    def sdk_data_converter() -> list[Any]:
        return loop.run_until_complete(data_converter.decode(payloads))

    contenders: list[tuple[str, Callable[[], list[Any]]]] = [
        ("(a) minimal: AESGCM.decrypt + Payload.FromString + json.loads", minimal),
        ("(b) workbench Chain(AesGcm).decode_values", ours),
        ("(c) sample PayloadCodec.decode + payload_converter.from_payloads", sdk),
        ("(d) DataConverter(payload_codec=...).decode", sdk_data_converter),
    ]
    for name, fn in contenders:
        got = fn()
        if fn is ours:
            got = [value for _, value in got]
        if got != expected:
            raise SystemExit(f"{name} decoded different values")

    rates: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for _ in range(args.runs):
        for name, fn in contenders:
            start = time.perf_counter()
            result = fn()
            rates[name].append(len(payloads) / (time.perf_counter() - start))
            # Each pipeline's result is freed outside the timed region: freeing is not decoding.
            del result
    loop.close()

    median = {name: statistics.median(r) for name, r in rates.items()}
    ours_rate = median[contenders[1][0]]
    print(
        f"{len(payloads)} AES-GCM payloads, ciphertext {sizes[0]}-{sizes[-1]} bytes "
        f"(median {sizes[len(sizes) // 2]}); median of {args.runs} interleaved runs; "
        f"Python {sys.version.split()[0]}\n"
    )
    print("| pipeline | payloads/s (median) | min-max | workbench is |")
    print("|---|---:|---:|---:|")
    for name, _ in contenders:
        r = rates[name]
        print(
            f"| {name} | {median[name]:,.0f} | {min(r):,.0f}-{max(r):,.0f} | "
            f"{ours_rate / median[name]:.2f}x |"
        )


if __name__ == "__main__":
    main()
