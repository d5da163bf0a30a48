"""A gateway that speaks a line protocol on $PORT, not HTTP."""
import os
import socket

with socket.create_server((os.environ["HOST"], int(os.environ["PORT"]))) as srv:
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(b"gateway here\n")
