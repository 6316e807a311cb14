"""A RESP connection for the RESP tests' Python parts (tests/integration/test_resp.sh), to a
strata node's resp_port or to redis-server on loopback: raw bytes out (c.s.sendall), replies
parsed in (bulk strings as bytes, arrays as lists, a nil as None, other types as their first
byte and line, e.g. b"+OK", b":3", b"-ERR ..."), and checks that exit 1 with what differed."""
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.f = self.s.makefile("rb")

    def reply(self):
        """The next reply, or None if the connection closed."""
        line = self.f.readline()
        if not line:
            return None
        t, rest = line[:1], line[1:].rstrip(b"\r\n")
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        return t + rest

    def expect(self, what, *want):
        for w in want:
            got = self.reply()
            if got != w:
                print("%s: got %r, expected %r" % (what, got, w))
                sys.exit(1)

    def closed(self, what):
        if self.f.read(1) != b"":
            print("%s: the connection stays open" % what)
            sys.exit(1)
