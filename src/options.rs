//! A check's words (`["redis://cache", "--role", "master"]`) read against its option table:
//! the one path from a command line, a `check`/`wait-for` TARGET or any later source to a
//! check's settings. A check declares its options as data ([`Spec`]); the parser, the help
//! text and the tests that walk the registry are all derived from that data, so the three
//! cannot drift apart.
//!
//! The rules are argh's, which probe's modes still use, so that every command reads alike:
//! `--name value` (and `--name=value`, split before this), `-x value`, switches, `--` ending
//! the options, `--help`/`help` anywhere before it; a value option given twice is an error
//! unless it is repeatable. Errors are one line.

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
}

/// How many positional words a check takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    One,
    Optional,
    Many,
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
    pub examples: &'static [&'static str],
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

    /// Whether this check declares `--long` (blocks read only what their check has).
    pub fn has(&self, long: &str) -> bool {
        self.all().any(|opt| opt.long == long)
    }

    /// The `--help` text.
    pub fn help(&self, command: &str) -> String {
        help::render(self, command)
    }
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
        let mut help = false;
        let mut options_ended = false;
        let mut rest = words.iter();
        while let Some(&word) = rest.next() {
            if !options_ended && (word == "--help" || word == "help") {
                help = true;
                continue;
            }
            if options_ended || !word.starts_with('-') || word == "-" {
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
            let Some(opt) = spec.find(word) else {
                return Err(error(format!("unrecognized argument: {word}")));
            };
            let value = if opt.takes_value {
                let Some(value) = rest.next() else {
                    return Err(error(format!("no value provided for option '{word}'")));
                };
                if !opt.repeatable && parsed.given.iter().any(|given| given.opt.long == opt.long) {
                    return Err(error(format!(
                        "error parsing option '{word}' with value '{value}': duplicate values provided"
                    )));
                }
                Some(value.to_string())
            } else {
                None
            };
            parsed.given.push(Given {
                opt,
                spelled: word.to_string(),
                value,
            });
        }
        if help {
            return Err(Early::Help);
        }
        let positional = &spec.positional;
        match (positional.arity, parsed.positionals.len()) {
            (Arity::One, 0) => Err(error(format!(
                "required positional arguments not provided: {}",
                positional.name
            ))),
            (Arity::One | Arity::Optional, 2..) => Err(error(format!(
                "unrecognized argument: {}",
                parsed.positionals[1]
            ))),
            _ => Ok(parsed),
        }
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
        examples: &[],
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
    fn help_is_asked_anywhere_before_dashdash() {
        assert!(matches!(parse(&["x", "--help"]), Err(Early::Help)));
        assert!(matches!(parse(&["help"]), Err(Early::Help)));
        assert!(parse(&["--", "help"]).is_ok());
    }
}
