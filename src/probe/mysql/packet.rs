//! MySQL client/server protocol packets as pure functions over bytes: framing (3-byte
//! length, sequence id), the server's greeting (Handshake v10), the client's handshake
//! response and SSLRequest, OK / ERR / EOF, auth switches, and the first value of a text
//! result set. Nothing here touches a socket, so every parser can be fuzzed: lengths from
//! the wire are never trusted, every read is bounds-checked and a malformed packet is
//! `None` or an error, never a panic.

use std::io::{self, Read, Write};

/// The largest packet accepted. Greetings, auth exchanges and one health-check row are far
/// smaller; a payload of 16 MiB - 1 (a continued packet) is never a health check.
pub const MAX_PACKET: usize = 1024 * 1024;

/// Capability flags probe uses (the protocol's names).
pub const CLIENT_LONG_PASSWORD: u32 = 0x1;
pub const CLIENT_LONG_FLAG: u32 = 0x4;
pub const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
pub const CLIENT_PROTOCOL_41: u32 = 0x200;
pub const CLIENT_SSL: u32 = 0x800;
pub const CLIENT_TRANSACTIONS: u32 = 0x2000;
pub const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
pub const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
pub const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x20_0000;

/// utf8mb4_general_ci: understood by MySQL 5.5+ and MariaDB.
const CHARSET_UTF8MB4: u8 = 45;

/// Why a packet could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// A declared length over [`MAX_PACKET`]: not a MySQL server, or not a health check.
    TooLarge(usize),
    /// The total budget of one exchange is used up.
    OverBudget,
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// Reads one packet: its sequence id and payload. `budget` is what the exchange may still
/// read in all; it is reduced by what this packet used.
pub fn read_packet(reader: &mut impl Read, budget: &mut usize) -> Result<(u8, Vec<u8>), ReadError> {
    let mut header = [0u8; 4];
    reader.read_exact(&mut header)?;
    let length =
        usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if length > MAX_PACKET {
        return Err(ReadError::TooLarge(length));
    }
    if length + 4 > *budget {
        return Err(ReadError::OverBudget);
    }
    *budget -= length + 4;
    let mut payload = vec![0u8; length];
    reader.read_exact(&mut payload)?;
    Ok((header[3], payload))
}

/// Frames `payload` with sequence id `seq` (payloads probe sends are small).
pub fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let length = payload.len().min(0xFF_FFFF) as u32;
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&length.to_le_bytes()[..3]);
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

pub fn write_packet(writer: &mut impl Write, seq: u8, payload: &[u8]) -> io::Result<()> {
    writer.write_all(&frame(seq, payload))?;
    writer.flush()
}

/// A cursor over a payload; every read is checked.
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Up to the next NUL (consumed), or to the end when there is none.
    pub fn nul_str(&mut self) -> &'a [u8] {
        match self.0.iter().position(|b| *b == 0) {
            Some(at) => {
                let text = &self.0[..at];
                self.0 = &self.0[at + 1..];
                text
            }
            None => std::mem::take(&mut self.0),
        }
    }

    /// A length-encoded integer; `None` for the NULL marker (0xFB) or a malformed one.
    pub fn lenenc(&mut self) -> Option<u64> {
        match self.u8()? {
            byte @ 0..=0xFA => Some(u64::from(byte)),
            0xFC => self.u16().map(u64::from),
            0xFD => self
                .take(3)
                .map(|b| u64::from_le_bytes([b[0], b[1], b[2], 0, 0, 0, 0, 0])),
            0xFE => self
                .take(8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
            _ => None,
        }
    }

    /// A length-encoded string: `Some(None)` for SQL NULL.
    pub fn lenenc_str(&mut self) -> Option<Option<&'a [u8]>> {
        if self.0.first() == Some(&0xFB) {
            self.0 = &self.0[1..];
            return Some(None);
        }
        let length = usize::try_from(self.lenenc()?).ok()?;
        self.take(length).map(Some)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The server's first packet, Handshake v10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub version: String,
    pub capabilities: u32,
    /// The 20-byte nonce (both parts, without the trailing NUL).
    pub scramble: Vec<u8>,
    /// The plugin the server expects first (`mysql_native_password` when not said).
    pub plugin: String,
}

/// What the first packet was.
#[derive(Debug, PartialEq, Eq)]
pub enum First {
    Greeting(Greeting),
    /// An ERR packet instead of a greeting (too many connections, host blocked).
    Error(ServerError),
}

/// Parses the first packet; `None` when it is not a MySQL greeting.
pub fn parse_greeting(payload: &[u8]) -> Option<First> {
    let mut fields = Fields(payload);
    match fields.u8()? {
        0xFF => return parse_error_body(&mut fields, false).map(First::Error),
        10 => {}
        _ => return None,
    }
    let version = fields.nul_str();
    if version.is_empty() || version.len() > 250 {
        return None;
    }
    let version = printable(version);
    let _connection_id = fields.u32()?;
    let mut scramble = fields.take(8)?.to_vec();
    fields.u8()?;
    let mut capabilities = u32::from(fields.u16()?);
    let mut plugin = String::from("mysql_native_password");
    if !fields.0.is_empty() {
        let _charset = fields.u8()?;
        let _status = fields.u16()?;
        capabilities |= u32::from(fields.u16()?) << 16;
        let data_length = usize::from(fields.u8()?);
        // Reserved (MariaDB keeps its extended capabilities in the last four).
        fields.take(10)?;
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let part2 = data_length.saturating_sub(8).max(13);
            let part = fields.take(part2.min(fields.0.len()))?;
            let part = part.strip_suffix(&[0]).unwrap_or(part);
            scramble.extend_from_slice(part);
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 {
            let name = fields.nul_str();
            if !name.is_empty() {
                plugin = printable(name);
            }
        }
    }
    Some(First::Greeting(Greeting {
        version,
        capabilities,
        scramble,
        plugin,
    }))
}

/// An ERR packet: the error number, SQLSTATE (when sent) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub code: u16,
    pub state: Option<String>,
    pub message: String,
}

/// The body of an ERR packet after its 0xFF.
fn parse_error_body(fields: &mut Fields, protocol_41: bool) -> Option<ServerError> {
    let code = fields.u16()?;
    let mut state = None;
    if fields.0.first() == Some(&b'#') && (protocol_41 || fields.0.len() >= 6) {
        fields.take(1)?;
        state = Some(printable(fields.take(5)?));
    }
    let message = printable(fields.rest());
    Some(ServerError {
        code,
        state,
        message,
    })
}

/// Parses an ERR packet (0xFF first); `None` if it is not one.
pub fn parse_error(payload: &[u8]) -> Option<ServerError> {
    let mut fields = Fields(payload);
    (fields.u8()? == 0xFF).then_some(())?;
    parse_error_body(&mut fields, true)
}

/// The server's text, made safe for one line: no control characters, at most 200 chars.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The capabilities probe asks for, given what the server offers.
pub fn client_capabilities(server: u32, with_db: bool, tls: bool) -> u32 {
    let mut wanted = CLIENT_LONG_PASSWORD
        | CLIENT_LONG_FLAG
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH
        | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    if with_db {
        wanted |= CLIENT_CONNECT_WITH_DB;
    }
    if tls {
        wanted |= CLIENT_SSL;
    }
    wanted & server
}

/// The fixed start of a handshake response, which alone is the SSLRequest.
pub fn ssl_request(capabilities: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(&capabilities.to_le_bytes());
    out.extend_from_slice(&(MAX_PACKET as u32).to_le_bytes());
    out.push(CHARSET_UTF8MB4);
    out.extend_from_slice(&[0u8; 23]);
    out
}

/// HandshakeResponse41. `user` and `db` must not contain NUL (checked while parsing).
pub fn handshake_response(
    capabilities: u32,
    user: &str,
    auth: &[u8],
    db: Option<&str>,
    plugin: &str,
) -> Vec<u8> {
    let mut out = ssl_request(capabilities);
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    if capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        // Scrambles are at most 32 bytes, clear passwords are bounded by the caller.
        push_lenenc(&mut out, auth.len());
        out.extend_from_slice(auth);
    } else if capabilities & CLIENT_SECURE_CONNECTION != 0 {
        out.push(auth.len().min(255) as u8);
        out.extend_from_slice(&auth[..auth.len().min(255)]);
    } else {
        out.extend_from_slice(auth);
        out.push(0);
    }
    if let (Some(db), true) = (db, capabilities & CLIENT_CONNECT_WITH_DB != 0) {
        out.extend_from_slice(db.as_bytes());
        out.push(0);
    }
    if capabilities & CLIENT_PLUGIN_AUTH != 0 {
        out.extend_from_slice(plugin.as_bytes());
        out.push(0);
    }
    out
}

fn push_lenenc(out: &mut Vec<u8>, n: usize) {
    if n < 0xFB {
        out.push(n as u8);
    } else if n <= 0xFFFF {
        out.push(0xFC);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else {
        out.push(0xFD);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
    }
}

/// What the server answers during the login.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthReply {
    Ok,
    Error(ServerError),
    /// AuthSwitchRequest: use this plugin with this nonce.
    Switch {
        plugin: String,
        data: Vec<u8>,
    },
    /// AuthMoreData (caching_sha2_password's 0x03 / 0x04, a public key).
    More(Vec<u8>),
}

pub fn parse_auth_reply(payload: &[u8]) -> Option<AuthReply> {
    let mut fields = Fields(payload);
    Some(match fields.u8()? {
        0x00 => AuthReply::Ok,
        0xFF => AuthReply::Error(parse_error_body(&mut fields, true)?),
        0xFE => {
            let plugin = fields.nul_str();
            if plugin.is_empty() {
                // The pre-4.1 "old password" switch: nothing probe speaks.
                return Some(AuthReply::Switch {
                    plugin: "mysql_old_password".into(),
                    data: Vec::new(),
                });
            }
            let data = fields.rest();
            AuthReply::Switch {
                plugin: printable(plugin),
                data: data.strip_suffix(&[0]).unwrap_or(data).to_vec(),
            }
        }
        0x01 => AuthReply::More(fields.rest().to_vec()),
        _ => return None,
    })
}

/// Answer to a command (COM_PING): OK or ERR.
pub fn parse_ok_or_error(payload: &[u8]) -> Option<Result<(), ServerError>> {
    match payload.first()? {
        0x00 => Some(Ok(())),
        0xFF => parse_error(payload).map(Err),
        _ => None,
    }
}

/// An EOF packet (0xFE, shorter than 9 bytes), as the server ends column definitions and
/// rows when CLIENT_DEPRECATE_EOF is not asked for.
pub fn is_eof(payload: &[u8]) -> bool {
    payload.first() == Some(&0xFE) && payload.len() < 9
}

/// The first column of a text-protocol row: `Some(None)` for NULL.
pub fn first_column(payload: &[u8]) -> Option<Option<String>> {
    let mut fields = Fields(payload);
    fields
        .lenenc_str()
        .map(|value| value.map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB 10.11 greeting as sent on the wire (payload only).
    pub(crate) fn mariadb_greeting() -> Vec<u8> {
        let mut payload = vec![10];
        payload.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
        payload.extend_from_slice(&7u32.to_le_bytes());
        payload.extend_from_slice(b"abcdefgh\0");
        let caps: u32 = 0xF7FE
            | CLIENT_SSL
            | CLIENT_PLUGIN_AUTH
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
        payload.extend_from_slice(&(caps as u16).to_le_bytes());
        payload.push(45);
        payload.extend_from_slice(&2u16.to_le_bytes());
        payload.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        payload.push(21);
        payload.extend_from_slice(&[0; 10]);
        payload.extend_from_slice(b"ijklmnopqrst\0");
        payload.extend_from_slice(b"mysql_native_password\0");
        payload
    }

    #[test]
    fn greetings_parse() {
        let Some(First::Greeting(greeting)) = parse_greeting(&mariadb_greeting()) else {
            panic!("not a greeting");
        };
        assert_eq!(greeting.version, "5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!(greeting.scramble, b"abcdefghijklmnopqrst");
        assert_eq!(greeting.plugin, "mysql_native_password");
        assert_ne!(greeting.capabilities & CLIENT_SSL, 0);
    }

    #[test]
    fn an_error_instead_of_a_greeting() {
        let mut payload = vec![0xFF];
        payload.extend_from_slice(&1040u16.to_le_bytes());
        payload.extend_from_slice(b"Too many connections");
        assert_eq!(
            parse_greeting(&payload),
            Some(First::Error(ServerError {
                code: 1040,
                state: None,
                message: "Too many connections".into()
            }))
        );
        let mut with_state = vec![0xFF];
        with_state.extend_from_slice(&1129u16.to_le_bytes());
        with_state.extend_from_slice(b"#HY000Host 'x' is blocked");
        let Some(First::Error(error)) = parse_greeting(&with_state) else {
            panic!()
        };
        assert_eq!(error.state.as_deref(), Some("HY000"));
        assert_eq!(error.message, "Host 'x' is blocked");
    }

    #[test]
    fn garbage_is_not_a_greeting_and_never_panics() {
        assert_eq!(parse_greeting(b"HTTP/1.1 400 Bad Request\r\n"), None);
        assert_eq!(parse_greeting(b""), None);
        let greeting = mariadb_greeting();
        for cut in 0..greeting.len() {
            let _ = parse_greeting(&greeting[..cut]);
            let _ = parse_auth_reply(&greeting[..cut]);
            let _ = first_column(&greeting[..cut]);
        }
        assert!(parse_greeting(&greeting[..10]).is_none());
    }

    /// A poor man's fuzz run: random payloads through every parser, none may panic.
    #[test]
    fn random_bytes_never_panic() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let length = (next() % 96) as usize;
            let mut bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
            if let Some(first) = bytes.first_mut() {
                *first = [10, 0xFF, 0xFE, 0x01, 0x00, 0xFB, 0xFC, 0xFD][round % 8];
            }
            let _ = parse_greeting(&bytes);
            let _ = parse_auth_reply(&bytes);
            let _ = parse_ok_or_error(&bytes);
            let _ = first_column(&bytes);
            let _ = Fields(&bytes).lenenc_str();
            let mut budget = MAX_PACKET;
            let mut wire: &[u8] = &bytes;
            let _ = read_packet(&mut wire, &mut budget);
        }
    }

    #[test]
    fn framing_is_bounded() {
        let mut budget = 100;
        let mut wire: &[u8] = &[0xFF, 0xFF, 0xFF, 0];
        assert!(matches!(
            read_packet(&mut wire, &mut budget),
            Err(ReadError::TooLarge(_))
        ));
        let bytes = frame(3, b"hello");
        let mut wire: &[u8] = &bytes;
        assert_eq!(
            read_packet(&mut wire, &mut budget).unwrap(),
            (3, b"hello".to_vec())
        );
        assert_eq!(budget, 91);
        let mut small = 5;
        let mut wire: &[u8] = &bytes;
        assert!(matches!(
            read_packet(&mut wire, &mut small),
            Err(ReadError::OverBudget)
        ));
    }

    #[test]
    fn handshake_response_layout() {
        let caps = client_capabilities(u32::MAX, true, false);
        let packet =
            handshake_response(caps, "app", &[1, 2, 3], Some("db"), "mysql_native_password");
        assert_eq!(packet.len(), 32 + 4 + 4 + 3 + 22);
        assert_eq!(&packet[32..36], b"app\0");
        assert_eq!(&packet[36..40], &[3, 1, 2, 3]);
        assert_eq!(&packet[40..43], b"db\0");
        assert_eq!(caps & CLIENT_SSL, 0);
    }

    #[test]
    fn auth_replies_and_rows() {
        assert_eq!(parse_auth_reply(&[0, 0, 0, 2, 0]), Some(AuthReply::Ok));
        assert_eq!(
            parse_auth_reply(b"\xFEmysql_native_password\0nonce\0"),
            Some(AuthReply::Switch {
                plugin: "mysql_native_password".into(),
                data: b"nonce".to_vec()
            })
        );
        assert_eq!(
            parse_auth_reply(b"\x01\x04"),
            Some(AuthReply::More(vec![4]))
        );
        let mut denied = vec![0xFF];
        denied.extend_from_slice(&1045u16.to_le_bytes());
        denied.extend_from_slice(b"#28000Access denied");
        let Some(AuthReply::Error(error)) = parse_auth_reply(&denied) else {
            panic!()
        };
        assert_eq!(
            (error.code, error.message.as_str()),
            (1045, "Access denied")
        );
        assert_eq!(first_column(b"\x011\x012"), Some(Some("1".into())));
        assert_eq!(first_column(b"\xFB"), Some(None));
        assert_eq!(first_column(b"\x05ab"), None);
        assert!(is_eof(b"\xFE\0\0\x02\0"));
    }
}
