//! `--initial-cluster`: member names mapped to their peer URLs, parsed and printed as
//! etcd's `types.URLsMap`, and turned into the bootstrap members with etcd's IDs.

use std::collections::BTreeMap;
use std::fmt;

use super::go_url::{Url, sort_urls};
use super::ids::{cluster_id, member_id};

/// The initial cluster, ordered by member name. A name listed several times
/// (`a=http://h:1,a=http://h:2`) is one member with several peer URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitialCluster {
    members: BTreeMap<String, Vec<Url>>,
}

/// A member of the initial cluster with the ID etcd gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialMember {
    /// The member name.
    pub name: String,
    /// The member ID (from its peer URLs and the cluster token).
    pub id: u64,
    /// Its peer URLs, sorted.
    pub peer_urls: Vec<Url>,
}

impl InitialCluster {
    /// Parses `name=url,name=url,...` like etcd's `types.NewURLsMap`; the error is the first
    /// invalid URL's message.
    pub fn parse(s: &str) -> Result<InitialCluster, String> {
        let mut raw: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in s.split(',').filter(|p| !p.is_empty()) {
            let (name, url) = pair.split_once('=').unwrap_or((pair, ""));
            raw.entry(name.to_string())
                .or_default()
                .push(url.to_string());
        }
        let mut members = BTreeMap::new();
        for (name, texts) in raw {
            let mut urls = texts
                .iter()
                .map(|t| Url::parse_etcd(t))
                .collect::<Result<Vec<_>, _>>()?;
            sort_urls(&mut urls);
            members.insert(name, urls);
        }
        Ok(InitialCluster { members })
    }

    /// The one-member cluster etcd derives from a name and its advertised peer URLs
    /// (`name=url1,name=url2`); an empty name means `default`.
    pub fn from_name(name: &str, peer_urls: &[Url]) -> String {
        let name = if name.is_empty() { "default" } else { name };
        peer_urls
            .iter()
            .map(|u| format!("{name}={u}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The peer URLs of `name`, if it is a member.
    pub fn peer_urls(&self, name: &str) -> Option<&[Url]> {
        self.members.get(name).map(Vec::as_slice)
    }

    /// Member names and their peer URLs, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Url])> {
        self.members
            .iter()
            .map(|(name, urls)| (name.as_str(), urls.as_slice()))
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether no member is listed.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether any peer URL appears twice (etcd's `CheckDuplicateURL`).
    pub fn has_duplicate_url(&self) -> bool {
        let mut all: Vec<String> = self
            .members
            .values()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let count = all.len();
        all.sort();
        all.dedup();
        all.len() != count
    }

    /// The bootstrap members with their IDs, as etcd's `NewClusterFromURLsMap`; fails with
    /// etcd's messages when two members hash to the same ID or an ID is 0.
    pub fn members(&self, token: &str) -> Result<Vec<InitialMember>, String> {
        let mut members: Vec<InitialMember> = Vec::with_capacity(self.members.len());
        for (name, urls) in &self.members {
            let id = member_id(urls, token, None);
            if members.iter().any(|m| m.id == id) {
                // etcd prints the new member with Go's `%v`: &{ID {PeerURLs IsLearner} {Name ClientURLs}}.
                let urls = urls
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(format!(
                    "member exists with identical ID &{{{id:x} {{[{urls}] false}} {{{name} []}}}}"
                ));
            }
            if id == 0 {
                return Err("cannot use 0 as member id".to_string());
            }
            members.push(InitialMember {
                name: name.clone(),
                id,
                peer_urls: urls.clone(),
            });
        }
        Ok(members)
    }

    /// The cluster ID these members would bootstrap with.
    pub fn cluster_id(&self, token: &str) -> Result<u64, String> {
        let ids: Vec<u64> = self.members(token)?.iter().map(|m| m.id).collect();
        Ok(cluster_id(&ids))
    }
}

impl fmt::Display for InitialCluster {
    /// etcd's `URLsMap.String()`: `name=url` pairs sorted as text, comma-joined.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pairs: Vec<String> = self
            .members
            .iter()
            .flat_map(|(name, urls)| urls.iter().map(move |u| format!("{name}={u}")))
            .collect();
        pairs.sort();
        f.write_str(&pairs.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_sorted_urls() {
        let c = InitialCluster::parse(
            "infra2=http://10.0.0.2:2380,infra1=http://10.0.0.1:2381,infra1=http://10.0.0.1:2380",
        )
        .expect("valid");
        assert_eq!(c.len(), 2);
        let names: Vec<&str> = c.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["infra1", "infra2"]);
        let urls: Vec<String> = c
            .peer_urls("infra1")
            .expect("member")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(urls, ["http://10.0.0.1:2380", "http://10.0.0.1:2381"]);
        assert_eq!(
            c.to_string(),
            "infra1=http://10.0.0.1:2380,infra1=http://10.0.0.1:2381,infra2=http://10.0.0.2:2380"
        );
    }

    #[test]
    fn empty_pieces_are_skipped_and_missing_urls_fail() {
        assert!(InitialCluster::parse("").expect("valid").is_empty());
        assert_eq!(
            InitialCluster::parse(",a=http://h:1,")
                .expect("valid")
                .len(),
            1
        );
        assert_eq!(
            InitialCluster::parse("a"),
            Err("URL scheme must be http, https, unix, or unixs: ".to_string())
        );
        assert_eq!(
            InitialCluster::parse("a=127.0.0.1:2380").err().as_deref(),
            Some("parse \"127.0.0.1:2380\": first path segment in URL cannot contain colon")
        );
    }

    #[test]
    fn duplicate_urls_are_detected() {
        let c = InitialCluster::parse("a=http://h:1,b=http://h:1").expect("valid");
        assert!(c.has_duplicate_url());
        let c = InitialCluster::parse("a=http://h:1,b=http://h:2").expect("valid");
        assert!(!c.has_duplicate_url());
    }

    #[test]
    fn from_name_builds_one_member() {
        let urls = vec![
            Url::parse_etcd("http://a:1").expect("valid"),
            Url::parse_etcd("http://b:2").expect("valid"),
        ];
        assert_eq!(
            InitialCluster::from_name("n", &urls),
            "n=http://a:1,n=http://b:2"
        );
        assert_eq!(
            InitialCluster::from_name("", &urls[..1]),
            "default=http://a:1"
        );
        assert_eq!(InitialCluster::from_name("n", &[]), "");
    }

    #[test]
    fn members_get_etcds_ids() {
        let c = InitialCluster::parse(
            "infra1=http://127.0.0.1:32380,infra2=http://127.0.0.1:32382,infra3=http://127.0.0.1:32384",
        )
        .expect("valid");
        let members = c.members("tok-3").expect("distinct");
        let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
        assert_eq!(
            ids,
            [
                8_969_939_487_737_491_088,
                13_480_796_732_600_576_856,
                6_959_368_840_077_181_992
            ]
        );
        assert_eq!(c.cluster_id("tok-3"), Ok(524_734_462_902_618_249));
    }

    #[test]
    fn identical_ids_are_rejected() {
        let c = InitialCluster::parse("a=http://h:1,b=http://h:1").expect("valid");
        let err = c.members("t").expect_err("same URLs give the same ID");
        let id = member_id(&["http://h:1"], "t", None);
        assert_eq!(
            err,
            format!("member exists with identical ID &{{{id:x} {{[http://h:1] false}} {{b []}}}}")
        );
    }
}
