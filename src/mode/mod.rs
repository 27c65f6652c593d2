//! The modes compose checks; they never re-implement one.

pub mod check;
pub mod migrate;
pub mod retry;
pub mod serve;
pub mod wait_for;
