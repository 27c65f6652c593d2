//! What the fuzzed parsers need from `src/probe/`: the wire modules at the paths the
//! crate has them re-exported at the paths the crate has them, the
//! `--expect-json` rules module, and
//! `find_bytes` (src/probe/mod.rs declares every check, so it cannot be included here;
//! this is the same six lines).

pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

pub mod http {
    pub use crate::expect_rules as expect;
}

#[path = "../../src/probe/amqp/wire.rs"]
pub mod amqp_wire;
#[path = "../../src/probe/dns/wire.rs"]
pub mod dns_wire;
#[path = "../../src/probe/grpc/h2.rs"]
pub mod grpc_h2;
#[path = "../../src/probe/grpc/proto.rs"]
pub mod grpc_proto;
#[path = "../../src/probe/kafka/wire.rs"]
pub mod kafka_wire;
#[path = "../../src/probe/mongodb/bson.rs"]
pub mod mongodb_bson;
#[path = "../../src/probe/mongodb/command.rs"]
pub mod mongodb_command;
#[path = "../../src/probe/mongodb/frame.rs"]
pub mod mongodb_frame;
#[path = "../../src/probe/mysql/packet.rs"]
pub mod mysql_packet;
#[path = "../../src/probe/redis/resp.rs"]
pub mod redis_resp;

pub mod redis {
    pub use super::redis_resp as resp;
}

pub mod postgres {
    pub use crate::pg_session as session;
}

// frame.rs and command.rs find the BSON module as their sibling `super::bson`.
use mongodb_bson as bson;

pub mod mongodb {
    pub use super::mongodb_bson as bson;
    pub use super::mongodb_command as command;
    pub use super::mongodb_frame as frame;
}

pub mod kafka {
    pub use super::kafka_wire as wire;
}

pub mod mysql {
    pub use super::mysql_packet as packet;
}

pub mod amqp {
    pub use super::amqp_wire as wire;
}

pub mod dns {
    pub use super::dns_wire as wire;
}

pub mod grpc {
    pub use super::grpc_h2 as h2;
    pub use super::grpc_proto as proto;
}
