//! Concurrency recipes over plain KV, lease and watch calls, laid out exactly as Go's
//! clientv3 `concurrency` package lays them out, so that Rust and Go holders of the same lock
//! or election exclude each other (an `etcdctl lock` and an `oxctl lock` on one name do).
//!
//! - [`Session`]: a lease kept alive in the background; [`Session::done`] reports its loss.
//! - [`Mutex`]: the key `<prefix>/<lease hex>` created if absent; the holder is the key with
//!   the lowest create revision under the prefix, and a waiter watches only its predecessor.
//!   The lock key's create revision is a **fencing token** ([`Mutex::fencing_token`]), and
//!   [`Mutex::guarded_txn`] runs writes only while the lock is still held.
//! - [`Election`]: the same layout; the leader is the oldest key, its value the proclamation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use oxcd_client::concurrency::{Mutex, Session};
//! use oxcd_client::{Client, ConnectOptions};
//! let client = Client::connect(&["localhost:2379".to_string()], ConnectOptions::default()).await?;
//! let session = Session::new(&client, 10).await?;
//! let mut mutex = Mutex::new(&session, "/my-lock");
//! mutex.lock().await?;
//! println!("holding {} with token {}", String::from_utf8_lossy(mutex.key()), mutex.fencing_token());
//! mutex.unlock().await?;
//! session.close().await?;
//! # Ok(()) }
//! ```

mod election;
mod error;
mod keys;
mod mutex;
mod session;
mod wait;

pub use election::{Election, LeaderChanges, observe_election};
pub use error::ConcurrencyError;
pub use mutex::{GuardedTxn, Mutex};
pub use session::{DEFAULT_SESSION_TTL, Session};
