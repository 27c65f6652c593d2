//! `src/probe/postgres/session/message.rs` and what it takes from its parent in the crate.

pub const PROTOCOL_3_0: u32 = 3 << 16;

pub enum Failure {
    Down(crate::outcome::Outcome),
}

impl From<crate::outcome::Outcome> for Failure {
    fn from(outcome: crate::outcome::Outcome) -> Self {
        Failure::Down(outcome)
    }
}

#[path = "../../src/probe/postgres/session/message.rs"]
pub mod message;
