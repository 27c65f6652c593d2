//! `probe exec` as users run it: a program's verdict, its deadline held whatever it does,
//! its output bounded, its environment whole, and the same line as a TARGET.

use std::time::Duration;

use crate::hostile::spawn_measured;
use crate::support::{probe, probe_env};

#[test]
fn exit_codes_signals_and_reasons() {
    probe(&["exec", "--", "true"])
        .code(0)
        .says("healthy: exec true");
    probe(&[
        "exec",
        "--",
        "sh",
        "-c",
        "echo starting; echo 'db is down' >&2; exit 4",
    ])
    .code(1)
    .says("exited 4: db is down");
    probe(&["exec", "--", "sh", "-c", "kill -SEGV $$"])
        .code(1)
        .says("killed by SIGSEGV");
    probe(&["exec", "--expect-output", "PONG", "--", "echo", "pong"])
        .code(1)
        .says("without \"PONG\"");
    probe(&["exec", "--expect-output", "pong", "--", "echo", "pong"]).code(0);
    // Not there, not executable: a usage error before anything runs.
    probe(&["exec", "--", "no-such-program-xyz"])
        .code(3)
        .says("not found in PATH");
    let dir = crate::support::temp_dir();
    let script = dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    probe(&["exec", "--", &script.display().to_string()])
        .code(3)
        .says("not executable");
    probe(&["exec"]).code(3).says("a command after --");
}

#[test]
fn the_deadline_holds_against_a_program_that_ignores_sigterm() {
    let run = probe(&[
        "exec",
        "--timeout",
        "1s",
        "--",
        "sh",
        "-c",
        "trap '' TERM; sleep 30 & wait; sleep 30",
    ]);
    run.code(1)
        .says("timed out after 1s")
        .within(Duration::from_millis(1500));
}

#[test]
fn a_flood_of_output_stays_within_8_mib() {
    let (status, wall, max_rss_kib, output) = spawn_measured(&[
        "exec",
        "--timeout",
        "20s",
        "--",
        "sh",
        "-c",
        "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo last line",
    ]);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("last line"), "{output}");
    assert!(
        max_rss_kib < 8 * 1024,
        "peak RSS {max_rss_kib} KiB; {output}"
    );
    assert!(wall < Duration::from_secs(20));
}

#[test]
fn the_program_gets_the_whole_environment_and_the_command_as_written() {
    let many: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("SERVICE_{i}_PORT"),
                format!("tcp://10.0.0.{}:80", i % 250),
            )
        })
        .collect();
    let env: Vec<(&str, &str)> = many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("PROBE_EXEC_TEST", "seen")])
        .collect();
    probe_env(
        &[
            "exec",
            "--expect-output",
            "300 seen",
            "--",
            "sh",
            "-c",
            "echo $(env | grep -c '^SERVICE_') $PROBE_EXEC_TEST",
        ],
        &env,
    )
    .code(0);
    // `$$` and `${X}` after `--` reach the program untouched (probe expands its own words
    // only), as with wait-for's command.
    probe(&[
        "exec",
        "--",
        "sh",
        "-c",
        r#"test "$1" = '${X}' && test "$2" = '$$'"#,
        "sh",
        "${X}",
        "$$",
    ])
    .code(0);
    // The same line as a TARGET and in wait-for.
    probe(&["check", "exec -- true", "exec -- false"])
        .code(1)
        .says("exited 1");
    probe(&["wait-for", "-q", "--timeout", "5s", "exec -- true"]).code(0);
}
