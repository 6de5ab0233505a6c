#!/usr/bin/env python3
"""Reads a JetStream stream with the nats-py client, as another service would.

    nats_stream.py read --url nats://127.0.0.1:4222 --stream ASSESSMENT --subject 'assessment.>'
        prints one JSON line per stored message: {"subject", "sequence", "msgId", "headers", "envelope"}
        (envelope is the message body, parsed), from the first message to the last one stored now.
"""
import argparse
import asyncio
import json
import sys

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy


async def read(url: str, stream: str, subject: str) -> int:
    client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        last = info.state.last_seq
        if info.state.messages == 0:
            return 0
        subscription = await js.pull_subscribe(
            subject, durable=None, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
        printed = 0
        while True:
            try:
                batch = await subscription.fetch(100, timeout=2)
            except nats.errors.TimeoutError:
                break
            for message in batch:
                headers = dict(message.headers or {})
                body = message.data.decode()
                try:
                    envelope = json.loads(body)
                except json.JSONDecodeError:
                    envelope = body
                print(json.dumps({
                    "subject": message.subject, "sequence": message.metadata.sequence.stream,
                    "msgId": headers.get("Nats-Msg-Id"), "headers": headers, "envelope": envelope,
                }, sort_keys=True))
                printed += 1
                await message.ack()
            if batch and batch[-1].metadata.sequence.stream >= last:
                break
        return printed
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    reader = commands.add_parser("read")
    reader.add_argument("--url", required=True)
    reader.add_argument("--stream", required=True)
    reader.add_argument("--subject", default=">")
    arguments = parser.parse_args()
    count = asyncio.run(read(arguments.url, arguments.stream, arguments.subject))
    print(f"{count} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
