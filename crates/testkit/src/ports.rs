//! Free TCP ports on 127.0.0.1 for loopback clusters.
//!
//! Servers are handed port numbers, not sockets, so a port is only probably free when it is
//! used. To keep parallel test processes from racing for the same numbers, each process draws
//! from its own block below the kernel's ephemeral range, never hands out a number twice, and
//! skips numbers something is already listening on. A block is claimed with a lock on a file
//! in the temp directory, held until the process exits: two processes never share a block (a
//! member stopped for a while leaves its port free, and another process's cluster must not
//! take it meanwhile).

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// First port of the pool; the kernel's ephemeral range starts at 32768, so outgoing
/// connections never occupy these numbers.
const POOL_START: u16 = 20_000;
/// Ports per process block.
const BLOCK_SIZE: u16 = 200;
/// Number of blocks between `POOL_START` and the ephemeral range.
const BLOCKS: u16 = 60;

struct Pool {
    block_start: u16,
    next_offset: u16,
    /// The locked claim on the block; `None` if every block was claimed (then shared).
    _claim: Option<std::fs::File>,
}

/// The first block no other process holds, searched from one chosen by the pid, and its lock.
fn claim_block() -> (u16, Option<std::fs::File>) {
    let first = (std::process::id() % u32::from(BLOCKS)) as u16;
    for i in 0..BLOCKS {
        let block = (first + i) % BLOCKS;
        let path = std::env::temp_dir().join(format!("oxt-port-block-{block}.lock"));
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        if file.try_lock().is_ok() {
            return (block, Some(file));
        }
    }
    (first, None)
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// A port on 127.0.0.1 that nothing listens on and this process has not handed out before.
/// Panics when the process used up its block, which only a runaway test does.
pub fn free_port() -> u16 {
    let mut guard = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pool = guard.get_or_insert_with(|| {
        let (block, claim) = claim_block();
        Pool {
            block_start: POOL_START + block * BLOCK_SIZE,
            next_offset: 0,
            _claim: claim,
        }
    });
    while pool.next_offset < BLOCK_SIZE {
        let port = pool.block_start + pool.next_offset;
        pool.next_offset += 1;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!(
        "all {BLOCK_SIZE} ports of this process's block starting at {} are used up",
        pool.block_start
    )
}

/// `count` distinct free ports.
pub fn free_ports(count: usize) -> Vec<u16> {
    (0..count).map(|_| free_port()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports = free_ports(10);
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!((POOL_START..32_768).contains(&port));
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("port is free");
        }
    }

    #[test]
    fn a_claimed_block_is_not_claimed_again() {
        let (first, held) = claim_block();
        let (second, _also_held) = claim_block();
        assert!(held.is_some());
        assert_ne!(first, second);
    }

    #[test]
    fn skips_ports_that_are_in_use() {
        // Another process whose block is this one's may hold the port after a handed-out one
        // already; then try the next pair, so that the port skipped is surely held by us.
        for _ in 0..20 {
            let next = free_port() + 1;
            if let Ok(_listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, next)) {
                assert_ne!(free_port(), next);
                return;
            }
        }
        panic!("no port after a handed-out one could be bound 20 times in a row");
    }
}
