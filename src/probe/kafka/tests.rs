//! The settings (flags, URL, variables) and the verdicts on Metadata replies; the wire
//! format is tested in `wire.rs`, the whole check against Tansu and scripted brokers in
//! tests/it/kafka.rs.

use super::wire::{Broker, Partition, Topic};
use super::*;

fn check_with(settings: KafkaSettings, env: &[(&str, &str)]) -> Result<KafkaCheck, UsageError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    KafkaCheck::with_env(&settings, &move |name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

fn words(args: &[&str], env: &[(&str, &str)]) -> Result<KafkaCheck, UsageError> {
    let words = crate::options::Words::parse(&CHECK.spec, args).unwrap();
    check_with(KafkaSettings::from_words(&words)?, env)
}

#[test]
fn the_bootstrap_list_comes_from_the_argument_the_variable_or_the_default() {
    let check = words(&[], &[]).unwrap();
    assert_eq!(check.hosts, vec![("localhost".into(), 9092)]);
    let check = words(&[], &[("KAFKA_BOOTSTRAP_SERVERS", "k1:9093,k2")]).unwrap();
    assert_eq!(check.hosts, vec![("k1".into(), 9093), ("k2".into(), 9092)]);
    assert_eq!(check.target(), "k1:9093,k2");
    let check = words(&["kafka://b:1"], &[("KAFKA_BOOTSTRAP_SERVERS", "k1")]).unwrap();
    assert_eq!(check.hosts, vec![("b".into(), 1)]);
    assert!(words(&["http://b:1"], &[]).is_err());
}

#[test]
fn logins_from_the_url_the_flags_and_the_variables() {
    let check = words(&["kafka://app:s3cret@b:9092"], &[]).unwrap();
    let login = check.login.as_ref().unwrap();
    assert_eq!(
        (login.user.as_str(), login.password.as_str()),
        ("app", "s3cret")
    );
    assert_eq!(login.mechanism, Mechanism::Scram(Hash::Sha512));
    assert!(!check.target().contains("s3cret"), "{}", check.target());

    let env = [
        ("KAFKA_SASL_USERNAME", "envuser"),
        ("KAFKA_SASL_PASSWORD", "envpass"),
        ("KAFKA_SASL_MECHANISM", "PLAIN"),
    ];
    let check = words(&["b"], &env).unwrap();
    let login = check.login.as_ref().unwrap();
    assert_eq!(
        (login.user.as_str(), login.password.as_str()),
        ("envuser", "envpass")
    );
    assert_eq!(login.mechanism, Mechanism::Plain);
    // A flag wins over the variable.
    let check = words(
        &["b", "--user", "flag", "--mechanism", "scram-sha-256"],
        &env,
    )
    .unwrap();
    let login = check.login.as_ref().unwrap();
    assert_eq!(login.user, "flag");
    assert_eq!(login.mechanism, Mechanism::Scram(Hash::Sha256));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file\n").unwrap();
    let file = file.to_str().unwrap();
    let check = words(&["b", "--user", "app", "--password-file", file], &[]).unwrap();
    assert_eq!(check.login.as_ref().unwrap().password, "from-file");
}

#[test]
fn half_logins_and_bad_values_are_usage_errors() {
    let error = |args: &[&str], env: &[(&str, &str)]| words(args, env).err().unwrap().0;
    assert!(error(&["b", "--user", "app"], &[]).contains("needs a password"));
    assert!(error(&[], &[("KAFKA_SASL_PASSWORD", "pw")]).contains("needs a user"));
    assert!(error(&["b", "--mechanism", "plain"], &[]).contains("needs a user"));
    assert!(error(&["kafka://a:pw@b", "--mechanism", "gssapi"], &[]).contains("gssapi"));
    assert!(error(&["kafka://a@b", "--user", "c"], &[]).contains("twice"));
    assert!(error(&["b", "--topic", "no spaces"], &[]).contains("invalid --topic"));
    assert!(error(&["b", "--topic", ""], &[]).contains("invalid --topic"));
    assert!(error(&["b", "--ca-file", "/x"], &[]).contains("--tls"));
    // A mechanism in the environment without a login is no error: it waits for one.
    assert!(words(&["b"], &[("KAFKA_SASL_MECHANISM", "GSSAPI")]).is_ok());
    let gssapi = [
        ("KAFKA_SASL_USERNAME", "u"),
        ("KAFKA_SASL_PASSWORD", "p"),
        ("KAFKA_SASL_MECHANISM", "GSSAPI"),
    ];
    assert!(error(&["b"], &gssapi).contains("\"GSSAPI\""));
}

fn broker(node_id: i32, host: &str, port: i32) -> Broker {
    Broker {
        node_id,
        host: host.into(),
        port,
    }
}

fn partition(index: i32, leader: i32, replicas: usize, isr: usize) -> Partition {
    Partition {
        error_code: 0,
        index,
        leader,
        replicas,
        isr,
        offline: 0,
    }
}

fn metadata(brokers: Vec<Broker>, controller_id: i32, topics: Vec<Topic>) -> Metadata {
    Metadata {
        brokers,
        cluster_id: Some("c1".into()),
        controller_id,
        topics,
    }
}

fn topic(name: &str, error_code: i16, partitions: Vec<Partition>) -> Topic {
    Topic {
        error_code,
        name: Some(name.into()),
        partitions,
    }
}

#[test]
fn verdicts_on_metadata() {
    let check = words(&["kafka:9092", "--topic", "orders"], &[]).unwrap();
    let ok = metadata(
        vec![broker(1, "kafka", 9092), broker(2, "kafka-2", 9092)],
        2,
        vec![topic(
            "orders",
            0,
            vec![partition(0, 1, 2, 2), partition(1, 2, 2, 2)],
        )],
    );
    let outcome = check.judge(0, &ok);
    assert_eq!(
        outcome,
        Outcome::healthy(
            "broker 1, 2 brokers in the cluster, controller 2, cluster c1, topic orders (2 partitions in sync)"
        )
    );

    let mut no_controller = ok.clone();
    no_controller.controller_id = -1;
    assert_eq!(
        check.judge(0, &no_controller),
        Outcome::unhealthy("no active controller (Metadata says controller -1)")
    );

    let mut not_listed = ok.clone();
    not_listed.brokers[0].port = 9093;
    let outcome = check.judge(0, &not_listed);
    assert_eq!(
        outcome.detail,
        "the broker does not list itself (kafka:9092) among its brokers \
         (1 at kafka:9093, 2 at kafka-2:9092)"
    );

    let mut bad = ok.clone();
    bad.topics[0].partitions = vec![partition(1, 2, 3, 1), partition(0, -1, 2, 0)];
    assert_eq!(
        check.judge(0, &bad).detail,
        "topic orders partition 0 has no leader; \
         topic orders partition 1 is under-replicated (1 of 3 replicas in sync)"
    );

    let mut missing = ok.clone();
    missing.topics = vec![topic("orders", 3, vec![])];
    assert_eq!(
        check.judge(0, &missing).detail,
        "topic orders does not exist"
    );
    missing.topics.clear();
    assert_eq!(
        check.judge(0, &missing).detail,
        "topic orders is missing from the Metadata reply"
    );

    let empty = metadata(vec![], 1, vec![]);
    assert!(check
        .judge(0, &empty)
        .detail
        .starts_with("Metadata lists no brokers"));
}

#[test]
fn itself_is_found_by_host_and_port_or_on_loopback_by_port() {
    // `localhost:9092` inside the container of a broker that advertises `kafka:9092`.
    let check = words(&["localhost:9092"], &[]).unwrap();
    let md = metadata(vec![broker(7, "kafka", 9092)], 7, vec![]);
    assert!(check.judge(0, &md).is_healthy());
    let md = metadata(vec![broker(7, "kafka", 9093)], 7, vec![]);
    assert!(!check.judge(0, &md).is_healthy());
    // A listed host on another port is another broker.
    let check = words(&["kafka-1:9092"], &[]).unwrap();
    let md = metadata(vec![broker(1, "kafka-1", 9093)], 1, vec![]);
    assert!(!check.judge(0, &md).is_healthy());
    // A bootstrap service no broker advertises: which one answered is unknown.
    let check = words(&["my-cluster-kafka-bootstrap:9092"], &[]).unwrap();
    let md = metadata(vec![broker(0, "my-cluster-kafka-0.svc", 9092)], 0, vec![]);
    assert_eq!(
        check.judge(0, &md).detail,
        "reached through my-cluster-kafka-bootstrap:9092, 1 broker in the cluster, controller 0, cluster c1"
    );
}
