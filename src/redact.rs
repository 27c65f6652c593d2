//! Secrets never reach the output.
//!
//! Every password, token or secret header that probe learns while parsing its input is
//! registered here, and every line probe prints goes through [`scrub`]. Library error
//! texts can quote a URL or a server message containing a secret; scrubbing the finished
//! line catches them wherever they hide, instead of trusting each error path.

// A build with only tcp, process and file checks has no secrets to register.
#![cfg_attr(
    not(any(feature = "http", feature = "postgres", feature = "redis")),
    allow(dead_code)
)]

use std::path::Path;
use std::sync::Mutex;

use crate::outcome::UsageError;

#[cfg(not(test))]
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[cfg(test)]
thread_local! {
    /// Unit tests run in parallel threads of one process, and the seeded fuzz properties
    /// register random secrets (`redis`, say) that would mask other tests' expected text:
    /// each test thread gets a registry of its own.
    static TEST_SECRETS: &'static Mutex<Vec<String>> = Box::leak(Box::default());
}

/// The registry: one per process (probe runs one command line per process).
fn secrets() -> std::sync::MutexGuard<'static, Vec<String>> {
    #[cfg(not(test))]
    let registry = &SECRETS;
    #[cfg(test)]
    let registry = TEST_SECRETS.with(|registry| *registry);
    registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const MASK: &str = crate::url::MASK;

/// Secrets shorter than this are masked only by position (a URL's password field), never
/// searched for as text: masking every `e` of a one-letter password would garble every
/// line (`conn***ction r***fus***d`) and tell the password anyway.
pub const MIN_SEARCHED_LEN: usize = 4;

/// Remembers a secret so that no output line shows it (also in its `{:?}`-escaped form,
/// which error messages quote). Secrets shorter than [`MIN_SEARCHED_LEN`] are ignored.
pub fn register(secret: &str) {
    if secret.chars().count() < MIN_SEARCHED_LEN || secret == MASK {
        return;
    }
    let escaped = format!("{secret:?}");
    let escaped = &escaped[1..escaped.len() - 1];
    let mut secrets = secrets();
    for form in [secret, escaped] {
        if !secrets.iter().any(|known| known == form) {
            secrets.push(form.to_string());
        }
    }
    // Longest first, so that a secret containing a shorter one is masked whole.
    secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
}

/// Registers every URL password and `?password=`-style value in `text` (as written and
/// percent-decoded) and returns the text with them masked by position.
pub fn url_password(text: &str) -> String {
    for (from, to) in crate::url::secret_ranges(text) {
        let raw = &text[from..to];
        register(raw);
        if let Ok(decoded) = crate::url::percent_decode(raw) {
            register(&decoded);
        }
    }
    crate::url::mask(text)
}

/// Header names whose values are credentials (substrings of the lowercased name).
const CREDENTIAL_HEADER_WORDS: &[&str] = &[
    "authorization",
    "cookie",
    "token",
    "secret",
    "key",
    "auth",
    "session",
    "password",
    "passwd",
    "credential",
    "signature",
];

/// Whether a header's value is a credential (`Authorization`, `X-Api-Key`, ...).
pub fn is_credential_header(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    CREDENTIAL_HEADER_WORDS
        .iter()
        .any(|word| lower.contains(word))
}

/// Registers the credential in a `-H 'Name: value'` line: the value and the credential
/// after its scheme (`Bearer TOKEN`); a line without a colon, or whose name is no header
/// name, is registered whole, since probe cannot tell which part of it is the secret.
pub fn register_header(line: &str) {
    let is_token = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    match line.split_once(':') {
        // `Authorization Bearer TOKEN:x`: no header name, so all of it may be the secret.
        Some((name, _)) if !is_token(name.trim()) => {
            register(line.trim());
            register(name.trim());
        }
        Some((name, value)) if is_credential_header(name) => {
            let value = value.trim();
            register(value);
            if let Some((_scheme, credential)) = value.split_once(' ') {
                register(credential.trim());
            }
        }
        Some(_) => {}
        None => register(line.trim()),
    }
}

/// Whether a `name=value` or `--name value` names a secret (`password`, `db_password`,
/// `--pass`, `api-token`).
fn is_secret_name(name: &str) -> bool {
    // Called for every environment variable and every word of the command line before
    // anything else runs: no allocation (a format! per name cost ~450k instructions at
    // start-up in a typical environment, 10x a whole tcp check).
    let name = name.trim_start_matches('-');
    crate::url::SECRET_PARAMS.iter().any(|secret| {
        let Some(cut) = name.len().checked_sub(secret.len()) else {
            return false;
        };
        let Some((head, tail)) = name.split_at_checked(cut) else {
            return false;
        };
        tail.eq_ignore_ascii_case(secret) && (head.is_empty() || head.ends_with(['_', '-']))
    })
}

/// Registers every secret a command line can carry, before anything is parsed: URL
/// passwords of any scheme and `password=`-style values in every word, the values of
/// credential headers (`-H`), of `-a`/`--password` and the contents of `--password-file`.
/// Quoted target lines (`'http http://x -H "Authorization: Bearer t"'`) are split and
/// searched the same way.
pub fn register_arguments(args: &[String]) {
    register_arguments_at(args, 0);
}

fn register_arguments_at(args: &[String], depth: u8) {
    let mut previous: Option<&str> = None;
    for arg in args {
        url_password(arg);
        for word in arg.split_whitespace() {
            let word = word.trim_matches(|c| matches!(c, '"' | '\''));
            if let Some((name, value)) = word.split_once('=') {
                // `--password=${DB_PASSWORD}` as written is no secret; its expansion is.
                if is_secret_name(name) && !value.starts_with('$') {
                    register(value);
                }
            }
        }
        match previous {
            Some("-H" | "--header") => register_header(arg),
            Some(flag) if flag.starts_with('-') && is_secret_name(flag) => register(arg),
            Some("-a") => register(arg),
            Some("--password-file") => register_file(Path::new(arg)),
            _ => {}
        }
        if depth < 3 && arg.contains(char::is_whitespace) {
            if let Some(words) = shlex::split(arg).filter(|words| words.len() > 1) {
                register_arguments_at(&words, depth + 1);
            }
        }
        previous = Some(arg);
    }
}

/// Registers the secrets of probe's environment: `PGPASSWORD`, passwords in any URL
/// value (`DATABASE_URL`, `REDIS_URL`, `PROBE_WAIT_TARGETS`, a broker URL), variables
/// named like secrets (`DB_PASSWORD`, `API_TOKEN`: `${...}` may put them in arguments),
/// and the contents of `*_FILE` secrets (the Docker secrets convention).
pub fn register_environment(environment: &[(std::ffi::OsString, std::ffi::OsString)]) {
    for (name, value) in environment {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if name == "PGPASSWORD" || is_secret_name(name) || name.ends_with("_KEY") {
            register(value);
        }
        if value.contains("://") || name == "PROBE_WAIT_TARGETS" {
            register_arguments(&[value.to_string()]);
        }
        if name.ends_with("_FILE") {
            register_file(Path::new(value));
        }
    }
}

/// Registers a secret file's text (one trailing newline off); only small regular files
/// (never a FIFO that could block), and silently nothing when it cannot be read.
fn register_file(path: &Path) {
    // The one bounded, non-blocking reader (a FIFO is refused as it is opened, not after a
    // separate look at the path that could race with it).
    let Ok(bytes) = crate::fsread::read_all(path, 64 * 1024) else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(&bytes) {
        let text = text.strip_suffix('\n').unwrap_or(text);
        register(text.strip_suffix('\r').unwrap_or(text));
    }
}

/// `--password-file`: the file's text but one trailing newline (Docker secrets and `echo`
/// output end with one), registered as a secret. An empty file is an error: a check that
/// silently sends no password fails later, with a misleading reason.
#[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]
pub fn read_password_file(path: &Path) -> Result<String, UsageError> {
    let text = crate::fsread::read_text("--password-file", path, 64 * 1024)?;
    let password = text
        .strip_suffix('\n')
        .map(|text| text.strip_suffix('\r').unwrap_or(text))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(UsageError::new(format!(
            "--password-file {} is empty",
            path.display()
        )));
    }
    register(password);
    Ok(password.to_string())
}

/// Forgets every secret: a fuzz target runs many inputs in one process, and the registry
/// would otherwise grow with each (probe itself runs one command line per process).
#[cfg(fuzzing)]
pub fn forget_all() {
    secrets().clear();
}

/// The text with every URL password masked by position and every registered secret
/// masked wherever it appears: the one scrubber every output line goes through.
pub fn scrub(text: &str) -> String {
    // Registered secrets first: a secret may itself hold a URL (`-H 'X-Api-Key:
    // k3y-pg://u:pw@db'`), whose masking would change the text so that the whole
    // secret no longer matches (found by fuzzing). Masking by position afterwards only
    // hides more: `***` holds none of the characters that end a password.
    let mut text = text.to_string();
    let secrets = secrets();
    for secret in secrets.iter() {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), MASK);
        }
    }
    crate::url::mask(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_matched_whole_or_after_a_separator() {
        for name in [
            "password",
            "DB_PASSWORD",
            "--pass",
            "api-token",
            "PGPASSWD",
            "X_SECRET",
        ] {
            assert_eq!(is_secret_name(name), name != "PGPASSWD", "{name}");
        }
        for name in ["passwordless", "compass", "TOKENS", "", "é", "--"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn a_secret_holding_a_url_is_masked_whole() {
        register_header("X-Api-Key: k3y9-pg://u:pw@db/app");
        let shown = scrub("sent X-Api-Key: k3y9-pg://u:pw@db/app to h");
        assert_eq!(shown, "sent X-Api-Key: *** to h");
    }

    #[test]
    fn masks_url_passwords_and_remembers_them() {
        let shown = url_password("postgres://app:s%40cret@db:5432/app?sslmode=require");
        assert_eq!(shown, "postgres://app:***@db:5432/app?sslmode=require");
        assert_eq!(
            scrub("login as app with s@cret failed"),
            "login as app with *** failed"
        );
        assert_eq!(scrub("s%40cret"), "***");
    }

    #[test]
    fn short_secrets_are_masked_only_by_position() {
        let shown = url_password("redis://:e@localhost:1/");
        assert_eq!(shown, "redis://:***@localhost:1/");
        assert_eq!(
            scrub("redis://:e@localhost:1/: connection refused"),
            "redis://:***@localhost:1/: connection refused"
        );
    }

    fn masked(text: &str) -> bool {
        scrub(text) == MASK
    }

    /// Each of `secrets` is masked whole, and each of `plain` shown as it is.
    fn assert_scrubbed(secrets: &[&str], plain: &[&str]) {
        for secret in secrets {
            assert!(masked(secret), "{secret}");
        }
        for text in plain {
            assert_eq!(scrub(text), *text);
        }
    }

    #[test]
    fn secrets_of_four_chars_or_more_are_kept_longest_first_with_their_escaped_form() {
        register("abc");
        register("wxyz");
        register("pa\"ss");
        register("k3yk");
        register("k3yk3yk3y");
        assert_eq!(
            scrub("abc"),
            "abc",
            "three characters are masked by position only"
        );
        assert!(masked("wxyz"));
        assert!(masked("pa\"ss"));
        assert!(masked("pa\\\"ss"), "the {{:?}} form error messages quote");
        assert!(
            masked("k3yk3yk3y"),
            "a secret holding a shorter one is masked whole"
        );
    }

    #[test]
    fn credential_headers_are_registered_and_others_left_alone() {
        register_header("Accept: text/plain-77");
        register_header("X-Api-Key: key-1111");
        register_header("Authorization: Bearer tok-2222");
        // No header name before the colon: the whole line may be the secret.
        register_header("Authorization Bearer tok-3333:0");
        register_header("no-colon-4444");
        assert_eq!(scrub("Accept: text/plain-77"), "Accept: text/plain-77");
        assert_eq!(scrub("got key-1111"), "got ***");
        assert_eq!(scrub("token tok-2222 expired"), "token *** expired");
        assert_eq!(scrub("Authorization Bearer tok-3333"), "***");
        assert!(masked("no-colon-4444"));
        assert!(is_credential_header(" X-Session-Id "));
        assert!(!is_credential_header("Content-Type"));
    }

    #[test]
    fn command_lines_register_every_secret_they_carry_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "filepw-5555\n").unwrap();
        let args: Vec<String> = [
            "probe",
            "postgres",
            "--host",
            "dbhost-6666",
            "-H",
            "X-Token: hdr-7777",
            "-a",
            "redispw-8888",
            "--password-file",
            file.to_str().unwrap(),
            "--api-token",
            "apitok-9999",
            "--password=inline-1212",
            "--password=${DB_PW}",
            "sslmode=require-1313",
            "check 'http http://x -H \"X-Key: nested-1414\"'",
        ]
        .map(String::from)
        .to_vec();
        register_arguments(&args);
        assert_scrubbed(
            &[
                "hdr-7777",
                "redispw-8888",
                "filepw-5555",
                "apitok-9999",
                "inline-1212",
                "nested-1414",
            ],
            &["probe postgres", "dbhost-6666", "${DB_PW}", "require-1313"],
        );
    }

    #[test]
    fn the_environment_registers_passwords_urls_and_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "filepw-2121\r\n").unwrap();
        // A private key is a secret file of a few KiB.
        let key = dir.path().join("key");
        let pem = format!("-----BEGIN KEY-----{}", "K".repeat(3000));
        std::fs::write(&key, &pem).unwrap();
        let environment: Vec<(std::ffi::OsString, std::ffi::OsString)> = [
            ("PGPASSWORD", "pgpw-3131"),
            ("DB_PASSWORD", "dbpw-4141"),
            ("TLS_KEY", "tlskey-5151"),
            ("DATABASE_URL", "postgres://u:urlpw-6161@db/app"),
            ("PROBE_WAIT_TARGETS", "redis db:6379 -a waitpw-7171"),
            ("OPTS", "-a optvalue-8181"),
            ("PLAIN", "plainvalue-9191"),
            ("SECRET_FILE", small.to_str().unwrap()),
            ("TLS_KEY_FILE", key.to_str().unwrap()),
        ]
        .map(|(name, value)| (name.into(), value.into()))
        .to_vec();
        register_environment(&environment);
        assert_scrubbed(
            &[
                "pgpw-3131",
                "dbpw-4141",
                "tlskey-5151",
                "urlpw-6161",
                "waitpw-7171",
                "filepw-2121",
                &pem,
            ],
            &["optvalue-8181", "plainvalue-9191", "PGPASSWORD"],
        );
    }

    #[test]
    fn password_files_lose_one_newline_and_may_be_long_but_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "pw-1234\r\n").unwrap();
        assert_eq!(read_password_file(&path).unwrap(), "pw-1234");
        assert!(masked("pw-1234"));
        let long = "L".repeat(3000);
        std::fs::write(&path, format!("{long}\n")).unwrap();
        assert_eq!(read_password_file(&path).unwrap(), long);
        std::fs::write(&path, "\n").unwrap();
        let error = read_password_file(&path).unwrap_err();
        assert!(error.to_string().ends_with("is empty"), "{error}");
    }

    #[test]
    fn leaves_urls_without_password_alone() {
        for url in [
            "redis://db:6379/0",
            "http://user@host/",
            "http://host/a:b@c",
        ] {
            assert_eq!(url_password(url), url);
        }
    }
}
