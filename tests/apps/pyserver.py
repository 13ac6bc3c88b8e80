# pyserver.py — a thread-per-connection server in Python (socketserver.ThreadingTCPServer)
# and client threads that talk to it, with a queue, a lock and a condition between threads:
# a real threaded program for the preload suite (tests/apps/realprograms.sh). stdout is the
# same natively and preloaded; stderr has the figures (os_threads: at the peak).
import os
import queue
import socket
import socketserver
import sys
import threading

CLIENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 50


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

results = queue.Queue()
ready = threading.Condition()
connected = 0
peak = [0]


def client(n):
    global connected
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rwb")
        with ready:
            connected += 1
            ready.notify_all()
            ready.wait_for(lambda: connected == CLIENTS)
            peak[0] = max(peak[0], len(os.listdir("/proc/self/task")))
        ok = 0
        for r in range(ROUNDS):
            f.write(b"client %d round %d\n" % (n, r))
            f.flush()
            ok += f.readline() == b"CLIENT %d ROUND %d\n" % (n, r)
        results.put((n, ok))


threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
got = sorted(results.get() for _ in range(CLIENTS))
print("clients", len(got), "answers right", sum(ok for _, ok in got), "of", CLIENTS * ROUNDS)
server.shutdown()
print("os_threads=%d" % peak[0], file=sys.stderr)
