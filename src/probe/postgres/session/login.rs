//! Authentication: the AuthenticationRequest exchange between the startup message and
//! AuthenticationOk. Which answer to which request (cleartext, MD5, SCRAM-SHA-256 with or
//! without channel binding), the requests probe does not answer (no password given: none
//! is sent, so the server logs nothing; Kerberos, GSSAPI, SSPI: named and refused), and
//! libpq 16's `require_auth` and `channel_binding` rules, checked at each request and at
//! AuthenticationOk.
//!
//! Apart from [`super::auth`], which holds the cryptography (SCRAM, MD5) and is compared
//! with postgres-protocol byte for byte: this file is the conversation, so that every rule
//! a login must pass reads in one place.

use super::auth;
use super::message::{frame, password_message, sasl_initial_response, Fields};
use super::{Conn, Failure, STARTUP};
use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::probe::postgres::settings::{AuthMethod, ChannelBinding, Settings};

/// What the server may send during the login.
const STARTUP_TAGS: &[u8] = b"RENv";

impl Conn {
    /// `None` without TLS; over TLS, the tls-server-end-point hash of the server's
    /// certificate, if its signature algorithm has one.
    fn server_end_point(&self) -> Option<Option<Vec<u8>>> {
        #[cfg(feature = "tls")]
        return self.stream.peer_certificates().map(|chain| {
            chain
                .first()
                .and_then(|cert| auth::end_point_hash(cert.as_ref()))
        });
        #[cfg(not(feature = "tls"))]
        None
    }

    /// The login the server asks for, up to AuthenticationOk.
    ///
    /// As strict as tokio-postgres and libpq 16: once SCRAM has started, AuthenticationOk
    /// counts only after the server's signature was verified; `require_auth` and
    /// `channel_binding` are checked at each request and at AuthenticationOk.
    pub(super) fn authenticate(
        &mut self,
        settings: &Settings,
        deadline: &Deadline,
    ) -> Result<(), Failure> {
        let mut scram: Option<auth::Scram> = None;
        let mut used = AuthMethod::None;
        let mut bound = false;
        loop {
            let (tag, body) = self.message(STARTUP_TAGS, deadline, STARTUP)?;
            let mut fields = Fields(&body);
            match tag {
                b'R' => {}
                b'E' => return Err(self.startup_error(&body, settings, scram.is_some())),
                // NoticeResponse, NegotiateProtocolVersion.
                _ => continue,
            }
            let code = fields.i32().ok_or_else(|| self.malformed(STARTUP))?;
            let password = || settings.password.as_deref().ok_or(Failure::PasswordNeeded);
            let method = match code {
                0 => None,
                3 => Some(AuthMethod::Password),
                5 => Some(AuthMethod::Md5),
                7 | 8 => Some(AuthMethod::Gss),
                9 => Some(AuthMethod::Sspi),
                10 => Some(AuthMethod::ScramSha256),
                _ => None,
            };
            if let Some(method) = method {
                self.allowed(settings, method)?;
                used = method;
            }
            let answer = match code {
                0 => {
                    if scram.as_ref().is_some_and(|exchange| !exchange.proven()) {
                        self.broken = true;
                        return Err(Outcome::fatal(
                            "server did not prove it knows the password: AuthenticationOk \
                         before a verified SCRAM server signature",
                        )
                        .into());
                    }
                    self.allowed(settings, used)?;
                    if settings.channel_binding == ChannelBinding::Require && !bound {
                        self.broken = true;
                        return Err(Outcome::fatal(
                            "channel_binding=require, but the server authenticated the client \
                         without channel binding",
                        )
                        .into());
                    }
                    return Ok(());
                }
                3 => password_message(password()?.as_bytes())?,
                5 => {
                    let salt = fields.take(4).ok_or_else(|| self.malformed(STARTUP))?;
                    password_message(&auth::md5_password(&settings.user, password()?, salt))?
                }
                10 => {
                    let mut offered = Vec::new();
                    while let Some(mechanism) = fields.str().filter(|name| !name.is_empty()) {
                        offered.push(mechanism);
                    }
                    let binding = self.binding(settings, &offered)?;
                    let mechanism = match binding {
                        auth::Binding::EndPoint(_) => auth::SCRAM_SHA_256_PLUS,
                        _ => auth::SCRAM_SHA_256,
                    };
                    if !offered.contains(&mechanism) {
                        return Err(Failure::Rejected(format!(
                            "the server offers SASL {} only, and probe speaks {}",
                            offered.join(", "),
                            auth::SCRAM_SHA_256
                        )));
                    }
                    bound = mechanism == auth::SCRAM_SHA_256_PLUS;
                    let (exchange, first) =
                        auth::Scram::start("", password()?, binding).map_err(Outcome::unhealthy)?;
                    scram = Some(exchange);
                    sasl_initial_response(mechanism, &first)
                }
                11 => match &mut scram {
                    Some(exchange) => {
                        let answer =
                            exchange
                                .respond(fields.rest(), deadline)
                                .map_err(|reason| {
                                    self.broken = true;
                                    Outcome::unhealthy(format!("SCRAM login: {reason}"))
                                })?;
                        frame(b'p', &answer)
                    }
                    None => return Err(self.malformed(STARTUP).into()),
                },
                12 => match &mut scram {
                    Some(exchange) => {
                        exchange.verify(fields.rest()).map_err(|reason| {
                            self.broken = true;
                            Outcome::fatal(format!(
                                "server did not prove it knows the password: {reason}"
                            ))
                        })?;
                        continue;
                    }
                    None => return Err(self.malformed(STARTUP).into()),
                },
                2 | 6 | 7 | 8 | 9 => {
                    return Err(Failure::Rejected(format!(
                        "the server asks for {} authentication, which probe does not speak",
                        match code {
                            2 => "Kerberos V5",
                            6 => "SCM credential",
                            9 => "SSPI",
                            _ => "GSSAPI",
                        }
                    )))
                }
                _ => return Err(self.malformed(STARTUP).into()),
            };
            self.send(&answer, deadline, STARTUP)?;
        }
    }

    /// `require_auth`: may the server authenticate this way? (libpq 16's rule.)
    fn allowed(&mut self, settings: &Settings, method: AuthMethod) -> Result<(), Failure> {
        match &settings.require_auth {
            Some(required) if !required.allows(method) => {
                self.broken = true;
                let what = match method {
                    AuthMethod::None => "authenticated the client without asking for a password",
                    AuthMethod::Password => "asked for a cleartext password",
                    AuthMethod::Md5 => "asked for an MD5 password",
                    AuthMethod::ScramSha256 => "asked for SCRAM-SHA-256",
                    AuthMethod::Gss => "asked for GSSAPI",
                    AuthMethod::Sspi => "asked for SSPI",
                };
                Err(
                    Outcome::fatal(format!("require_auth={}: the server {what}", required.text))
                        .into(),
                )
            }
            _ => Ok(()),
        }
    }

    /// The channel binding for a SCRAM exchange (libpq's channel_binding rules).
    fn binding(&mut self, settings: &Settings, offered: &[&str]) -> Result<auth::Binding, Failure> {
        let plus = offered.contains(&auth::SCRAM_SHA_256_PLUS);
        let binding = match (settings.channel_binding, self.server_end_point()) {
            (ChannelBinding::Disable, _) | (_, None) => auth::Binding::None,
            (_, Some(Some(hash))) if plus => auth::Binding::EndPoint(hash),
            (_, Some(None)) if plus => auth::Binding::None,
            (_, Some(_)) => auth::Binding::NotOffered,
        };
        if settings.channel_binding == ChannelBinding::Require
            && !matches!(binding, auth::Binding::EndPoint(_))
        {
            self.broken = true;
            let why = match self.server_end_point() {
                None => "the connection is not TLS",
                Some(_) if !plus => "the server does not offer SCRAM-SHA-256-PLUS",
                Some(_) => {
                    "the server certificate's signature algorithm has no tls-server-end-point hash"
                }
            };
            return Err(Outcome::fatal(format!("channel_binding=require, but {why}")).into());
        }
        Ok(binding)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    #[cfg(feature = "tls")]
    use super::super::Server;
    use super::super::Session;
    use super::*;
    #[cfg(feature = "tls")]
    use crate::probe::postgres::settings::{connection_settings, Overrides};
    use std::time::Duration;

    #[test]
    fn md5_login_then_a_query_then_terminate() {
        let mut md5_request = 5i32.to_be_bytes().to_vec();
        md5_request.extend_from_slice(b"salt");
        let mut password = auth::md5_password("u", "pw", b"salt");
        password.push(0);
        let mut script = vec![backend(b'R', &md5_request), Step::Expect(b'p', password)];
        script.extend(ready());
        script.extend([
            Step::Expect(b'Q', b"select 1\0".to_vec()),
            backend(
                b'T',
                b"\0\x01?column?\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
            ),
            backend(b'D', b"\0\x01\0\0\0\x011"),
            backend(b'D', b"\0\x01\0\0\0\x012"),
            backend(b'C', b"SELECT 2\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'Q', b"select null\0".to_vec()),
            backend(b'D', b"\0\x01\xff\xff\xff\xff"),
            backend(b'Z', b"I"),
            Step::Expect(b'X', Vec::new()),
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let peer = fake(script);
        let session = server(peer.port, Some("pw")).connect(&deadline).unwrap();
        assert_eq!(
            session.first_value("select 1", &deadline).unwrap(),
            Some(Some("1".into()))
        );
        assert_eq!(
            session.first_value("select null", &deadline).unwrap(),
            Some(None)
        );
        assert_eq!(session.announced_pid(), Some(4242));
        session.close(&deadline);
        peer.done();
    }

    #[test]
    fn cleartext_is_not_answered_without_a_password() {
        let peer = fake(vec![backend(b'R', &3i32.to_be_bytes()), Step::ExpectEof]);
        let deadline = Deadline::start(Duration::from_secs(5));
        assert!(matches!(
            server(peer.port, None).open(&deadline),
            Err(Failure::PasswordNeeded)
        ));
        peer.done();
        let mut script = vec![
            backend(b'R', &3i32.to_be_bytes()),
            Step::Expect(b'p', b"pw\0".to_vec()),
        ];
        script.extend(ready());
        script.push(Step::Expect(b'X', Vec::new()));
        let peer = fake(script);
        let session = server(peer.port, Some("pw")).open(&deadline);
        drop(session.unwrap());
        peer.done();
    }

    fn sasl_offer(mechanisms: &[u8]) -> Step {
        let mut body = 10i32.to_be_bytes().to_vec();
        body.extend_from_slice(mechanisms);
        backend(b'R', &body)
    }

    /// AuthenticationSASLContinue for the client's SASLInitialResponse: its nonce, extended.
    fn server_first(initial: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(initial);
        let nonce = text.split_once(",r=").unwrap().1;
        let mut body = 11i32.to_be_bytes().to_vec();
        body.extend_from_slice(format!("r={nonce}srv,s=c2FsdHNhbHQ=,i=4096").as_bytes());
        frame(b'R', &body)
    }

    fn fatal_reason(result: Result<Session, Failure>) -> String {
        match result {
            Err(Failure::Down(outcome)) if outcome.is_fatal() => outcome.detail,
            Err(other) => panic!("not fatal: {other:?}"),
            Ok(_) => panic!("logged in"),
        }
    }

    /// A server that skips SASLFinal (or signs wrongly) has not proven it knows the
    /// password: the login is refused, as tokio-postgres does.
    #[test]
    fn scram_without_the_server_signature_is_refused() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let mut skipping = vec![
            sasl_offer(b"SCRAM-SHA-256\0\0"),
            Step::Reply(b'p', server_first),
            Step::ExpectAny(b'p'),
        ];
        skipping.extend([backend(b'R', &0i32.to_be_bytes()), Step::ExpectEof]);
        let peer = fake(skipping);
        let reason = fatal_reason(server(peer.port, Some("pw")).open(&deadline));
        assert!(
            reason.starts_with("server did not prove it knows the password"),
            "{reason}"
        );
        peer.done();

        let mut wrong = 12i32.to_be_bytes().to_vec();
        wrong.extend_from_slice(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        let forged = vec![
            sasl_offer(b"SCRAM-SHA-256\0\0"),
            Step::Reply(b'p', server_first),
            Step::ExpectAny(b'p'),
            backend(b'R', &wrong),
            Step::ExpectEof,
        ];
        let peer = fake(forged);
        let reason = fatal_reason(server(peer.port, Some("pw")).open(&deadline));
        assert!(reason.contains("signature is wrong"), "{reason}");
        peer.done();
    }

    /// Over plain TCP the client says "n,," (no binding), and channel_binding=require
    /// refuses before sending anything.
    #[test]
    fn channel_binding_needs_tls_and_plus() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let peer = fake(vec![
            sasl_offer(b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
            Step::ExpectEof,
        ]);
        let required = server_with(peer.port, Some("pw"), "&channel_binding=require");
        let reason = fatal_reason(required.open(&deadline));
        assert_eq!(
            reason,
            "channel_binding=require, but the connection is not TLS"
        );
        peer.done();

        // Trust: no exchange at all, so no binding either.
        let peer = fake(vec![backend(b'R', &0i32.to_be_bytes()), Step::ExpectEof]);
        let required = server_with(peer.port, Some("pw"), "&channel_binding=require");
        let reason = fatal_reason(required.open(&deadline));
        assert!(reason.contains("without channel binding"), "{reason}");
        peer.done();

        let peer = fake(vec![
            sasl_offer(b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
            Step::Reply(b'p', |initial| {
                assert!(initial.starts_with(b"SCRAM-SHA-256\0"), "{initial:?}");
                assert_eq!(&initial[18..22], b"n,,n", "{initial:?}");
                frame(b'E', b"SFATAL\0VFATAL\0C28P01\0Mno\0\0")
            }),
        ]);
        let _ = server(peer.port, Some("pw")).open(&deadline);
        peer.done();
    }

    /// A self-signed certificate for 127.0.0.1 (DER) and its PKCS#8 key: ECDSA P-256 with
    /// SHA-256 (a tls-server-end-point hash) or Ed25519 (none: RFC 5929 names no hash).
    #[cfg(feature = "tls")]
    fn identity(ed25519: bool) -> (Vec<u8>, Vec<u8>) {
        let key = if ed25519 {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap()
        } else {
            rcgen::KeyPair::generate().unwrap()
        };
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }

    /// sslmode=require (no verification) with `params`, against a TLS fake.
    #[cfg(feature = "tls")]
    fn over_tls(port: u16, params: &str) -> Server {
        let url = format!("postgres://u:pw@127.0.0.1:{port}/db?sslmode=require{params}");
        Server::new(connection_settings(Some(&url), &Overrides::default(), &|_| None).unwrap())
            .unwrap()
    }

    /// The SASLInitialResponse's mechanism and the start of its client-first message (the
    /// GS2 header says how the client binds), then the server gives up.
    #[cfg(feature = "tls")]
    fn says_mechanism_and_header(initial: &[u8], mechanism: &str, header: &str) -> Vec<u8> {
        let (name, rest) = initial.split_at(initial.iter().position(|&b| b == 0).unwrap());
        assert_eq!(String::from_utf8_lossy(name), mechanism);
        // After the name: its NUL and the client-first message's length (4 bytes).
        let first = String::from_utf8_lossy(&rest[5..]);
        assert!(first.starts_with(&format!("{header}n=,r=")), "{first}");
        frame(b'E', b"SFATAL\0VFATAL\0C28P01\0Mno\0\0")
    }

    /// libpq's channel_binding over TLS: prefer binds when the server offers -PLUS and the
    /// certificate has an end-point hash, says "y,," when TLS is up but -PLUS is not
    /// offered (so a server that did offer it sees a downgrade), and "n,," when binding is
    /// disabled or the certificate has no hash; require refuses, naming why.
    #[cfg(feature = "tls")]
    #[test]
    fn channel_binding_over_tls_follows_what_the_server_offers() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let both = b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
        let plain_only = b"SCRAM-SHA-256\0\0";
        type Check = fn(&[u8]) -> Vec<u8>;
        let cases: [(bool, &[u8], &str, Check); 5] = [
            (false, both, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,")
            }),
            (false, plain_only, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "y,,")
            }),
            (false, both, "&channel_binding=disable", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "n,,")
            }),
            (true, both, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "n,,")
            }),
            (true, plain_only, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "y,,")
            }),
        ];
        for (ed25519, offered, params, check) in cases {
            let peer = fake_tls(
                identity(ed25519),
                vec![sasl_offer(offered), Step::Reply(b'p', check)],
            );
            let result = over_tls(peer.port, params).open(&deadline);
            assert!(matches!(result, Err(Failure::Rejected(_))), "{params}");
            peer.done();
        }
        for (ed25519, offered, why) in [
            (
                false,
                &plain_only[..],
                "the server does not offer SCRAM-SHA-256-PLUS",
            ),
            (
                true,
                &both[..],
                "the server certificate's signature algorithm has no tls-server-end-point hash",
            ),
        ] {
            let peer = fake_tls(
                identity(ed25519),
                vec![sasl_offer(offered), Step::ExpectEof],
            );
            let result = over_tls(peer.port, "&channel_binding=require").open(&deadline);
            assert_eq!(
                fatal_reason(result),
                format!("channel_binding=require, but {why}")
            );
            peer.done();
        }
    }

    /// Kerberos, SCM credentials, GSSAPI and SSPI are named and refused (the server is up
    /// but probe cannot log in): nothing is answered. require_auth sees MD5, GSSAPI and
    /// SSPI requests too.
    #[test]
    fn logins_probe_does_not_speak_are_named() {
        let deadline = Deadline::start(Duration::from_secs(5));
        for (code, name) in [
            (2i32, "Kerberos V5"),
            (6, "SCM credential"),
            (7, "GSSAPI"),
            (8, "GSSAPI"),
            (9, "SSPI"),
        ] {
            let peer = fake(vec![backend(b'R', &code.to_be_bytes()), Step::ExpectEof]);
            match server(peer.port, Some("pw")).open(&deadline) {
                Err(Failure::Rejected(reason)) => assert_eq!(
                    reason,
                    format!(
                        "the server asks for {name} authentication, which probe does not speak"
                    )
                ),
                other => panic!("code {code}: {:?}", other.err()),
            }
            peer.done();
        }
        for (code, says) in [
            (5i32, "asked for an MD5 password"),
            (7, "asked for GSSAPI"),
            (8, "asked for GSSAPI"),
            (9, "asked for SSPI"),
        ] {
            let mut body = code.to_be_bytes().to_vec();
            body.extend_from_slice(b"salt");
            let peer = fake(vec![backend(b'R', &body), Step::ExpectEof]);
            let params = "&require_auth=scram-sha-256";
            let reason = fatal_reason(server_with(peer.port, Some("pw"), params).open(&deadline));
            assert_eq!(
                reason,
                format!("require_auth=scram-sha-256: the server {says}")
            );
            peer.done();
        }
    }

    #[test]
    fn require_auth_refuses_what_it_does_not_list() {
        let deadline = Deadline::start(Duration::from_secs(5));
        for (params, request, says) in [
            (
                "&require_auth=scram-sha-256",
                3i32,
                "the server asked for a cleartext password",
            ),
            (
                "&require_auth=!password,!md5",
                3,
                "the server asked for a cleartext password",
            ),
            (
                "&require_auth=password",
                10,
                "the server asked for SCRAM-SHA-256",
            ),
            (
                "&require_auth=scram-sha-256",
                0,
                "without asking for a password",
            ),
            ("&require_auth=!none", 0, "without asking for a password"),
        ] {
            let mut body = request.to_be_bytes().to_vec();
            if request == 10 {
                body.extend_from_slice(b"SCRAM-SHA-256\0\0");
            }
            // Nothing is answered to a request require_auth refuses.
            let peer = fake(vec![backend(b'R', &body), Step::ExpectEof]);
            let reason = fatal_reason(server_with(peer.port, Some("pw"), params).open(&deadline));
            assert!(reason.contains(says), "{params}: {reason}");
            assert!(reason.starts_with("require_auth="), "{reason}");
            peer.done();
        }
        // Allowed: trust with none listed, cleartext with !md5.
        for params in ["&require_auth=none,scram-sha-256", "&require_auth=!md5"] {
            let mut script = if params.contains("md5") {
                vec![
                    backend(b'R', &3i32.to_be_bytes()),
                    Step::Expect(b'p', b"pw\0".to_vec()),
                ]
            } else {
                Vec::new()
            };
            script.extend(ready());
            script.push(Step::Expect(b'X', Vec::new()));
            let peer = fake(script);
            let session = server_with(peer.port, Some("pw"), params).open(&deadline);
            drop(session.unwrap());
            peer.done();
        }
    }
}
