//! `probe kafka` against Tansu (a real Kafka-compatible broker, memory storage) and, for
//! what Tansu cannot be made to do, scripted brokers (`support/kafka_broker.py`) that
//! kafka-python's consumer reads first (`support::kafka::referee`): no controller, a
//! leaderless or under-replicated partition, a broker that does not list itself, a broker
//! before Kafka 2.4, SCRAM and PLAIN logins (Tansu's memory storage keeps no SCRAM users),
//! a refused password both ways brokers say it, and a missing or wrong server proof.

use std::time::Duration;

use serde_json::json;

use crate::support::kafka::{referee, referee_with, Scripted, Tansu};
use crate::support::pki::pki;
use crate::support::{free_port, probe, probe_env, Run};

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {run:#?}"))
}

#[test]
fn tansu_is_healthy_as_a_command_a_target_and_in_wait_for() {
    let tansu = Tansu::start();
    let addr = tansu.addr();
    let seen = referee(&addr, None);
    assert_eq!(
        seen["brokers"],
        json!([[111, "127.0.0.1", tansu.port]]),
        "{seen}"
    );
    assert_eq!(seen["controller"], json!(111));
    probe(&["kafka", &addr])
        .code(0)
        .says(&format!("healthy: kafka {addr}: broker 111, 1 broker in the cluster, controller 111, cluster tansu_cluster"));
    let url = format!("kafka://{addr}");
    probe(&["kafka", &url]).code(0);
    probe(&["check", &url]).code(0);
    probe(&["wait-for", &url, "--timeout", "5s"]).code(0);
    probe_env(&["kafka"], &[("KAFKA_BOOTSTRAP_SERVERS", &addr)]).code(0);
    let run = probe(&["kafka", &addr, "--json"]);
    run.code(0);
    assert_eq!(json(&run)["healthy"], json!(true));
}

#[test]
fn topics_must_exist_with_their_leaders() {
    let tansu = Tansu::start();
    let addr = tansu.addr();
    probe(&["kafka", &addr, "--topic", "orders"])
        .code(1)
        .says("topic orders does not exist");
    tansu.create_topic("orders", 3);
    let seen = referee(&addr, None);
    assert_eq!(
        seen["partitions"],
        json!({"0": [111, 1, 1], "1": [111, 1, 1], "2": [111, 1, 1]}),
        "{seen}"
    );
    probe(&["kafka", &addr, "--topic", "orders"])
        .code(0)
        .says("topic orders (3 partitions in sync)");
    probe(&["kafka", &addr, "--topic", "orders", "--topic", "payments"])
        .code(1)
        .says("topic payments does not exist")
        .does_not_say("orders");
    // Asking never creates it.
    probe(&["kafka", &addr, "--topic", "payments"])
        .code(1)
        .says("topic payments does not exist");
}

#[test]
fn nothing_listening_and_several_hosts() {
    let (dead, other) = (free_port(), free_port());
    probe(&["kafka", &format!("127.0.0.1:{dead}")])
        .code(1)
        .says("connection refused");
    probe(&["kafka", &format!("127.0.0.1:{dead},127.0.0.1:{other}")])
        .code(1)
        .says(&format!("no broker answered (connection refused (127.0.0.1:{dead}); connection refused (127.0.0.1:{other}))"));
    // The list from the environment, a password in it: never shown.
    let secret = "Zq9kafka-pw";
    for args in [&["kafka"][..], &["kafka", "--json"], &["kafka", "-q"]] {
        probe_env(
            args,
            &[(
                "KAFKA_BOOTSTRAP_SERVERS",
                &format!("kafka://u:{secret}@127.0.0.1:{dead}"),
            )],
        )
        .code(1)
        .does_not_say(secret);
    }
    let tansu = Tansu::start();
    let list = format!("127.0.0.1:{dead}, {}", tansu.addr());
    probe(&["kafka", &list]).code(0).says("broker 111");
    probe_env(&["kafka"], &[("KAFKA_BOOTSTRAP_SERVERS", &list)]).code(0);
}

/// What a scripted broker says, read by kafka-python first, then by probe.
#[test]
fn what_tansu_cannot_be_made_to_say() {
    for scenario in [
        "no-controller",
        "leaderless",
        "under-replicated",
        "not-listed",
    ] {
        let broker = Scripted::start(&["--scenario", scenario]);
        let (port, next) = (broker.port, broker.port + 1);
        let (key, expected, reason) = match scenario {
            "no-controller" => (
                "controller",
                json!(null),
                "no active controller (Metadata says controller -1)".to_string(),
            ),
            "leaderless" => (
                "partitions",
                json!({"0": [1, 3, 3], "1": [-1, 3, 0], "2": [1, 3, 3]}),
                "topic orders partition 1 has no leader".into(),
            ),
            "under-replicated" => (
                "partitions",
                json!({"0": [1, 3, 3], "1": [1, 3, 3], "2": [1, 3, 1]}),
                "topic orders partition 2 is under-replicated (1 of 3 replicas in sync)".into(),
            ),
            _ => (
                // kafka-python reads it, then fails to reach the broker it lists.
                "bootstrap",
                json!({"brokers": [[2, "127.0.0.1", next]], "controller": 1}),
                format!(
                    "the broker does not list itself (127.0.0.1:{port}) among its brokers \
                     (2 at 127.0.0.1:{next})"
                ),
            ),
        };
        let seen = referee(&broker.addr(), None);
        assert_eq!(seen[key], expected, "{scenario}: kafka-python saw {seen}");
        let run = probe(&["kafka", &broker.addr(), "--topic", "orders", "--json"]);
        run.code(1);
        let report = json(&run);
        assert_eq!(report["detail"], json!(reason), "{scenario}: {run:#?}");
        assert_eq!(report["fatal"], json!(false), "{scenario}");
    }
    // Healthy as scripted, as a sanity check of the script itself.
    let ok = Scripted::start(&[]);
    probe(&["kafka", &ok.addr(), "--topic", "orders"])
        .code(0)
        .says("broker 1, 1 broker in the cluster, controller 1, cluster scripted, topic orders (3 partitions in sync)");
}

#[test]
fn a_broker_before_kafka_2_4_is_asked_again_at_apiversions_v0() {
    // ZooKeeper-era: ApiVersions v3 refused with UNSUPPORTED_VERSION, Metadata up to v1.
    let broker = Scripted::start(&["--old", "--metadata-max", "1"]);
    assert_eq!(referee(&broker.addr(), None)["controller"], json!(1));
    probe(&["kafka", &broker.addr(), "--topic", "orders"])
        .code(0)
        .says(
            "broker 1, 1 broker in the cluster, controller 1, topic orders (3 partitions in sync)",
        );
}

const USER: &str = "app";
const PASSWORD: &str = "s3cret-Kafka";

#[test]
fn logins_with_scram_and_plain() {
    for (mechanism, flag) in [
        ("SCRAM-SHA-512", None),
        ("SCRAM-SHA-256", Some("scram-sha-256")),
        ("PLAIN", Some("plain")),
    ] {
        let broker =
            Scripted::start(&["--sasl", mechanism, "--user", USER, "--password", PASSWORD]);
        let seen = referee(&broker.addr(), Some((mechanism, USER, PASSWORD)));
        assert_eq!(seen["controller"], json!(1), "{mechanism}: {seen}");
        let url = format!("kafka://{USER}:{PASSWORD}@{}", broker.addr());
        let mut args = vec!["kafka", &url];
        if let Some(flag) = flag {
            args.extend(["--mechanism", flag]);
        }
        probe(&args)
            .code(0)
            .says(&format!("logged in as \"app\" ({mechanism})"))
            .does_not_say(PASSWORD);
        // The variables, as an app's compose file sets them.
        probe_env(
            &["kafka", &broker.addr()],
            &[
                ("KAFKA_SASL_USERNAME", USER),
                ("KAFKA_SASL_PASSWORD", PASSWORD),
                ("KAFKA_SASL_MECHANISM", mechanism),
            ],
        )
        .code(0)
        .says("logged in");
        // No login on a SASL listener: the broker closes the connection.
        probe(&["kafka", &broker.addr()])
            .code(1)
            .says("a SASL listener? give --user and a password");
    }
}

#[test]
fn a_refused_password_is_fatal_however_the_broker_says_it() {
    // Apache Kafka: SASL_AUTHENTICATION_FAILED (58); Tansu: no error, `e=invalid-proof`.
    for (refuse, reason) in [
        ("error", "Authentication failed"),
        ("invalid-proof", "refused: invalid-proof"),
    ] {
        for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
            let broker = Scripted::start(&[
                "--sasl",
                mechanism,
                "--user",
                USER,
                "--password",
                PASSWORD,
                "--refuse",
                refuse,
            ]);
            let seen = referee(&broker.addr(), Some((mechanism, USER, "wrong-password")));
            assert!(seen["error"].is_string(), "kafka-python logged in: {seen}");
            let url = format!("kafka://{USER}:wrong-password@{}", broker.addr());
            let run = probe(&["kafka", &url, "--mechanism", mechanism, "--json"]);
            run.code(1).does_not_say("wrong-password");
            let report = json(&run);
            assert_eq!(report["fatal"], json!(true), "{run:#?}");
            let detail = report["detail"].as_str().unwrap();
            assert!(
                detail.starts_with(&format!("login as \"app\" ({mechanism}) refused"))
                    && detail.contains(reason),
                "{refuse} {mechanism}: {detail}"
            );
            // wait-for stops at once on it.
            probe(&[
                "wait-for",
                &format!("kafka {url} --mechanism {mechanism}"),
                "--timeout",
                "20s",
            ])
            .code(1)
            .within(Duration::from_secs(10));
        }
    }
    let broker = Scripted::start(&["--sasl", "PLAIN", "--user", USER, "--password", PASSWORD]);
    assert!(referee(&broker.addr(), Some(("PLAIN", USER, "nope-nope")))["error"].is_string());
    let url = format!("kafka://{USER}:nope-nope@{}", broker.addr());
    let run = probe(&["kafka", &url, "--mechanism", "plain", "--json"]);
    assert_eq!(json(&run)["fatal"], json!(true), "{run:#?}");
}

#[test]
fn the_server_must_prove_it_knows_the_password() {
    for (proof, client_says, reason) in [
        // kafka-python fails to read the empty message.
        (
            "missing",
            "Connection lost",
            "malformed SCRAM server-final message",
        ),
        (
            "wrong",
            "Server sent wrong signature",
            "the server's SCRAM signature is wrong (it does not know the password)",
        ),
    ] {
        let broker = Scripted::start(&[
            "--sasl",
            "SCRAM-SHA-256",
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--proof",
            proof,
        ]);
        let seen = referee(&broker.addr(), Some(("SCRAM-SHA-256", USER, PASSWORD)));
        assert!(
            seen["reasons"].to_string().contains(client_says),
            "kafka-python on a {proof} proof: {seen}"
        );
        let url = format!("kafka://{USER}:{PASSWORD}@{}", broker.addr());
        let run = probe(&["kafka", &url, "--mechanism", "scram-sha-256", "--json"]);
        run.code(1);
        let report = json(&run);
        assert_eq!(report["fatal"], json!(true), "{run:#?}");
        assert_eq!(
            report["detail"],
            json!(format!("the broker accepted the login but {reason}")),
            "{proof}"
        );
    }
}

#[test]
fn a_mechanism_the_broker_does_not_offer_is_fatal_and_named() {
    let broker = Scripted::start(&[
        "--sasl",
        "SCRAM-SHA-256,PLAIN",
        "--user",
        USER,
        "--password",
        PASSWORD,
    ]);
    let url = format!("kafka://{USER}:{PASSWORD}@{}", broker.addr());
    let run = probe(&["kafka", &url, "--json"]);
    run.code(1);
    assert_eq!(
        json(&run)["detail"],
        json!("the broker does not offer SCRAM-SHA-512 (it offers SCRAM-SHA-256, PLAIN): choose with --mechanism")
    );
    assert_eq!(json(&run)["fatal"], json!(true));
    // A listener without SASL (Tansu without --authentication) refuses the handshake too.
    let tansu = Tansu::start();
    let url = format!("kafka://{USER}:{PASSWORD}@{}", tansu.addr());
    let run = probe(&["kafka", &url, "--json"]);
    run.code(1).does_not_say(PASSWORD);
    assert_eq!(json(&run)["fatal"], json!(true), "{run:#?}");
}

/// Each Metadata version probe may pick is decoded by kafka-python's classes on the
/// scripted broker's side (a request it cannot read closes the connection), and its reply,
/// encoded by them, is read by probe.
#[test]
fn every_metadata_version_probe_speaks_reads_both_ways() {
    std::thread::scope(|scope| {
        for max in ["1", "2", "3", "4", "5", "7", "8", "9", "10", "11", "12"] {
            scope.spawn(move || {
                let broker =
                    Scripted::start(&["--metadata-max", max, "--scenario", "under-replicated"]);
                probe(&[
                    "kafka",
                    &broker.addr(),
                    "--topic",
                    "orders",
                    "--topic",
                    "gone",
                ])
                .code(1)
                .says(
                    "topic orders partition 2 is under-replicated (1 of 3 replicas in sync); \
                         topic gone does not exist",
                );
            });
        }
    });
}

/// TLS listeners (SSL and SASL_SSL), verified (Tansu's TLS cannot be turned on from its
/// command line: `--cert` and `--key` refuse each other).
#[test]
fn tls_listeners_are_verified() {
    let pki = pki();
    let (cert, key) = (
        pki.server.cert.to_str().unwrap(),
        pki.server.key.to_str().unwrap(),
    );
    let ca = pki.ca.cert.to_str().unwrap();
    let broker = Scripted::start(&["--cert", cert, "--key", key]);
    let seen = referee_with(&broker.addr(), None, &["--ca-file", ca]);
    assert_eq!(seen["controller"], json!(1), "{seen}");
    probe(&["kafka", &broker.addr(), "--tls", "--ca-file", ca])
        .code(0)
        .says("broker 1, 1 broker in the cluster");
    let run = probe(&["kafka", &broker.addr(), "--tls", "--json"]);
    run.code(1);
    assert_eq!(json(&run)["fatal"], json!(true), "{run:#?}");
    let other = pki.other_ca.cert.to_str().unwrap();
    let run = probe(&[
        "kafka",
        &broker.addr(),
        "--tls",
        "--ca-file",
        other,
        "--json",
    ]);
    assert_eq!(json(&run)["fatal"], json!(true), "{run:#?}");
    probe(&["kafka", &broker.addr(), "--tls", "-k"]).code(0);
    probe(&["kafka", &broker.addr(), "--timeout", "2s"])
        .code(1)
        .says("a TLS listener? add --tls");

    let sasl = Scripted::start(&[
        "--cert",
        cert,
        "--key",
        key,
        "--sasl",
        "SCRAM-SHA-512",
        "--user",
        USER,
        "--password",
        PASSWORD,
    ]);
    let seen = referee_with(
        &sasl.addr(),
        Some(("SCRAM-SHA-512", USER, PASSWORD)),
        &["--ca-file", ca],
    );
    assert_eq!(seen["controller"], json!(1), "{seen}");
    let url = format!("kafka://{USER}:{PASSWORD}@{}", sasl.addr());
    probe(&["kafka", &url, "--tls", "--ca-file", ca])
        .code(0)
        .says("logged in as \"app\" (SCRAM-SHA-512)");
}
