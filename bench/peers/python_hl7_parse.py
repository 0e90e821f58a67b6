#!/usr/bin/env python3
"""Peer for `vitals-bench parse`: times python-hl7's hl7.parse over the same messages.

Usage: python_hl7_parse.py MESSAGES_FILE SECONDS

MESSAGES_FILE holds one HL7 message per line (segments separated by CR, messages by LF), as
vitals-bench writes it. Prints one JSON object: messages per second on one core, and versions.
hl7.parse builds python-hl7's full message tree (segments, fields, repetitions, components);
it does not decode values, so this is parse-only against vitals-bench's parse + decode.
"""
import json
import platform
import sys
import time
from importlib.metadata import version

import hl7


def parse_all(messages):
    for message in messages:
        hl7.parse(message)


def main():
    path, seconds = sys.argv[1], float(sys.argv[2])
    with open(path, "rb") as handle:
        messages = [line.decode("utf-8") for line in handle.read().split(b"\n") if line]
    if not messages:
        sys.exit("no messages in " + path)

    warm_until = time.perf_counter() + min(1.0, seconds / 4)
    while time.perf_counter() < warm_until:
        parse_all(messages)

    parsed = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        parse_all(messages)
        parsed += len(messages)
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "messages_per_second": parsed / elapsed,
        "messages": parsed,
        "seconds": elapsed,
        "hl7_version": version("hl7"),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
