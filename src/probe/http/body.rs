//! Reading a body for the body rules, under one memory budget for the whole process.
//!
//! A body rule needs the body in memory (at most [`MAX_BODY`]), and `check` or `wait-for`
//! run their targets at once: 32 targets reading 1 MiB each would cost 32 MiB. So every
//! body may grow to [`SMALL_BODY`] freely (health documents are a few hundred bytes, and
//! never wait), and a body larger than that needs one of [`LARGE_BODIES`] slots shared by
//! every target of the process, held until its rules are checked. When every slot is
//! taken, the body waits for one, bounded by its own deadline (a body still arriving after
//! it ran out is reported as the timeout it is). N targets therefore hold at most
//! N x [`SMALL_BODY`] + [`LARGE_BODIES`] x [`MAX_BODY`] of bodies, whatever they are sent.
//! A slot is taken whole, never a part at a time: two bodies each holding half of a shared
//! allowance while waiting for the other half would wait for each other until the deadline.

use std::io::Read;
use std::sync::{Condvar, Mutex, PoisonError};

use ureq::Body;

use crate::deadline::Deadline;

/// Most body bytes read for body rules: enough for any health document, bounded for a
/// server that streams forever.
pub const MAX_BODY: u64 = 1024 * 1024;

/// What any body may hold without a slot.
const SMALL_BODY: u64 = 16 * 1024;

/// Bodies larger than [`SMALL_BODY`] held at once in the whole process.
const LARGE_BODIES: usize = 2;

static TAKEN: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// One of the [`LARGE_BODIES`] slots, given back when dropped.
pub struct Slot(());

impl Slot {
    /// Waits for a free slot until the deadline; `None` when it passed first.
    fn take(deadline: &Deadline) -> Option<Slot> {
        let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
        while *taken >= LARGE_BODIES {
            let left = deadline.remaining()?;
            taken = FREED
                .wait_timeout(taken, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *taken += 1;
        Some(Slot(()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *TAKEN.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        FREED.notify_one();
    }
}

/// A body read whole: the bytes, and the slot that pays for them when they are many.
pub struct Held {
    pub bytes: Vec<u8>,
    pub _slot: Option<Slot>,
}

/// Why a body could not be read.
pub enum Unread {
    /// What the transport said (a timeout, a reset, a body over [`MAX_BODY`]).
    Failed(ureq::Error),
    /// The deadline passed while other targets' large bodies held every slot.
    NoSlot,
}

/// Reads the body, at most [`MAX_BODY`] bytes, within the process's budget.
pub fn read(body: &mut Body, deadline: &Deadline) -> Result<Held, Unread> {
    let mut reader = body.with_config().limit(MAX_BODY).reader();
    let mut bytes = Vec::new();
    let failed = |error| Unread::Failed(ureq::Error::from(error));
    (&mut reader)
        .take(SMALL_BODY)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if (bytes.len() as u64) < SMALL_BODY {
        return Ok(Held { bytes, _slot: None });
    }
    let slot = Slot::take(deadline).ok_or(Unread::NoSlot)?;
    // One allocation of the largest size: growing by doubling would copy, and hold the
    // old buffer beside the new one while it does.
    bytes.reserve_exact(MAX_BODY as usize - bytes.len());
    reader.read_to_end(&mut bytes).map_err(failed)?;
    Ok(Held {
        bytes,
        _slot: Some(slot),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn slots_are_shared_and_given_back() {
        let deadline = Deadline::start(Duration::from_millis(50));
        let held: Vec<Slot> = (0..LARGE_BODIES)
            .map(|_| Slot::take(&deadline).expect("a free slot"))
            .collect();
        // Every slot is taken: the next waits until its deadline, and gets none.
        assert!(Slot::take(&deadline).is_none());
        assert!(deadline.expired());
        let waiting =
            std::thread::spawn(|| Slot::take(&Deadline::start(Duration::from_secs(10))).is_some());
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert!(
            waiting.join().unwrap(),
            "a slot given back is taken by a waiter"
        );
    }
}
