"""A minimal Redis client (RESP over a socket), standard library only."""
import socket
import urllib.parse


def connect(url):
    """Returns a function that sends one command to the Redis server at url and returns the answer."""
    parts = urllib.parse.urlsplit(url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=30)
    reader = conn.makefile("rb")

    def call(*args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        conn.sendall(out)
        return read(reader)
    return call


def read(reader):
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b":"):
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else reader.read(n + 2)[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read(reader) for _ in range(n)]
    raise RuntimeError(f"unexpected answer {line!r}")
