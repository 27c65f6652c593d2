//! The binary is static and works where scratch images leave it: an empty root with only
//! the binary, /etc/hosts and /etc/resolv.conf (no libc, no shell, no CA bundle).

use std::net::TcpListener;
use std::process::Command;

use crate::support::http::{Response, Server, Tls};
use crate::support::pki::pki;
use crate::support::{is_root, probe_bin, run, temp_dir};

/// True when the ELF file has a PT_INTERP program header (a dynamic loader).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "expected a 64-bit ELF");
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

#[test]
fn the_binary_is_static() {
    let elf = std::fs::read(probe_bin()).unwrap();
    assert!(
        !has_interpreter(&elf),
        "{} needs a dynamic loader",
        probe_bin()
    );
}

#[test]
fn checks_run_in_an_empty_root() {
    assert!(
        is_root(),
        "this test needs root for chroot (CI and the test script run as root)"
    );
    let root = temp_dir();
    let etc = root.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::copy(probe_bin(), root.path().join("probe")).unwrap();
    std::fs::write(
        etc.join("hosts"),
        "127.0.0.1 localhost\n127.0.0.1 app.internal\n::1 localhost\n",
    )
    .unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    let pki = pki();
    std::fs::copy(&pki.ca.cert, root.path().join("ca.pem")).unwrap();

    let in_root = |args: &[&str]| {
        let mut command = Command::new("/usr/sbin/chroot");
        command
            .arg(root.path())
            .arg("/probe")
            .args(args)
            .env_clear();
        run(command)
    };
    in_root(&["--help"]).code(0).says("Usage: probe");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    in_root(&["tcp", &format!("app.internal:{port}")]).code(0);

    let server = Server::http(|_| Response::new(200, r#"{"status":"ok"}"#));
    let url = format!("http://app.internal:{}/health", server.port);
    in_root(&["http", &url, "--expect-json", "/status=ok"]).code(0);

    let tls = Server::https(
        Tls {
            cert: &pki.server,
            client_ca: None,
        },
        |_| Response::new(200, ""),
    );
    let url = format!("https://localhost:{}/", tls.port);
    in_root(&["http", &url, "--ca-file", "/ca.pem"]).code(0);
}
