//! `probe tcp --send/--expect`'s escape parser, reply display and incremental "contains"
//! search (src/probe/tcp/dialog/text.rs, std only, included as it is). The property is
//! the file's own `property`, which `cargo test` replays over fuzz/corpus/tcp_dialog.
#![no_main]
#![allow(unexpected_cfgs)]

#[path = "../../src/probe/tcp/dialog/text.rs"]
#[allow(dead_code)]
mod text;

libfuzzer_sys::fuzz_target!(|data: &[u8]| text::property(data));
