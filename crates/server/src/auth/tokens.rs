//! The token provider `--auth-token` chooses (etcd's `simple`, the default, or `jwt,...`),
//! parsed at start with etcd's rules and errors: the type, then `name=value` options
//! separated by commas, none repeated.

use std::collections::HashMap;
use std::time::Duration;

use super::jwt::{JwtHolder, JwtSetupError, JwtTokens};
use super::simple_tokens::SimpleTokens;

/// How this member issues and checks tokens.
pub(crate) enum Tokens {
    /// Random text and a raft index, assigned by every member in memory.
    Simple(SimpleTokens),
    /// Signed JSON web tokens.
    Jwt(Box<JwtTokens>),
}

/// What a token says of its holder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A simple token's user (its permissions are read at the current auth revision).
    Simple(String),
    /// A JWT's user and the auth revision it was issued at.
    Jwt(JwtHolder),
}

impl Tokens {
    /// The provider `--auth-token` names, simple tokens living `ttl` without use.
    pub(crate) fn from_flag(flag: &str, ttl: Duration) -> Result<Tokens, String> {
        let invalid = || "auth: invalid auth options".to_string();
        let mut parts = flag.split(',');
        let kind = parts.next().unwrap_or_default();
        let mut options = HashMap::new();
        for part in parts {
            let pair: Vec<&str> = part.split('=').collect();
            let [name, value] = pair.as_slice() else {
                return Err(invalid());
            };
            if options
                .insert(name.to_string(), value.to_string())
                .is_some()
            {
                return Err(invalid());
            }
        }
        match kind {
            "simple" => Ok(Tokens::Simple(SimpleTokens::new(ttl))),
            "jwt" => JwtTokens::new(&options)
                .map(|jwt| Tokens::Jwt(Box::new(jwt)))
                .map_err(|e: JwtSetupError| e.to_string()),
            _ => Err(invalid()),
        }
    }

    /// The simple tokens, if this member uses them.
    pub(crate) fn simple(&self) -> Option<&SimpleTokens> {
        match self {
            Tokens::Simple(simple) => Some(simple),
            Tokens::Jwt(_) => None,
        }
    }

    /// Who holds `token`, if it is live.
    pub(crate) fn holder(&self, token: &str) -> Option<Holder> {
        match self {
            Tokens::Simple(simple) => simple.user(token).map(Holder::Simple),
            Tokens::Jwt(jwt) => jwt.check(token).map(Holder::Jwt),
        }
    }

    /// Forgets the tokens of `user` (deleted, or its password changed); JWTs stay valid until
    /// they expire or the auth revision moves past them, as in etcd.
    pub(crate) fn forget_user(&self, user: &str) {
        if let Tokens::Simple(simple) = self {
            simple.forget_user(user);
        }
    }

    /// Forgets every token (authentication was turned off).
    pub(crate) fn forget_all(&self) {
        if let Tokens::Simple(simple) = self {
            simple.forget_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_parsed_with_etcds_rules() {
        let ttl = Duration::from_secs(300);
        assert!(matches!(
            Tokens::from_flag("simple", ttl),
            Ok(Tokens::Simple(_))
        ));
        for bad in [
            "",
            "plain",
            "jwt,sign-method",
            "jwt,a=b=c",
            "jwt,ttl=1m,ttl=2m",
        ] {
            assert_eq!(
                Tokens::from_flag(bad, ttl).err().as_deref(),
                Some("auth: invalid auth options"),
                "{bad}"
            );
        }
        assert_eq!(
            Tokens::from_flag("jwt,ttl=1m", ttl).err().as_deref(),
            Some("auth: invalid auth signature method")
        );
    }
}
