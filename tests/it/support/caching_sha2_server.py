#!/usr/bin/env python3
"""A MySQL 8 stand-in that speaks caching_sha2_password the way a freshly started server does.

The cache starts empty, so a user's first login takes the full path (the password in clear over
TLS, or RSA-encrypted with the server's public key over plain TCP); once it succeeded, later
logins take the fast path (scramble checked, AuthMoreData 0x03, then OK). After the login it
answers COM_PING, `select 1` and COM_QUIT. One thread per connection.

Written on plain sockets rather than on mysql-mimic: mysql-mimic's auth loop always waits for a
client packet after AuthMoreData, so it cannot send fast-auth-success (0x03) followed by OK, and
its asyncio TLS upgrade can lose a ClientHello that arrives with the SSLRequest. Validated with
PyMySQL (tests/it/mysql.rs runs it), whose client implements every caching_sha2 path.
"""

import argparse
import hashlib
import os
import socket
import ssl
import struct
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROTOCOL_41 = 0x200
SSL = 0x800
SECURE_CONNECTION = 0x8000
PLUGIN_AUTH = 0x80000
LENENC_DATA = 0x200000
CONNECT_WITH_DB = 0x8
LONG_PASSWORD = 0x1
TRANSACTIONS = 0x2000
PLUGIN = b"caching_sha2_password"

CACHE = set()
LOCK = threading.Lock()


def sha256(data):
    return hashlib.sha256(data).digest()


def scramble(password, nonce):
    stage1 = sha256(password)
    return bytes(a ^ b for a, b in zip(stage1, sha256(sha256(stage1) + nonce)))


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.seq = 0

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def read(self):
        header = self.recv_exact(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        self.seq = (header[3] + 1) % 256
        return self.recv_exact(length)

    def write(self, payload):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) % 256

    def ok(self):
        self.write(b"\x00\x00\x00\x02\x00\x00\x00")

    def error(self, code, message):
        self.write(b"\xff" + struct.pack("<H", code) + b"#28000" + message.encode())


def lenenc(data):
    return bytes([len(data)]) + data


def serve(sock, args, key, context):
    conn = Conn(sock)
    nonce = os.urandom(20).translate(bytes((b % 94) + 33 for b in range(256)))
    caps = PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | LENENC_DATA | CONNECT_WITH_DB
    caps |= LONG_PASSWORD | TRANSACTIONS | (SSL if context else 0)
    greeting = b"\x0a8.0.36-fake\x00" + struct.pack("<I", 1) + nonce[:8] + b"\x00"
    greeting += struct.pack("<H", caps & 0xFFFF) + b"\xff" + struct.pack("<H", 2)
    greeting += struct.pack("<H", caps >> 16) + bytes([21]) + b"\x00" * 10 + nonce[8:] + b"\x00"
    greeting += PLUGIN + b"\x00"
    conn.write(greeting)
    response = conn.read()
    secure = False
    if len(response) == 32 and context:
        conn.sock = context.wrap_socket(conn.sock, server_side=True)
        secure = True
        response = conn.read()
    client_caps = struct.unpack("<I", response[:4])[0]
    rest = response[32:]
    user, rest = rest.split(b"\x00", 1)
    # A length byte (lenenc or not: scrambles are shorter than 251 bytes).
    auth, rest = rest[1 : 1 + rest[0]], rest[1 + rest[0] :]
    if client_caps & CONNECT_WITH_DB:
        _db, rest = rest.split(b"\x00", 1)
    plugin = rest.split(b"\x00", 1)[0]
    if plugin != PLUGIN:
        conn.write(b"\xfe" + PLUGIN + b"\x00" + nonce + b"\x00")
        auth = conn.read()
    user = user.decode()
    password = args.password.encode()
    denied = f"Access denied for user '{user}'@'localhost' (using password: {'YES' if auth else 'NO'})"
    if user != args.user or not auth:
        return conn.error(1045, denied)
    with LOCK:
        cached = user in CACHE
    if cached and auth == scramble(password, nonce):
        conn.write(b"\x01\x03")
    else:
        conn.write(b"\x01\x04")
        answer = conn.read()
        if answer == b"\x02" and not secure:
            pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            conn.write(b"\x01" + pem)
            encrypted = conn.read()
            oaep = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
            xored = key.decrypt(encrypted, oaep)
            answer = bytes(b ^ nonce[i % len(nonce)] for i, b in enumerate(xored))
        elif not secure:
            return conn.error(1045, denied)
        if answer != password + b"\x00":
            return conn.error(1045, denied)
        with LOCK:
            CACHE.add(user)
    conn.ok()
    while True:
        conn.seq = 0
        try:
            command = conn.read()
        except EOFError:
            return
        if command[:1] == b"\x0e":
            conn.ok()
        elif command[:1] == b"\x01":
            return
        elif command[:1] == b"\x03" and command[1:].strip().lower() == b"select 1":
            conn.write(b"\x01")
            column = lenenc(b"def") + b"\x00\x00\x00" + lenenc(b"1") + b"\x00"
            column += b"\x0c" + struct.pack("<HIBHB", 63, 1, 8, 0x81, 0) + b"\x00\x00"
            conn.write(column)
            conn.write(b"\xfe\x00\x00\x02\x00")
            conn.write(lenenc(b"1"))
            conn.write(b"\xfe\x00\x00\x02\x00")
        elif command[:1] == b"\x03" and command[1:].strip().lower().startswith(b"set "):
            conn.ok()
        else:
            conn.error(1064, "You have an error in your SQL syntax")


def handle(sock, args, key, context):
    try:
        serve(sock, args, key, context)
    except (EOFError, OSError, ssl.SSLError):
        pass
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(sock, args, key, context), daemon=True).start()


if __name__ == "__main__":
    main()
