//! The two protobuf messages of gRPC Health v1, framed as gRPC messages: pure, so the
//! fuzz target reads responses with the same code.

/// HealthCheckRequest { string service = 1; } as one length-prefixed gRPC message.
pub fn encode_request(service: &str) -> Vec<u8> {
    let mut message = Vec::new();
    if !service.is_empty() {
        message.push(0x0a); // field 1, length-delimited
        let mut length = service.len();
        while length >= 0x80 {
            message.push(length as u8 | 0x80);
            length >>= 7;
        }
        message.push(length as u8);
        message.extend_from_slice(service.as_bytes());
    }
    let mut framed = vec![0]; // not compressed
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend(message);
    framed
}

/// The `status` (field 1) of the one HealthCheckResponse in a gRPC body; absent means 0
/// (proto3's default, UNKNOWN). Other fields are skipped, as protobuf readers must.
pub fn decode_response(body: &[u8]) -> Result<u64, String> {
    let Some((head, message)) = body.split_at_checked(5) else {
        return Err(format!("{} bytes, no gRPC message", body.len()));
    };
    if head[0] != 0 {
        return Err("compressed, though no compression was offered".into());
    }
    let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if length != message.len() {
        return Err(format!(
            "message length {length} but {} bytes follow",
            message.len()
        ));
    }
    let mut status = 0;
    let mut rest = message;
    while !rest.is_empty() {
        let tag = varint(&mut rest)?;
        match (tag >> 3, tag & 7) {
            (1, 0) => status = varint(&mut rest)?,
            (_, 0) => {
                varint(&mut rest)?;
            }
            (_, 1) => rest = rest.get(8..).ok_or("truncated field")?,
            (_, 5) => rest = rest.get(4..).ok_or("truncated field")?,
            (_, 2) => {
                let length = usize::try_from(varint(&mut rest)?).map_err(|_| "bad length")?;
                rest = rest.get(length..).ok_or("truncated field")?;
            }
            (_, kind) => return Err(format!("bad protobuf wire type {kind}")),
        }
    }
    Ok(status)
}

fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("truncated varint")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".into())
}
