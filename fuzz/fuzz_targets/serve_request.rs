#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| probe_fuzz::props::serve_request(data));
