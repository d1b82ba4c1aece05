//! Cobra's "Did you mean this?" suggestions for an unknown command.

use super::command::Command;

/// Subcommands close to `typed`: Levenshtein distance (case-insensitive) at most 2, or a
/// name starting with it.
pub fn suggestions(command: &Command, typed: &str) -> Vec<&'static str> {
    let typed_lower = typed.to_lowercase();
    command
        .children
        .iter()
        // Cobra never suggests its own help command.
        .filter(|c| c.action != Some(super::command::Action::Help))
        .filter(|c| {
            distance(&typed_lower, &c.name.to_lowercase()) <= 2
                || c.name.to_lowercase().starts_with(&typed_lower)
        })
        .map(|c| c.name)
        .collect()
}

/// The suffix cobra appends to "unknown command" errors.
pub fn suggestion_text(command: &Command, typed: &str) -> String {
    let found = suggestions(command, typed);
    if found.is_empty() {
        return String::new();
    }
    let mut text = String::from("\n\nDid you mean this?\n");
    for name in found {
        text.push('\t');
        text.push_str(name);
        text.push('\n');
    }
    text
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command_tree::tree;

    #[test]
    fn suggests_like_cobra() {
        let root = tree();
        assert_eq!(suggestions(&root, "gett"), vec!["get"]);
        assert_eq!(
            suggestion_text(&root, "gett"),
            "\n\nDid you mean this?\n\tget\n"
        );
        assert!(suggestions(&root, "zzzzzz").is_empty());
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
