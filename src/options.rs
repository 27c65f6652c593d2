//! A check's words (`["redis://cache", "--role", "master"]`) read against its option table:
//! the one path from a command line, a `check`/`wait-for` TARGET or any later source to a
//! check's settings. A check declares its options as data ([`Spec`]); the parser, the help
//! text and the tests that walk the registry are all derived from that data, so the three
//! cannot drift apart.
//!
//! probe's modes (`check`, `wait-for`, `migrate-then-exec`, src/cli.rs) are read the same
//! way, so every command reads alike. The rules are those of argh, which probe used before:
//! `--name value` (and `--name=value`, split before this), `-x value`, switches, `--` ending
//! the options, `--help`/`help` anywhere before it; a value option given twice is an error
//! unless it is repeatable; a required option left out is named. Errors are one line.

// A slim build leaves out the checks that use some of these pieces.
#![cfg_attr(
    not(all(
        feature = "http",
        feature = "postgres",
        feature = "redis",
        feature = "amqp",
        feature = "grpc",
        feature = "mysql",
        feature = "tls"
    )),
    allow(dead_code)
)]

pub mod blocks;
mod help;

pub use help::describe;

use std::fmt::Display;
use std::str::FromStr;

use crate::outcome::UsageError;

/// One option of a check: `--ca-file PATH`, `-k`, `-H 'Name: value'` (repeatable).
#[derive(Debug)]
pub struct Opt {
    /// The long name without its dashes: `ca-file`.
    pub long: &'static str,
    pub short: Option<char>,
    pub takes_value: bool,
    pub repeatable: bool,
    /// Accepted but left out of the help (an alias kept for old lines).
    pub hidden: bool,
    /// Its value is a secret (`mysql -pPASSWORD`): registered before anything can print it.
    pub secret: bool,
    /// What follows the first `:` of its value is a secret (curl's `-u USER:PASSWORD`).
    pub secret_after_colon: bool,
    /// Must be given (`migrate-then-exec --migrate`).
    pub required: bool,
    pub help: &'static str,
}

impl Opt {
    /// A flag without a value.
    pub const fn switch(long: &'static str, help: &'static str) -> Opt {
        Opt {
            long,
            short: None,
            takes_value: false,
            repeatable: false,
            hidden: false,
            secret: false,
            secret_after_colon: false,
            required: false,
            help,
        }
    }

    /// An option that takes one value.
    pub const fn value(long: &'static str, help: &'static str) -> Opt {
        Opt {
            takes_value: true,
            ..Opt::switch(long, help)
        }
    }

    pub const fn short(self, short: char) -> Opt {
        Opt {
            short: Some(short),
            ..self
        }
    }

    /// May be given more than once; every value is kept, in order.
    pub const fn repeatable(self) -> Opt {
        Opt {
            repeatable: true,
            ..self
        }
    }

    pub const fn hidden(self) -> Opt {
        Opt {
            hidden: true,
            ..self
        }
    }

    pub const fn secret(self) -> Opt {
        Opt {
            secret: true,
            ..self
        }
    }

    pub const fn secret_after_colon(self) -> Opt {
        Opt {
            secret_after_colon: true,
            ..self
        }
    }

    pub const fn required(self) -> Opt {
        Opt {
            required: true,
            ..self
        }
    }
}

/// A flag of a tool probe replaces (curl, wget, nc, grpc_health_probe, mysqladmin), and what
/// probe makes of it: users paste their old lines, and a flag that means something in probe
/// keeps that meaning, while one that does not is refused with probe's way.
#[derive(Debug)]
pub struct Foreign {
    pub tool: &'static str,
    /// As the tool spells it: `-m`, `--max-time`, `-addr`.
    pub flag: &'static str,
    pub takes_value: bool,
    pub means: Means,
}

#[derive(Debug)]
pub enum Means {
    /// probe's option `long`, with the value as given.
    Same(&'static str),
    /// probe's option `long`, the value being seconds (`-m 2.5`, `-w 2`).
    Seconds(&'static str),
    /// probe's option `long` with this value (`-I` is `--method HEAD`).
    Preset(&'static str, &'static str),
    /// The positional argument (`-addr host:port`).
    Positional,
    /// What probe does anyway (`-f`, `-s`, `--spider`, `-z`): accepted, value and all.
    Anyway,
    /// Refused, with what to do in probe instead.
    Refused(&'static str),
}

impl Foreign {
    pub const fn new(tool: &'static str, flag: &'static str, means: Means) -> Foreign {
        Foreign {
            tool,
            flag,
            takes_value: false,
            means,
        }
    }

    pub const fn value(tool: &'static str, flag: &'static str, means: Means) -> Foreign {
        Foreign {
            takes_value: true,
            ..Foreign::new(tool, flag, means)
        }
    }
}

/// How many positional words a check takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// No positional words (`migrate-then-exec`).
    None,
    One,
    Optional,
    Many,
    /// A command after `--` (`probe exec -- CMD ARGS`): run as written, so never expanded.
    Command,
}

/// A check's positional argument: its name in help and errors (`URL`), and its help.
#[derive(Debug)]
pub struct Positional {
    pub name: &'static str,
    pub arity: Arity,
    pub help: &'static str,
}

/// Everything the words of one check may hold, and its help.
#[derive(Debug)]
pub struct Spec {
    /// The command's name: `redis`.
    pub name: &'static str,
    /// What the check does, as the help and `probe --help` say it.
    pub about: &'static str,
    pub positional: Positional,
    /// The check's own options first, then the blocks it shares with other checks
    /// ([`blocks`]), in the order the help lists them.
    pub options: &'static [&'static [Opt]],
    /// The replaced tools' flags this check understands or refuses.
    pub foreign: &'static [Foreign],
    pub examples: &'static [&'static str],
    /// The usage line after the command's name, when the one drawn from the options would
    /// not tell how the command is written (`wait-for`'s `-- CMD`).
    pub usage: Option<&'static str>,
    /// Paragraphs the help prints last, under "Notes:".
    pub notes: &'static [&'static str],
}

impl Spec {
    fn all(&self) -> impl Iterator<Item = &'static Opt> {
        self.options.iter().flat_map(|block| block.iter())
    }

    fn find(&self, word: &str) -> Option<&'static Opt> {
        let mut chars = word.chars();
        let short = match (chars.next(), chars.next(), chars.next()) {
            (Some('-'), Some(short), None) if short != '-' => Some(short),
            _ => None,
        };
        let long = word.strip_prefix("--");
        self.all()
            .find(|opt| long == Some(opt.long) || (short.is_some() && opt.short == short))
    }

    fn option(&self, long: &str) -> Option<&'static Opt> {
        self.all().find(|opt| opt.long == long)
    }

    fn short_opt(&self, short: char) -> Option<&'static Opt> {
        self.all().find(|opt| opt.short == Some(short))
    }

    fn foreign_flag(&self, flag: &str) -> Option<&'static Foreign> {
        self.foreign.iter().find(|foreign| foreign.flag == flag)
    }

    /// What an option word asks for: probe's own options (`--name`, `-x`, `--name=value`
    /// split before this, `-xVALUE` glued as getopt allows), the replaced tools' flags
    /// (`-name=value` too, as Go's flag package writes them), and bundled switches (`-fsS`).
    fn resolve(&'static self, word: &str) -> Result<Vec<Action>, UsageError> {
        if let Some(opt) = self.find(word) {
            return Ok(vec![Action::Own(opt, None)]);
        }
        if let Some(foreign) = self.foreign_flag(word) {
            return self
                .foreign_action(foreign, None)
                .map(|action| vec![action]);
        }
        // Go's `-flag=value`: only for a flag the table knows, so `-Hname=value` stays a
        // glued -H.
        if let Some((flag, value)) = word.split_once('=') {
            if let Some(foreign) = self.foreign_flag(flag).filter(|f| f.takes_value) {
                return self
                    .foreign_action(foreign, Some(value.to_string()))
                    .map(|action| vec![action]);
            }
        }
        let mut chars = word.chars();
        if let (Some('-'), Some(first)) = (chars.next(), chars.next()) {
            let glued = chars.as_str();
            if first != '-' && !glued.is_empty() {
                // `-uroot`, `-p3306`, `-t5`, `-w2`: a short option that takes a value.
                if let Some(opt) = self.short_opt(first).filter(|opt| opt.takes_value) {
                    return Ok(vec![Action::Own(opt, Some(glued.to_string()))]);
                }
                let short = format!("-{first}");
                if let Some(foreign) = self.foreign_flag(&short).filter(|f| f.takes_value) {
                    return self
                        .foreign_action(foreign, Some(glued.to_string()))
                        .map(|action| vec![action]);
                }
                // `-fsS`, `-zv`: switches bundled, each one probe's or a known tool's.
                let bundle: Option<Vec<Action>> = word[1..]
                    .chars()
                    .map(|c| match self.short_opt(c) {
                        Some(opt) if !opt.takes_value => Some(Ok(Action::Own(opt, None))),
                        Some(_) => None,
                        None => self
                            .foreign_flag(&format!("-{c}"))
                            .filter(|f| !f.takes_value)
                            .map(|f| self.foreign_action(f, None)),
                    })
                    .collect::<Option<Result<Vec<_>, _>>>()
                    .transpose()?;
                if let Some(actions) = bundle {
                    return Ok(actions);
                }
            }
        }
        Err(UsageError::new(format!("unrecognized argument: {word}")))
    }

    fn foreign_action(
        &'static self,
        foreign: &'static Foreign,
        inline: Option<String>,
    ) -> Result<Action, UsageError> {
        let own = |long: &str| {
            self.option(long)
                .expect("a foreign flag names an option of its check")
        };
        Ok(match foreign.means {
            Means::Same(long) => Action::Own(own(long), inline),
            Means::Seconds(long) => Action::Seconds(own(long), inline),
            Means::Preset(long, value) => Action::Own(own(long), Some(value.to_string())),
            Means::Positional => Action::Positional(inline),
            Means::Anyway => Action::Drop(foreign.takes_value && inline.is_none()),
            Means::Refused(reason) => {
                return Err(UsageError::new(format!(
                    "{}'s {} is not taken: {reason}",
                    foreign.tool, foreign.flag
                )))
            }
        })
    }

    /// Whether this check declares `--long` (blocks read only what their check has).
    pub fn has(&self, long: &str) -> bool {
        self.all().any(|opt| opt.long == long)
    }

    /// The `--help` text.
    pub fn help(&self, command: &str) -> String {
        help::render(self, command)
    }
}

/// What one option word does.
#[derive(Debug)]
enum Action {
    /// One of the check's options, with its value if the word held it.
    Own(&'static Opt, Option<String>),
    /// An option whose value is in seconds (a bare number gets its `s`).
    Seconds(&'static Opt, Option<String>),
    /// The positional argument, from the word or the next one.
    Positional(Option<String>),
    /// Nothing; `true` when the next word is its value, dropped too.
    Drop(bool),
}

/// The outcome of reading words that is not a parse: help was asked for, or the words
/// are wrong.
#[derive(Debug)]
pub enum Early {
    /// `--help`: the caller prints [`Spec::help`] under the name the user typed.
    Help,
    Error(UsageError),
}

impl From<UsageError> for Early {
    fn from(error: UsageError) -> Self {
        Early::Error(error)
    }
}

/// One option as given: which, spelled how (`-p` or `--port`: errors quote the user's
/// spelling), and its value.
#[derive(Debug)]
struct Given {
    opt: &'static Opt,
    spelled: String,
    value: Option<String>,
}

/// A check's words, parsed against its [`Spec`]: the check's settings take what they need
/// from here, each typed value parsed (and its error worded) in one place.
#[derive(Debug)]
pub struct Words {
    spec: &'static Spec,
    given: Vec<Given>,
    positionals: Vec<String>,
}

impl Words {
    /// Reads `words` (the command's name not included) against `spec`.
    pub fn parse(spec: &'static Spec, words: &[&str]) -> Result<Words, Early> {
        let mut parsed = Words {
            spec,
            given: Vec::new(),
            positionals: Vec::new(),
        };
        register_secrets(spec, words);
        let mut help = false;
        let mut options_ended = false;
        let mut rest = words.iter();
        while let Some(&word) = rest.next() {
            if !options_ended && (word == "--help" || word == "help") {
                help = true;
                continue;
            }
            if options_ended || !is_flag(word) || word == "-" {
                // Refused at once, as argh did: `migrate-then-exec --migrate m ./app --serve`
                // is about `./app`, not `--serve`.
                if spec.positional.arity == Arity::None {
                    return Err(error(format!("unrecognized argument: {word}")));
                }
                parsed.positionals.push(word.to_string());
                continue;
            }
            if word == "--" {
                options_ended = true;
                continue;
            }
            if help {
                return Err(error("trailing arguments are not allowed after `help`"));
            }
            for action in spec.resolve(word)? {
                let (opt, inline, seconds) = match action {
                    Action::Own(opt, inline) => (opt, inline, false),
                    Action::Seconds(opt, inline) => (opt, inline, true),
                    Action::Positional(inline) => {
                        let value = inline.or_else(|| rest.next().map(|v| v.to_string()));
                        let Some(value) = value else {
                            return Err(error(format!("no value provided for option '{word}'")));
                        };
                        parsed.positionals.push(value);
                        continue;
                    }
                    Action::Drop(skip_value) => {
                        if skip_value {
                            rest.next();
                        }
                        continue;
                    }
                };
                let value = if opt.takes_value {
                    let value = inline.or_else(|| rest.next().map(|v| v.to_string()));
                    let Some(mut value) = value else {
                        return Err(error(format!("no value provided for option '{word}'")));
                    };
                    if !opt.repeatable
                        && parsed.given.iter().any(|given| given.opt.long == opt.long)
                    {
                        return Err(error(format!(
                            "error parsing option '{word}' with value '{value}': duplicate values provided"
                        )));
                    }
                    if seconds && is_seconds(&value) {
                        value.push('s');
                    }
                    Some(value)
                } else {
                    None
                };
                parsed.given.push(Given {
                    opt,
                    spelled: word.to_string(),
                    value,
                });
            }
        }
        if help {
            return Err(Early::Help);
        }
        let positional = &spec.positional;
        match (positional.arity, parsed.positionals.len()) {
            (Arity::One, 0) => {
                return Err(error(format!(
                    "required positional arguments not provided: {}",
                    positional.name
                )))
            }
            (Arity::One | Arity::Optional, 2..) => {
                return Err(error(format!(
                    "unrecognized argument: {}",
                    parsed.positionals[1]
                )))
            }
            _ => {}
        }
        Ok(parsed)
    }

    /// Refuses the words when an option marked [`Opt::required`] was left out:
    /// "required options not provided: --migrate". Separate from [`Words::parse`], whose
    /// every instruction runs in every health check: the modes call it, and no check has a
    /// required option (a unit test in src/cli.rs holds the registry to that).
    pub fn require(self) -> Result<Words, Early> {
        match self
            .spec
            .all()
            .any(|opt| opt.required && !self.has_given(opt.long))
        {
            true => Err(missing_options(&self)),
            false => Ok(self),
        }
    }

    fn has_given(&self, long: &str) -> bool {
        self.given.iter().any(|given| given.opt.long == long)
    }

    fn check_declared(&self, long: &str) {
        debug_assert!(
            self.spec.has(long),
            "{} reads --{long}, which it does not declare",
            self.spec.name
        );
    }

    /// Whether the switch `--long` was given.
    pub fn switch(&self, long: &str) -> bool {
        self.check_declared(long);
        self.given.iter().any(|given| given.opt.long == long)
    }

    /// Whether the switch `--long` was given, for a block read by checks of which only
    /// some declare it (`-k` of [`blocks::TlsFiles`]).
    pub fn switch_if_declared(&self, long: &str) -> bool {
        self.given.iter().any(|given| given.opt.long == long)
    }

    /// The value of `--long`, if given.
    pub fn text(&self, long: &str) -> Option<String> {
        self.check_declared(long);
        self.given
            .iter()
            .find(|given| given.opt.long == long)
            .and_then(|given| given.value.clone())
    }

    /// Every value of a repeatable `--long`, in order.
    pub fn list(&self, long: &str) -> Vec<String> {
        self.check_declared(long);
        self.given
            .iter()
            .filter(|given| given.opt.long == long)
            .filter_map(|given| given.value.clone())
            .collect()
    }

    /// `--long` parsed as `T`; a bad value names the option as the user spelled it.
    pub fn parsed<T>(&self, long: &str) -> Result<Option<T>, UsageError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.check_declared(long);
        let Some(given) = self.given.iter().find(|given| given.opt.long == long) else {
            return Ok(None);
        };
        let value = given.value.as_deref().unwrap_or_default();
        value.parse::<T>().map(Some).map_err(|reason| {
            UsageError::new(format!(
                "error parsing option '{}' with value '{value}': {reason}",
                given.spelled
            ))
        })
    }

    /// The positional word of a check that takes at most one.
    pub fn positional(&self) -> Option<String> {
        self.positionals.first().cloned()
    }

    /// Every positional word.
    pub fn positionals(&self) -> Vec<String> {
        self.positionals.clone()
    }
}

/// The values of a check's secret options, registered before the words are read: an
/// error about any word may print them all (a TARGET's usage error shows its text).
fn register_secrets(spec: &'static Spec, words: &[&str]) {
    if !spec.all().any(|opt| opt.secret || opt.secret_after_colon) {
        return;
    }
    for (at, word) in words.iter().enumerate() {
        if !is_flag(word) {
            continue;
        }
        let Ok(actions) = spec.resolve(word) else {
            continue;
        };
        for action in actions {
            let Action::Own(opt, inline) = action else {
                continue;
            };
            let value = inline.or_else(|| words.get(at + 1).map(|v| v.to_string()));
            let Some(value) = value else {
                continue;
            };
            if opt.secret {
                crate::redact::register(&value);
            } else if opt.secret_after_colon {
                if let Some((_, secret)) = value.split_once(':') {
                    crate::redact::register(secret);
                }
            }
        }
    }
}

/// "required options not provided: --migrate", naming every one left out.
fn missing_options(words: &Words) -> Early {
    let missing: Vec<String> = words
        .spec
        .all()
        .filter(|opt| opt.required && !words.has_given(opt.long))
        .map(|opt| format!("--{}", opt.long))
        .collect();
    error(format!(
        "required options not provided: {}",
        missing.join(", ")
    ))
}

/// Whether a word starts with `-`: a byte compared, where `starts_with('-')` costs a call
/// of some fifty instructions at every start.
pub fn is_flag(word: &str) -> bool {
    word.as_bytes().first() == Some(&b'-')
}

/// `2`, `2.5`: seconds as curl, wget, nc and wait-for-it write them.
fn is_seconds(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().filter(|&b| b == b'.').count() <= 1
        && value != "0"
}

fn error(message: impl Into<String>) -> Early {
    Early::Error(UsageError::new(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &[Opt] = &[
        Opt::value("port", "the port").short('p'),
        Opt::value("header", "a header").short('H').repeatable(),
        Opt::switch("tls", "speak TLS"),
    ];
    static SPEC: Spec = Spec {
        name: "demo",
        about: "A demo check.",
        positional: Positional {
            name: "URL",
            arity: Arity::Optional,
            help: "the URL",
        },
        options: &[OWN],
        foreign: &[],
        examples: &[],
        usage: None,
        notes: &[],
    };

    fn parse(words: &[&str]) -> Result<Words, Early> {
        Words::parse(&SPEC, words)
    }

    fn error_of(words: &[&str]) -> String {
        match parse(words) {
            Err(Early::Error(error)) => error.0,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_values_switches_and_positionals() {
        let words = parse(&["u", "-p", "1", "-H", "a", "--header", "b", "--tls"]).unwrap();
        assert_eq!(words.parsed::<u16>("port").unwrap(), Some(1));
        assert_eq!(words.list("header"), ["a", "b"]);
        assert!(words.switch("tls"));
        assert_eq!(words.positional().as_deref(), Some("u"));
        let words = parse(&["--", "-p"]).unwrap();
        assert_eq!(words.positional().as_deref(), Some("-p"));
    }

    #[test]
    fn errors_are_one_line_and_name_the_word() {
        assert_eq!(error_of(&["--nope"]), "unrecognized argument: --nope");
        assert_eq!(error_of(&["a", "b"]), "unrecognized argument: b");
        assert_eq!(error_of(&["-p"]), "no value provided for option '-p'");
        assert!(error_of(&["-p", "1", "--port", "2"]).contains("duplicate values"));
        let words = parse(&["-p", "70000"]).unwrap();
        let bad = words.parsed::<u16>("port").unwrap_err().0;
        assert!(
            bad.starts_with("error parsing option '-p' with value '70000'"),
            "{bad}"
        );
    }

    #[test]
    fn required_options_and_no_positionals() {
        static MODE: Spec = Spec {
            name: "mode",
            about: "A mode.",
            positional: Positional {
                name: "",
                arity: Arity::None,
                help: "",
            },
            options: &[&[
                Opt::value("run", "r").required(),
                Opt::value("also", "a").required(),
                Opt::switch("quiet", "q").short('q'),
            ]],
            foreign: &[],
            examples: &[],
            usage: None,
            notes: &[],
        };
        let required = |words: &[&str]| match Words::parse(&MODE, words).and_then(Words::require) {
            Err(Early::Error(error)) => error.0,
            other => format!("{other:?}"),
        };
        assert_eq!(
            required(&["-q"]),
            "required options not provided: --run, --also"
        );
        assert_eq!(
            required(&["--also", "x"]),
            "required options not provided: --run"
        );
        assert_eq!(
            required(&["--run", "x", "--also", "y", "z"]),
            "unrecognized argument: z"
        );
        let words = Words::parse(&MODE, &["--run", "x", "--also", "y"]).unwrap();
        let words = words.require().unwrap();
        assert_eq!(words.text("run").as_deref(), Some("x"));
    }

    #[test]
    fn help_is_asked_anywhere_before_dashdash() {
        assert!(matches!(parse(&["x", "--help"]), Err(Early::Help)));
        assert!(matches!(parse(&["help"]), Err(Early::Help)));
        assert!(parse(&["--", "help"]).is_ok());
    }
}
