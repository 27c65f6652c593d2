//! The conversation after the greeting, over any `Read + Write` (a socket whose timeouts
//! are armed from the deadline before every call, or a byte script in the tests): the
//! login with its auth switches, COM_PING, one COM_QUERY's first value, COM_QUIT. Every
//! packet counts against one budget for the whole check, so no server can make probe grow.

use std::io::{self, Read, Write};

use super::auth;
use super::packet::{self, AuthReply, Greeting, ReadError, ServerError, CLIENT_CONNECT_WITH_DB};
use crate::deadline::Deadline;
use crate::outcome::Outcome;

/// What one check may read in all: a greeting, a login and a query's first row are far
/// smaller; the rest of a large result set is read and dropped up to this.
pub const BUDGET: usize = 4 * 1024 * 1024;

pub const LOGIN: &str = "during the login";
pub const GREETING: &str = "waiting for the server's greeting";
const PING: &str = "waiting for the reply to COM_PING";
const QUERY: &str = "during the query";

/// Who logs in, and how the connection is protected.
pub struct Login<'a> {
    pub user: &'a str,
    /// `None`: no password was supplied, and none is sent.
    pub password: Option<&'a str>,
    pub db: Option<&'a str>,
    /// TLS or a Unix socket: the password itself may be sent.
    pub secure: bool,
    /// Whether TLS is on (for the reasons).
    pub tls: bool,
}

/// Why a login did not succeed.
#[derive(Debug)]
pub enum LoginError {
    /// Unreachable, timed out, not MySQL: the outcome says which.
    Down(Outcome),
    /// The server answered with an error packet.
    Server(ServerError),
    /// The server is up and asks for something probe will not or cannot do: the reason.
    Unspoken(String),
}

impl From<Outcome> for LoginError {
    fn from(outcome: Outcome) -> Self {
        LoginError::Down(outcome)
    }
}

/// An I/O error as a verdict: TLS problems through `tls::describe`, timeouts as the
/// deadline's, the rest as short network reasons.
pub fn io_failure(error: io::Error, deadline: &Deadline, phase: &str) -> Outcome {
    crate::stream::failure(error, deadline, phase)
}

pub fn not_mysql(what: &str, phase: &str) -> Outcome {
    Outcome::unhealthy(format!("not a MySQL server? {what} {phase}"))
}

/// Reads one packet, naming what went wrong.
pub fn read(
    io: &mut impl Read,
    budget: &mut usize,
    deadline: &Deadline,
    phase: &str,
) -> Result<(u8, Vec<u8>), Outcome> {
    packet::read_packet(io, budget).map_err(|error| match error {
        ReadError::Io(error) => io_failure(error, deadline, phase),
        ReadError::TooLarge(length) => not_mysql(
            &format!(
                "a packet of {length} bytes (at most {} accepted)",
                packet::MAX_PACKET
            ),
            phase,
        ),
        ReadError::OverBudget => Outcome::unhealthy(format!(
            "the server sent more than {} MiB {phase}",
            BUDGET >> 20
        )),
    })
}

/// The greeting: the server's first packet, quoted when it is not MySQL's.
pub fn read_greeting(
    io: &mut impl Read,
    budget: &mut usize,
    deadline: &Deadline,
) -> Result<packet::First, Outcome> {
    let (seq, payload) = read(io, budget, deadline, GREETING)?;
    match packet::parse_greeting(&payload) {
        Some(first) if seq == 0 => Ok(first),
        _ => {
            let shown: String = String::from_utf8_lossy(&payload[..payload.len().min(16)])
                .chars()
                .take_while(|c| *c != '\r' && *c != '\n')
                .collect();
            Err(Outcome::unhealthy(format!(
                "not a MySQL server? unexpected greeting: {shown:?}"
            )))
        }
    }
}

/// A connection past the greeting (and TLS): packets with their sequence ids.
pub struct Session<S> {
    io: S,
    seq: u8,
    budget: usize,
    deadline: Deadline,
    /// Set after an I/O or protocol error: nothing more is sent.
    pub broken: bool,
}

impl<S: Read + Write> Session<S> {
    /// `seq`: the next sequence id (1 after the greeting, 2 after an SSLRequest).
    pub fn new(io: S, seq: u8, budget: usize, deadline: Deadline) -> Self {
        Session {
            io,
            seq,
            budget,
            deadline,
            broken: false,
        }
    }

    pub fn into_inner(self) -> S {
        self.io
    }

    fn send(&mut self, payload: &[u8], phase: &str) -> Result<(), Outcome> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        packet::write_packet(&mut self.io, seq, payload).map_err(|error| {
            self.broken = true;
            io_failure(error, &self.deadline, phase)
        })
    }

    fn receive(&mut self, phase: &str) -> Result<Vec<u8>, Outcome> {
        let received = read(&mut self.io, &mut self.budget, &self.deadline, phase);
        let (seq, payload) = received.inspect_err(|_| self.broken = true)?;
        if seq != self.seq {
            self.broken = true;
            return Err(not_mysql("packets out of order", phase));
        }
        self.seq = self.seq.wrapping_add(1);
        Ok(payload)
    }

    fn malformed(&mut self, phase: &str) -> Outcome {
        self.broken = true;
        not_mysql("malformed reply", phase)
    }

    /// The handshake response and whatever the server's auth plugins ask for.
    pub fn login(&mut self, greeting: &Greeting, login: &Login) -> Result<(), LoginError> {
        let password = login.password.unwrap_or_default();
        // A server whose first plugin probe does not know gets a native answer and
        // switches (as the mysql client does).
        let (mut plugin, first) =
            match auth::scramble_for(&greeting.plugin, password, &greeting.scramble) {
                Some(answer) => (greeting.plugin.clone(), answer),
                None => (
                    auth::NATIVE.to_string(),
                    auth::native_password(password, &greeting.scramble),
                ),
            };
        let capabilities =
            packet::client_capabilities(greeting.capabilities, login.db.is_some(), login.tls);
        if login.db.is_some() && capabilities & CLIENT_CONNECT_WITH_DB == 0 {
            return Err(LoginError::Unspoken(
                "the server cannot select a database at login".into(),
            ));
        }
        let response =
            packet::handshake_response(capabilities, login.user, &first, login.db, &plugin);
        self.send(&response, LOGIN)?;

        let mut switches = 0;
        loop {
            let payload = self.receive(LOGIN)?;
            let reply = packet::parse_auth_reply(&payload).ok_or_else(|| self.malformed(LOGIN))?;
            let answer = match reply {
                AuthReply::Ok => return Ok(()),
                AuthReply::Error(error) => {
                    self.broken = true;
                    return Err(LoginError::Server(error));
                }
                AuthReply::Switch { plugin: next, data } => {
                    switches += 1;
                    if switches > 2 {
                        return Err(self.malformed(LOGIN).into());
                    }
                    plugin = next;
                    self.switch_answer(&plugin, &data, login)?
                }
                AuthReply::More(data) if plugin == auth::CACHING_SHA2 => match data.as_slice() {
                    [auth::FAST_AUTH_OK] => continue,
                    [auth::FULL_AUTH] if login.secure => auth::clear(password),
                    [auth::FULL_AUTH] => {
                        self.broken = true;
                        return Err(LoginError::Unspoken(format!(
                            "{} full authentication needs TLS or the server's public key, \
                             and this connection has neither (ssl-mode=DISABLED or a server \
                             without TLS); probe does not speak RSA",
                            auth::CACHING_SHA2
                        )));
                    }
                    _ => return Err(self.malformed(LOGIN).into()),
                },
                AuthReply::More(_) => return Err(self.malformed(LOGIN).into()),
            };
            self.send(&answer, LOGIN)?;
        }
    }

    /// The answer to an AuthSwitchRequest for `plugin` with nonce `data`.
    fn switch_answer(
        &mut self,
        plugin: &str,
        data: &[u8],
        login: &Login,
    ) -> Result<Vec<u8>, LoginError> {
        let password = login.password.unwrap_or_default();
        if let Some(answer) = auth::scramble_for(plugin, password, data) {
            return Ok(answer);
        }
        self.broken = true;
        match plugin {
            auth::CLEAR | auth::SHA256_PASSWORD if login.secure => {
                self.broken = false;
                Ok(auth::clear(password))
            }
            auth::CLEAR | auth::SHA256_PASSWORD => Err(LoginError::Unspoken(format!(
                "the server asks for {plugin}, which sends the password itself: \
                 probe does that only over TLS or a Unix socket"
            ))),
            "client_ed25519" => Err(LoginError::Unspoken(format!(
                "the server asks for {plugin}, which probe does not speak \
                 (use mysql_native_password for the health-check user)"
            ))),
            other => Err(LoginError::Unspoken(format!(
                "the server asks for auth plugin {other}, which probe does not speak"
            ))),
        }
    }

    /// COM_PING: the server answers OK while it serves.
    pub fn ping(&mut self) -> Result<Result<(), ServerError>, Outcome> {
        self.seq = 0;
        self.send(&[0x0E], PING)?;
        let payload = self.receive(PING)?;
        packet::parse_ok_or_error(&payload).ok_or_else(|| self.malformed(PING))
    }

    /// COM_QUERY: the first column of the first row (`Ok(None)`: no rows; `Some(None)`:
    /// NULL). The rest of the result is read, so that the connection can be closed cleanly.
    pub fn first_value(
        &mut self,
        sql: &str,
    ) -> Result<Result<Option<Option<String>>, ServerError>, Outcome> {
        self.seq = 0;
        let mut command = vec![0x03];
        command.extend_from_slice(sql.as_bytes());
        self.send(&command, QUERY)?;
        let payload = self.receive(QUERY)?;
        match payload.first() {
            Some(0x00) => return Ok(Ok(None)),
            Some(0xFF) => {
                return packet::parse_error(&payload)
                    .map(Err)
                    .ok_or_else(|| self.malformed(QUERY))
            }
            _ => {}
        }
        let columns = packet::Fields(&payload)
            .lenenc()
            .filter(|count| (1..=4096).contains(count))
            .ok_or_else(|| self.malformed(QUERY))?;
        for _ in 0..columns {
            self.receive(QUERY)?;
        }
        if !packet::is_eof(&self.receive(QUERY)?) {
            return Err(self.malformed(QUERY));
        }
        let mut first = None;
        loop {
            let row = self.receive(QUERY)?;
            if packet::is_eof(&row) {
                return Ok(Ok(first));
            }
            if row.first() == Some(&0xFF) {
                return packet::parse_error(&row)
                    .map(Err)
                    .ok_or_else(|| self.malformed(QUERY));
            }
            if first.is_none() {
                first = Some(packet::first_column(&row).ok_or_else(|| self.malformed(QUERY))?);
            }
        }
    }

    /// COM_QUIT: the server closes without logging an aborted connection.
    pub fn quit(&mut self) {
        if !self.broken {
            self.seq = 0;
            let _ = self.send(&[0x01], "closing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::packet::frame;
    use std::time::Duration;

    /// The server's side as bytes; what the client writes is kept.
    struct Script {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn session(packets: &[(u8, &[u8])]) -> Session<Script> {
        let mut input = Vec::new();
        for (seq, payload) in packets {
            input.extend(frame(*seq, payload));
        }
        let script = Script {
            input: io::Cursor::new(input),
            output: Vec::new(),
        };
        Session::new(script, 1, BUDGET, Deadline::start(Duration::from_secs(5)))
    }

    fn greeting(plugin: &str) -> Greeting {
        Greeting {
            version: "8.0.36".into(),
            capabilities: u32::MAX,
            scramble: b"abcdefghijklmnopqrst".to_vec(),
            plugin: plugin.into(),
        }
    }

    fn login<'a>(password: Option<&'a str>, secure: bool) -> Login<'a> {
        Login {
            user: "app",
            password,
            db: None,
            secure,
            tls: secure,
        }
    }

    /// The client's packets: (seq, payload).
    fn sent(session: Session<Script>) -> Vec<(u8, Vec<u8>)> {
        let out = session.into_inner().output;
        let mut wire: &[u8] = &out;
        let mut budget = usize::MAX;
        let mut packets = Vec::new();
        while !wire.is_empty() {
            packets.push(packet::read_packet(&mut wire, &mut budget).unwrap());
        }
        packets
    }

    #[test]
    fn caching_sha2_fast_then_full_path() {
        let mut fast = session(&[(2, b"\x01\x03"), (3, b"\x00\x00\x00\x02\x00")]);
        fast.login(&greeting(auth::CACHING_SHA2), &login(Some("pw"), false))
            .unwrap();
        let packets = sent(fast);
        assert_eq!(packets.len(), 1);
        assert!(packets[0].1.ends_with(b"caching_sha2_password\0"));

        let mut full = session(&[(2, b"\x01\x04"), (4, b"\x00\x00\x00\x02\x00")]);
        full.login(&greeting(auth::CACHING_SHA2), &login(Some("pw"), true))
            .unwrap();
        let packets = sent(full);
        assert_eq!(packets[1], (3, b"pw\0".to_vec()));

        let mut plain = session(&[(2, b"\x01\x04")]);
        let Err(LoginError::Unspoken(reason)) =
            plain.login(&greeting(auth::CACHING_SHA2), &login(Some("pw"), false))
        else {
            panic!("the password was sent in clear");
        };
        assert!(
            reason.contains("needs TLS or the server's public key"),
            "{reason}"
        );
        assert_eq!(sent(plain).len(), 1);
    }

    #[test]
    fn auth_switch_to_native_and_clear_text_only_when_secure() {
        let mut switch = session(&[
            (2, b"\xFEmysql_native_password\0ABCDEFGHIJKLMNOPQRST\0"),
            (4, b"\x00\x00\x00\x02\x00"),
        ]);
        switch
            .login(&greeting(auth::CACHING_SHA2), &login(Some("pw"), false))
            .unwrap();
        let packets = sent(switch);
        assert_eq!(
            packets[1].1,
            auth::native_password("pw", b"ABCDEFGHIJKLMNOPQRST")
        );

        let mut clear = session(&[(2, b"\xFEmysql_clear_password\0")]);
        assert!(matches!(
            clear.login(&greeting(auth::NATIVE), &login(Some("pw"), false)),
            Err(LoginError::Unspoken(_))
        ));
        assert_eq!(sent(clear).len(), 1);
    }

    #[test]
    fn refused_logins_and_garbage() {
        let mut denied = b"\xFF\x15\x04#28000Access denied for user 'app'".to_vec();
        let mut refused = session(&[(2, &denied)]);
        let Err(LoginError::Server(error)) =
            refused.login(&greeting(auth::NATIVE), &login(None, false))
        else {
            panic!()
        };
        assert_eq!(error.code, 1045);
        // No password, so no scramble was sent.
        assert!(sent(refused)[0]
            .1
            .ends_with(b"app\0\0mysql_native_password\0"));

        denied[0] = b'H';
        let mut garbage = session(&[(2, &denied)]);
        assert!(matches!(
            garbage.login(&greeting(auth::NATIVE), &login(None, false)),
            Err(LoginError::Down(_))
        ));
        let mut out_of_order = session(&[(7, b"\x00\x00\x00")]);
        let Err(LoginError::Down(outcome)) =
            out_of_order.login(&greeting(auth::NATIVE), &login(None, false))
        else {
            panic!()
        };
        assert!(outcome.detail.contains("out of order"), "{outcome:?}");
        let mut silent = session(&[]);
        let Err(LoginError::Down(outcome)) =
            silent.login(&greeting(auth::NATIVE), &login(None, false))
        else {
            panic!()
        };
        assert_eq!(
            outcome.detail,
            "connection closed by the server during the login"
        );
    }

    #[test]
    fn query_results() {
        let mut query = session(&[
            (1, b"\x01"),
            (
                2,
                b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0",
            ),
            (3, b"\xFE\0\0\x02\0"),
            (4, b"\x011"),
            (5, b"\x012"),
            (6, b"\xFE\0\0\x02\0"),
        ]);
        assert_eq!(
            query.first_value("select 1").unwrap().unwrap(),
            Some(Some("1".into()))
        );
        assert_eq!(sent(query)[0], (0, b"\x03select 1".to_vec()));

        let mut no_rows = session(&[(1, b"\x00\x00\x00\x02\x00")]);
        assert_eq!(no_rows.first_value("do 1").unwrap().unwrap(), None);
        let mut failed = session(&[(1, b"\xFF\x7a\x04#42S02Table 'x.y' doesn't exist")]);
        assert_eq!(
            failed
                .first_value("select * from y")
                .unwrap()
                .unwrap_err()
                .code,
            1146
        );
        let mut ping = session(&[(1, b"\x00\x00\x00\x02\x00")]);
        assert_eq!(ping.ping().unwrap(), Ok(()));
    }
}
