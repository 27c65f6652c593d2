//! Kafka's wire protocol, as far as `probe kafka` speaks it: ApiVersions, SaslHandshake,
//! SaslAuthenticate and Metadata requests, and parsers for their replies. Pure functions
//! over bytes, no I/O: every length is checked against what is left of the reply, every
//! array's count against the bytes that could hold it, and a reply is at most
//! [`MAX_REPLY`] bytes, so a hostile broker can neither make probe allocate beyond the
//! reply's size nor read past it (fuzzed: fuzz/fuzz_targets/kafka.rs).
//!
//! The layout follows Apache Kafka's message schemas (clients/src/main/resources/common/
//! message/*.json): fixed-width big-endian integers, `int16`-length strings and `int32`-count
//! arrays, and from the "flexible" versions on (Metadata v9, SaslAuthenticate v2,
//! ApiVersions v3) compact strings and arrays (unsigned varint length + 1) with tagged
//! fields, which are skipped. Requests carry header v1 (v2 when flexible: an empty tag
//! buffer after the client id); replies header v0 (v1 when flexible), except ApiVersions,
//! whose reply header is v0 at every version so that a client can read an old broker's
//! refusal.

/// The largest reply probe reads: a Metadata reply for a few named topics is a few KiB;
/// one for a cluster of hundreds of brokers some tens of KiB.
pub const MAX_REPLY: usize = 1 << 20;

/// The client id every request carries (brokers log it).
pub const CLIENT_ID: &str = "probe";

/// API keys.
pub const METADATA: i16 = 3;
pub const SASL_HANDSHAKE: i16 = 17;
pub const API_VERSIONS: i16 = 18;
pub const SASL_AUTHENTICATE: i16 = 36;

/// Error codes probe tells apart.
pub const NONE: i16 = 0;
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const LEADER_NOT_AVAILABLE: i16 = 5;
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const ILLEGAL_SASL_STATE: i16 = 34;
pub const UNSUPPORTED_VERSION: i16 = 35;

/// More brokers or topics than this in one reply is not a cluster probe can judge.
const MAX_ENTRIES: usize = 4096;
/// Strings a reply holds (hosts, topic names, messages) are cut to this many bytes when
/// they are kept.
const MAX_KEPT: usize = 256;

/// The name of an error code, for reasons: `UNKNOWN_TOPIC_OR_PARTITION`.
pub fn error_name(code: i16) -> &'static str {
    match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        9 => "REPLICA_NOT_AVAILABLE",
        17 => "INVALID_TOPIC_EXCEPTION",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        56 => "KAFKA_STORAGE_ERROR",
        58 => "SASL_AUTHENTICATION_FAILED",
        72 => "LISTENER_NOT_FOUND",
        _ => "an unknown error",
    }
}

/// `LEADER_NOT_AVAILABLE (error 5)`.
pub fn describe_error(code: i16) -> String {
    format!("{} (error {code})", error_name(code))
}

/// Whether the request header of `api_key` at `version` is v2 (and its reply header v1):
/// the flexible versions.
pub fn flexible(api_key: i16, version: i16) -> bool {
    match api_key {
        METADATA => version >= 9,
        API_VERSIONS => version >= 3,
        SASL_AUTHENTICATE => version >= 2,
        _ => false,
    }
}

/// A whole request: size, header (v1, or v2 when flexible) and body.
pub fn request(api_key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0; 4];
    out.extend_from_slice(&api_key.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&correlation_id.to_be_bytes());
    // The client id stays a plain nullable string in header v2 too.
    put_string(&mut out, CLIENT_ID);
    if flexible(api_key, version) {
        out.push(0);
    }
    out.extend_from_slice(body);
    let size = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&size.to_be_bytes());
    out
}

/// The length of the reply at the start of `buffer` (its 4-byte size included), once its
/// size has arrived; an error for a size no reply probe asks for can have.
pub fn frame_len(buffer: &[u8]) -> Result<Option<usize>, String> {
    let Some(size) = buffer.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
    match usize::try_from(size) {
        Ok(size) if (4..=MAX_REPLY).contains(&size) => Ok(Some(size + 4)),
        _ if size > 0 => Err(format!(
            "the reply announces {size} bytes (probe reads at most {MAX_REPLY}): not a Kafka broker?"
        )),
        _ => Err(format!(
            "the reply announces {size} bytes: not a Kafka broker?"
        )),
    }
}

/// The body of the reply `frame` (as [`frame_len`] measured it) to the request
/// `correlation_id` of `api_key` at `version`, its header checked and skipped.
pub fn reply_body(
    frame: &[u8],
    api_key: i16,
    version: i16,
    correlation_id: i32,
) -> Result<Reader<'_>, String> {
    let mut reader = Reader::new(frame.get(4..).unwrap_or_default());
    let id = reader.i32()?;
    if id != correlation_id {
        return Err(format!(
            "the reply is for request {id}, not {correlation_id}: not a Kafka broker?"
        ));
    }
    if api_key != API_VERSIONS && flexible(api_key, version) {
        reader.tagged_fields()?;
    }
    Ok(reader)
}

/// A cursor over a reply: each read checks what is left.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, at: 0 }
    }

    fn left(&self) -> usize {
        self.data.len() - self.at
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if count > self.left() {
            return Err("the reply ends early".into());
        }
        let bytes = &self.data[self.at..self.at + count];
        self.at += count;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn i8(&mut self) -> Result<i8, String> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// An unsigned varint of at most 32 bits.
    pub fn uvarint(&mut self) -> Result<u32, String> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.array::<1>()?[0];
            value |= u32::from(byte & 0x7f)
                .checked_shl(shift)
                .filter(|_| shift < 28 || byte < 0x10)
                .ok_or("a varint longer than 32 bits")?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 32 bits".into())
    }

    /// The length of a string or byte array: `int16`/`int32`, or a compact varint (length
    /// + 1); `None` for null. Never more than what is left.
    fn length(&mut self, compact: bool, wide: bool) -> Result<Option<usize>, String> {
        let length: i64 = match (compact, wide) {
            (true, _) => i64::from(self.uvarint()?) - 1,
            (false, false) => i64::from(self.i16()?),
            (false, true) => i64::from(self.i32()?),
        };
        if length < 0 {
            return Ok(None);
        }
        let length = length as usize;
        if length > self.left() {
            return Err("a length beyond the end of the reply".into());
        }
        Ok(Some(length))
    }

    /// A nullable string (`int16` length, or compact).
    pub fn string(&mut self, compact: bool) -> Result<Option<&'a str>, String> {
        match self.length(compact, false)? {
            None => Ok(None),
            Some(length) => std::str::from_utf8(self.take(length)?)
                .map(Some)
                .map_err(|_| "a string that is not UTF-8".into()),
        }
    }

    /// A string that may not be null.
    pub fn text(&mut self, compact: bool) -> Result<&'a str, String> {
        self.string(compact)?
            .ok_or_else(|| "a null where a string must be".into())
    }

    /// Nullable bytes (`int32` length, or compact); null reads as empty.
    pub fn bytes(&mut self, compact: bool) -> Result<&'a [u8], String> {
        match self.length(compact, true)? {
            None => Ok(&[]),
            Some(length) => self.take(length),
        }
    }

    /// The count of an array (`int32`, or compact), null as 0; each of its elements takes at
    /// least `least` bytes, so a count the rest of the reply cannot hold is refused before
    /// anything is allocated for it.
    pub fn count(&mut self, compact: bool, least: usize) -> Result<usize, String> {
        let count: i64 = match compact {
            true => i64::from(self.uvarint()?) - 1,
            false => i64::from(self.i32()?),
        };
        if count <= 0 {
            return Ok(0);
        }
        let count = count as usize;
        if count.saturating_mul(least.max(1)) > self.left() {
            return Err("an array longer than the reply".into());
        }
        Ok(count)
    }

    /// An array of `int32`s, counted.
    fn int32s(&mut self, compact: bool) -> Result<usize, String> {
        let count = self.count(compact, 4)?;
        self.take(count * 4)?;
        Ok(count)
    }

    /// A flexible version's tagged fields, skipped.
    pub fn tagged_fields(&mut self) -> Result<(), String> {
        let count = self.uvarint()?;
        for _ in 0..count {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as i16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_uvarint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_compact_string(out: &mut Vec<u8>, text: &str) {
    put_uvarint(out, text.len() as u32 + 1);
    out.extend_from_slice(text.as_bytes());
}

// ApiVersions ----------------------------------------------------------------------------

/// The version probe asks first: the flexible one every broker since Kafka 2.4 answers, and
/// older ones refuse with a v0 reply that says so.
pub const API_VERSIONS_FIRST: i16 = 3;

/// The ApiVersions request body: empty before v3, the client's name and version from v3.
pub fn api_versions_request(version: i16) -> Vec<u8> {
    let mut body = Vec::new();
    if version >= 3 {
        put_compact_string(&mut body, CLIENT_ID);
        put_compact_string(&mut body, env!("CARGO_PKG_VERSION"));
        body.push(0);
    }
    body
}

/// What the broker speaks: for each API key, the versions it accepts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ApiVersions {
    pub error_code: i16,
    pub apis: Vec<(i16, i16, i16)>,
}

impl ApiVersions {
    /// The versions of `api_key` the broker accepts, if it lists it.
    pub fn range(&self, api_key: i16) -> Option<(i16, i16)> {
        self.apis
            .iter()
            .find(|(key, ..)| *key == api_key)
            .map(|&(_, min, max)| (min, max))
    }

    /// The highest version of `api_key` both sides speak (probe: `ours`).
    pub fn pick(&self, api_key: i16, ours: (i16, i16)) -> Option<i16> {
        let (min, max) = self.range(api_key)?;
        let version = max.min(ours.1);
        (version >= min.max(ours.0)).then_some(version)
    }
}

/// The ApiVersions reply at `version`. A broker that does not speak `version` answers
/// UNSUPPORTED_VERSION with a v0 body (the versions it does speak): read as such.
pub fn api_versions_reply(mut reader: Reader, version: i16) -> Result<ApiVersions, String> {
    let error_code = reader.i16()?;
    let compact = version >= 3 && error_code != UNSUPPORTED_VERSION;
    let least = if compact { 7 } else { 6 };
    let count = reader.count(compact, least)?;
    let mut apis = Vec::with_capacity(count.min(MAX_ENTRIES));
    for _ in 0..count {
        let entry = (reader.i16()?, reader.i16()?, reader.i16()?);
        if compact {
            reader.tagged_fields()?;
        }
        if apis.len() < MAX_ENTRIES {
            apis.push(entry);
        }
    }
    // throttle_time_ms (v1+) and v3's tagged fields (supported features, ...) say nothing
    // probe needs, and a refusal may end early.
    Ok(ApiVersions { error_code, apis })
}

// SASL ----------------------------------------------------------------------------------

/// SaslHandshake v1: the mechanism, then SaslAuthenticate requests carry the exchange.
pub const SASL_HANDSHAKE_VERSION: i16 = 1;
/// The SaslAuthenticate versions probe speaks.
pub const SASL_AUTHENTICATE_VERSIONS: (i16, i16) = (0, 2);

pub fn sasl_handshake_request(mechanism: &str) -> Vec<u8> {
    let mut body = Vec::new();
    put_string(&mut body, mechanism);
    body
}

/// The handshake's reply: its error code and the mechanisms the listener offers (names
/// cut short, at most 16).
pub fn sasl_handshake_reply(mut reader: Reader) -> Result<(i16, Vec<String>), String> {
    let error_code = reader.i16()?;
    let count = reader.count(false, 2)?;
    let mut mechanisms = Vec::new();
    for _ in 0..count {
        let name = reader.text(false)?;
        if mechanisms.len() < 16 {
            mechanisms.push(clean(name));
        }
    }
    Ok((error_code, mechanisms))
}

pub fn sasl_authenticate_request(version: i16, auth_bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if version >= 2 {
        put_uvarint(&mut body, auth_bytes.len() as u32 + 1);
        body.extend_from_slice(auth_bytes);
        body.push(0);
    } else {
        body.extend_from_slice(&(auth_bytes.len() as i32).to_be_bytes());
        body.extend_from_slice(auth_bytes);
    }
    body
}

/// One SaslAuthenticate reply.
#[derive(Debug, PartialEq, Eq)]
pub struct SaslReply {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub auth_bytes: Vec<u8>,
}

pub fn sasl_authenticate_reply(mut reader: Reader, version: i16) -> Result<SaslReply, String> {
    let compact = version >= 2;
    let error_code = reader.i16()?;
    let error_message = reader.string(compact)?.map(clean);
    // A refusal may end here (some brokers send no bytes after the error).
    let auth_bytes = match error_code {
        NONE => reader.bytes(compact)?.to_vec(),
        _ => reader.bytes(compact).unwrap_or_default().to_vec(),
    };
    Ok(SaslReply {
        error_code,
        error_message,
        auth_bytes,
    })
}

// Metadata ------------------------------------------------------------------------------

/// The Metadata versions probe speaks: v1 brought the controller, v4 the switch that keeps
/// a request for a topic from creating it, v9 the flexible encoding, v10 topic ids, v12 is
/// the last before the top-level error code of v13.
pub const METADATA_VERSIONS: (i16, i16) = (1, 12);

/// A Metadata request for `topics` (none: only the brokers and the controller), never
/// creating a topic (v4+) and asking for no ACL operations.
pub fn metadata_request(version: i16, topics: &[String]) -> Vec<u8> {
    let compact = version >= 9;
    let mut body = Vec::new();
    if compact {
        put_uvarint(&mut body, topics.len() as u32 + 1);
    } else {
        body.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    }
    for topic in topics {
        if version >= 10 {
            body.extend_from_slice(&[0; 16]);
        }
        if compact {
            put_compact_string(&mut body, topic);
            body.push(0);
        } else {
            put_string(&mut body, topic);
        }
    }
    if version >= 4 {
        body.push(0); // allow_auto_topic_creation: false
    }
    if (8..=10).contains(&version) {
        body.push(0); // include_cluster_authorized_operations
    }
    if version >= 8 {
        body.push(0); // include_topic_authorized_operations
    }
    if compact {
        body.push(0);
    }
    body
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub error_code: i16,
    pub index: i32,
    pub leader: i32,
    pub replicas: usize,
    pub isr: usize,
    pub offline: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub error_code: i16,
    /// Null in v12+ when the topic was asked for by id: never the case for probe.
    pub name: Option<String>,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub brokers: Vec<Broker>,
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub topics: Vec<Topic>,
}

/// The Metadata reply at `version` (one of [`METADATA_VERSIONS`]).
pub fn metadata_reply(mut reader: Reader, version: i16) -> Result<Metadata, String> {
    let compact = version >= 9;
    if version >= 3 {
        reader.i32()?; // throttle_time_ms
    }
    let count = reader.count(compact, 10)?;
    if count > MAX_ENTRIES {
        return Err(format!("the reply lists {count} brokers"));
    }
    let mut brokers = Vec::with_capacity(count);
    for _ in 0..count {
        let node_id = reader.i32()?;
        let host = clean(reader.text(compact)?);
        let port = reader.i32()?;
        if version >= 1 {
            reader.string(compact)?; // rack
        }
        if compact {
            reader.tagged_fields()?;
        }
        brokers.push(Broker {
            node_id,
            host,
            port,
        });
    }
    let cluster_id = match version >= 2 {
        true => reader.string(compact)?.map(clean),
        false => None,
    };
    let controller_id = reader.i32()?;
    let count = reader.count(compact, 8)?;
    if count > MAX_ENTRIES {
        return Err(format!("the reply lists {count} topics"));
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let error_code = reader.i16()?;
        let name = match version >= 12 {
            true => reader.string(compact)?,
            false => Some(reader.text(compact)?),
        };
        if version >= 10 {
            reader.take(16)?; // topic_id
        }
        reader.i8()?; // is_internal
        let count = reader.count(compact, 14)?;
        let mut partitions = Vec::with_capacity(count);
        for _ in 0..count {
            let error_code = reader.i16()?;
            let index = reader.i32()?;
            let leader = reader.i32()?;
            if version >= 7 {
                reader.i32()?; // leader_epoch
            }
            let replicas = reader.int32s(compact)?;
            let isr = reader.int32s(compact)?;
            let offline = match version >= 5 {
                true => reader.int32s(compact)?,
                false => 0,
            };
            if compact {
                reader.tagged_fields()?;
            }
            partitions.push(Partition {
                error_code,
                index,
                leader,
                replicas,
                isr,
                offline,
            });
        }
        if version >= 8 {
            reader.i32()?; // topic_authorized_operations
        }
        if compact {
            reader.tagged_fields()?;
        }
        topics.push(Topic {
            error_code,
            name: name.map(clean),
            partitions,
        });
    }
    if (8..=10).contains(&version) {
        reader.i32()?; // cluster_authorized_operations
    }
    if compact {
        reader.tagged_fields()?;
    }
    Ok(Metadata {
        brokers,
        cluster_id,
        controller_id,
        topics,
    })
}

/// A broker's text, kept for a reason: controls dropped, cut to [`MAX_KEPT`] bytes.
fn clean(text: &str) -> String {
    let mut kept = String::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        if kept.len() + c.len_utf8() > MAX_KEPT {
            break;
        }
        kept.push(c);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &[u8]) -> &[u8] {
        &frame[4..]
    }

    /// A reply frame: size, correlation id, (tagged fields), body.
    fn reply(correlation_id: i32, flexible_header: bool, body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 4 + usize::from(flexible_header)) as u32)
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(&correlation_id.to_be_bytes());
        if flexible_header {
            out.push(0);
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn requests_carry_the_header_and_size() {
        let frame = request(API_VERSIONS, 3, 7, &api_versions_request(3));
        assert_eq!(frame_len(&frame).unwrap(), Some(frame.len()));
        let header = body(&frame);
        assert_eq!(&header[..8], &[0, 18, 0, 3, 0, 0, 0, 7]);
        assert_eq!(&header[8..15], b"\0\x05probe");
        assert_eq!(header[15], 0, "header v2's tagged fields");
        assert_eq!(&header[16..22], b"\x06probe");
        let old = request(API_VERSIONS, 0, 1, &api_versions_request(0));
        assert_eq!(old.len(), 4 + 8 + 7);
        let metadata = request(METADATA, 1, 2, &metadata_request(1, &[]));
        assert_eq!(&body(&metadata)[15..], &[0, 0, 0, 0], "no topics");
    }

    #[test]
    fn metadata_requests_by_version() {
        let topics = ["orders".to_string()];
        assert_eq!(metadata_request(1, &topics), b"\0\0\0\x01\0\x06orders");
        assert_eq!(metadata_request(4, &topics), b"\0\0\0\x01\0\x06orders\0");
        assert_eq!(
            metadata_request(8, &topics),
            b"\0\0\0\x01\0\x06orders\0\0\0"
        );
        assert_eq!(metadata_request(9, &topics), b"\x02\x07orders\0\0\0\0\0");
        let v12 = metadata_request(12, &topics);
        assert_eq!(v12[0], 2);
        assert_eq!(&v12[1..17], &[0; 16]);
        assert_eq!(&v12[17..], b"\x07orders\0\0\0\0");
    }

    #[test]
    fn sizes_out_of_bounds_are_refused() {
        assert_eq!(frame_len(b"\0\0"), Ok(None));
        assert!(frame_len(b"\x7f\xff\xff\xff").is_err());
        assert!(frame_len(b"\xff\xff\xff\xff").is_err());
        assert!(frame_len(b"\0\0\0\0").is_err());
        assert!(frame_len(b"SSH-").is_err());
    }

    #[test]
    fn api_versions_v3_and_the_v0_refusal() {
        // error 0, two keys (compact count 3), each with its tagged fields, throttle, tags.
        let v3 = reply(
            1,
            false,
            b"\0\0\x03\0\x03\0\x01\0\x0c\0\0\x12\0\0\0\x04\0\0\0\0\0\0",
        );
        let size = frame_len(&v3).unwrap().unwrap();
        let reader = reply_body(&v3[..size], API_VERSIONS, 3, 1).unwrap();
        let versions = api_versions_reply(reader, 3).unwrap();
        assert_eq!(versions.error_code, 0);
        assert_eq!(versions.range(METADATA), Some((1, 12)));
        assert_eq!(versions.pick(METADATA, METADATA_VERSIONS), Some(12));
        assert_eq!(versions.pick(METADATA, (1, 8)), Some(8));
        assert_eq!(versions.pick(SASL_HANDSHAKE, (1, 1)), None);
        // An old broker: UNSUPPORTED_VERSION, then a v0 array (int32 count).
        let refusal = reply(1, false, b"\0\x23\0\0\0\x01\0\x12\0\0\0\x02");
        let reader = reply_body(&refusal, API_VERSIONS, 3, 1).unwrap();
        let versions = api_versions_reply(reader, 3).unwrap();
        assert_eq!(versions.error_code, UNSUPPORTED_VERSION);
        assert_eq!(versions.range(API_VERSIONS), Some((0, 2)));
        // Another request's reply.
        assert!(reply_body(&refusal, API_VERSIONS, 3, 2).is_err());
    }

    #[test]
    fn metadata_v1_and_v12() {
        // v1: one broker (rack null), controller 1, one topic with one partition.
        let mut v1 = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 9];
        v1.extend_from_slice(b"127.0.0.1\0\0\x23\x84\xff\xff");
        v1.extend_from_slice(&[0, 0, 0, 1]); // controller
        v1.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 6]);
        v1.extend_from_slice(b"orders\0");
        v1.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        v1.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1]);
        let metadata = metadata_reply(Reader::new(&v1), 1).unwrap();
        assert_eq!(
            metadata.brokers,
            vec![Broker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 9092
            }]
        );
        assert_eq!(metadata.controller_id, 1);
        assert_eq!(
            metadata.topics[0].partitions[0],
            Partition {
                error_code: 0,
                index: 0,
                leader: -1,
                replicas: 2,
                isr: 1,
                offline: 0
            }
        );
        // v12: throttle, compact arrays, tagged fields, nullable names, topic ids.
        let mut v12 = vec![0, 0, 0, 0, 2, 0, 0, 0, 7, 2, b'h', 0, 0, 0x23, 0x84, 0, 0];
        v12.extend_from_slice(b"\x04abc\0\0\0\x07"); // cluster id, controller 7
        v12.extend_from_slice(b"\x02\0\0\x02t"); // one topic "t"
        v12.extend_from_slice(&[0; 16]);
        v12.extend_from_slice(&[0, 2]); // internal: no; one partition
        v12.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0, 0]);
        v12.extend_from_slice(&[2, 0, 0, 0, 7, 2, 0, 0, 0, 7, 1, 0]);
        v12.extend_from_slice(&[0x80, 0, 0, 0, 0]); // authorized operations, tags
        v12.push(0);
        let metadata = metadata_reply(Reader::new(&v12), 12).unwrap();
        assert_eq!(metadata.cluster_id.as_deref(), Some("abc"));
        assert_eq!(metadata.controller_id, 7);
        assert_eq!(metadata.brokers[0].host, "h");
        let partition = &metadata.topics[0].partitions[0];
        assert_eq!((partition.index, partition.leader), (3, 7));
        assert_eq!((partition.replicas, partition.isr), (1, 1));
        // Every shorter reply is an error, never a panic.
        for cut in 0..v12.len() {
            assert!(
                metadata_reply(Reader::new(&v12[..cut]), 12).is_err(),
                "{cut}"
            );
        }
    }

    #[test]
    fn counts_the_reply_cannot_hold_are_refused() {
        let mut reader = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(reader.count(false, 4).is_err());
        let mut reader = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(reader.count(true, 1).is_err());
        let mut reader = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(reader.uvarint().is_err());
        let mut reader = Reader::new(&[0x96, 0x01]);
        assert_eq!(reader.uvarint(), Ok(150));
    }

    #[test]
    fn sasl_replies() {
        let reader = Reader::new(b"\0\x21\0\0\0\x02\0\x05PLAIN\0\x0dSCRAM-SHA-256");
        let (code, mechanisms) = sasl_handshake_reply(reader).unwrap();
        assert_eq!(code, UNSUPPORTED_SASL_MECHANISM);
        assert_eq!(mechanisms, ["PLAIN", "SCRAM-SHA-256"]);
        let refused = Reader::new(b"\0\x3a\0\x0cbad\npassword");
        let reply = sasl_authenticate_reply(refused, 1).unwrap();
        assert_eq!(reply.error_code, 58);
        assert_eq!(reply.error_message.as_deref(), Some("badpassword"));
        let ok = Reader::new(b"\0\0\0\0\0\0\0\x04v=ab\0\0\0\0\0\0\0\0");
        let reply = sasl_authenticate_reply(ok, 1).unwrap();
        assert_eq!(reply.auth_bytes, b"v=ab");
        let compact = Reader::new(b"\0\0\0\x05v=ab\0\0\0\0\0\0\0\0\0");
        assert_eq!(
            sasl_authenticate_reply(compact, 2).unwrap().auth_bytes,
            b"v=ab"
        );
        assert_eq!(
            sasl_authenticate_request(2, b"n,,n=u"),
            b"\x07n,,n=u\0".to_vec()
        );
        assert_eq!(
            sasl_authenticate_request(0, b"ab"),
            b"\0\0\0\x02ab".to_vec()
        );
    }

    /// The fuzz seeds are replies as kafka-python's protocol classes (Apache Kafka's own
    /// message schemas) encode them: each reads back as written.
    #[test]
    fn replies_encoded_by_kafka_python_read_back() {
        let seed = |name: &str| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/kafka/");
            std::fs::read(format!("{path}{name}")).unwrap()
        };
        for version in [1, 2, 5, 7, 9, 10, 12] {
            let data = seed(&format!("metadata_v{version}"));
            let metadata = metadata_reply(Reader::new(&data), version).unwrap();
            assert_eq!(metadata.brokers.len(), 2);
            assert_eq!(metadata.brokers[1].host, "kafka-2");
            assert_eq!(metadata.controller_id, 1);
            let expected_cluster = (version >= 2).then(|| "c1".to_string());
            assert_eq!(metadata.cluster_id, expected_cluster);
            let orders = &metadata.topics[0];
            assert_eq!(orders.name.as_deref(), Some("orders"));
            assert_eq!(orders.partitions[0].leader, -1);
            assert_eq!(
                (orders.partitions[1].replicas, orders.partitions[1].isr),
                (2, 1)
            );
            assert_eq!(metadata.topics[1].error_code, UNKNOWN_TOPIC_OR_PARTITION);
        }
        let framed = seed("metadata_v12_framed");
        let length = frame_len(&framed).unwrap().unwrap();
        assert_eq!(length, framed.len());
        let reader = reply_body(&framed, METADATA, 12, 1).unwrap();
        assert_eq!(metadata_reply(reader, 12).unwrap().topics.len(), 2);
        let versions = api_versions_reply(Reader::new(&seed("api_versions_v3")), 3).unwrap();
        assert_eq!(
            versions.pick(SASL_AUTHENTICATE, SASL_AUTHENTICATE_VERSIONS),
            Some(2)
        );
        let versions = api_versions_reply(Reader::new(&seed("api_versions_v0")), 0).unwrap();
        assert_eq!(versions.range(METADATA), Some((0, 12)));
        let refused = api_versions_reply(Reader::new(&seed("api_versions_refused")), 3).unwrap();
        assert_eq!(refused.error_code, UNSUPPORTED_VERSION);
        assert_eq!(refused.range(API_VERSIONS), Some((0, 2)));
        let (code, offered) = sasl_handshake_reply(Reader::new(&seed("sasl_handshake"))).unwrap();
        assert_eq!((code, offered.len()), (UNSUPPORTED_SASL_MECHANISM, 2));
        let step = sasl_authenticate_reply(Reader::new(&seed("sasl_authenticate_v1")), 1).unwrap();
        assert_eq!(step.auth_bytes, b"r=abc,s=c2FsdA==,i=4096");
        let refusal = sasl_authenticate_reply(Reader::new(&seed("sasl_authenticate_v2")), 2);
        assert_eq!(
            refusal.unwrap().error_message.as_deref(),
            Some("Authentication failed")
        );
    }
}
