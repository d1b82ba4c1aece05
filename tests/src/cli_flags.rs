//! Command-line flags of the test binaries (`oxrobust`, `oxlocker`): bare switches and
//! `--flag value` pairs, read one way with the same errors everywhere.

use anyhow::{Context, Result};

/// One flag as given: its name and its value (empty for a switch).
#[derive(Debug)]
pub struct Flag<'a> {
    /// The flag, e.g. `--seed`.
    pub name: &'a str,
    /// Its value; empty for a switch.
    pub value: &'a str,
}

impl Flag<'_> {
    /// The value as a non-negative number.
    pub fn number(&self) -> Result<u64> {
        self.value
            .parse()
            .with_context(|| format!("{}: {:?} is not a number", self.name, self.value))
    }
}

/// The flags in `args`, in order; those named in `switches` take no value, every other one
/// takes the argument after it.
pub fn flags<'a>(
    args: &'a [String],
    switches: &'a [&str],
) -> impl Iterator<Item = Result<Flag<'a>>> + 'a {
    let mut args = args.iter();
    std::iter::from_fn(move || {
        let name = args.next()?.as_str();
        if switches.contains(&name) {
            return Some(Ok(Flag { name, value: "" }));
        }
        Some(match args.next() {
            Some(value) => Ok(Flag { name, value }),
            None => Err(anyhow::anyhow!("{name} needs a value")),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn switches_take_no_value_and_other_flags_take_the_next_argument() {
        let args = strings(&["--unsafe", "--seed", "7", "--runs"]);
        let read: Vec<_> = flags(&args, &["--unsafe"]).collect();
        assert_eq!(read.len(), 3);
        let first = read[0].as_ref().unwrap();
        assert_eq!((first.name, first.value), ("--unsafe", ""));
        assert_eq!(read[1].as_ref().unwrap().number().unwrap(), 7);
        assert_eq!(
            read[2].as_ref().unwrap_err().to_string(),
            "--runs needs a value"
        );
        let bad = Flag {
            name: "--seed",
            value: "x",
        };
        assert_eq!(
            bad.number().unwrap_err().to_string(),
            "--seed: \"x\" is not a number"
        );
    }
}
