//! The one integration-test binary: runs the built `probe` against real servers and
//! processes started on free ports (see `support/`).

mod support;

mod amqp;
mod check;
mod cli;
mod dns;
mod dropin;
mod errors;
mod exec;
mod file;
mod grpc;
mod help;
mod hostile;
mod http;
#[cfg(feature = "kafka")]
mod kafka;
mod migrate;
#[cfg(feature = "mongodb")]
mod mongodb;
mod mysql;
mod postgres;
mod process;
mod redis;
mod registry;
mod secrets;
mod serve;
mod static_binary;
mod tcp;
mod wait_for;
