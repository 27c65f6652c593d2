//! Protocol 3.0 messages: framing what probe sends, and reading the fields of what the
//! server sends (error fields, the first column of a data row). Bodies come from the wire
//! and are not trusted: every read is bounds-checked and returns `None` on malformed input.

use super::Failure;
use crate::outcome::Outcome;

/// A frontend message: type, length, body.
pub(super) fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(body.len() + 5);
    message.push(kind);
    message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

/// StartupMessage (protocol 3.0): its length, the version, then name/value pairs.
pub(super) fn startup_message(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = super::PROTOCOL_3_0.to_be_bytes().to_vec();
    for (name, value) in params {
        push_str(&mut body, name);
        push_str(&mut body, value);
    }
    body.push(0);
    let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    startup
}

/// PasswordMessage: cleartext or MD5, NUL-terminated.
pub(super) fn password_message(password: &[u8]) -> Result<Vec<u8>, Failure> {
    Ok(frame(b'p', &nul_terminated(password.to_vec())?))
}

/// SASLInitialResponse: the mechanism, then the client-first message with its length.
pub(super) fn sasl_initial_response(mechanism: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    push_str(&mut body, mechanism);
    body.extend_from_slice(&(data.len() as u32).to_be_bytes());
    body.extend_from_slice(data);
    frame(b'p', &body)
}

/// Query (simple protocol); the caller has refused SQL with a NUL byte.
pub(super) fn query_message(sql: &str) -> Vec<u8> {
    let mut text = sql.as_bytes().to_vec();
    text.push(0);
    frame(b'Q', &text)
}

pub(super) fn terminate_message() -> Vec<u8> {
    frame(b'X', &[])
}

pub(super) fn nul_terminated(mut text: Vec<u8>) -> Result<Vec<u8>, Failure> {
    if text.contains(&0) {
        return Err(Outcome::fatal("the password contains a NUL byte").into());
    }
    text.push(0);
    Ok(text)
}

pub(super) fn push_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(0);
}

/// Why buffered bytes are not a backend message.
#[derive(Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The first byte is not one of the types expected here.
    Tag,
    /// The length field is below 4 or above the most accepted.
    Length(usize),
}

/// The framing of backend messages, over what is buffered: `Ok(None)` while more bytes
/// are needed, else the message's type and its end (the body is `bytes[5..end]`). The
/// type is judged from the first byte and the length from the first five, so a peer that
/// is not PostgreSQL is named before anything else arrives.
pub fn split(bytes: &[u8], expected: &[u8], max: usize) -> Result<Option<(u8, usize)>, Malformed> {
    let Some(&tag) = bytes.first() else {
        return Ok(None);
    };
    if !expected.contains(&tag) {
        return Err(Malformed::Tag);
    }
    let Some(header) = bytes.get(1..5) else {
        return Ok(None);
    };
    let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if !(4..=max + 4).contains(&length) {
        return Err(Malformed::Length(length));
    }
    Ok((bytes.len() > length).then_some((tag, 1 + length)))
}

/// A cursor over a message body; `None` where the body is too short or malformed.
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }

    pub(super) fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(super) fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    /// A NUL-terminated string.
    pub(super) fn str(&mut self) -> Option<&'a str> {
        let end = self.0.iter().position(|byte| *byte == 0)?;
        let text = std::str::from_utf8(&self.0[..end]).ok()?;
        self.0 = &self.0[end + 1..];
        Some(text)
    }

    pub(super) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The first column of a DataRow as text; `None` for NULL (and for a row without columns).
pub fn first_column(body: &[u8]) -> Option<Option<String>> {
    let mut fields = Fields(body);
    if fields.i16()? <= 0 {
        return Some(None);
    }
    match fields.i32()? {
        -1 => Some(None),
        length => {
            let value = fields.take(usize::try_from(length).ok()?)?;
            Some(Some(String::from_utf8_lossy(value).into_owned()))
        }
    }
}

/// The fields of an ErrorResponse that reasons use.
#[derive(Debug)]
pub struct DbError {
    /// Never localized (`V`), or the localized one (`S`) from servers before 9.6.
    pub(super) severity: String,
    pub(super) code: String,
    pub(super) message: String,
}

impl DbError {
    pub fn parse(body: &[u8]) -> Option<DbError> {
        let mut fields = Fields(body);
        let (mut severity, mut localized, mut code, mut message) = (None, None, None, None);
        loop {
            let kind = fields.take(1)?[0];
            if kind == 0 {
                break;
            }
            // Messages are in the server's lc_messages encoding before client_encoding
            // is in effect: keep them readable either way.
            let end = fields.0.iter().position(|byte| *byte == 0)?;
            let value = String::from_utf8_lossy(fields.take(end)?).into_owned();
            fields.take(1)?;
            match kind {
                b'V' => severity = Some(value),
                b'S' => localized = Some(value),
                b'C' => code = Some(value),
                b'M' => message = Some(value),
                _ => {}
            }
        }
        Some(DbError {
            severity: severity.or(localized).unwrap_or_default(),
            code: code?,
            message: message.unwrap_or_default(),
        })
    }

    pub(super) fn fatal(&self) -> bool {
        matches!(self.severity.as_str(), "FATAL" | "PANIC")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// postgres-protocol's frontend encoders are the referee for every message probe sends.
    #[test]
    fn messages_match_postgres_protocol_byte_for_byte() {
        use bytes::BytesMut;
        use postgres_protocol::message::frontend;
        let params = [
            ("user", "app"),
            ("client_encoding", "UTF8"),
            ("application_name", "probe"),
            ("database", "shop"),
        ];
        let mut theirs = BytesMut::new();
        frontend::startup_message(params.iter().copied(), &mut theirs).unwrap();
        assert_eq!(startup_message(&params), &theirs[..]);

        let mut theirs = BytesMut::new();
        frontend::password_message(b"md5abc", &mut theirs).unwrap();
        assert_eq!(password_message(b"md5abc").unwrap(), &theirs[..]);
        assert!(password_message(b"a\0b").is_err());

        let mut theirs = BytesMut::new();
        frontend::sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc", &mut theirs).unwrap();
        assert_eq!(
            sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc"),
            &theirs[..]
        );

        let mut theirs = BytesMut::new();
        frontend::sasl_response(b"c=biws,r=abc,p=xyz", &mut theirs).unwrap();
        assert_eq!(frame(b'p', b"c=biws,r=abc,p=xyz"), &theirs[..]);

        let mut theirs = BytesMut::new();
        frontend::query("select 1", &mut theirs).unwrap();
        assert_eq!(query_message("select 1"), &theirs[..]);

        let mut theirs = BytesMut::new();
        frontend::terminate(&mut theirs);
        assert_eq!(terminate_message(), &theirs[..]);
    }

    #[test]
    fn error_fields_are_parsed_and_garbage_is_refused() {
        let body = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0";
        let error = DbError::parse(body).unwrap();
        assert_eq!(error.code, "28P01");
        assert_eq!(error.message, "password authentication failed");
        assert!(error.fatal());
        assert!(DbError::parse(b"SERROR\0C4").is_none());
        assert!(DbError::parse(b"").is_none());
        assert!(DbError::parse(b"SERROR\0\0").is_none(), "no SQLSTATE");
    }

    #[test]
    fn data_rows_give_text_null_or_nothing() {
        assert_eq!(
            first_column(b"\0\x02\0\0\0\x03abc\xff\xff\xff\xff"),
            Some(Some("abc".into()))
        );
        assert_eq!(first_column(b"\0\x01\xff\xff\xff\xff"), Some(None));
        assert_eq!(first_column(b"\0\0"), Some(None));
        assert_eq!(first_column(b"\0\x01\0\0\0\x09ab"), None);
        assert_eq!(first_column(b"\0\x01\x80\0\0\0"), None);
        assert_eq!(first_column(b"\0"), None);
    }
}
