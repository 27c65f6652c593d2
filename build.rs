//! Build facts for `probe --version`, so a user can tell which binary is in an image: the
//! target triple, the enabled features and the git commit, as `PROBE_BUILD_*` constants.
//!
//! The commit comes from `PROBE_GIT_COMMIT` when set (a Docker build context has no `.git`),
//! else from `git rev-parse HEAD` when this crate is the top of its own git work tree, else
//! `unknown`: a build from a tarball, without git, or vendored inside another repository
//! still builds, and never claims a commit that is not its own.
//!
//! It also keeps the unwind tables out of musl builds that abort on panic (the release
//! profile) and lays their code out for start-up: see [`release_link_script`].

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let mut features: Vec<String> = env::vars()
        .filter_map(|(key, _)| key.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .filter(|name| name != "DEFAULT")
        .map(|name| name.to_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_owned()
    } else {
        features.join(",")
    };

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PROBE_GIT_COMMIT");
    let commit = match env::var("PROBE_GIT_COMMIT") {
        Ok(commit) if is_commit(commit.trim()) => commit.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".into()),
    };

    println!("cargo:rustc-env=PROBE_BUILD_TARGET={target}");
    println!("cargo:rustc-env=PROBE_BUILD_FEATURES={features}");
    println!("cargo:rustc-env=PROBE_BUILD_COMMIT={commit}");
    release_link_script();
}

/// The release link script, for musl (GNU ld via `cc`, or `aarch64-linux-gnu-gcc`: both
/// read `INSERT`) and the release profile only, added to the linker's default script.
///
/// It drops the unwind tables. With `panic = "abort"` nothing unwinds, yet `.eh_frame` (and
/// its index and the landing pad tables) took 267 KB of the 2.47 MB release binary: rustc
/// emits unwind tables for every function on Linux, and Rust's precompiled std has them
/// too, so no compiler flag removes them all. Nothing reads them: a panic aborts, and
/// probe's panic hook (src/main.rs) prints one line and exits without a backtrace (std's
/// own hook, were it ever reached, would print an empty one and abort all the same).
/// crtbegin.o and crtend.o keep their parts: the C runtime refers to them
/// (`__EH_FRAME_BEGIN__`, the list's terminator), and with them the table is a valid,
/// empty one. Debug builds and test harnesses, which unwind, keep theirs (build scripts
/// are not told the panic strategy; the release profile is the one that aborts).
///
/// It also lays the code out for start-up ([`code_layout`]).
fn release_link_script() {
    let musl = env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "musl");
    let abort = env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    if !(musl && abort) {
        return;
    }
    println!("cargo:rerun-if-changed={HOT_SECTIONS}");
    let script = out.join("release-layout.ld");
    if std::fs::write(&script, format!("{NO_UNWIND_TABLES}{}", code_layout())).is_ok() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}

/// The first matching rule wins, so these sections go to `/DISCARD/` instead of
/// `.eh_frame` and `.gcc_except_table`.
const NO_UNWIND_TABLES: &str = r"SECTIONS
{
  /DISCARD/ : {
    EXCLUDE_FILE(*crtbegin.o *crtend.o) *(.eh_frame)
    *(.gcc_except_table .gcc_except_table.*)
  }
}
INSERT AFTER .text;
";

/// The sections a tcp, file, http and process check touch, first touch first, as ld input
/// section rules (`text RULE`, `rodata RULE`), written by `scripts/hot-sections`.
const HOT_SECTIONS: &str = "layout/hot-sections.txt";

/// The `text` or `rodata` rules of [`HOT_SECTIONS`]; none when the file is missing.
fn hot_rules(kind: &str) -> String {
    let listed = std::fs::read_to_string(HOT_SECTIONS).unwrap_or_default();
    listed
        .lines()
        .filter_map(|line| line.strip_prefix(kind)?.strip_prefix(' '))
        .map(|rule| format!("    {rule}\n"))
        .collect()
}

/// The modules every run goes through, whatever the check: the command line, the
/// environment, secrets, the deadline, the report, and the checks that need no library.
const CORE_MODULES: &[&[&str]] = &[
    &["main"],
    &["app"],
    &["cli"],
    &["options"],
    &["env"],
    &["argv"],
    &["expand"],
    &["redact"],
    &["target"],
    &["registry"],
    &["report"],
    &["outcome"],
    &["deadline"],
    &["duration"],
    &["net"],
    &["stream"],
    &["arena"],
    &["signals"],
    &["url"],
    &["mode", "check"],
    &["probe", "tcp"],
    &["probe", "file"],
    &["probe", "process"],
];

/// What only some checks use: the protocols' own modules and the libraries behind them.
const PROTOCOL_MODULES: &[&[&str]] = &[
    &["probe", "http"],
    &["probe", "postgres"],
    &["probe", "redis"],
    &["probe", "mysql"],
    &["probe", "amqp"],
    &["probe", "grpc"],
    &["probe", "dns"],
    &["probe", "mongodb"],
    &["probe", "kafka"],
    &["probe", "exec"],
    &["mode", "serve"],
    &["mode", "migrate"],
    &["scram"],
    &["saslprep"],
    &["tls"],
];
const PROTOCOL_CRATES: &[&str] = &[
    "rustls",
    "rustls_pki_types",
    "webpki",
    "ring",
    "untrusted",
    "ureq",
    "ureq_proto",
    "http",
    "httparse",
    "h2",
    "serde_json",
    "serde",
    "serde_core",
    "base64",
    "md5",
    "percent_encoding",
];

/// Whole archives of C, assembly and precompiled code in the same places: musl's libc
/// (small, and under every run) first; ring's C and assembly and the unwinder that nothing
/// calls with `panic = "abort"` last.
const CORE_ARCHIVES: &[&str] = &["libc.a"];
const PROTOCOL_ARCHIVES: &[&str] = &["libring_core_*.a", "libunwind.a"];

/// Read-only data only TLS reads: ring's precomputed curve tables (176 KB of the 0.57 MB),
/// after the rest, so that the constants every run reads lie closer together.
const COLD_DATA: &str = "    *(.rodata.ecp_nistz256_precomputed .rodata.ring_core_*)\n";

/// The allocator's 64 KiB arena (src/arena.rs), after the rest of `.bss`: between them, it
/// put the small variables of libc and std on pages of their own, two more to fault in.
const ARENA: &str = "    *(.bss._ZN5probe9ALLOCATOR*)\n";

/// Start-up is probe's cost, and page faults are a good part of it: code is mapped 64 KiB
/// at a time as it is first run, and the functions of one `probe tcp` run were spread over
/// 19 of the 25 windows of 1.6 MB of text. rustc puts each function (and many constants)
/// in a section of its own (`.text.<symbol>`), so the linker can gather them: first what
/// the traced checks touch, in order ([`HOT_SECTIONS`]: `.text.hot`, `.rodata.hot`), then
/// musl's libc and probe's core modules (`.text.core`), the protocols and their libraries
/// last (`.text.protocols`), the rest between. A tcp check faults 16 times instead of 35
/// and takes about 0.77x as long (paired runs against the build before); a check of a
/// protocol finds its code together. The module lists match by module path, not by symbol
/// hash, so they hold as the code changes; the hot list's exact names may not, which costs
/// faults, never correctness (scripts/build-release checks its size). Measured with
/// bench/startup.sh (its fault columns and `BASELINE_PROBE`).
fn code_layout() -> String {
    // Legacy mangling: `_ZN5probe3app3run17h<hash>E` for a function, and an impl's methods
    // `_ZN<n>_$LT$probe..app..Type$u20$as$u20$Trait$GT$...`. (std's own dependencies use v0
    // mangling, where a crate's name also marks the generic code instantiated there and
    // shared by all: they are left where they are.)
    let module = |path: &[&str]| {
        let mangled: String = path
            .iter()
            .map(|part| format!("{}{part}", part.len()))
            .collect();
        format!(
            "    *(.text._ZN5probe{mangled}*)\n    *(.text._ZN*_$LT$probe..{}..*)\n",
            path.join("..")
        )
    };
    let krate = |name: &str| {
        format!(
            "    *(.text._ZN{len}{name}*)\n    *(.text._ZN*_$LT${name}..*)\n",
            len = name.len()
        )
    };
    let archive = |name: &str| format!("    *{name}:*(.text .text.*)\n");
    // `main` is the C entry point rustc writes, which calls probe's.
    let core: String = CORE_ARCHIVES
        .iter()
        .map(|name| archive(name))
        .collect::<String>()
        + "    *(.text.main)\n"
        + &CORE_MODULES
            .iter()
            .map(|path| module(path))
            .collect::<String>();
    let protocols: String = PROTOCOL_ARCHIVES
        .iter()
        .map(|name| archive(name))
        .collect::<String>()
        + &PROTOCOL_MODULES
            .iter()
            .map(|path| module(path))
            .collect::<String>()
        + &PROTOCOL_CRATES
            .iter()
            .map(|name| krate(name))
            .collect::<String>();
    let (hot_text, hot_data) = (hot_rules("text"), hot_rules("rodata"));
    format!(
        "SECTIONS\n{{\n  .text.hot : {{\n{hot_text}  }}\n  .text.core : {{\n{core}  }}\n}}\n\
         INSERT BEFORE .text;\n\
         SECTIONS\n{{\n  .text.protocols : {{\n{protocols}  }}\n}}\nINSERT AFTER .text;\n\
         SECTIONS\n{{\n  .rodata.hot : {{\n{hot_data}  }}\n}}\nINSERT AFTER .rodata;\n\
         SECTIONS\n{{\n  .rodata.protocols : {{\n{COLD_DATA}  }}\n}}\nINSERT AFTER .rodata.hot;\n\
         SECTIONS\n{{\n  .bss.arena (NOLOAD) : {{\n{ARENA}  }}\n}}\nINSERT AFTER .bss;\n"
    )
}

fn is_commit(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}

// A watched path that does not exist would make cargo run this script on every build.
fn watch(dir: &Path, git_path: &str) {
    if let Some(p) = git(dir, &["rev-parse", "--git-path", git_path]) {
        let p = dir.join(p);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}

fn git_commit() -> Option<String> {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    let top = git(&dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    // Build again when HEAD moves: HEAD itself (a branch switch, a detached checkout) and
    // the branch it points to (a new commit), loose or packed.
    for path in ["HEAD", "packed-refs"] {
        watch(&dir, path);
    }
    if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch(&dir, &branch);
    }
    let commit = git(&dir, &["rev-parse", "HEAD"])?;
    is_commit(&commit).then_some(commit)
}
