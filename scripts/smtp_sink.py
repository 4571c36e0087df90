#!/usr/bin/env python3
"""A real SMTP server on loopback for the mail tests, built on aiosmtpd.

    scripts/smtp_sink.py PORT DIR

Saves each message it accepts to DIR as NNNNNN.eml. A recipient whose local
part is `tempfail` is answered 451 (try again later), `permfail` 550 (no such
user). Prints `ready` once listening; runs until killed.
"""
import itertools
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.numbers = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local == "tempfail":
            return "451 4.3.0 mailbox busy, try again later"
        if local == "permfail":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        path = os.path.join(self.folder, f"{next(self.numbers):06d}.eml")
        with open(path, "wb") as out:
            out.write(envelope.original_content or envelope.content)
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Handler(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    # Wait until killed, on no clock: a timed sleep fails under libfaketime
    # (`./run test-days` preloads it into every process the tests start).
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
