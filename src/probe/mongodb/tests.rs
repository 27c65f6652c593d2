//! Against a real server (SecantusDB, a MongoDB wire-protocol server from PyPI, which
//! pymongo logs in to with SCRAM-SHA-256 and which refuses a wrong password), and scripted
//! peers for what it cannot be made to do: silence, garbage, a huge length, a missing or
//! wrong server proof, a server that knows neither OP_MSG nor `hello`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A SecantusDB server on a free port, its data in a temp dir, killed on drop.
struct Server {
    child: Child,
    port: u16,
    /// Taken when the data moves on to a restarted server.
    dir: Option<tempfile::TempDir>,
}

impl Server {
    fn start(auth: bool) -> Server {
        Self::in_dir(tempfile::tempdir().unwrap(), auth)
    }

    fn in_dir(dir: tempfile::TempDir, auth: bool) -> Server {
        let port = free_port();
        let data = dir.path().join("data");
        let mut command = Command::new("secantusd-py");
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(&data)
            .args(["--log-level", "ERROR"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if auth {
            command.arg("--auth");
        }
        let child = command
            .spawn()
            .expect("start secantusd-py (pip install secantusdb; see scripts/test)");
        let server = Server {
            child,
            port,
            dir: Some(dir),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "secantusd-py did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// A server that requires logins, with users `app` (password `s3cret`, SCRAM-SHA-256
    /// only), `old` (password `pässword 1`, SCRAM-SHA-1 only, as users created before
    /// MongoDB 4.0 are) and `reader` (password `r`, both, a role that may not run
    /// replSetGetStatus): the users are created without --auth, then the server restarts
    /// with it, as SecantusDB's help says.
    fn with_user() -> Server {
        let open = Server::start(false);
        let deadline = Deadline::start(Duration::from_secs(10));
        let mut wire = Wire::new(Stream::tcp("127.0.0.1", open.port, &deadline).unwrap());
        for (user, password, role, mechanisms) in [
            ("app", "s3cret", "root", &["SCRAM-SHA-256"][..]),
            ("old", "pässword 1", "root", &["SCRAM-SHA-1"]),
            ("reader", "r", "read", &["SCRAM-SHA-256", "SCRAM-SHA-1"]),
        ] {
            let create = Doc::new()
                .with("createUser", Value::String(user.into()))
                .with("pwd", Value::String(password.into()))
                .with("roles", Value::Array(vec![Value::String(role.into())]))
                .with(
                    "mechanisms",
                    Value::Array(
                        mechanisms
                            .iter()
                            .map(|name| Value::String(name.to_string()))
                            .collect(),
                    ),
                )
                .with("$db", Value::String("admin".into()));
            let reply = wire.call(&create, "createUser", &deadline).unwrap();
            assert_eq!(command_ok(&reply, "createUser"), Ok(()), "{reply:?}");
        }
        let mut open = open;
        let dir = open.dir.take().unwrap();
        // SIGTERM: the server writes its data out (SIGKILL would lose the user).
        unsafe { libc::kill(open.child.id() as i32, libc::SIGTERM) };
        let _ = open.child.wait();
        drop(open);
        Server::in_dir(dir, true)
    }

    fn url(&self, userinfo: &str) -> String {
        format!("mongodb://{userinfo}127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check_with(settings: MongoSettings, env: &[(&str, &str)]) -> Result<MongoCheck, UsageError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    MongoCheck::with_env(&settings, &move |name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

fn words(args: &[&str]) -> Result<MongoCheck, UsageError> {
    let words = crate::options::Words::parse(&CHECK.spec, args).unwrap();
    check_with(MongoSettings::from_words(&words)?, &[])
}

fn run(args: &[&str]) -> Outcome {
    words(args)
        .unwrap()
        .run(&Deadline::start(Duration::from_secs(5)))
}

#[test]
fn mongodb_url_then_mongo_url_then_localhost() {
    let both = [
        ("MONGODB_URL", "mongodb://first:1/"),
        ("MONGO_URL", "mongodb://second:2/"),
    ];
    let settings = || MongoSettings::default();
    assert_eq!(
        check_with(settings(), &both).unwrap().target(),
        "mongodb://first:1/"
    );
    assert_eq!(
        check_with(settings(), &both[1..]).unwrap().target(),
        "mongodb://second:2/"
    );
    let default = check_with(settings(), &[]).unwrap();
    assert_eq!(default.target(), "mongodb://localhost:27017");
    assert!(
        matches!(&default.seeds, Seeds::Hosts(hosts) if hosts == &[("localhost".to_string(), 27017)])
    );
    let given = MongoSettings {
        url: Some("mongodb://given/".into()),
        ..settings()
    };
    assert_eq!(
        check_with(given, &both).unwrap().target(),
        "mongodb://given/"
    );
}

#[test]
fn mongodb_settings_are_checked() {
    assert!(words(&["mongodb://u@h/"])
        .err()
        .unwrap()
        .0
        .contains("needs a password"));
    assert!(words(&["--role", "leader"]).is_err());
    assert!(words(&["mongodb://u:a@h/", "--user", "v"]).is_err());
    assert!(words(&["--ca-file", "/x"])
        .err()
        .unwrap()
        .0
        .contains("--tls"));
    let shown = words(&["mongodb://app:hunter2@h/"]).unwrap().target();
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// (Without the dns feature, scripts/test runs a build that refuses mongodb+srv://.)
#[cfg(feature = "dns")]
#[test]
fn mongodb_srv_urls_are_checked() {
    {
        let srv = words(&["mongodb+srv://cluster.example.net/?tls=false"]).unwrap();
        assert!(matches!(srv.seeds, Seeds::Srv(_)));
        let error = words(&["mongodb+srv://cluster.example.net/", "--dns-server", "a..b"])
            .err()
            .unwrap();
        assert!(error.0.starts_with("mongodb+srv: --dns-server"), "{error}");
        assert!(words(&["mongodb://h/", "--dns-server", "10.0.0.2"]).is_err());
        #[cfg(feature = "tls")]
        assert!(words(&["mongodb+srv://cluster.example.net/"])
            .unwrap()
            .tls
            .is_some());
    }
}

#[test]
fn mongodb_real_server_up_and_roles() {
    let server = Server::start(false);
    let url = server.url("");
    let up = run(&[&url]);
    assert!(up.is_healthy(), "{up:?}");
    assert_eq!(up.detail, "hello ok: primary of replica set secantus");
    assert!(run(&[&url, "--role", "primary"]).is_healthy());
    let secondary = run(&[&url, "--role", "secondary"]);
    assert!(
        !secondary.is_healthy() && !secondary.is_fatal(),
        "{secondary:?}"
    );
    assert!(
        secondary.detail.contains("expected a secondary"),
        "{secondary:?}"
    );
    let other_set = format!("{url}?replicaSet=rs9");
    assert!(run(&[&other_set])
        .detail
        .contains("expected replica set \"rs9\""));

    // Several hosts: a closed port first, then the server.
    let closed = free_port();
    let hosts = format!("mongodb://127.0.0.1:{closed},127.0.0.1:{}/", server.port);
    assert!(run(&[&hosts]).is_healthy());
    drop(server);
    let none = run(&[&hosts]);
    assert!(!none.is_healthy(), "{none:?}");
    assert!(
        none.detail.starts_with("no host answered (127.0.0.1:")
            && none.detail.matches("refused").count() == 2,
        "{none:?}"
    );
}

#[test]
fn mongodb_real_server_scram_sha_256_and_sha_1() {
    let server = Server::with_user();
    let good = run(&[&server.url("app:s3cret@")]);
    assert!(good.is_healthy(), "{good:?}");
    assert_eq!(
        good.detail,
        "hello ok, logged in as \"app\": primary of replica set secantus"
    );
    let wrong = run(&[&server.url("app:wrong@")]);
    assert!(wrong.is_fatal(), "{wrong:?}");
    assert!(wrong.detail.contains("refused"), "{wrong:?}");
    assert!(!wrong.detail.contains("wrong"), "{wrong:?}");
    let nobody = run(&[&server.url("nobody:s3cret@")]);
    assert!(nobody.is_fatal(), "{nobody:?}");
    // The password from a file, the user from --user.
    let file = server.dir.as_ref().unwrap().path().join("password");
    std::fs::write(&file, "s3cret\n").unwrap();
    let from_file = run(&[
        &server.url(""),
        "--user",
        "app",
        "--password-file",
        file.to_str().unwrap(),
    ]);
    assert!(from_file.is_healthy(), "{from_file:?}");
    // hello needs no login, as with mongod.
    assert!(run(&[&server.url("")]).is_healthy());

    // SCRAM-SHA-1 for a user that has only SHA-1 credentials: hello's saslSupportedMechs
    // says so (the password is MongoDB's MD5 digest, never SASLprep'd).
    let old = run(&[&server.url("old:p%C3%A4ssword%201@")]);
    assert!(old.is_healthy(), "{old:?}");
    assert_eq!(
        old.detail,
        "hello ok, logged in as \"old\": primary of replica set secantus"
    );
    let old_wrong = run(&[&server.url("old:password%201@")]);
    assert!(old_wrong.is_fatal(), "{old_wrong:?}");
    // authMechanism forces one: SHA-1 for a SHA-256-only user is refused, SHA-1 for a
    // user that has both works.
    let forced = format!("{}?authMechanism=SCRAM-SHA-1", server.url("app:s3cret@"));
    let refused = run(&[&forced]);
    assert!(refused.is_fatal(), "{refused:?}");
    let both = format!("{}?authMechanism=SCRAM-SHA-1", server.url("reader:r@"));
    assert!(run(&[&both]).is_healthy());
    let both = format!("{}?authMechanism=SCRAM-SHA-256", server.url("reader:r@"));
    assert!(run(&[&both]).is_healthy());

    // --query after the login; a command the user may not run is fatal (Unauthorized),
    // and so is one run without logging in to a server that needs it.
    let status = run(&[
        &server.url("app:s3cret@"),
        "--query",
        r#"{"replSetGetStatus": 1}"#,
        "--expect",
        "/myState=1",
    ]);
    assert_eq!(
        status.detail,
        "hello ok, logged in as \"app\": primary of replica set secantus; \
         replSetGetStatus ok, /myState is 1"
    );
    for (userinfo, query) in [
        ("reader:r@", r#"{"insert": "t", "documents": [{"a": 1}]}"#),
        ("", r#"{"replSetGetStatus": 1}"#),
    ] {
        let denied = run(&[&server.url(userinfo), "--query", query]);
        assert!(denied.is_fatal(), "{denied:?}");
        assert!(denied.detail.contains(" failed: "), "{denied:?}");
        assert!(denied.detail.contains("(Unauthorized)"), "{denied:?}");
    }
}

#[test]
fn mongodb_real_server_query_and_expect() {
    let server = Server::start(false);
    let url = server.url("");
    let ping = run(&[&url, "--query", r#"{"ping":1}"#, "--expect", "/ok=1"]);
    assert_eq!(
        ping.detail,
        "hello ok: primary of replica set secantus; ping ok, /ok is 1"
    );
    // Several values of one pointer are alternatives; every pointer must hold.
    let status = run(&[
        &url,
        "--query",
        r#"{"replSetGetStatus":1}"#,
        "--expect",
        "/myState=2",
        "--expect",
        "/myState=1",
        "--expect",
        "/members/0/stateStr=PRIMARY",
    ]);
    assert!(status.is_healthy(), "{status:?}");
    let secondary = run(&[
        &url,
        "--query",
        r#"{"replSetGetStatus":1}"#,
        "--expect",
        "/members/0/stateStr=SECONDARY",
    ]);
    assert!(
        !secondary.is_healthy() && !secondary.is_fatal(),
        "{secondary:?}"
    );
    assert!(
        secondary.detail.ends_with(
            "replSetGetStatus: /members/0/stateStr is \"PRIMARY\" (expected \"SECONDARY\")"
        ),
        "{secondary:?}"
    );
    let missing = run(&[&url, "--query", r#"{"ping":1}"#, "--expect", "/nope=1"]);
    assert!(
        missing.detail.ends_with("ping: /nope is missing"),
        "{missing:?}"
    );
    // The URL's database is the command's $db: a document written there is found.
    let insert = run(&[
        &format!("{url}shop"),
        "--query",
        r#"{"insert":"orders","documents":[{"_id":1,"n":3000000000,"x":1.5,"tags":["a"]}]}"#,
        "--expect",
        "/n=1",
    ]);
    assert!(insert.is_healthy(), "{insert:?}");
    let find = run(&[
        &format!("{url}shop"),
        "--query",
        r#"{"find":"orders","filter":{"_id":1}}"#,
        "--expect",
        "/cursor/firstBatch/0/n=3000000000",
        "--expect",
        "/cursor/firstBatch/0/x=1.5",
        "--expect",
        "/cursor/firstBatch/0/tags/0=a",
        "--expect",
        "/cursor/ns=shop.orders",
    ]);
    assert!(find.is_healthy(), "{find:?}");
    let unknown = run(&[&url, "--query", r#"{"noSuchCommand":1}"#]);
    assert!(!unknown.is_healthy() && !unknown.is_fatal(), "{unknown:?}");
    assert!(
        unknown.detail.starts_with("noSuchCommand failed: "),
        "{unknown:?}"
    );
    // Bad input is a usage error before anything is sent.
    for (args, why) in [
        (&["--expect", "/ok=1"][..], "--expect needs --query"),
        (&["--query", "ping"], "--query is not JSON"),
        (&["--query", "[1]"], "not a JSON object"),
        (&["--query", "{}"], "empty document"),
        (
            &["--query", "{\"ping\":1}", "--expect", "ok=1"],
            "invalid --expect",
        ),
    ] {
        let error = words(args).err().unwrap();
        assert!(error.0.contains(why), "{args:?}: {error}");
    }
}

/// What a scripted peer does with one request.
enum Act {
    Reply(Doc),
    Raw(Vec<u8>),
    Close,
    Silence,
}

/// A peer that reads requests (OP_MSG or OP_QUERY) and answers each as `script` says,
/// over up to eight connections at once (probe opens one or two; pymongo, the referee of
/// the scripted replies, a monitor's and an application's).
fn peer(script: impl Fn(i32, &Doc) -> Act + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = std::sync::Arc::new(script);
    std::thread::spawn(move || {
        for _ in 0..8 {
            let Ok((socket, _)) = listener.accept() else {
                return;
            };
            let script = script.clone();
            std::thread::spawn(move || serve(socket, &*script));
        }
    });
    port
}

/// One connection of [`peer`].
fn serve(mut socket: TcpStream, script: &dyn Fn(i32, &Doc) -> Act) {
    loop {
        let mut header = [0u8; 16];
        if socket.read_exact(&mut header).is_err() {
            return;
        }
        let length = bson::i32_at(&header, 0).unwrap() as usize;
        let id = bson::i32_at(&header, 4).unwrap();
        let op = bson::i32_at(&header, 12).unwrap();
        let mut body = vec![0; length - 16];
        socket.read_exact(&mut body).unwrap();
        let doc = match op {
            2013 => bson::decode(&body[5..]).unwrap(),
            _ => {
                let name_end = body[4..].iter().position(|b| *b == 0).unwrap() + 5;
                bson::decode(&body[name_end + 8..]).unwrap()
            }
        };
        let reply = match script(op, &doc) {
            Act::Reply(reply) => reply,
            Act::Raw(bytes) => {
                let _ = socket.write_all(&bytes);
                continue;
            }
            Act::Close => return,
            Act::Silence => {
                std::thread::sleep(Duration::from_secs(3));
                return;
            }
        };
        let mut out = vec![0; 4];
        out.extend_from_slice(&7i32.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        if op == 2013 {
            out.extend_from_slice(&2013i32.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0]);
        } else {
            out.extend_from_slice(&1i32.to_le_bytes());
            // Flags, cursor ID, starting point, and one document.
            out.extend_from_slice(&[0; 16]);
            out.extend_from_slice(&1i32.to_le_bytes());
        }
        out.extend_from_slice(&reply.encode());
        let length = out.len() as u32;
        out[..4].copy_from_slice(&length.to_le_bytes());
        let _ = socket.write_all(&out);
    }
}

fn ok() -> Doc {
    Doc::new()
        .with("ismaster", Value::Bool(true))
        .with("ok", Value::Double(1.0))
}

fn peer_url(port: u16, userinfo: &str) -> String {
    format!("mongodb://{userinfo}127.0.0.1:{port}/")
}

fn timed_run(args: &[&str]) -> Outcome {
    words(args)
        .unwrap()
        .run(&Deadline::start(Duration::from_secs(1)))
}

#[test]
fn mongodb_falls_back_to_is_master() {
    // Before 3.6: the connection is closed on an OP_MSG.
    let port = peer(|op, _| {
        if op == 2013 {
            Act::Close
        } else {
            Act::Reply(ok())
        }
    });
    let old = timed_run(&[&peer_url(port, "")]);
    assert_eq!(old.detail, "hello ok: standalone");
    // Before 4.4.2: OP_MSG, but no `hello`.
    let port = peer(|op, doc| match (op, doc.get("hello")) {
        (2013, Some(_)) => Act::Reply(
            Doc::new()
                .with("ok", Value::Double(0.0))
                .with("errmsg", Value::String("no such command: 'hello'".into()))
                .with("code", Value::Int32(59)),
        ),
        _ => Act::Reply(ok()),
    });
    assert!(timed_run(&[&peer_url(port, "")]).is_healthy());
    // Closed both ways (a TLS-only server spoken to in plain text).
    let port = peer(|_, _| Act::Close);
    assert_eq!(
        timed_run(&[&peer_url(port, "")]).detail,
        "connection closed by the server during hello and during a legacy isMaster \
         (a TLS-only server needs tls=true)"
    );
}

#[test]
fn mongodb_peers_that_misbehave() {
    let silent = peer(|_, _| Act::Silence);
    let started = Instant::now();
    let outcome = timed_run(&[&peer_url(silent, "")]);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(outcome.detail.contains("timed out"), "{outcome:?}");

    let http = peer(|_, _| Act::Raw(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
    let outcome = timed_run(&[&peer_url(http, "")]);
    assert!(
        outcome
            .detail
            .starts_with("hello: not a MongoDB reply: \"HTTP/1.1"),
        "{outcome:?}"
    );

    let huge = peer(|_, _| Act::Raw(vec![0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]));
    let outcome = timed_run(&[&peer_url(huge, "")]);
    assert!(outcome.detail.contains("out of bounds"), "{outcome:?}");

    let failing = peer(|_, _| {
        Act::Reply(
            Doc::new()
                .with("ok", Value::Int32(0))
                .with("errmsg", Value::String("node is recovering".into()))
                .with("codeName", Value::String("NotPrimaryOrSecondary".into())),
        )
    });
    let outcome = timed_run(&[&peer_url(failing, "")]);
    assert_eq!(
        outcome.detail,
        "hello failed: node is recovering (NotPrimaryOrSecondary)"
    );
    assert!(!outcome.is_fatal());

    let recovering = peer(|_, _| {
        Act::Reply(
            Doc::new()
                .with("isWritablePrimary", Value::Bool(false))
                .with("secondary", Value::Bool(false))
                .with("setName", Value::String("rs0".into()))
                .with("ok", Value::Double(1.0)),
        )
    });
    let outcome = timed_run(&[&peer_url(recovering, ""), "--role", "primary"]);
    assert!(!outcome.is_healthy(), "{outcome:?}");
    assert!(outcome.detail.contains("recovering"), "{outcome:?}");
}

/// A SCRAM peer whose server-first is well formed and whose final step `last` decides.
fn scram_peer(last: fn() -> Doc) -> u16 {
    peer(move |_, doc| {
        if doc.get("hello").is_some() {
            return Act::Reply(ok());
        }
        if let Some(Value::Binary(_, first)) = doc
            .get("payload")
            .filter(|_| doc.get("saslStart").is_some())
        {
            let first = String::from_utf8_lossy(first).into_owned();
            let nonce = first.rsplit_once("r=").unwrap().1.to_string();
            let server_first = format!("r={nonce}server,s=c2FsdHNhbHRzYWx0,i=4096");
            return Act::Reply(
                Doc::new()
                    .with("conversationId", Value::Int32(1))
                    .with("done", Value::Bool(false))
                    .with("payload", Value::Binary(0, server_first.into_bytes()))
                    .with("ok", Value::Double(1.0)),
            );
        }
        Act::Reply(last())
    })
}

#[test]
fn mongodb_login_needs_the_server_proof() {
    let wrong_proof = scram_peer(|| {
        Doc::new()
            .with("conversationId", Value::Int32(1))
            .with("done", Value::Bool(true))
            .with("payload", Value::Binary(0, b"v=AAAA".to_vec()))
            .with("ok", Value::Double(1.0))
    });
    let outcome = timed_run(&[&peer_url(wrong_proof, "u:pw@")]);
    assert!(outcome.is_fatal(), "{outcome:?}");
    assert!(
        outcome.detail.contains("SCRAM signature is wrong"),
        "{outcome:?}"
    );

    let no_proof = scram_peer(|| {
        Doc::new()
            .with("conversationId", Value::Int32(1))
            .with("done", Value::Bool(true))
            .with("payload", Value::Binary(0, Vec::new()))
            .with("ok", Value::Double(1.0))
    });
    let outcome = timed_run(&[&peer_url(no_proof, "u:pw@")]);
    assert!(outcome.is_fatal(), "{outcome:?}");

    let refused = scram_peer(|| {
        Doc::new()
            .with("ok", Value::Double(0.0))
            .with("errmsg", Value::String("Authentication failed.".into()))
            .with("code", Value::Int32(18))
    });
    let outcome = timed_run(&[&peer_url(refused, "u:pw@")]);
    assert!(outcome.is_fatal(), "{outcome:?}");
    assert!(outcome
        .detail
        .starts_with("login as \"u\" (authSource admin) refused"));
}

/// What pymongo, the reference client, makes of a scripted peer: the server type its
/// discovery gives the peer, and the reply to `command` (as JSON), or its error.
fn pymongo_sees(port: u16, command: &str) -> String {
    const SCRIPT: &str = r#"
import json, sys, pymongo
from bson import json_util
port = int(sys.argv[1])
client = pymongo.MongoClient("127.0.0.1", port, directConnection=True,
                             serverSelectionTimeoutMS=3000, connectTimeoutMS=2000)
try:
    reply = json_util.dumps(client.admin.command(json.loads(sys.argv[2])))
except pymongo.errors.OperationFailure as error:
    reply = "error %s" % error.code
server = client.topology_description.server_descriptions()[("127.0.0.1", port)]
print(server.server_type_name, reply)
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, &port.to_string(), command])
        .stdin(Stdio::null())
        .output()
        .expect("python3 with pymongo (see scripts/test)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A replica set member as mongod answers in a state that serves nobody: `hello` with
/// neither `isWritablePrimary` nor `secondary` (or with `isreplicaset` and no set when it
/// has no configuration), and `replSetGetStatus` with its `myState` (or the error).
fn member(configured: bool, status: Doc) -> u16 {
    peer(move |_, doc| {
        let is_hello = ["hello", "isMaster", "ismaster"]
            .iter()
            .any(|name| doc.get(name).is_some());
        if doc.get("replSetGetStatus").is_some() {
            return Act::Reply(status.clone());
        }
        if !is_hello {
            return Act::Reply(Doc::new().with("ok", Value::Double(1.0)));
        }
        let hello = Doc::new()
            .with("isWritablePrimary", Value::Bool(false))
            .with("ismaster", Value::Bool(false))
            .with("secondary", Value::Bool(false))
            .with("maxWireVersion", Value::Int32(21))
            .with("minWireVersion", Value::Int32(0));
        let hello = match configured {
            true => hello
                .with("setName", Value::String("rs0".into()))
                .with("setVersion", Value::Int32(1))
                .with(
                    "hosts",
                    Value::Array(vec![Value::String("db1:27017".into())]),
                ),
            false => hello.with("isreplicaset", Value::Bool(true)),
        };
        Act::Reply(hello.with("ok", Value::Double(1.0)))
    })
}

#[test]
fn mongodb_members_that_serve_nobody_name_their_state() {
    let state = |number| {
        Doc::new()
            .with("set", Value::String("rs0".into()))
            .with("myState", Value::Int32(number))
            .with("ok", Value::Double(1.0))
    };
    // A large set's status lists every member: more than the 64 KiB of a hello reply.
    let entry = |n: usize| {
        Value::Doc(
            Doc::new()
                .with("_id", Value::Int32(n as i32))
                .with("name", Value::String(format!("db{n}.example.net:27017")))
                .with("infoMessage", Value::String("x".repeat(1500))),
        )
    };
    let large = state(3).with("members", Value::Array((0..50).map(entry).collect()));
    assert!(large.encode().len() > 64 * 1024);
    let port = member(true, large);
    assert_eq!(
        timed_run(&[&peer_url(port, "")]).detail,
        "member of replica set rs0 in state RECOVERING"
    );
    for (number, name) in [(3, "RECOVERING"), (5, "STARTUP2"), (9, "ROLLBACK")] {
        let port = member(true, state(number));
        // pymongo takes it for a member that is neither primary nor secondary.
        assert_eq!(
            pymongo_sees(port, r#"{"replSetGetStatus":1}"#),
            format!(r#"RSOther {{"set": "rs0", "myState": {number}, "ok": 1.0}}"#)
        );
        for role in ["any", "primary", "secondary"] {
            let outcome = timed_run(&[&peer_url(port, ""), "--role", role]);
            assert!(!outcome.is_healthy() && !outcome.is_fatal(), "{outcome:?}");
            assert_eq!(
                outcome.detail,
                format!("member of replica set rs0 in state {name}")
            );
        }
    }
    // No configuration: not initiated yet (mongod's NotYetInitialized) or removed.
    let uninitiated = Doc::new()
        .with("ok", Value::Double(0.0))
        .with(
            "errmsg",
            Value::String("no replset config has been received".into()),
        )
        .with("code", Value::Int32(94))
        .with("codeName", Value::String("NotYetInitialized".into()));
    let port = member(false, uninitiated);
    assert_eq!(
        pymongo_sees(port, r#"{"replSetGetStatus":1}"#),
        "RSGhost error 94"
    );
    assert_eq!(
        timed_run(&[&peer_url(port, "")]).detail,
        "replica set member without a configuration (not initiated yet, or removed); \
         replSetGetStatus: NotYetInitialized"
    );
}
