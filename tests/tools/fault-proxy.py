#!/usr/bin/python3
"""A TCP relay on 127.0.0.1 for fault tests, its behaviour read from a file.

    fault-proxy.py LISTEN_PORT TARGET_PORT MODE_FILE

MODE_FILE holds one of (re-read 10 times a second and at every connection):
  pass        relay to 127.0.0.1:TARGET_PORT
  down        not listening at all (connection refused), like a stopped server
  reset       accept, then close at once (RST)
  hang        accept, read, never answer
  delay SECS  relay, but hold each chunk SECS seconds in both directions
  garbage     answer any request with HTTP 200 and random bytes
Changing the mode closes every connection in progress (a stopped or
restarted server drops its keep-alive connections too).
Loopback only. Logs one line per connection to stderr.
"""
import os
import socket
import struct
import sys
import threading
import time

listen_port, target_port, mode_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
active = set()
active_lock = threading.Lock()


def track(*socks):
    with active_lock:
        active.update(socks)


def untrack(*socks):
    with active_lock:
        active.difference_update(socks)


def drop_all():
    with active_lock:
        socks = list(active)
        active.clear()
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def mode():
    try:
        with open(mode_file) as f:
            w = f.read().split()
    except OSError:
        return ["pass"]
    return w or ["pass"]


def pump(src, dst, delay):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if delay:
                time.sleep(delay)
            dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(c, m):
    kind = m[0]
    track(c)
    try:
        if kind == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            return
        if kind == "hang":
            c.settimeout(600)
            while c.recv(65536):
                pass
            c.close()
            return
        if kind == "garbage":
            c.settimeout(10)
            c.recv(65536)
            body = os.urandom(700)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-pki-message\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            c.close()
            return
        delay = float(m[1]) if kind == "delay" and len(m) > 1 else 0.0
        u = socket.create_connection(("127.0.0.1", target_port), timeout=30)
        track(u)
        u.settimeout(None)
        c.settimeout(None)
        t = threading.Thread(target=pump, args=(u, c, delay), daemon=True)
        t.start()
        pump(c, u, delay)
        t.join()
        untrack(c, u)
        c.close()
        u.close()
    except OSError as e:
        print("connection error: %s" % e, file=sys.stderr, flush=True)
        untrack(c)
        c.close()


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", listen_port))
    s.listen(128)
    s.settimeout(0.1)
    return s


def main():
    s = listener()
    last = mode()
    while True:
        m = mode()
        if m != last:
            print("mode %s: dropping %d connections" % (" ".join(m), len(active)), file=sys.stderr, flush=True)
            drop_all()
            last = m
        if m[0] == "down":
            if s:
                s.close()
                s = None
                print("down", file=sys.stderr, flush=True)
            time.sleep(0.1)
            continue
        if s is None:
            s = listener()
            print("up", file=sys.stderr, flush=True)
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        m = mode()
        print("connection: %s" % " ".join(m), file=sys.stderr, flush=True)
        threading.Thread(target=handle, args=(c, m), daemon=True).start()


main()
