//! OS errors as Go prints them (`open /x: permission denied`), for messages etcd builds from
//! an `*os.PathError`.

use std::io;

/// An OS error as Go prints it: the lower-case `strerror` text without Rust's suffix.
pub fn go_io_error_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_io_errors_are_lower_case_without_os_suffix() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(go_io_error_text(&err), "no such file or directory");
        let err = io::Error::from_raw_os_error(13);
        assert_eq!(go_io_error_text(&err), "permission denied");
    }
}
