//! probe's pure parser modules, compiled again for cargo-fuzz by `#[path]`: probe is a
//! binary crate, and a library target only for fuzzing would make every item public (no
//! more dead-code warnings) and change how the other modules are merged. The modules
//! below need nothing but std, shlex and serde_json (stringprep is saslprep's referee); the
//! properties are `src/props.rs`, the same functions `cargo test` replays the corpora
//! through.
#![allow(dead_code, unexpected_cfgs, unused_imports)]

#[path = "../../src/deadline.rs"]
pub mod deadline;
#[path = "../../src/duration.rs"]
pub mod duration;
#[path = "../../src/fsread.rs"]
pub mod fsread;
#[path = "../../src/probe/http/expect.rs"]
pub mod expect_rules;
// expect.rs reaches it as `super::json`: the crate root here.
#[path = "../../src/probe/http/json.rs"]
pub mod json;
#[path = "../../src/expand.rs"]
pub mod expand;
#[path = "../../src/net.rs"]
pub mod net;
#[path = "../../src/outcome.rs"]
pub mod outcome;
pub mod pg_session;
pub mod probe;
#[path = "../../src/props.rs"]
pub mod props;
#[path = "../../src/mode/serve/http.rs"]
pub mod serve_http;
// props.rs reaches it where the crate has it.
pub mod mode {
    pub mod serve {
        pub use crate::serve_http as http;
    }
}
#[path = "../../src/redact.rs"]
pub mod redact;
#[path = "../../src/saslprep.rs"]
pub mod saslprep;
#[path = "../../src/size.rs"]
pub mod size;
#[path = "../../src/url.rs"]
pub mod url;
