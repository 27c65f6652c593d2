//! The modes compose checks; they never re-implement one.

pub mod check;
