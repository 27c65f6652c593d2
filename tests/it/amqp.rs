//! `probe amqp` against a real RabbitMQ broker (see support/rabbitmq.rs): Connection.Start
//! without a login, PLAIN logins, vhosts, TLS and a memory alarm; and against fake peers
//! for what a broker will not do on demand: silence, garbage, a huge frame, another
//! protocol version, a forced close.

use std::time::Duration;

use crate::support::peer::{answers, Peer, Step};
use crate::support::rabbitmq::{broker, PASSWORD, STRANGER, USER, VHOST};
use crate::support::{pki::pki, probe, temp_dir, Run};

/// A peer that reads the AMQP 0-9-1 protocol header and sends `reply`.
fn answers_the_header(reply: &[u8]) -> Peer {
    Peer::tcp(answers(b"AMQP\x00\x00\x09\x01", reply))
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {run:#?}"))
}

fn password_file() -> (tempfile::TempDir, String) {
    let dir = temp_dir();
    let path = dir.path().join("password");
    std::fs::write(&path, format!("{PASSWORD}\n")).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn a_broker_answers_connection_start_without_a_login() {
    let broker = broker();
    probe(&["amqp", &broker.bare_url()])
        .code(0)
        .says("healthy: amqp")
        .says("RabbitMQ 3.")
        .says("answered with Connection.Start (not logged in)")
        .short();
    let run = probe(&["amqp", &broker.bare_url(), "--json"]);
    run.code(0);
    let value = json(&run);
    assert_eq!(value["check"], "amqp");
    assert_eq!(value["healthy"], true);
    probe(&["check", &broker.bare_url()]).code(0);
}

#[test]
fn a_login_opens_the_vhost_and_closes_cleanly() {
    let broker = broker();
    probe(&["amqp", &broker.url()])
        .code(0)
        .says(&format!("logged in as {USER:?}, vhost {VHOST:?} open"))
        .says("amqp://probe-app:***@")
        .does_not_say(PASSWORD);
    let (_dir, file) = password_file();
    let bare = broker.bare_url();
    probe(&["amqp", &bare, "--user", USER, "--password-file", &file])
        .code(0)
        .says("vhost \"/\" open");
    probe(&[
        "amqp",
        &bare,
        "--user",
        USER,
        "--password-file",
        &file,
        "--vhost",
        VHOST,
    ])
    .code(0)
    .says(VHOST);
    probe(&["check", &broker.url()])
        .code(0)
        .does_not_say(PASSWORD);
    probe(&["wait-for", &broker.url(), "--timeout", "20s"]).code(0);
}

#[test]
fn a_wrong_password_is_fatal() {
    let broker = broker();
    let wrong = format!("amqp://{USER}:not-{PASSWORD}@127.0.0.1:{}/", broker.port);
    let run = probe(&["amqp", &wrong, "--json"]);
    run.code(1).does_not_say(PASSWORD).short();
    let value = json(&run);
    assert_eq!(value["fatal"], true, "{run:#?}");
    assert!(
        value["detail"]
            .as_str()
            .unwrap()
            .starts_with("login refused: ACCESS_REFUSED"),
        "{run:#?}"
    );
    // wait-for stops at once on a fatal verdict.
    probe(&["wait-for", &wrong, "--timeout", "20s"])
        .code(1)
        .within(Duration::from_secs(10));
}

#[test]
fn an_unknown_or_forbidden_vhost_is_fatal_naming_it() {
    let broker = broker();
    let url = format!(
        "amqp://{USER}:{PASSWORD}@127.0.0.1:{}/no-such-vhost",
        broker.port
    );
    let run = probe(&["amqp", &url, "--json"]);
    run.code(1);
    let value = json(&run);
    assert_eq!(value["fatal"], true, "{run:#?}");
    let detail = value["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("vhost \"no-such-vhost\" cannot be opened: NOT_ALLOWED"),
        "{detail}"
    );
    let stranger = format!(
        "amqp://{STRANGER}:{PASSWORD}@127.0.0.1:{}/{VHOST}",
        broker.port
    );
    probe(&["amqp", &stranger])
        .code(1)
        .says(&format!("vhost {VHOST:?} cannot be opened"));
}

/// Restores the memory watermark when the alarm test ends, even when it fails.
struct Watermark;

impl Drop for Watermark {
    fn drop(&mut self) {
        broker().ctl(&["set_vm_memory_high_watermark", "0.4"]);
    }
}

/// The only test that uses --check-alarms or sets an alarm: the broker is shared, and a
/// memory alarm blocks only publishers, so the other tests are not affected.
#[test]
fn a_memory_alarm_blocks_publishers_and_check_alarms_sees_it() {
    let broker = broker();
    probe(&["amqp", &broker.url(), "--check-alarms"])
        .code(0)
        .says("no resource alarm");
    let _restore = Watermark;
    broker.ctl(&["set_vm_memory_high_watermark", "0.0000001"]);
    // The alarm is raised by the memory monitor, at once or within a second.
    let mut run = probe(&["amqp", &broker.url(), "--check-alarms", "--timeout", "3s"]);
    for _ in 0..20 {
        if run.code == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        run = probe(&["amqp", &broker.url(), "--check-alarms", "--timeout", "3s"]);
    }
    run.code(1)
        .says("the broker blocks publishers (resource alarm: low on memory)")
        .within(Duration::from_secs(3));
    // Without --check-alarms nothing is published: logins still work.
    probe(&["amqp", &broker.url()]).code(0);
}

#[test]
fn amqps_verifies_the_brokers_certificate() {
    let broker = broker();
    let pki = pki();
    let ca = pki.ca.cert.to_str().unwrap();
    let url = format!(
        "amqps://{USER}:{PASSWORD}@localhost:{}/{VHOST}",
        broker.tls_port
    );
    probe(&["amqp", &url, "--ca-file", ca]).code(0).says("open");
    probe(&[
        "amqp",
        &format!("amqps://localhost:{}", broker.tls_port),
        "--ca-file",
        ca,
    ])
    .code(0)
    .says("not logged in");
    let run = probe(&["amqp", &url, "--json"]);
    run.code(1);
    assert_eq!(json(&run)["fatal"], true, "{run:#?}");
    assert!(run.stdout.contains("unknown issuer"), "{run:#?}");
    probe(&["amqp", &url, "--insecure"]).code(0);
}

#[test]
fn fake_peers_silence_garbage_huge_frames_and_other_versions() {
    let silent = Peer::tcp(vec![Step::Silent]);
    probe(&[
        "amqp",
        &format!("amqp://127.0.0.1:{}", silent.port()),
        "--timeout",
        "1s",
    ])
    .code(1)
    .says("timed out after 1s waiting for Connection.Start")
    .within(Duration::from_secs(3));
    silent.finish();

    let http = answers_the_header(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    probe(&["amqp", &format!("amqp://127.0.0.1:{}", http.port())])
        .code(1)
        .says("not an AMQP frame: \"HTTP/1.1 400 Bad Request\" (is this an AMQP port?)");

    let huge = answers_the_header(b"\x01\x00\x00\x7f\xff\xff\xff");
    probe(&["amqp", &format!("amqp://127.0.0.1:{}", huge.port())])
        .code(1)
        .says("frame of 2147483647 bytes is larger than the limit");

    let amqp10 = answers_the_header(b"AMQP\x00\x01\x00\x00");
    probe(&["amqp", &format!("amqp://127.0.0.1:{}", amqp10.port())])
        .code(1)
        .says("the server speaks AMQP 1.0, not AMQP 0-9-1");
    for peer in [http, huge, amqp10] {
        peer.finish();
    }
}

#[test]
fn a_forced_close_is_unhealthy_not_fatal() {
    // Connection.Close 320 right after the header, as a broker that is shutting down sends.
    let text = b"CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'";
    let mut payload = vec![0, 10, 0, 50, 1, 64, text.len() as u8];
    payload.extend_from_slice(text);
    payload.extend_from_slice(&[0, 0, 0, 0]);
    let mut frame = vec![1, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(0xce);
    let peer = answers_the_header(&frame);
    let run = probe(&[
        "amqp",
        &format!("amqp://127.0.0.1:{}", peer.port()),
        "--json",
    ]);
    peer.finish();
    run.code(1);
    let value = json(&run);
    assert_eq!(value["fatal"], false, "{run:#?}");
    assert_eq!(
        value["detail"],
        "the server closed the connection: CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    );
}

#[test]
fn bad_arguments_are_usage_errors_without_secrets() {
    for args in [
        &["amqp", "http://x"][..],
        &["amqp", "amqp://u:hunter2@h:0"],
        &["amqp", "amqp://h/a/b"],
        &["amqp", "amqp://h", "--vhost", "x"],
        &["amqp", "amqp://h", "--user", "u"],
        &["amqp", "amqp://h", "--insecure"],
        &["amqp", "amqp://h", "--check-alarms"],
    ] {
        probe(args).code(3).does_not_say("hunter2");
    }
}
