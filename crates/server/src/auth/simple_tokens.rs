//! etcd's simple tokens: 16 random letters chosen by the member that received `Authenticate`,
//! a dot, and the raft index of the entry that authenticated the user. Every member assigns
//! the token to its user when it applies that entry and keeps the assignment in memory only;
//! an assignment is forgotten after `--auth-token-ttl` without use, when its user is deleted or
//! changes password, when authentication is turned off, and when the member restarts. A client
//! whose token was forgotten gets "invalid auth token" and authenticates again, as with etcd.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

const PREFIX_LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PREFIX_LENGTH: usize = 16;
/// Expired tokens are swept once the table has grown to twice its size after the last sweep
/// (and at least this big), so a sweep's cost is spread over the assignments before it.
const MIN_SWEEP_SIZE: usize = 1024;

/// The simple tokens this member assigned.
pub(crate) struct SimpleTokens {
    ttl: Duration,
    table: Mutex<Table>,
}

struct Table {
    assigned: HashMap<String, Assignment>,
    sweep_at: usize,
}

struct Assignment {
    user: String,
    expires: Instant,
}

impl SimpleTokens {
    /// Tokens forgotten after `ttl` without use.
    pub(crate) fn new(ttl: Duration) -> SimpleTokens {
        SimpleTokens {
            ttl,
            table: Mutex::new(Table {
                assigned: HashMap::new(),
                sweep_at: MIN_SWEEP_SIZE,
            }),
        }
    }

    /// A fresh random prefix for a token, chosen before proposing `Authenticate`.
    pub(crate) fn prefix() -> String {
        let mut rng = rand::rng();
        (0..PREFIX_LENGTH)
            .map(|_| char::from(PREFIX_LETTERS[rng.random_range(0..PREFIX_LETTERS.len())]))
            .collect()
    }

    /// The raft index a token was made at, if it has a simple token's form.
    pub(crate) fn index(token: &str) -> Option<u64> {
        let (_, index) = token.split_once('.')?;
        index.parse().ok()
    }

    /// Assigns the token `<prefix>.<index>` to `user` and returns it.
    pub(crate) fn assign(&self, prefix: &str, index: u64, user: &str) -> String {
        let token = format!("{prefix}.{index}");
        let now = Instant::now();
        let mut table = self.table.lock();
        if table.assigned.len() >= table.sweep_at {
            table.assigned.retain(|_, a| a.expires > now);
            table.sweep_at = (table.assigned.len() * 2).max(MIN_SWEEP_SIZE);
        }
        table.assigned.insert(
            token.clone(),
            Assignment {
                user: user.to_string(),
                expires: now + self.ttl,
            },
        );
        token
    }

    /// The user `token` was assigned to, if it is live; using it restarts its time to live.
    pub(crate) fn user(&self, token: &str) -> Option<String> {
        let now = Instant::now();
        let mut table = self.table.lock();
        let assignment = table.assigned.get_mut(token)?;
        if assignment.expires <= now {
            table.assigned.remove(token);
            return None;
        }
        assignment.expires = now + self.ttl;
        Some(assignment.user.clone())
    }

    /// Forgets every token of `user`.
    pub(crate) fn forget_user(&self, user: &str) {
        self.table.lock().assigned.retain(|_, a| a.user != user);
    }

    /// Forgets every token.
    pub(crate) fn forget_all(&self) {
        self.table.lock().assigned.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_index_and_prefixes_are_letters() {
        let prefix = SimpleTokens::prefix();
        assert_eq!(prefix.len(), PREFIX_LENGTH);
        assert!(prefix.bytes().all(|b| b.is_ascii_alphabetic()));
        assert_ne!(prefix, SimpleTokens::prefix());
        let tokens = SimpleTokens::new(Duration::from_secs(60));
        let token = tokens.assign(&prefix, 42, "alice");
        assert_eq!(token, format!("{prefix}.42"));
        assert_eq!(SimpleTokens::index(&token), Some(42));
        assert_eq!(SimpleTokens::index("nodot"), None);
        assert_eq!(SimpleTokens::index("a.b"), None);
        assert_eq!(tokens.user(&token).as_deref(), Some("alice"));
        assert_eq!(tokens.user("other.42"), None);
    }

    #[test]
    fn tokens_expire_unless_used_and_are_forgotten_with_their_user() {
        let tokens = SimpleTokens::new(Duration::from_millis(300));
        let alice = tokens.assign("a", 1, "alice");
        let bob = tokens.assign("b", 2, "bob");
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(tokens.user(&alice).is_some(), "use keeps a token alive");
        }
        assert_eq!(tokens.user(&bob), None, "an unused token expires");
        tokens.forget_user("alice");
        assert_eq!(tokens.user(&alice), None);
        let carol = tokens.assign("c", 3, "carol");
        tokens.forget_all();
        assert_eq!(tokens.user(&carol), None);
    }
}
