//! Real HTTP and HTTPS servers on free ports (one thread per connection, stopped on Drop).
//! The hostile peers a real server cannot be made to be (one that never answers, one that
//! answers a byte at a time, one that sends garbage) are scripted with support/peer.rs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::pki::Pem;

/// What the handler sees of a request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// TLS settings of an HTTPS server.
pub struct Tls {
    pub cert: &'static Pem,
    /// Require a client certificate signed by this CA.
    pub client_ca: Option<&'static Pem>,
}

pub struct Server {
    pub port: u16,
    _accepting: Accepting,
}

impl Server {
    pub fn http(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
        Server::start(Arc::new(handler), None)
    }

    pub fn https(
        tls: Tls,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Server {
        Server::start(Arc::new(handler), Some(Arc::new(server_config(&tls))))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn start(handler: Handler, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let accepting = Accepting::start(move |stream| {
            let _ = match &tls {
                Some(config) => match rustls::ServerConnection::new(config.clone()) {
                    Ok(connection) => serve(rustls::StreamOwned::new(connection, stream), &handler),
                    Err(_) => Ok(()),
                },
                None => serve(stream, &handler),
            };
        });
        Server {
            port: accepting.port,
            _accepting: accepting,
        }
    }
}

/// Serves one request on a connection, then closes it.
fn serve<S: Read + Write>(stream: S, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if method == "CONNECT" {
        // A proxy tunnel: accept it, then serve the tunnelled request ourselves.
        let mut stream = reader.into_inner();
        stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        return serve_tunnelled(stream, handler, path);
    }
    let request = Request {
        method,
        path,
        headers,
    };
    let length = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let response = handler(&request);
    let mut stream = reader.into_inner();
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

fn serve_tunnelled<S: Read + Write>(
    stream: S,
    handler: &Handler,
    authority: String,
) -> std::io::Result<()> {
    let tagged: Handler = {
        let handler = handler.clone();
        Arc::new(move |request: &Request| {
            let mut request = request.clone();
            request.headers.push(("x-tunnel".into(), authority.clone()));
            handler(&request)
        })
    };
    serve(stream, &tagged)
}

fn server_config(tls: &Tls) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert.cert_pem.as_bytes())
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_slice(tls.cert.key_pem.as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder.with_single_cert(certs, key).unwrap()
}

/// An accept loop on its own port, one thread per connection, until dropped.
struct Accepting {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Accepting {
    /// Runs `conduct` on every accepted connection, each on its own thread.
    fn start(conduct: impl Fn(TcpStream) + Send + Sync + Clone + 'static) -> Accepting {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let conduct = conduct.clone();
                    std::thread::spawn(move || conduct(stream));
                }
            }
        });
        Accepting { port, stop }
    }
}

impl Drop for Accepting {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// An HTTP server on a Unix socket at `path`, for `--unix-socket`.
pub fn unix_server(
    path: &std::path::Path,
    handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let handler: Handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || serve(stream, &handler));
        }
    });
}
