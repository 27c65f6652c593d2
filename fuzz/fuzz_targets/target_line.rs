#![no_main]

// target::parse needs every check; here the line goes through the redaction pre-pass and
// the shell-like word splitting (cargo test replays the corpus through target::parse).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    probe_fuzz::props::target_line(data, &|text| {
        shlex::split(text)
            .map(|words| words.join(" "))
            .ok_or_else(|| format!("target {:?}: unbalanced quotes", probe_fuzz::url::mask(text)))
    })
});
