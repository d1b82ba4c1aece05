//! Free TCP ports on 127.0.0.1 for loopback clusters.
//!
//! Servers are handed port numbers, not sockets, so a port is only probably free when it is
//! used. To keep parallel test processes from racing for the same numbers, each process draws
//! from its own block below the kernel's ephemeral range (chosen by its pid), never hands out a
//! number twice, and skips numbers something is already listening on.

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
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// A port on 127.0.0.1 that nothing listens on and this process has not handed out before.
/// Panics when the process used up its block, which only a runaway test does.
pub fn free_port() -> u16 {
    let mut guard = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pool = guard.get_or_insert_with(|| {
        let block = (std::process::id() % u32::from(BLOCKS)) as u16;
        Pool {
            block_start: POOL_START + block * BLOCK_SIZE,
            next_offset: 0,
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
