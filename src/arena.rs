//! The allocator: a start-up arena in front of the system's.
//!
//! A health check is a process that lives a few milliseconds and allocates a few hundred
//! small blocks, most of them freed at exit. musl's allocator is built for long lives: each
//! size class gets its own group of slots (a page touched per class) and each call takes a
//! few hundred instructions. So the first [`ARENA`] bytes are handed out by bumping one
//! index: a block costs a handful of instructions and the blocks of one run share a few
//! pages. Blocks freed in the arena are not reused (the last one grows in place); once it
//! is full, everything goes to the system allocator, so a long `wait-for` or a future
//! `serve` costs at most the arena's size more than before.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes served from the arena before the system allocator takes over.
const ARENA: usize = 64 * 1024;

#[repr(C, align(16))]
struct Bytes(UnsafeCell<[u8; ARENA]>);

/// `used` comes first and the bytes follow it with no page alignment: the counter and the
/// first blocks share a page, where a counter after the bytes had a page of its own (two
/// page faults, a read and a write, in every run). build.rs links the arena after the
/// rest of `.bss`, so that the small variables of libc and std share pages too.
#[repr(C)]
pub struct StartupArena {
    /// Bytes handed out so far.
    used: AtomicUsize,
    bytes: Bytes,
}

// SAFETY: the arena's bytes are only reached through blocks handed out once each, by an
// atomic bump of `used`.
unsafe impl Sync for StartupArena {}

impl StartupArena {
    pub const fn new() -> Self {
        StartupArena {
            used: AtomicUsize::new(0),
            bytes: Bytes(UnsafeCell::new([0; ARENA])),
        }
    }

    fn start(&self) -> usize {
        self.bytes.0.get() as usize
    }

    fn holds(&self, ptr: *mut u8) -> bool {
        let at = ptr as usize;
        at >= self.start() && at < self.start() + ARENA
    }

    /// A block of `layout` from the arena, or null when it has no room left.
    fn bump(&self, layout: Layout) -> *mut u8 {
        let start = self.start();
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let at = (start + used).next_multiple_of(layout.align());
            let end = at - start + layout.size();
            if end > ARENA {
                return std::ptr::null_mut();
            }
            match self
                .used
                .compare_exchange_weak(used, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return at as *mut u8,
                Err(now) => used = now,
            }
        }
    }
}

impl Default for StartupArena {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block is either the arena's (handed out once, never overlapping, aligned as
// asked) or the system allocator's, and `holds` tells which for dealloc and realloc.
unsafe impl GlobalAlloc for StartupArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = self.bump(layout);
        if ptr.is_null() {
            System.alloc(layout)
        } else {
            ptr
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // The arena's bytes are zero until handed out, and each is handed out once.
        let ptr = self.bump(layout);
        if ptr.is_null() {
            System.alloc_zeroed(layout)
        } else {
            ptr
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.holds(ptr) {
            System.dealloc(ptr, layout);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.holds(ptr) {
            return System.realloc(ptr, layout, new_size);
        }
        // A block shrinks where it is, keeping its bytes reserved (given back, they would
        // break alloc_zeroed's promise); the last block handed out grows where it is.
        if new_size <= layout.size() {
            return ptr;
        }
        let end = ptr as usize - self.start() + layout.size();
        let new_end = ptr as usize - self.start() + new_size;
        if new_end <= ARENA
            && self
                .used
                .compare_exchange(end, new_end, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return ptr;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let moved = self.alloc(new_layout);
        if !moved.is_null() {
            std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_apart_and_spill_to_the_system_when_full() {
        let arena = Box::leak(Box::new(StartupArena::new()));
        unsafe {
            let a = arena.alloc(Layout::from_size_align(3, 1).unwrap());
            let b = arena.alloc(Layout::from_size_align(8, 8).unwrap());
            assert!(arena.holds(a) && arena.holds(b));
            assert_eq!(b as usize % 8, 0);
            assert!(b as usize >= a as usize + 3);
            // The last block grows in place; an earlier one moves, keeping its bytes.
            b.write(7);
            let grown = arena.realloc(b, Layout::from_size_align(8, 8).unwrap(), 64);
            assert_eq!((grown, grown.read()), (b, 7));
            a.write(9);
            let moved = arena.realloc(a, Layout::from_size_align(3, 1).unwrap(), 100);
            assert_ne!(moved, a);
            assert_eq!(moved.read(), 9);
            let big = Layout::from_size_align(ARENA, 16).unwrap();
            let spilled = arena.alloc(big);
            assert!(!spilled.is_null() && !arena.holds(spilled));
            arena.dealloc(spilled, big);
            let last = arena.alloc(Layout::from_size_align(16, 8).unwrap());
            last.write_bytes(0xff, 16);
            assert_eq!(
                arena.realloc(last, Layout::from_size_align(16, 8).unwrap(), 4),
                last
            );
            let zeroed = arena.alloc_zeroed(Layout::from_size_align(32, 8).unwrap());
            assert!(std::slice::from_raw_parts(zeroed, 32)
                .iter()
                .all(|b| *b == 0));
        }
    }
}
