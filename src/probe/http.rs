//! placeholder
use crate::cli::HttpArgs;
use crate::outcome::UsageError;
pub struct HttpCheck;
impl HttpCheck {
    pub fn from_args(_: &HttpArgs) -> Result<Self, UsageError> {
        crate::outcome::usage("http: not yet")
    }
}
impl crate::probe::Probe for HttpCheck {
    fn kind(&self) -> &'static str { "http" }
    fn target(&self) -> String { String::new() }
    fn run(&self, _: &crate::deadline::Deadline) -> crate::outcome::Outcome { unreachable!() }
}
