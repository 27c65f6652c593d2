//! The input and output buffers of probe's own ureq transports ([`super::transport`]).
//!
//! ureq's `LazyBuffers` does the same, but fills its buffers with `Vec::resize`, which at
//! opt-level "z" writes one byte per loop turn: 148k instructions for 24 KiB, over half of
//! a local http check, and every page of both buffers touched before the first byte is
//! sent. These are allocated zeroed in one call (calloc): memory fresh from the kernel is
//! not written at all, and the pages a check never uses are never faulted in.

use ureq::unversioned::transport::Buffers;

/// Space a request body is read into before it is written out (ureq's own minimum).
const MIN_TMP_SIZE: usize = 10 * 1024;

#[derive(Debug)]
pub struct ZeroedBuffers {
    /// `input[consumed..filled]` is read and not yet parsed; `input[filled..]` is free.
    input: Vec<u8>,
    filled: usize,
    consumed: usize,
    output: Vec<u8>,
    /// Whether the last consume took anything: a parser that took nothing needs more input.
    progress: bool,
}

impl ZeroedBuffers {
    pub fn new(input_size: usize, output_size: usize) -> ZeroedBuffers {
        ZeroedBuffers {
            input: vec![0; input_size],
            filled: 0,
            consumed: 0,
            output: vec![0; output_size],
            progress: false,
        }
    }

    /// Frees the space of consumed input: all of it once everything is consumed, or by
    /// moving what is left to the front once the buffer is more than half full.
    fn reclaim(&mut self) {
        if self.consumed == 0 {
            return;
        }
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        } else if self.filled > self.input.len() / 2 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }
}

impl Buffers for ZeroedBuffers {
    fn output(&mut self) -> &mut [u8] {
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.reclaim();
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        // A transport that claims more than it was given is a bug, not a peer's doing.
        self.filled = (self.filled + amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = (self.consumed + amount).min(self.filled);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.reclaim();
        let free = self.input.len() - self.filled;
        if free < MIN_TMP_SIZE {
            // Only after a peer sent a lot unasked (before 100-continue): rare, and bounded.
            self.input.resize(self.filled + MIN_TMP_SIZE, 0);
        }
        (&mut self.input[self.filled..], &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.consumed < self.filled && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(buffers: &mut ZeroedBuffers, bytes: &[u8]) {
        buffers.input_append_buf()[..bytes.len()].copy_from_slice(bytes);
        buffers.input_appended(bytes.len());
    }

    #[test]
    fn input_is_appended_consumed_and_reclaimed() {
        let mut buffers = ZeroedBuffers::new(8, 4);
        assert_eq!(buffers.output().len(), 4);
        append(&mut buffers, b"HTTP");
        assert_eq!(buffers.input(), b"HTTP");
        assert!(!buffers.can_use_input(), "nothing parsed yet");
        buffers.input_consume(2);
        assert!(buffers.can_use_input());
        assert_eq!(buffers.input(), b"TP");
        // Half full or less: the free tail is what is left.
        assert_eq!(buffers.input_append_buf().len(), 4);
        append(&mut buffers, b"/1");
        // More than half full: the unconsumed bytes move to the front.
        assert_eq!(buffers.input_append_buf().len(), 4);
        assert_eq!(buffers.input(), b"TP/1");
        buffers.input_consume(0);
        assert!(!buffers.can_use_input(), "the parser needs more");
        buffers.input_consume(4);
        assert_eq!(buffers.input(), b"");
        assert_eq!(
            buffers.input_append_buf().len(),
            8,
            "all consumed: all free"
        );
    }

    #[test]
    fn a_body_always_has_scratch_space() {
        let mut buffers = ZeroedBuffers::new(16, 4);
        append(&mut buffers, &[7; 12]);
        let (tmp, output) = buffers.tmp_and_output();
        assert!(tmp.len() >= MIN_TMP_SIZE);
        assert_eq!(output.len(), 4);
        assert_eq!(buffers.input(), &[7; 12], "unread input is kept");
    }
}
