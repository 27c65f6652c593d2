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

/// The secrets to mask, and the index [`scrub`] searches them by, built when a line is
/// first scrubbed after a registration: registering stays O(1), so 4,000 targets with
/// passwords register in linear time.
#[derive(Default)]
struct Registry {
    secrets: Vec<String>,
    /// Each secret's first four bytes (every searched secret has at least four) and its
    /// place in `secrets`, sorted: a line is scanned once, whatever the number of secrets.
    index: Vec<(u32, usize)>,
    indexed: bool,
}

impl Registry {
    fn push(&mut self, secret: &str) {
        self.secrets.push(secret.to_string());
        self.indexed = false;
    }

    fn index(&mut self) {
        if self.indexed {
            return;
        }
        self.secrets.sort_unstable();
        self.secrets.dedup();
        self.index = self
            .secrets
            .iter()
            .enumerate()
            .map(|(at, secret)| (prefix(secret.as_bytes()), at))
            .collect();
        self.index.sort_unstable();
        self.indexed = true;
    }

    /// The byte ranges of `text` that hold a registered secret, in order, merged where
    /// they overlap or touch: a secret that contains or overlaps another is masked whole.
    fn ranges(&mut self, text: &str) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        if self.secrets.is_empty() || text.len() < MIN_SEARCHED_LEN {
            return ranges;
        }
        self.index();
        let bytes = text.as_bytes();
        for at in 0..=bytes.len() - MIN_SEARCHED_LEN {
            let key = prefix(&bytes[at..]);
            let first = self.index.partition_point(|(known, _)| *known < key);
            for (_, secret) in self.index[first..].iter().take_while(|(k, _)| *k == key) {
                let secret = self.secrets[*secret].as_bytes();
                if !bytes[at..].starts_with(secret) {
                    continue;
                }
                let end = at + secret.len();
                match ranges.last_mut() {
                    Some(last) if at <= last.1 => last.1 = last.1.max(end),
                    _ => ranges.push((at, end)),
                }
            }
        }
        ranges
    }
}

/// The first [`MIN_SEARCHED_LEN`] bytes of `bytes` as one number.
fn prefix(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(not(test))]
static SECRETS: Mutex<Registry> = Mutex::new(Registry {
    secrets: Vec::new(),
    index: Vec::new(),
    indexed: true,
});

#[cfg(test)]
thread_local! {
    /// Unit tests run in parallel threads of one process, and the seeded fuzz properties
    /// register random secrets (`redis`, say) that would mask other tests' expected text:
    /// each test thread gets a registry of its own.
    static TEST_SECRETS: &'static Mutex<Registry> = Box::leak(Box::default());
}

/// The registry: one per process (probe runs one command line per process).
fn secrets() -> std::sync::MutexGuard<'static, Registry> {
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
    let mut secrets = secrets();
    secrets.push(secret);
    if secret
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control() || !c.is_ascii())
    {
        let escaped = format!("{secret:?}");
        secrets.push(&escaped[1..escaped.len() - 1]);
    }
}

/// Registers every URL password and credential query value in `text` (as written and
/// percent-decoded) and returns the text with them masked by position. A `text` that
/// starts with a scheme is one URL (an argument), spaces and quotes included.
pub fn url_password(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let ranges = crate::url::url_secret_ranges(text);
    for &(from, to) in &ranges {
        let raw = &text[from..to];
        register(raw);
        if let Ok(decoded) = crate::url::percent_decode(raw) {
            register(&decoded);
        }
    }
    crate::url::masked(text, &ranges)
}

/// Whether a header's value is a credential (`Authorization`, `X-Api-Key`, ...).
pub fn is_credential_header(name: &str) -> bool {
    crate::url::is_credential_name(name)
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

/// Last words of a flag's or a `name=value` word's name that make its value a secret.
const SECRET_NAME_WORDS: &[&str] = &["password", "pass", "passwd", "pwd", "secret", "token"];

/// Whether `name` ends with one of `words`, whole or after a `_`/`-` (`db_password`,
/// `--pass`, `api-token`; not `compass`).
fn ends_with_word(name: &str, words: &[&str]) -> bool {
    // No allocation: called for words of every argument before anything else runs.
    let name = name.trim_start_matches('-');
    words.iter().any(|secret| {
        let Some(cut) = name.len().checked_sub(secret.len()) else {
            return false;
        };
        let Some((head, tail)) = name.split_at_checked(cut) else {
            return false;
        };
        tail.eq_ignore_ascii_case(secret) && (head.is_empty() || head.ends_with(['_', '-']))
    })
}

/// Whether a `name=value` or `--name value` names a secret (`password`, `db_password`,
/// `--pass`, `api-token`).
fn is_secret_name(name: &str) -> bool {
    ends_with_word(name, SECRET_NAME_WORDS)
}

/// Whether a variable's name says it holds a credential (`DB_PASSWORD`, `API_KEY`,
/// `GITHUB_TOKEN`, `REDISCLI_AUTH`): its value is a secret wherever `${...}` puts it.
/// `PWD` is the working directory, not a password.
fn is_secret_variable(name: &str) -> bool {
    name == "PGPASSWORD"
        || name != "PWD"
            && (is_secret_name(name) || ends_with_word(name, &["key", "auth", "credentials"]))
}

/// Registers a variable's value that `${NAME}` or `$NAME` put into probe's arguments, when
/// the name says it is a credential. A value that lands in a secret position (a URL's
/// password, after `-a`) is found there by [`register_arguments`] on the expanded words.
pub fn register_expansion(name: &str, value: &str) {
    if is_secret_variable(name) {
        register(value);
    }
}

/// Registers every secret a command line can carry, before anything is parsed: URL
/// passwords of any scheme and `password=`-style values in every word, the values of
/// credential headers (`-H`), of `-a`/`--password` and the contents of `--password-file`.
/// Quoted target lines (`'http http://x -H "Authorization: Bearer t"'`) are split and
/// searched the same way. Only positions count: nothing else of a word is a secret.
pub fn register_arguments(args: &[String]) {
    register_arguments_at(args, 0);
}

fn register_arguments_at(args: &[String], depth: u8) {
    let mut previous: Option<&str> = None;
    for arg in args {
        // Most words (`tcp`, `db:5432`, `--timeout`) hold none of what is searched for
        // below: one pass over their bytes tells.
        let (mut url, mut assignment, mut space) = (false, false, false);
        for (at, byte) in arg.bytes().enumerate() {
            match byte {
                b':' => url |= arg[at..].starts_with("://"),
                b'=' => assignment = true,
                b if b.is_ascii_whitespace() => space = true,
                _ => {}
            }
        }
        if url {
            url_password(arg);
        }
        if assignment {
            for word in arg.split_whitespace() {
                let word = word.trim_matches(|c| matches!(c, '"' | '\''));
                // Words are registered as expanded (and the command after `--` is never
                // expanded): a value starting with `$` here is the password as written.
                if let Some((name, value)) = word.split_once('=') {
                    if is_secret_name(name) {
                        register(value);
                    }
                }
            }
        }
        match previous {
            Some("-H" | "--header") => register_header(arg),
            Some(flag) if flag.starts_with('-') && is_secret_name(flag) => register_word(arg),
            // tcp's --send may log in (`AUTH pw\r\n`), and is never printed.
            Some("-a" | "--send") => register_word(arg),
            Some("--password-file") => register_file(Path::new(arg)),
            _ => {}
        }
        if depth < 3 && space {
            if let Some(words) = shlex::split(arg).filter(|words| words.len() > 1) {
                register_arguments_at(&words, depth + 1);
            }
        }
        previous = Some(arg);
    }
}

/// A secret word, and the form it takes inside a double-quoted TARGET (`"pw\\r\\n"`), where
/// a printed target line shows it so.
fn register_word(word: &str) {
    register(word);
    if word.contains(['\\', '"']) {
        register(&word.replace('\\', "\\\\").replace('"', "\\\""));
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
pub fn read_password_file(path: &Path) -> Result<String, UsageError> {
    let password = crate::fsread::read_value("--password-file", path)?;
    register(&password);
    Ok(password)
}

/// Forgets every secret: a fuzz target runs many inputs in one process, and the registry
/// would otherwise grow with each (probe itself runs one command line per process).
#[cfg(fuzzing)]
pub fn forget_all() {
    *secrets() = Registry::default();
}

/// The text with every URL password masked by position and every registered secret
/// masked wherever it appears: the one scrubber every output line goes through.
pub fn scrub(text: &str) -> String {
    // Registered secrets first: a secret may itself hold a URL (`-H 'X-Api-Key:
    // k3y-pg://u:pw@db'`), whose masking would change the text so that the whole
    // secret no longer matches (found by fuzzing). Masking by position afterwards only
    // hides more: `***` holds none of the characters that end a password.
    let ranges = secrets().ranges(text);
    crate::url::mask(&crate::url::masked(text, &ranges))
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
            // Registered words are expanded ones: a `$` left in them is the password.
            "--password=$lit-1515",
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
                "$lit-1515",
                "nested-1414",
            ],
            &["probe postgres", "dbhost-6666", "require-1313"],
        );
    }

    #[test]
    fn expansions_register_credential_variables_only() {
        for (name, value) in [
            ("PGPASSWORD", "pgpw-3131"),
            ("DB_PASSWORD", "dbpw-4141"),
            ("API_KEY", "apikey-5151"),
            ("GITHUB_TOKEN", "ghtok-6161"),
            ("REDISCLI_AUTH", "cliauth-7171"),
            ("db_pwd", "dbpwd-8181"),
            // Not credentials by their names: the working directory, a path to a secret,
            // a plain value.
            ("PWD", "/srv/app"),
            ("OLDPWD", "/srv/old"),
            ("DB_PASSWORD_FILE", "/run/secrets/db"),
            ("KEYS_DIR", "/etc/keys"),
            ("HOST", "dbhost-9191"),
        ] {
            register_expansion(name, value);
        }
        assert_scrubbed(
            &[
                "pgpw-3131",
                "dbpw-4141",
                "apikey-5151",
                "ghtok-6161",
                "cliauth-7171",
                "dbpwd-8181",
            ],
            &[
                "file /srv/app/hb",
                "/srv/old",
                "/run/secrets/db",
                "/etc/keys",
                "dbhost-9191",
            ],
        );
    }

    #[test]
    fn a_url_given_whole_keeps_a_password_with_spaces_and_quotes() {
        for (url, secret) in [
            ("http://u:spa ce-secret@127.0.0.1:1/", "spa ce-secret"),
            ("redis://:it's \"x\" y@h:1", "it's \"x\" y"),
        ] {
            let shown = url_password(url);
            assert!(!shown.contains(secret), "{shown}");
            assert!(masked(secret), "{secret}");
        }
        assert_eq!(
            url_password("http://u:a b@127.0.0.1:1/"),
            "http://u:***@127.0.0.1:1/"
        );
    }

    #[test]
    fn credential_query_values_are_masked_by_name() {
        for name in [
            "auth",
            "api_key",
            "apikey",
            "key",
            "sig",
            "X-Amz-Signature",
            "token",
            "access_token",
            "client_secret",
            "password",
            "X-Goog-Credential",
        ] {
            let url = format!("https://h/p?a=1&{name}=VALUE-1&b=2");
            assert_eq!(
                crate::url::mask(&url),
                format!("https://h/p?a=1&{name}=***&b=2"),
                "{name}"
            );
        }
        for name in [
            "design",
            "page",
            "q",
            "signed",
            "require_auth",
            "sslkey",
            "authSource",
        ] {
            let url = format!("https://h/p?{name}=VALUE-1");
            assert_eq!(crate::url::mask(&url), url, "{name}");
        }
    }

    #[test]
    fn registration_is_linear_and_scrubbing_does_not_grow_with_the_secrets() {
        let started = std::time::Instant::now();
        for at in 0..20_000 {
            register(&format!("secret-{at:05}"));
        }
        let line = "unhealthy: redis redis://127.0.0.1:1: connection refused ".repeat(4);
        for _ in 0..1_000 {
            assert_eq!(scrub(&line), line);
        }
        assert!(masked("secret-19999"));
        // Quadratic registration took seconds for 4,000; a debug build does this in well
        // under one.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn overlapping_and_touching_secrets_are_masked_as_one() {
        register("abcd-1");
        register("d-1234");
        register("wxyz");
        assert_eq!(scrub("xabcd-12345y"), "x***5y");
        assert_eq!(scrub("wxyzwxyz ok"), "*** ok");
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
