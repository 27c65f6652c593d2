//! Hostile peers: one table of protocol × phase. Each row runs the built probe against a
//! scripted fake peer ([`crate::support::peer`]) and asserts exit 1 (0 for a late flood
//! after a healthy answer), a wall time of at most the timeout + 0.3 s and a peak RSS (the
//! child's own, from wait4) of at most 8 MiB; [`REASONS`] rows assert their reason too.
//! A new check adds a [`Proto`] and rows, not code.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::peer::{Backlog, Peer, Step, TLS_RECORD_HEADER};
use crate::support::{probe_bin, temp_dir};

const SLACK: Duration = Duration::from_millis(300);
const MAX_RSS_KIB: i64 = 8 * 1024;
/// What a 1 MiB JSON body may add to a check's peak RSS: the body, and what parsing it
/// holds (an escaped string is unescaped into a buffer of its own).
const BODY_SHARE_KIB: i64 = 3 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The listen queue is full: connect never completes.
    Backlog,
    /// The peer answers ClientHello with a TLS record header, then one byte at a time.
    HandshakeTrickle,
    /// The peer accepts (and finishes TLS setup, if any) and never sends a byte.
    Silent,
    /// The reply comes one byte every 100 ms and never ends.
    Trickle,
    /// An endless body, array or stream of messages.
    Flood,
    /// Something that is not the protocol.
    Garbage,
    /// A length prefix far larger than anything probe accepts.
    HugeLength,
    /// A proxy accepts the CONNECT tunnel, then the target's reply comes through it one
    /// byte every 100 ms (an HTTP reply, or a TLS record for an https target).
    TunnelTrickle,
    /// The peer answers like the real server ([`LATE`]), then floods: the verdict may be
    /// reached (or the deadline pass) with the flood still coming, and the close must not
    /// drain it forever.
    LateFlood,
}

/// How a protocol asks for TLS before the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    No,
    /// SSLRequest, answered `S`.
    Postgres,
    /// A greeting offering CLIENT_SSL, then the client's 36-byte SSLRequest packet.
    Mysql,
}

/// How a protocol is reached and what its hostile replies look like.
pub struct Proto {
    pub name: &'static str,
    /// The probe arguments, given the port and the socket path (`{port}`, `{path}`, `{dir}`).
    pub args: &'static [&'static str],
    pub unix: bool,
    /// Speaks TLS from the first byte (https, rediss).
    pub tls: bool,
    /// Asks for TLS in the protocol first (PostgreSQL's or MySQL's SSLRequest).
    pub starttls: StartTls,
    /// The server speaks first (a MySQL greeting): no request to read before replying.
    pub server_first: bool,
    pub trickle: &'static [u8],
    pub flood_head: &'static [u8],
    pub flood: &'static [u8],
    pub huge: &'static [u8],
}

const HTTP_TRICKLE: &[u8] =
    b"HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const HTTP_FLOOD_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
const HTTP_HUGE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\nxxxx";
const BODY: &[u8] = &[b'x'; 16 * 1024];
const REDIS_TRICKLE: &[u8] = b"+PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP";
/// 4096 arrays of 4096 integers: 542 MiB before replies had a total budget.
const REDIS_FLOOD: &[u8] = &{
    let mut chunk = [0u8; 7 + 4 * 4096];
    let head = b"*4096\r\n";
    let mut i = 0;
    while i < 7 {
        chunk[i] = head[i];
        i += 1;
    }
    while i < chunk.len() {
        chunk[i] = [b':', b'1', b'\r', b'\n'][(i - 7) % 4];
        i += 1;
    }
    chunk
};
const PG_TRICKLE: &[u8] = b"R\0\0\0\x08\0\0\0\0SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS";
/// NoticeResponse after NoticeResponse during startup.
const PG_FLOOD: &[u8] = b"N\0\0\0\x1dSNOTICE\0C00000\0Mflooding\0\0";

/// A MySQL 8 greeting (protocol 10, CLIENT_SSL and CLIENT_PLUGIN_AUTH offered).
const MYSQL_GREETING: &[u8] = b"\x4a\0\0\0\x0a8.0.36\0\x01\0\0\0abcdefgh\0\xff\xff\x2d\x02\0\xff\xdf\x15\0\0\0\0\0\0\0\0\0\0ijklmnopqrst\0mysql_native_password\0";
/// A greeting announcing 0x4a bytes that come one at a time.
const MYSQL_TRICKLE: &[u8] = b"\x4a\0\0\0\x0a8.0.36\0\x01\0\0\0abcdefghabcdefghabcdefghabcdefgh";
/// The reply to the login: a packet of 16 MiB - 1 bytes (continued), endless.
const MYSQL_FLOOD: &[u8] = &{
    let mut chunk = [b'x'; 16 * 1024];
    chunk[0] = 0xff;
    chunk[1] = 0xff;
    chunk[2] = 0xff;
    chunk[3] = 2;
    chunk
};
/// HTTP/2: the server's SETTINGS, then HEADERS `:status 200` on stream 1.
const H2_FLOOD_HEAD: &[u8] = b"\0\0\0\x04\0\0\0\0\0\0\0\x01\x01\x04\0\0\0\x01\x88";
/// DATA frames of 16 KiB on stream 1, endless (past the flow-control window).
const H2_FLOOD: &[u8] = &{
    let mut chunk = [b'x'; 9 + 16 * 1024];
    let head = *b"\0\x40\0\0\0\0\0\0\x01";
    let mut i = 0;
    while i < 9 {
        chunk[i] = head[i];
        i += 1;
    }
    chunk
};
/// A SETTINGS frame of 16 KiB whose bytes come one at a time.
const H2_TRICKLE: &[u8] = b"\0\x40\0\x04\0\0\0\0\0\0\x01\0\0\0\0\0\x02\0\0\0\0\0\x03\0\0\0\0";
/// A frame of 16 MiB - 1 bytes.
const H2_HUGE: &[u8] = b"\xff\xff\xff\x04\0\0\0\0\0";
/// Connection.Start's frame header, then its bytes one at a time.
const AMQP_TRICKLE: &[u8] =
    b"\x01\0\0\0\0\x01\xf4\0\x0a\0\x0a\0\x09\0\0\0\0\x01\xe0\x0cproductxxxxxxxxxxxx";
/// Heartbeat frames, endless.
const AMQP_FLOOD: &[u8] = &{
    let mut chunk = [0u8; 8 * 2048];
    let frame = *b"\x08\0\0\0\0\0\0\xce";
    let mut i = 0;
    while i < chunk.len() {
        chunk[i] = frame[i % 8];
        i += 1;
    }
    chunk
};
/// A method frame announcing 4 GiB - 1 bytes.
const AMQP_HUGE: &[u8] = b"\x01\0\0\xff\xff\xff\xff";
/// Connection.Start: AMQP 0-9-1, no server properties, PLAIN.
const AMQP_START: &[u8] =
    b"\x01\0\0\0\0\0\x1c\0\x0a\0\x0a\0\x09\0\0\0\0\0\0\0\x05PLAIN\0\0\0\x05en_US\xce";
/// Connection.Tune: frames up to 128 KiB.
const AMQP_TUNE: &[u8] = b"\x01\0\0\0\0\0\x0c\0\x0a\0\x1e\0\0\0\x02\0\0\0\0\xce";
/// Body frames of 128 KiB on channel 0, endless: the largest frame Tune allowed.
const AMQP_BIG_FRAMES: &[u8] = &{
    let mut frame = [b'x'; 128 * 1024];
    let size = (128 * 1024 - 8u32).to_be_bytes();
    let head = [3, 0, 0, size[0], size[1], size[2], size[3]];
    let mut i = 0;
    while i < 7 {
        frame[i] = head[i];
        i += 1;
    }
    frame[128 * 1024 - 1] = 0xce;
    frame
};
/// A whole SERVING reply on stream 1: SETTINGS, HEADERS `:status 200`, the message,
/// trailers `grpc-status: 0` (END_STREAM).
const GRPC_SERVING: &[u8] = b"\0\0\0\x04\0\0\0\0\0\
\0\0\x01\x01\x04\0\0\0\x01\x88\
\0\0\x07\0\0\0\0\0\x01\0\0\0\0\x02\x08\x01\
\0\0\x0f\x01\x05\0\0\0\x01\0\x0bgrpc-status\x010";
/// Kafka: a reply announcing 64 bytes, which come one at a time.
#[cfg(feature = "kafka")]
const KAFKA_TRICKLE: &[u8] =
    b"\0\0\0\x40\0\0\0\x01\0\0\x02\0\x03\0\x01\0\x0c\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
/// A reply of 1 MiB - 1 bytes (the most probe reads), then more, endless.
#[cfg(feature = "kafka")]
const KAFKA_FLOOD_HEAD: &[u8] = b"\0\x0f\xff\xff\0\0\0\x01";
/// A reply announcing 2 GiB - 1 bytes.
#[cfg(feature = "kafka")]
const KAFKA_HUGE: &[u8] = b"\x7f\xff\xff\xff\0\0\0\x01";
/// ApiVersions v3's reply to request 1: Metadata v1 only.
#[cfg(feature = "kafka")]
const KAFKA_VERSIONS: &[u8] = b"\0\0\0\x13\0\0\0\x01\0\0\x02\0\x03\0\x01\0\x01\0\0\0\0\0\0";
/// Metadata v1's reply to request 2: one broker, not this one (other:1), controller 1.
#[cfg(feature = "kafka")]
const KAFKA_METADATA: &[u8] =
    b"\0\0\0\x21\0\0\0\x02\0\0\0\x01\0\0\0\x01\0\x05other\0\0\0\x01\xff\xff\0\0\0\x01\0\0\0\0";
/// 128 KiB chunks: a peer that writes them sends faster than a reader of small chunks.
const BIG: &[u8] = &[b'x'; 128 * 1024];
/// A proxy's answer to CONNECT that opens the tunnel.
const TUNNEL_OPEN: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
/// Header lines after a CONNECT status line, endless.
const PROXY_FLOOD: &[u8] = &{
    let mut chunk = [b'a'; 16 * 1024];
    let mut i = 0;
    while i < chunk.len() {
        chunk[i] = b'X';
        chunk[i + 1] = b':';
        chunk[i + 2] = b' ';
        chunk[i + 62] = b'\r';
        chunk[i + 63] = b'\n';
        i += 64;
    }
    chunk
};

/// MongoDB: an OP_MSG reply header announcing 200 bytes, which then come one at a time.
#[cfg(feature = "mongodb")]
const MONGO_TRICKLE: &[u8] =
    b"\xc8\0\0\0\x07\0\0\0\x02\0\0\0\xdd\x07\0\0\0\0\0\0\0xxxxxxxxxxxxxxxxxxxxxxxx";
/// An OP_MSG reply header announcing 64 KiB, the most a `hello` reply may be, then
/// endless bytes.
#[cfg(feature = "mongodb")]
const MONGO_FLOOD_HEAD: &[u8] = b"\0\0\x01\0\x07\0\0\0\x02\0\0\0\xdd\x07\0\0";
/// A reply length of 2 GiB - 1.
#[cfg(feature = "mongodb")]
const MONGO_HUGE: &[u8] = b"\xff\xff\xff\x7f\x07\0\0\0\x02\0\0\0\xdd\x07\0\0";
/// `hello`'s reply to probe's first request (ID 2): a writable primary.
#[cfg(feature = "mongodb")]
const MONGO_HELLO: &[u8] = b":\0\0\0\x07\0\0\0\x02\0\0\0\xdd\x07\0\0\0\0\0\0\0%\0\0\0\x08isWritablePrimary\0\x01\x01ok\0\0\0\0\0\0\0\xf0?\0";
/// A 1 MiB reply to `--query` (the most probe reads), then more: 16 KiB chunks whose first
/// starts with the header.
#[cfg(feature = "mongodb")]
const MONGO_QUERY_FLOOD: &[u8] = &{
    let mut chunk = [b'x'; 16 * 1024];
    let head = *b"\0\0\x10\0\x07\0\0\0\x03\0\0\0\xdd\x07\0\0";
    let mut i = 0;
    while i < 16 {
        chunk[i] = head[i];
        i += 1;
    }
    chunk
};

/// A [`LateFlood`] row's peer: what it answers first (each after a request from probe),
/// the endless flood after it, and the exit code the verdict gives.
pub struct Late {
    pub name: &'static str,
    pub replies: &'static [&'static [u8]],
    pub flood: &'static [u8],
    pub code: i32,
}

pub const LATE: &[Late] = &[
    // Connected: healthy, then the close.
    Late {
        name: "tcp",
        replies: &[],
        flood: BIG,
        code: 0,
    },
    // SERVING: healthy, then GOAWAY and the close.
    Late {
        name: "grpc",
        replies: &[GRPC_SERVING],
        flood: BIG,
        code: 0,
    },
    // Logged in, then 128 KiB frames instead of Open-Ok: the deadline, then the close.
    Late {
        name: "amqp",
        replies: &[AMQP_START, AMQP_TUNE],
        flood: AMQP_BIG_FRAMES,
        code: 1,
    },
    // hello answered: healthy, then the close.
    #[cfg(feature = "mongodb")]
    Late {
        name: "mongodb",
        replies: &[MONGO_HELLO],
        flood: BIG,
        code: 0,
    },
    // hello answered, then a 1 MiB reply to --query that is not one, and more.
    #[cfg(feature = "mongodb")]
    Late {
        name: "mongodb-query",
        replies: &[MONGO_HELLO],
        flood: MONGO_QUERY_FLOOD,
        code: 1,
    },
    // ApiVersions and Metadata answered (the broker is not listed: unhealthy), then a flood.
    #[cfg(feature = "kafka")]
    Late {
        name: "kafka",
        replies: &[KAFKA_VERSIONS, KAFKA_METADATA],
        flood: BIG,
        code: 1,
    },
];

/// Rows whose reason is part of the promise: a proxy's silence is named as the proxy's.
pub const REASONS: &[(&str, Phase, &str)] = &[
    #[cfg(feature = "kafka")]
    (
        "kafka",
        Silent,
        "timed out after 1s waiting for the reply to ApiVersions",
    ),
    #[cfg(feature = "kafka")]
    (
        "kafka",
        Trickle,
        "timed out after 1s waiting for the reply to ApiVersions",
    ),
    #[cfg(feature = "kafka")]
    (
        "kafka",
        HugeLength,
        "the reply announces 2147483647 bytes (probe reads at most 1048576)",
    ),
    #[cfg(feature = "kafka")]
    ("kafka", LateFlood, "the broker does not list itself"),
    (
        "http-proxy",
        Silent,
        "timed out after 1s waiting for the proxy",
    ),
    (
        "http-proxy",
        Trickle,
        "timed out after 1s waiting for the proxy",
    ),
    (
        "http-proxy",
        Flood,
        "the proxy's reply headers are larger than 16 KiB",
    ),
    (
        "http-proxy",
        Garbage,
        "the proxy's reply to CONNECT is not HTTP",
    ),
    (
        "http-proxy",
        TunnelTrickle,
        "timed out after 1s waiting for the response",
    ),
    (
        "https-proxy",
        Silent,
        "timed out after 1s waiting for the proxy",
    ),
    (
        "https-proxy",
        Trickle,
        "timed out after 1s waiting for the proxy",
    ),
    (
        "https-proxy",
        Flood,
        "the proxy's reply headers are larger than 16 KiB",
    ),
    (
        "https-proxy",
        Garbage,
        "the proxy's reply to CONNECT is not HTTP",
    ),
    (
        "https-proxy",
        TunnelTrickle,
        "timed out after 1s during TLS handshake",
    ),
    #[cfg(feature = "mongodb")]
    (
        "mongodb",
        Trickle,
        "timed out after 1s waiting for the reply to hello",
    ),
    #[cfg(feature = "mongodb")]
    ("mongodb", Garbage, "hello: not a MongoDB reply: \"SSH-2.0"),
    #[cfg(feature = "mongodb")]
    (
        "mongodb",
        HugeLength,
        "hello: reply length 2147483647 out of bounds",
    ),
];

pub const PROTOS: &[Proto] = &[
    Proto {
        name: "http",
        args: &[
            "http",
            "http://127.0.0.1:{port}/",
            "--body-contains",
            "never",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: HTTP_TRICKLE,
        flood_head: HTTP_FLOOD_HEAD,
        flood: BODY,
        huge: HTTP_HUGE,
    },
    Proto {
        name: "http-unix",
        args: &[
            "http",
            "http://localhost/",
            "--unix-socket",
            "{path}",
            "--body-contains",
            "never",
        ],
        unix: true,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: HTTP_TRICKLE,
        flood_head: HTTP_FLOOD_HEAD,
        flood: BODY,
        huge: HTTP_HUGE,
    },
    Proto {
        name: "https",
        args: &["http", "https://127.0.0.1:{port}/", "--insecure"],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    // `probe tcp` with an exchange: the reply never holds the expected text.
    Proto {
        name: "tcp-send",
        args: &[
            "tcp",
            "127.0.0.1:{port}",
            "--send",
            "stats\\r\\n",
            "--expect",
            "END",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"STAT pid 1\r\nSTAT uptime 2\r\nSTAT time 3\r\nSTAT version 1.6\r\n",
        flood_head: b"STAT ",
        flood: BODY,
        huge: b"",
    },
    Proto {
        name: "tcp-banner",
        args: &["tcp", "127.0.0.1:{port}", "--expect-banner", "220"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: true,
        trickle: b"22222222222222222222222222222222222222222222222222222222222",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "tcp-tls",
        args: &[
            "tcp",
            "127.0.0.1:{port}",
            "--tls",
            "-k",
            "--send",
            "ruok",
            "--expect",
            "imok",
        ],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    // `--proxy`: the peer is the proxy; the target's name is never resolved by probe.
    Proto {
        name: "http-proxy",
        args: &[
            "http",
            "http://svc.invalid/",
            "--proxy",
            "http://127.0.0.1:{port}",
            "--body-contains",
            "never",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: HTTP_TRICKLE,
        flood_head: b"HTTP/1.1 200 Connection established\r\n",
        flood: PROXY_FLOOD,
        huge: b"",
    },
    Proto {
        name: "https-proxy",
        args: &[
            "http",
            "https://svc.invalid/",
            "--proxy",
            "http://127.0.0.1:{port}",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: HTTP_TRICKLE,
        flood_head: b"HTTP/1.1 200 Connection established\r\n",
        flood: PROXY_FLOOD,
        huge: b"",
    },
    Proto {
        name: "tcp",
        args: &["tcp", "127.0.0.1:{port}"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "postgres",
        args: &[
            "postgres",
            "postgres://u@127.0.0.1:{port}/db?sslmode=disable",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: PG_TRICKLE,
        flood_head: b"",
        flood: PG_FLOOD,
        huge: b"R\x7f\xff\xff\xff",
    },
    Proto {
        name: "postgres-unix",
        args: &["postgres", "postgres://u@/db?host={dir}&port=5432"],
        unix: true,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: PG_TRICKLE,
        flood_head: b"",
        flood: PG_FLOOD,
        huge: b"R\x7f\xff\xff\xff",
    },
    Proto {
        name: "postgres-tls",
        args: &[
            "postgres",
            "postgres://u@127.0.0.1:{port}/db?sslmode=require",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::Postgres,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "redis",
        args: &["redis", "redis://127.0.0.1:{port}"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: REDIS_TRICKLE,
        flood_head: b"*4096\r\n",
        flood: REDIS_FLOOD,
        huge: b"$99999999999\r\n",
    },
    Proto {
        name: "redis-unix",
        args: &["redis", "unix://{path}"],
        unix: true,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: REDIS_TRICKLE,
        flood_head: b"*4096\r\n",
        flood: REDIS_FLOOD,
        huge: b"*2147483647\r\n",
    },
    Proto {
        name: "rediss",
        args: &["redis", "rediss://127.0.0.1:{port}", "--insecure"],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "mysql",
        args: &["mysql", "mysql://u@127.0.0.1:{port}/?ssl-mode=DISABLED"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: true,
        trickle: MYSQL_TRICKLE,
        flood_head: MYSQL_GREETING,
        flood: MYSQL_FLOOD,
        huge: b"\xff\xff\xff\0",
    },
    Proto {
        name: "mysql-unix",
        args: &["mysql", "mysql+unix://{path}"],
        unix: true,
        tls: false,
        starttls: StartTls::No,
        server_first: true,
        trickle: MYSQL_TRICKLE,
        flood_head: MYSQL_GREETING,
        flood: MYSQL_FLOOD,
        huge: b"\xff\xff\xff\0",
    },
    Proto {
        name: "mysql-tls",
        args: &["mysql", "mysql://u@127.0.0.1:{port}/?ssl-mode=REQUIRED"],
        unix: false,
        tls: false,
        starttls: StartTls::Mysql,
        server_first: true,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "grpc",
        args: &["grpc", "127.0.0.1:{port}"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: H2_TRICKLE,
        flood_head: H2_FLOOD_HEAD,
        flood: H2_FLOOD,
        huge: H2_HUGE,
    },
    Proto {
        name: "grpcs",
        args: &["grpc", "grpcs://127.0.0.1:{port}", "--insecure"],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "amqp",
        args: &["amqp", "amqp://u:p@127.0.0.1:{port}/"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: AMQP_TRICKLE,
        flood_head: b"",
        flood: AMQP_FLOOD,
        huge: AMQP_HUGE,
    },
    #[cfg(feature = "kafka")]
    Proto {
        name: "kafka",
        args: &["kafka", "127.0.0.1:{port}"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: KAFKA_TRICKLE,
        flood_head: KAFKA_FLOOD_HEAD,
        flood: BODY,
        huge: KAFKA_HUGE,
    },
    #[cfg(feature = "kafka")]
    Proto {
        name: "kafka-tls",
        args: &["kafka", "127.0.0.1:{port}", "--tls", "--insecure"],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    Proto {
        name: "amqps",
        args: &["amqp", "amqps://u:p@127.0.0.1:{port}/", "--insecure"],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    #[cfg(feature = "mongodb")]
    Proto {
        name: "mongodb",
        args: &["mongodb", "mongodb://127.0.0.1:{port}/"],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: MONGO_TRICKLE,
        flood_head: MONGO_FLOOD_HEAD,
        flood: BODY,
        huge: MONGO_HUGE,
    },
    #[cfg(feature = "mongodb")]
    Proto {
        name: "mongodb-query",
        args: &[
            "mongodb",
            "mongodb://127.0.0.1:{port}/",
            "--query",
            "{\"ping\":1}",
            "--expect",
            "/ok=1",
        ],
        unix: false,
        tls: false,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
    #[cfg(feature = "mongodb")]
    Proto {
        name: "mongodb-tls",
        args: &[
            "mongodb",
            "mongodb://127.0.0.1:{port}/?tls=true",
            "--insecure",
        ],
        unix: false,
        tls: true,
        starttls: StartTls::No,
        server_first: false,
        trickle: b"",
        flood_head: b"",
        flood: b"",
        huge: b"",
    },
];

use Phase::*;

/// The table: every row is a protocol (or mode) and a phase.
pub const ROWS: &[(&str, Phase)] = &[
    ("http", Backlog),
    ("http", Silent),
    ("http", Trickle),
    ("http", Flood),
    ("http", Garbage),
    ("http", HugeLength),
    ("http-unix", Backlog),
    ("http-unix", Silent),
    ("http-unix", Trickle),
    ("http-unix", Flood),
    ("https", Backlog),
    ("https", HandshakeTrickle),
    ("https", Silent),
    ("https", Garbage),
    ("http-proxy", Backlog),
    ("http-proxy", Silent),
    ("http-proxy", Trickle),
    ("http-proxy", TunnelTrickle),
    ("http-proxy", Flood),
    ("http-proxy", Garbage),
    ("https-proxy", Backlog),
    ("https-proxy", Silent),
    ("https-proxy", Trickle),
    ("https-proxy", TunnelTrickle),
    ("https-proxy", Flood),
    ("https-proxy", Garbage),
    ("tcp", Backlog),
    ("tcp", LateFlood),
    ("postgres", Backlog),
    ("postgres", Silent),
    ("postgres", Trickle),
    ("postgres", Flood),
    ("postgres", Garbage),
    ("postgres", HugeLength),
    ("postgres-unix", Backlog),
    ("postgres-unix", Silent),
    ("postgres-unix", Flood),
    ("postgres-unix", HugeLength),
    ("postgres-tls", HandshakeTrickle),
    ("postgres-tls", Silent),
    ("postgres-tls", Garbage),
    ("redis", Backlog),
    ("redis", Silent),
    ("redis", Trickle),
    ("redis", Flood),
    ("redis", Garbage),
    ("redis", HugeLength),
    ("redis-unix", Backlog),
    ("redis-unix", Silent),
    ("redis-unix", Flood),
    ("redis-unix", HugeLength),
    ("rediss", Backlog),
    ("rediss", HandshakeTrickle),
    ("rediss", Silent),
    ("rediss", Garbage),
    ("mysql", Backlog),
    ("mysql", Silent),
    ("mysql", Trickle),
    ("mysql", Flood),
    ("mysql", Garbage),
    ("mysql", HugeLength),
    ("mysql-unix", Backlog),
    ("mysql-unix", Silent),
    ("mysql-unix", Trickle),
    ("mysql-unix", Flood),
    ("mysql-unix", Garbage),
    ("mysql-unix", HugeLength),
    ("mysql-tls", Backlog),
    ("mysql-tls", HandshakeTrickle),
    ("mysql-tls", Silent),
    ("mysql-tls", Garbage),
    ("grpc", Backlog),
    ("grpc", Silent),
    ("grpc", Trickle),
    ("grpc", Flood),
    ("grpc", Garbage),
    ("grpc", HugeLength),
    ("grpc", LateFlood),
    ("grpcs", Backlog),
    ("grpcs", HandshakeTrickle),
    ("grpcs", Silent),
    ("grpcs", Garbage),
    ("amqp", Backlog),
    ("amqp", Silent),
    ("amqp", Trickle),
    ("amqp", Flood),
    ("amqp", Garbage),
    ("amqp", HugeLength),
    ("amqp", LateFlood),
    ("tcp-send", Backlog),
    ("tcp-send", Silent),
    ("tcp-send", Trickle),
    ("tcp-send", Flood),
    ("tcp-send", Garbage),
    ("tcp-banner", Silent),
    ("tcp-banner", Trickle),
    ("tcp-banner", Garbage),
    ("tcp-tls", Backlog),
    ("tcp-tls", HandshakeTrickle),
    ("tcp-tls", Silent),
    ("tcp-tls", Garbage),
    ("amqps", Backlog),
    ("amqps", HandshakeTrickle),
    ("amqps", Silent),
    ("amqps", Garbage),
    #[cfg(feature = "mongodb")]
    ("mongodb", Backlog),
    #[cfg(feature = "mongodb")]
    ("mongodb", Silent),
    #[cfg(feature = "mongodb")]
    ("mongodb", Trickle),
    #[cfg(feature = "mongodb")]
    ("mongodb", Flood),
    #[cfg(feature = "mongodb")]
    ("mongodb", Garbage),
    #[cfg(feature = "mongodb")]
    ("mongodb", HugeLength),
    #[cfg(feature = "mongodb")]
    ("mongodb", LateFlood),
    #[cfg(feature = "mongodb")]
    ("mongodb-query", LateFlood),
    #[cfg(feature = "mongodb")]
    ("mongodb-tls", Backlog),
    #[cfg(feature = "mongodb")]
    ("mongodb-tls", HandshakeTrickle),
    #[cfg(feature = "mongodb")]
    ("mongodb-tls", Silent),
    #[cfg(feature = "mongodb")]
    ("mongodb-tls", Garbage),
    #[cfg(feature = "kafka")]
    ("kafka", Backlog),
    #[cfg(feature = "kafka")]
    ("kafka", Silent),
    #[cfg(feature = "kafka")]
    ("kafka", Trickle),
    #[cfg(feature = "kafka")]
    ("kafka", Flood),
    #[cfg(feature = "kafka")]
    ("kafka", Garbage),
    #[cfg(feature = "kafka")]
    ("kafka", HugeLength),
    #[cfg(feature = "kafka")]
    ("kafka", LateFlood),
    #[cfg(feature = "kafka")]
    ("kafka-tls", Backlog),
    #[cfg(feature = "kafka")]
    ("kafka-tls", HandshakeTrickle),
    #[cfg(feature = "kafka")]
    ("kafka-tls", Silent),
    #[cfg(feature = "kafka")]
    ("kafka-tls", Garbage),
    // The modes, over a silent Redis peer: `check` and one-shot commands share the
    // deadline; wait-for's and migrate-then-exec's --timeout bounds the whole wait.
    ("check", Silent),
    ("wait-for", Silent),
    ("migrate-then-exec", Silent),
];

/// What the peer does before a phase's own behaviour: TLS setup and reading the request.
fn script(proto: &Proto, phase: Phase) -> Vec<Step> {
    let mut steps = Vec::new();
    let tls_first = proto.tls || proto.starttls != StartTls::No;
    match proto.starttls {
        StartTls::No => {}
        StartTls::Postgres => {
            steps.push(Step::Expect([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f].to_vec()));
            steps.push(Step::Send(b"S".to_vec()));
        }
        StartTls::Mysql => {
            steps.push(Step::Send(MYSQL_GREETING.to_vec()));
            steps.push(Step::Skip(36));
        }
    }
    // The request the reply answers: none for a server that speaks first, until TLS.
    let request = || (!proto.server_first || tls_first).then_some(Step::Receive);
    let every = Duration::from_millis(100);
    match phase {
        Backlog => {}
        HandshakeTrickle => steps.extend([
            Step::Receive,
            Step::Send(TLS_RECORD_HEADER.to_vec()),
            Step::Trickle(vec![0x02; 200], every),
        ]),
        Silent if tls_first => steps.extend([Step::Receive, Step::Silent]),
        Silent => steps.push(Step::Silent),
        Trickle => steps.extend(
            request()
                .into_iter()
                .chain([Step::Trickle(proto.trickle.to_vec(), every)]),
        ),
        Flood if proto.server_first => steps.extend([
            Step::Send(proto.flood_head.to_vec()),
            Step::Receive,
            Step::Flood(proto.flood.to_vec()),
        ]),
        Flood => steps.extend([
            Step::Receive,
            Step::Send(proto.flood_head.to_vec()),
            Step::Flood(proto.flood.to_vec()),
        ]),
        Garbage => steps.extend(request().into_iter().chain([
            Step::Send(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
            Step::Silent,
        ])),
        HugeLength => steps.extend(
            request()
                .into_iter()
                .chain([Step::Send(proto.huge.to_vec()), Step::Flood(BODY.to_vec())]),
        ),
        TunnelTrickle => {
            let through: Vec<u8> = if proto.args[1].starts_with("https") {
                [TLS_RECORD_HEADER, &[0x02; 200]].concat()
            } else {
                HTTP_TRICKLE.to_vec()
            };
            steps.extend([
                Step::Receive,
                Step::Send(TUNNEL_OPEN.to_vec()),
                Step::Receive,
                Step::Trickle(through, every),
            ]);
        }
        LateFlood => {
            let late = late(proto.name);
            for reply in late.replies {
                steps.extend([Step::Receive, Step::Send(reply.to_vec())]);
            }
            steps.push(Step::Flood(late.flood.to_vec()));
        }
    }
    steps
}

fn late(name: &str) -> &'static Late {
    LATE.iter()
        .find(|late| late.name == name)
        .unwrap_or_else(|| panic!("no LATE row for {name}"))
}

/// The exit code a row must end with: 1 (unhealthy), but for a [`LateFlood`] whose
/// verdict came before the flood.
fn expected_code(name: &str, phase: Phase) -> i32 {
    match phase {
        LateFlood => late(name).code,
        _ => 1,
    }
}

/// The text a row's output must hold, if its reason is part of the promise.
fn expected_reason(name: &str, phase: Phase) -> Option<&'static str> {
    REASONS
        .iter()
        .find(|(row, row_phase, _)| *row == name && *row_phase == phase)
        .map(|(.., reason)| *reason)
}

/// What one row measured.
pub struct Measured {
    pub row: String,
    pub expected_code: i32,
    pub expected_reason: Option<&'static str>,
    pub timeout: Duration,
    pub code: Option<i32>,
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub output: String,
}

/// Runs one row: starts the peer, runs probe with `--timeout`, measures it.
pub fn run_row(name: &str, phase: Phase, timeout: Duration) -> Measured {
    let dir = temp_dir();
    let (proto, mode) = match PROTOS.iter().find(|proto| proto.name == name) {
        Some(proto) => (proto, None),
        None => (
            PROTOS.iter().find(|proto| proto.name == "redis").unwrap(),
            Some(name),
        ),
    };
    let socket = if name.starts_with("postgres") {
        dir.path().join(".s.PGSQL.5432")
    } else {
        dir.path().join("peer.sock")
    };
    let unix = proto.unix.then_some(socket.as_path());
    // Whatever is listening is kept alive until the probe has ended.
    let (port, _peer, _backlog) = match phase {
        Backlog => {
            let backlog = match unix {
                Some(path) => Backlog::unix(path),
                None => Backlog::tcp(),
            };
            (backlog.port, None, Some(backlog))
        }
        _ if mode.is_some() => {
            let peer = Peer::each(unix, script(proto, phase));
            (peer.port(), Some(peer), None)
        }
        _ => {
            let peer = match unix {
                Some(path) => Peer::unix(path, script(proto, phase)),
                None => Peer::tcp(script(proto, phase)),
            };
            (peer.port(), Some(peer), None)
        }
    };
    let fill = |arg: &str| {
        arg.replace("{port}", &port.to_string())
            .replace("{path}", socket.to_str().unwrap())
            .replace("{dir}", dir.path().to_str().unwrap())
    };
    let check: Vec<String> = proto.args.iter().map(|arg| fill(arg)).collect();
    let seconds = format!("{}s", timeout.as_secs());
    let target = check[1].clone();
    let args: Vec<String> = match mode {
        None => check
            .into_iter()
            .chain(["--timeout".into(), seconds])
            .collect(),
        Some("check") => vec!["check".into(), target, "--timeout".into(), seconds],
        Some("wait-for") => vec!["wait-for".into(), target, "--timeout".into(), seconds],
        Some(_) => [
            "migrate-then-exec",
            "--wait",
            &target,
            "--timeout",
            &seconds,
            "--migrate",
            "true",
            "--",
            "true",
        ]
        .map(String::from)
        .to_vec(),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, wall, max_rss_kib, output) = spawn_measured(&args);
    Measured {
        row: format!("{name} × {phase:?}"),
        expected_code: expected_code(name, phase),
        expected_reason: expected_reason(name, phase),
        timeout,
        code: status.code(),
        wall,
        max_rss_kib,
        output,
    }
}

/// Runs probe under GNU time, for its own peak RSS (KiB) and its exit code.
///
/// Not spawned from this process: a child spawned here (vfork, then exec) starts with this
/// process's own high-water mark, which other tests running in parallel push to tens of
/// MiB, and ru_maxrss keeps it. `time` is a small C program: what its child inherits is
/// nothing worth counting (a copy of this test binary as the spawner inherited 7 MiB).
pub fn spawn_measured(args: &[&str]) -> (ExitStatus, Duration, i64, String) {
    let started = Instant::now();
    // bench/hostile.sh runs the same table against the release binary.
    let program = std::env::var("HOSTILE_PROBE").unwrap_or_else(|_| probe_bin().to_string());
    let dir = temp_dir();
    let stats = dir.path().join("time");
    let mut command = std::process::Command::new("/usr/bin/time");
    command
        .arg("-o")
        .arg(&stats)
        .args(["-f", "%M %x", &program])
        .args(args)
        .stdin(Stdio::null());
    for var in crate::support::AMBIENT_VARS {
        command.env_remove(var);
    }
    let output = command
        .output()
        .expect("/usr/bin/time (scripts/test installs it: Debian's time)");
    let wall = started.elapsed();
    let text = std::fs::read_to_string(&stats).unwrap_or_default();
    // "Command exited with non-zero status N" comes first when it did; the figures last.
    let last = text.lines().last().unwrap_or_default();
    let mut figures = last.split(' ').map(|n| n.parse::<i64>().unwrap_or(-1));
    let (max_rss_kib, code) = (figures.next().unwrap_or(-1), figures.next().unwrap_or(-1));
    let mut shown = String::from_utf8_lossy(&output.stdout).into_owned();
    shown.push_str(&String::from_utf8_lossy(&output.stderr));
    (
        ExitStatus::from_raw((code as i32) << 8),
        wall,
        max_rss_kib,
        shown,
    )
}

#[test]
fn every_row_ends_in_time_within_8_mib() {
    let timeout = Duration::from_secs(1);
    let mut failures = Vec::new();
    // HOSTILE_ROWS=proxy,Flood runs only the rows whose "name × Phase" holds one of them.
    let only = std::env::var("HOSTILE_ROWS").unwrap_or_default();
    let rows: Vec<&(&str, Phase)> = ROWS
        .iter()
        .filter(|(name, phase)| {
            let row = format!("{name} × {phase:?}");
            only.is_empty() || only.split(',').any(|part| row.contains(part))
        })
        .collect();
    // A few rows at a time: each mostly sleeps, but the machine is shared.
    for chunk in rows.chunks(6) {
        let results: Vec<Measured> = std::thread::scope(|scope| {
            let threads: Vec<_> = chunk
                .iter()
                .map(|(name, phase)| scope.spawn(move || run_row(name, *phase, timeout)))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for m in results {
            // One line per row for bench/hostile.sh (seen with --nocapture).
            eprintln!(
                "hostile-row\t{}\t{:?}\t{}\t{}\t{}\t{}",
                m.row,
                m.code,
                m.timeout.as_millis(),
                m.wall.as_millis(),
                m.max_rss_kib,
                m.output.trim().replace(['\t', '\n'], " ")
            );
            let problems: Vec<String> = [
                (m.code != Some(m.expected_code)).then(|| format!("exit {:?}", m.code)),
                m.expected_reason
                    .filter(|reason| !m.output.contains(reason))
                    .map(|reason| format!("no {reason:?}")),
                (m.wall > m.timeout + SLACK).then(|| format!("took {:?}", m.wall)),
                (m.max_rss_kib > MAX_RSS_KIB).then(|| format!("peak RSS {} KiB", m.max_rss_kib)),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !problems.is_empty() {
                failures.push(format!(
                    "{}: {} ({})",
                    m.row,
                    problems.join(", "),
                    m.output.trim()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "hostile rows failed:\n{}",
        failures.join("\n")
    );
}

// JSON bodies (`--expect-json`) ---------------------------------------------------------
//
// A body under the 1 MiB cap of each shape that costs most as a `serde_json::Value` tree
// (every `Value` is 32 bytes, every array and object one more allocation), sent whole with
// a Content-Length so that it is parsed, the pointer naming the hostile part itself so that
// it is walked, shown and compared rather than only passed over. The bodies are made and
// served by a Python process: a child's ru_maxrss starts from the peak of the process that
// spawned it, so megabytes of bodies in this test process would be counted against probe.

/// Serves `/SHAPE` (any further path ignored): a JSON document of at most 1 MiB.
const JSON_SERVER: &str = r#"
import http.server, socketserver, sys
MiB = 1024 * 1024
def status(unit):
    count = (MiB - len(b'{"status":[]}') + 1) // (len(unit) + 1)
    return b'{"status":[' + b",".join([unit] * count) + b"]}"
shapes = {
    # 120 levels (serde_json stops at 128), again and again: an allocation per 2 bytes.
    "deep": status(b"[" * 120 + b"0" + b"]" * 120),
    "wide-array": status(b"0"),
    "long-string": b'{"status":"' + (b"x" * 60 + b'\\"\\u00e9') * (MiB // 68 - 1) + b'"}',
    "short-strings": status(b'""'),
    "many-keys": b'{"status":{' + b",".join(b'"%07d":0' % n for n in reversed(range(MiB // 12 - 1))) + b"}}",
    "huge-numbers": status(b"-" + b"9" * 300 + b".5e-300"),
    # Healthy: the pointer holds, small, and padded to 1 MiB.
    "small": b'{"status":"ok"}',
    "ok-padded": b'{"status":"ok","pad":[' + b",".join([b"0"] * ((MiB - 32) // 2)) + b"]}",
}
assert all(len(body) <= MiB for body in shapes.values())
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = shapes[self.path.split("/")[1]]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128
server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The shapes [`JsonServer`] serves that are not healthy for `--expect-json /status=ok`.
pub const JSON_SHAPES: &[&str] = &[
    "deep",
    "wide-array",
    "long-string",
    "short-strings",
    "many-keys",
    "huge-numbers",
];

/// The Python server of [`JSON_SERVER`], stopped when dropped.
pub struct JsonServer {
    child: std::process::Child,
    port: u16,
}

impl JsonServer {
    pub fn start() -> JsonServer {
        let mut child = std::process::Command::new("python3")
            .args(["-c", JSON_SERVER])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        let port = line.trim().parse().expect("the JSON server's port");
        JsonServer { child, port }
    }

    pub fn url(&self, shape: &str) -> String {
        format!("http://127.0.0.1:{}/{shape}", self.port)
    }
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn json_bodies_of_every_shape_are_checked_within_8_mib() {
    let timeout = Duration::from_secs(2);
    let server = JsonServer::start();
    let mut failures = Vec::new();
    // What the binary itself holds (the debug build alone is about 5.5 MiB): the same
    // check against a closed port. The bodies' share is what the body budget bounds.
    let closed = format!("http://127.0.0.1:{}/", crate::support::free_port());
    let (_, _, baseline_kib, _) = spawn_measured(&["http", &closed, "--expect-json", "/status=ok"]);
    for shape in JSON_SHAPES {
        let url = server.url(shape);
        let args = [
            "http",
            &url,
            "--expect-json",
            "/status=ok",
            "--timeout",
            "2s",
        ];
        let (status, wall, max_rss_kib, output) = spawn_measured(&args);
        eprintln!(
            "hostile-json\t{shape}\t{:?}\t{}\t{max_rss_kib}\t{}",
            status.code(),
            wall.as_millis(),
            output.trim()
        );
        let problems: Vec<String> = [
            (status.code() != Some(1)).then(|| format!("exit {:?}", status.code())),
            // Read and parsed, not refused: the reason shows the value.
            (!output.contains("status 200, /status is ")).then(|| "no value shown".into()),
            (wall > timeout + SLACK).then(|| format!("took {wall:?}")),
            (max_rss_kib - baseline_kib > BODY_SHARE_KIB)
                .then(|| format!("peak RSS {max_rss_kib} KiB, {baseline_kib} KiB without a body")),
            // Against the release binary (bench/hostile.sh), the whole process too.
            (std::env::var_os("HOSTILE_PROBE").is_some() && max_rss_kib > MAX_RSS_KIB)
                .then(|| format!("peak RSS {max_rss_kib} KiB")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!(
                "{shape}: {} ({})",
                problems.join(", "),
                output.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "JSON bodies failed:\n{}",
        failures.join("\n")
    );
}

// MongoDB `--query` replies ---------------------------------------------------------------
//
// A reply under the 1 MiB cap of each shape that costs most as JSON text or as the JSON
// pointer walks it: the reply is read as BSON and written out as JSON without a tree, so
// its share is the message, its text (at most 2 MiB) and what `--expect` holds of it.

/// One BSON element: its type, key and value bytes.
#[cfg(feature = "mongodb")]
fn bson_element(out: &mut Vec<u8>, tag: u8, key: &str, value: &[u8]) {
    out.push(tag);
    out.extend_from_slice(key.as_bytes());
    out.push(0);
    out.extend_from_slice(value);
}

/// A BSON document (or array) of `elements`.
#[cfg(feature = "mongodb")]
fn bson_doc(elements: &[u8]) -> Vec<u8> {
    let mut doc = ((elements.len() + 5) as u32).to_le_bytes().to_vec();
    doc.extend_from_slice(elements);
    doc.push(0);
    doc
}

/// `{ok: 1.0, status: VALUE}` as an OP_MSG reply to probe's second request (ID 3).
#[cfg(feature = "mongodb")]
fn mongo_query_reply(tag: u8, status: &[u8]) -> Vec<u8> {
    let mut elements = Vec::new();
    bson_element(&mut elements, 0x01, "ok", &1.0f64.to_le_bytes());
    bson_element(&mut elements, tag, "status", status);
    let doc = bson_doc(&elements);
    let mut message = ((doc.len() + 21) as u32).to_le_bytes().to_vec();
    for field in [7i32, 3, 2013, 0] {
        message.extend_from_slice(&field.to_le_bytes());
    }
    message.push(0);
    message.extend_from_slice(&doc);
    message
}

/// The shapes of a 1 MiB `--query` reply, each with the reason's start.
#[cfg(feature = "mongodb")]
fn mongo_shapes() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    const ROOM: usize = (1 << 20) - 64;
    let array = |unit: &dyn Fn(usize, &mut Vec<u8>)| {
        let mut elements = Vec::new();
        let mut index = 0;
        while elements.len() < ROOM - 512 {
            unit(index, &mut elements);
            index += 1;
        }
        bson_doc(&elements)
    };
    let int = |index: usize, out: &mut Vec<u8>| {
        bson_element(out, 0x10, &index.to_string(), &0i32.to_le_bytes())
    };
    // 28 levels of arrays (probe reads 32, the reply and `status` included), again and
    // again.
    let mut deep = bson_doc(&[]);
    for _ in 0..28 {
        let mut element = Vec::new();
        bson_element(&mut element, 0x04, "0", &deep);
        deep = bson_doc(&element);
    }
    let nested =
        |index: usize, out: &mut Vec<u8>| bson_element(out, 0x04, &index.to_string(), &deep);
    let string = |text: &[u8]| {
        let mut value = ((text.len() + 1) as u32).to_le_bytes().to_vec();
        value.extend_from_slice(text);
        value.push(0);
        value
    };
    let many_keys = array(&|index, out: &mut Vec<u8>| {
        bson_element(out, 0x10, &format!("k{index:07}"), &0i32.to_le_bytes())
    });
    vec![
        (
            "wide-array",
            mongo_query_reply(0x04, &array(&int)),
            "ping: /status is [0,0,0",
        ),
        (
            "deep",
            mongo_query_reply(0x04, &array(&nested)),
            "ping: /status is [[[[",
        ),
        (
            "many-keys",
            mongo_query_reply(0x03, &many_keys),
            "ping: /status is {",
        ),
        (
            "long-string",
            mongo_query_reply(0x02, &string(&vec![b'x'; ROOM - 100])),
            "ping: /status is \"xxxx",
        ),
        // Escaped sixfold as JSON: past the 2 MiB of text probe writes.
        (
            "control-characters",
            mongo_query_reply(0x02, &string(&vec![1; ROOM - 100])),
            "ping: reply longer than 2048 KiB as JSON",
        ),
    ]
}

#[cfg(feature = "mongodb")]
#[test]
fn mongodb_query_replies_of_every_shape_are_read_within_budget() {
    let timeout = Duration::from_secs(2);
    let mut failures = Vec::new();
    let closed = format!("mongodb://127.0.0.1:{}/", crate::support::free_port());
    let query = ["--query", "{\"ping\":1}", "--expect", "/status=ok"];
    let mut args = vec!["mongodb", &closed];
    args.extend(query);
    let (_, _, baseline_kib, _) = spawn_measured(&args);
    eprintln!("hostile-mongodb\tbaseline\t{baseline_kib}");
    for (shape, reply, reason) in mongo_shapes() {
        assert!(reply.len() <= 1 << 20, "{shape}: {} bytes", reply.len());
        let peer = Peer::tcp(vec![
            Step::Receive,
            Step::Send(MONGO_HELLO.to_vec()),
            Step::Receive,
            Step::Send(reply),
            Step::Silent,
        ]);
        let url = format!("mongodb://127.0.0.1:{}/", peer.port());
        let mut args = vec!["mongodb", &url];
        args.extend(query);
        args.extend(["--timeout", "2s"]);
        let (status, wall, max_rss_kib, output) = spawn_measured(&args);
        eprintln!(
            "hostile-mongodb\t{shape}\t{:?}\t{}\t{max_rss_kib}\t{}",
            status.code(),
            wall.as_millis(),
            output.trim()
        );
        let problems: Vec<String> = [
            (status.code() != Some(1)).then(|| format!("exit {:?}", status.code())),
            (!output.contains(reason)).then(|| format!("no {reason:?}")),
            (wall > timeout + SLACK).then(|| format!("took {wall:?}")),
            (max_rss_kib - baseline_kib > BODY_SHARE_KIB)
                .then(|| format!("peak RSS {max_rss_kib} KiB, {baseline_kib} KiB without a reply")),
            (std::env::var_os("HOSTILE_PROBE").is_some() && max_rss_kib > MAX_RSS_KIB)
                .then(|| format!("peak RSS {max_rss_kib} KiB")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!(
                "{shape}: {} ({})",
                problems.join(", "),
                output.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "MongoDB replies failed:\n{}",
        failures.join("\n")
    );
}
