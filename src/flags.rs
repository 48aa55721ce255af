//! Flag values and clap's errors as one line that names the flag and the value.

use crate::{clip, Failure};
use clap::error::{ContextKind, ErrorKind};

/// Most characters of a flag value an error repeats.
const VALUE_CHARS: usize = 60;

/// A whole number of at most `max`; the error says what is wrong with `s` (clap puts the
/// flag and the value before it).
fn whole(s: &str, max: u64) -> Result<u64, String> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match s.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        Ok(_) => Err(format!("more than {max}")),
        Err(_) if digits(s) => Err(format!("more than {max}")),
        Err(_) if s.strip_prefix('-').is_some_and(digits) => Err("must not be negative".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

/// A `u32` flag value (generator parameters).
pub(crate) fn whole_u32(s: &str) -> Result<u32, String> {
    whole(s, u32::MAX.into()).map(|v| v as u32)
}

/// A `u64` flag value (sizes in bytes).
pub(crate) fn whole_u64(s: &str) -> Result<u64, String> {
    whole(s, u64::MAX)
}

/// A count that must be at least 1 (cycles).
pub(crate) fn positive_u64(s: &str) -> Result<u64, String> {
    match whole(s, u64::MAX)? {
        0 => Err("must be at least 1".into()),
        v => Ok(v),
    }
}

/// A value as an error shows it: quoted when empty or holding spaces, cut when long (with
/// its length after the quotes).
fn shown(value: &str) -> String {
    let quote = value.is_empty() || value.contains(|c: char| c.is_whitespace() || c.is_control());
    let chars = value.chars().count();
    let mut head: String = value.chars().take(VALUE_CHARS).collect();
    if chars > VALUE_CHARS {
        head.push('…');
    }
    let head = if quote { format!("{head:?}") } else { head };
    match chars > VALUE_CHARS {
        true => format!("{head} ({chars} characters)"),
        false => head,
    }
}

/// "a, b or c".
fn or_list(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// clap's error as one line, and exit status 2: which flag, which value, what is wrong.
/// `command` is the (sub)command whose help to see: "vassa sim".
pub(crate) fn usage_failure(e: &clap::Error, command: &str) -> Failure {
    let get = |kind| e.get(kind).map(|v| v.to_string()).unwrap_or_default();
    let flag = get(ContextKind::InvalidArg);
    // "--mem-bytes <BYTES>" names the flag with its value's placeholder.
    let flag = flag.split_whitespace().next().unwrap_or_default();
    let value = get(ContextKind::InvalidValue);
    let valid = get(ContextKind::ValidValue);
    let valid: Vec<&str> = valid.split(", ").filter(|v| !v.is_empty()).collect();
    let text = match e.kind() {
        ErrorKind::MissingSubcommand => {
            let subcommands = get(ContextKind::ValidSubcommand);
            let subcommands: Vec<&str> = subcommands.split(", ").filter(|s| *s != "help").collect();
            format!("{command} needs a subcommand: {}", or_list(&subcommands))
        }
        ErrorKind::InvalidValue if value.is_empty() && valid.is_empty() => {
            format!("{flag} needs a value")
        }
        ErrorKind::InvalidValue if value.is_empty() => {
            format!("{flag} needs a value: {}", or_list(&valid))
        }
        ErrorKind::InvalidValue => {
            format!("{flag} {}: expected {}", shown(&value), or_list(&valid))
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e).map_or(String::new(), |s| s.to_string());
            format!("{flag} {}: {why}", shown(&value))
        }
        _ => {
            // clap's own first paragraph, without its "error: " and with its tip.
            let text = e.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let mut first = first.join(" ").trim_start_matches("error: ").to_string();
            let suggested = [ContextKind::SuggestedArg, ContextKind::SuggestedSubcommand]
                .into_iter()
                .find_map(|kind| e.get(kind));
            if let Some(s) = suggested {
                first += &format!(" (did you mean '{s}'?)");
            }
            clip(&first, 4 * VALUE_CHARS)
        }
    };
    Failure::usage(format!("{text} (see {command} --help)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_say_what_is_wrong() {
        assert_eq!(whole_u32("4096"), Ok(4096));
        assert_eq!(whole_u32("-4096"), Err("must not be negative".into()));
        assert_eq!(whole_u32("4294967296"), Err("more than 4294967295".into()));
        assert_eq!(
            whole_u64("99999999999999999999"),
            Err("more than 18446744073709551615".into())
        );
        for bad in ["", "4k", "1.5", "-1.5", "0x10", " 4"] {
            assert_eq!(whole_u64(bad), Err("not a whole number".into()), "{bad:?}");
        }
        assert_eq!(positive_u64("0"), Err("must be at least 1".into()));
        assert_eq!(shown(""), "\"\"");
        assert_eq!(shown("4 KiB"), "\"4 KiB\"");
        let long = format!("{} ", "9".repeat(VALUE_CHARS));
        let cut = format!(
            "\"{}…\" ({} characters)",
            "9".repeat(VALUE_CHARS),
            VALUE_CHARS + 1
        );
        assert_eq!(shown(&long), cut);
        assert_eq!(or_list(&["rtl", "model"]), "rtl or model");
        assert_eq!(or_list(&["a", "b", "c"]), "a, b or c");
    }
}
