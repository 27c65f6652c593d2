//! Reading a small file that a user named (a pidfile, a heartbeat file for `--contains`,
//! `--password-file`, `--ca-file`, `--cert`, `--key`) without ever waiting on it: opening a
//! FIFO for reading blocks until a writer comes, reading one waits for data, and a device
//! may never end. So the file is opened with `O_NONBLOCK | O_NOCTTY`, checked with
//! `fstat` on the opened descriptor (no race with a rename), refused unless it is a
//! regular file, and read up to a byte limit.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::outcome::UsageError;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed (missing, permission denied, ...).
    Io(io::Error),
    /// The path is not a regular file: what it is instead ("a FIFO", "a directory").
    NotRegular(&'static str),
}

impl ReadError {
    /// A short lowercase reason: "no such file or directory", "is a FIFO, not a regular file".
    pub fn reason(&self) -> String {
        match self {
            ReadError::Io(error) => crate::outcome::io_reason(error),
            ReadError::NotRegular(what) => format!("is {what}, not a regular file"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// Opens `path` for reading without blocking and refuses anything but a regular file.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    match not_regular(&file.metadata()?.file_type()) {
        None => Ok(file),
        Some(what) => Err(ReadError::NotRegular(what)),
    }
}

/// What a file that is not a regular file is ("a FIFO"); `None` for a regular file.
pub fn not_regular(kind: &std::fs::FileType) -> Option<&'static str> {
    Some(if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "a special file"
    })
}

/// At most `limit` bytes from the start of a regular file.
pub fn read_head(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut head = Vec::new();
    open_regular(path)?.take(limit).read_to_end(&mut head)?;
    Ok(head)
}

/// The whole of a regular file of at most `limit` bytes; a larger one is an error that
/// says so (a configuration file that large is not what the user meant).
pub fn read_all(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let bytes = read_head(path, limit + 1)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Io(io::Error::other(format!(
            "larger than {} KiB",
            limit / 1024
        ))));
    }
    Ok(bytes)
}

/// A configuration file named by `flag` (`--ca-file`): its bytes, or a usage error that
/// names the flag and the path (exit 3: nothing was probed).
#[cfg_attr(
    not(any(feature = "tls", feature = "postgres", feature = "redis")),
    allow(dead_code)
)]
pub fn read_config(flag: &str, path: &Path, limit: u64) -> Result<Vec<u8>, UsageError> {
    read_all(path, limit).map_err(|error| {
        UsageError::new(format!(
            "cannot read {flag} {}: {}",
            path.display(),
            error.reason()
        ))
    })
}

/// [`read_config`] for a text file (`--password-file`): valid UTF-8 or a usage error.
pub fn read_text(flag: &str, path: &Path, limit: u64) -> Result<String, UsageError> {
    String::from_utf8(read_config(flag, path, limit)?)
        .map_err(|_| UsageError::new(format!("{flag} {} is not valid UTF-8", path.display())))
}

/// A file that holds one value (`--password-file`, `--user-file`: a Docker secret, an
/// `echo` output): its text but one trailing newline (and a CR before it). Empty is an
/// error: a check that silently sends no password or user fails later, misleadingly.
pub fn read_value(flag: &str, path: &Path) -> Result<String, UsageError> {
    let text = read_text(flag, path, 64 * 1024)?;
    let value = text
        .strip_suffix('\n')
        .map(|text| text.strip_suffix('\r').unwrap_or(text))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(UsageError::new(format!(
            "{flag} {} is empty",
            path.display()
        )));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("probe-fsread-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_regular_files_up_to_the_limit() {
        let path = dir().join("regular");
        std::fs::write(&path, b"12345\n").unwrap();
        assert_eq!(read_head(&path, 3).unwrap(), b"123");
        assert_eq!(read_all(&path, 6).unwrap(), b"12345\n");
        let error = read_all(&path, 5).unwrap_err();
        assert_eq!(error.reason(), "larger than 0 KiB");
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let path = dir().join("fifo");
        let _ = std::fs::remove_file(&path);
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let error = read_head(&path, 64).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(error.reason(), "is a FIFO, not a regular file");
    }

    #[test]
    fn directories_devices_and_missing_files_are_named() {
        assert_eq!(
            read_head(&dir(), 64).unwrap_err().reason(),
            "is a directory, not a regular file"
        );
        assert_eq!(
            read_head(Path::new("/dev/zero"), 64).unwrap_err().reason(),
            "is a character device, not a regular file"
        );
        assert_eq!(
            read_head(Path::new("/nonexistent/x"), 64)
                .unwrap_err()
                .reason(),
            "no such file or directory"
        );
    }
}
