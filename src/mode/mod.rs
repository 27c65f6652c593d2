//! The modes compose checks; they never re-implement one.

pub mod check;
pub mod retry;
pub mod wait_for;
