#!/usr/bin/env python3
"""Writes signed webhook requests for bench/wrk.lua, one per line: "<X-Signature>\t<body>".

Every request has a fresh operation_id (except the replays of the `replay` scenario, which
repeat an earlier request of the same file) and is signed now, so the file must be used within
the service's 300 s signature window: bench.py generates it right before each run.
Signature: X-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
"""
import argparse
import hashlib
import hmac
import random
import time
import uuid

INN_BASE = 1_000_000_000
HOT_INN = str(INN_BASE + 99_999)


def inn_of(n: int) -> str:
    return str(INN_BASE + n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--scenario", choices=["spread", "hot", "replay", "balance"], required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--inns", type=int, default=10_000)
    args = parser.parse_args()

    secret = args.secret.encode()
    now = str(int(time.time()))
    rng = random.Random()
    lines = []
    if args.scenario == "balance":
        for _ in range(args.count):
            lines.append(f"/api/organizations/{inn_of(rng.randrange(args.inns))}/balance/")
    else:
        for i in range(args.count):
            if args.scenario == "replay" and i >= 10 and rng.random() < 0.10:
                lines.append(lines[rng.randrange(len(lines))])
                continue
            inn = HOT_INN if args.scenario == "hot" else inn_of(rng.randrange(args.inns))
            body = (
                '{"operation_id":"%s","amount":"10.00","payer_inn":"%s",'
                '"document_number":"PAY-%d","document_date":"2026-11-30T21:00:00Z"}'
                % (uuid.uuid4(), inn, i)
            )
            mac = hmac.new(secret, f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
            lines.append(f"t={now},v1={mac}\t{body}")
    with open(args.out, "w") as out:
        out.write("\n".join(lines))
        out.write("\n")


if __name__ == "__main__":
    main()
