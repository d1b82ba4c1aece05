//! Masking what legitimately differs between two clusters holding the same data before their
//! answers are compared: numbers after named fields of a `Debug` rendering.

/// The header fields that differ between two clusters by design.
pub const CLUSTER_IDENTITY_FIELDS: [&str; 3] = ["cluster_id: ", "member_id: ", "raft_term: "];

/// `debug` with the number after each of `fields` (e.g. `"member_id: "`) replaced by `_`.
pub fn mask_numbers(debug: &str, fields: &[&str]) -> String {
    let mut out = debug.to_string();
    for field in fields {
        let mut from = 0;
        while let Some(found) = out[from..].find(field) {
            let start = from + found + field.len();
            let end = out[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(out.len(), |e| start + e);
            if end > start {
                out.replace_range(start..end, "_");
            }
            from = start;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_numbers_after_the_fields_are_masked() {
        let debug = "Header { cluster_id: 12, member_id: SELF, revision: 7, raft_term: 3 }";
        assert_eq!(
            mask_numbers(debug, &CLUSTER_IDENTITY_FIELDS),
            "Header { cluster_id: _, member_id: SELF, revision: 7, raft_term: _ }"
        );
    }
}
