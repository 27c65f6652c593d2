//! Every kind of check, in one table: its name, the URL schemes that pick it, its cargo
//! feature, and (when built in) its option table and how its words become probes. The
//! command line, `check`/`wait-for` TARGETs, `probe --help`, the "did you mean `--`" hint
//! and the tests that walk every check all read this table, so none keeps a list of its own.
//!
//! A new check is its folder under `src/probe/` exporting a [`Check`], and one row here.

use crate::duration::Span;
use crate::options::{Spec, Words};
use crate::outcome::UsageError;
use crate::probe::Probe;

/// The probes one check's words describe.
pub type Probes = Vec<Box<dyn Probe>>;

/// What a built-in check gives the registry.
#[derive(Debug)]
pub struct Check {
    pub spec: Spec,
    /// Reads `--timeout` (most checks: [`crate::options::blocks::check_timeout`]).
    pub timeout: fn(&Words) -> Result<Option<Span>, UsageError>,
    /// The check's settings from its words, validated, as the probes to run (tcp makes one
    /// per HOST:PORT).
    pub build: fn(&Words) -> Result<Probes, UsageError>,
}

/// One row: a kind of check, built into this binary or not.
#[derive(Debug)]
pub struct Kind {
    pub name: &'static str,
    /// URL schemes whose TARGETs this check takes (`rediss://...`): the check itself
    /// accepts the same URLs as its argument.
    pub schemes: &'static [&'static str],
    /// The cargo feature that builds it; empty for checks always built.
    pub feature: &'static str,
    pub check: Option<&'static Check>,
}

impl Kind {
    /// The check, or the one-line reason this binary cannot run it.
    pub fn built(&self) -> Result<&'static Check, UsageError> {
        self.check.ok_or_else(|| {
            UsageError::new(format!(
                "this probe binary was built without the {:?} feature",
                self.feature
            ))
        })
    }
}

/// `Some(&CHECK)` when the feature is on, `None` when it is not.
macro_rules! built {
    ($feature:literal, $check:path) => {{
        #[cfg(feature = $feature)]
        let check = Some(&$check);
        #[cfg(not(feature = $feature))]
        let check = None;
        check
    }};
}

/// In the order `probe --help` lists them.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "http",
        schemes: &["http", "https"],
        feature: "http",
        check: built!("http", crate::probe::http::CHECK),
    },
    Kind {
        name: "tcp",
        schemes: &["tcp"],
        feature: "",
        check: Some(&crate::probe::tcp::CHECK),
    },
    Kind {
        name: "process",
        schemes: &[],
        feature: "",
        check: Some(&crate::probe::process::CHECK),
    },
    Kind {
        name: "file",
        schemes: &[],
        feature: "",
        check: Some(&crate::probe::file::CHECK),
    },
    Kind {
        name: "dns",
        schemes: &["dns"],
        feature: "dns",
        check: built!("dns", crate::probe::dns::CHECK),
    },
    Kind {
        name: "exec",
        schemes: &[],
        feature: "",
        check: Some(&crate::probe::exec::CHECK),
    },
    Kind {
        name: "redis",
        schemes: &[
            "redis",
            "rediss",
            "redis+unix",
            "unix",
            "valkey",
            "valkeys",
            "valkey+unix",
        ],
        feature: "redis",
        check: built!("redis", crate::probe::redis::CHECK),
    },
    Kind {
        name: "postgres",
        schemes: &["postgres", "postgresql"],
        feature: "postgres",
        check: built!("postgres", crate::probe::postgres::CHECK),
    },
    Kind {
        name: "amqp",
        schemes: &["amqp", "amqps"],
        feature: "amqp",
        check: built!("amqp", crate::probe::amqp::CHECK),
    },
    Kind {
        name: "grpc",
        schemes: &["grpc", "grpcs"],
        feature: "grpc",
        check: built!("grpc", crate::probe::grpc::CHECK),
    },
    Kind {
        name: "mysql",
        schemes: &["mysql", "mariadb", "mysql+unix", "mariadb+unix"],
        feature: "mysql",
        check: built!("mysql", crate::probe::mysql::CHECK),
    },
    Kind {
        name: "mongodb",
        schemes: &["mongodb", "mongodb+srv"],
        feature: "mongodb",
        check: built!("mongodb", crate::probe::mongodb::CHECK),
    },
    Kind {
        name: "kafka",
        schemes: &["kafka"],
        feature: "kafka",
        check: built!("kafka", crate::probe::kafka::CHECK),
    },
];

/// The row of the check named `name`.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|kind| kind.name == name)
}

/// The row whose schemes include `scheme` (lowercase).
pub fn by_scheme(scheme: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|kind| kind.schemes.contains(&scheme))
}

/// The check names, for messages: `http, tcp, process, ...`.
pub fn names() -> String {
    KINDS
        .iter()
        .map(|kind| kind.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_schemes_are_unique_and_specs_match_their_rows() {
        let mut seen = std::collections::HashSet::new();
        for kind in KINDS {
            assert!(seen.insert(kind.name), "{} twice", kind.name);
            for scheme in kind.schemes {
                assert!(
                    seen.insert(scheme) || *scheme == kind.name,
                    "{scheme} twice"
                );
            }
            if let Some(check) = kind.check {
                assert_eq!(check.spec.name, kind.name);
            }
        }
    }

    #[test]
    fn every_built_check_declares_the_shared_output_flags() {
        for check in KINDS.iter().filter_map(|kind| kind.check) {
            for long in ["timeout", "json", "quiet"] {
                assert!(check.spec.has(long), "{} lacks --{long}", check.spec.name);
            }
        }
    }
}
