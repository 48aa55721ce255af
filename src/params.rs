//! Generator parameters from defaults, a TOML file (`--params`), then flags.
//!
//! A mistake in the file is one line `FILE:LINE:COLUMN: KEY: MESSAGE` (`FILE: MESSAGE` when it
//! has no place) with exit status 1, shown like a scenario file's; a flag with a bad value, or
//! one that does not fit the file, is a usage error (2) naming the flag.

use crate::{paths, Failure};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use vassa_harness::scenario::{ErrorKind, ScenarioError};
use vassa_spec::params::{CoreParams, ParamError, DATAPATH_BYTES};

/// Generator parameters: a TOML file, then flags that override it.
#[derive(clap::Args)]
pub struct ParamArgs {
    /// TOML file of generator parameters; flags below override it.
    #[arg(long = "params", value_name = "FILE.toml")]
    file: Option<PathBuf>,
    #[arg(long, value_name = "N", value_parser = crate::flags::whole_u32, allow_negative_numbers = true)]
    tx_cache_entries: Option<u32>,
    #[arg(long, value_name = "N", value_parser = crate::flags::whole_u32, allow_negative_numbers = true)]
    rx_cache_entries: Option<u32>,
    #[arg(long, value_name = "N", value_parser = crate::flags::whole_u32, allow_negative_numbers = true)]
    line_bytes: Option<u32>,
    #[arg(long, value_name = "N", value_parser = crate::flags::whole_u32, allow_negative_numbers = true)]
    max_payload: Option<u32>,
    #[arg(long, value_name = "N", value_parser = crate::flags::whole_u32, allow_negative_numbers = true)]
    miss_buffer_packets: Option<u32>,
    #[arg(long, value_name = "N", value_parser = crate::flags::whole_u32, allow_negative_numbers = true)]
    counter_slots: Option<u32>,
}

/// `--tx-cache-entries` for `tx_cache_entries`.
fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

impl ParamArgs {
    /// `p` with the flags' values in place of its own.
    fn with_flags(&self, mut p: CoreParams) -> CoreParams {
        let overrides = [
            (&mut p.tx_cache_entries, self.tx_cache_entries),
            (&mut p.rx_cache_entries, self.rx_cache_entries),
            (&mut p.line_bytes, self.line_bytes),
            (&mut p.max_payload, self.max_payload),
            (&mut p.miss_buffer_packets, self.miss_buffer_packets),
            (&mut p.counter_slots, self.counter_slots),
        ];
        for (field, value) in overrides {
            if let Some(v) = value {
                *field = v;
            }
        }
        p
    }

    /// The parameters: defaults, then the file, then the flags, validated.
    pub fn params(&self) -> Result<CoreParams, Failure> {
        // Each flag's value on its own first: one out of its range is wrong whatever the file
        // says, and is reported before the file is read.
        if let Err(e) = self.with_flags(CoreParams::default()).validate() {
            if !matches!(e, ParamError::ReceiveRamTooLarge { .. }) {
                return Err(Failure::usage(self.flag_error(&e)));
            }
        }
        let base = match &self.file {
            Some(path) => from_file(path)?,
            None => CoreParams::default(),
        };
        // The file is valid alone, so what fails now is a flag that does not fit it.
        let p = self.with_flags(base);
        p.validate()
            .map_err(|e| Failure::usage(self.flag_error(&e)))?;
        Ok(p)
    }

    /// `e` naming the flags given instead of their parameters.
    fn flag_error(&self, e: &ParamError) -> String {
        match e {
            ParamError::OutOfRange {
                name,
                value,
                min,
                max,
            } => format!("{} {value}: out of range {min}..={max}", flag(name)),
            ParamError::NotPowerOfTwo { name, value } => {
                format!("{} {value}: must be a power of two", flag(name))
            }
            ParamError::NotDatapathMultiple { name, value } => format!(
                "{} {value}: must be a multiple of the {DATAPATH_BYTES}-byte datapath",
                flag(name)
            ),
            // "max_payload = 4096 with miss_buffer_packets = 8 needs …", of the two that
            // decide the receive RAM.
            _ => [
                ("max_payload", self.max_payload),
                ("miss_buffer_packets", self.miss_buffer_packets),
            ]
            .into_iter()
            .filter(|(_, value)| value.is_some())
            .fold(e.to_string(), |text, (name, _)| {
                text.replace(&format!("{name} = "), &format!("{} ", flag(name)))
            }),
        }
    }
}

/// 1-based line and column (in characters, as scenario errors count them) of byte `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    // toml's spans fall on character boundaries; a stray one counts from the end.
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// A parameter file's mistake as one line, in the shape of a scenario file's.
fn located(
    kind: ErrorKind,
    file: &str,
    text: &str,
    span: Option<Range<usize>>,
    key: &str,
    message: &str,
) -> Failure {
    let (line, column) = span.map(|s| line_column(text, s.start)).unzip();
    let e = ScenarioError {
        kind,
        file: file.to_string(),
        line,
        column,
        path: key.to_string(),
        message: message.to_string(),
    };
    Failure::failed(e.to_string())
}

/// Reads and validates a parameter file.
fn from_file(path: &Path) -> Result<CoreParams, Failure> {
    let file = path.display().to_string();
    let bytes = paths::read_input("--params", path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let end = Some(valid.len()..valid.len());
        located(ErrorKind::Io, &file, valid, end, "", "not valid UTF-8")
    })?;
    // Where each key and its value are written; none when the text is not TOML.
    let entries: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>> =
        toml::from_str(&text).ok();
    let entries = entries.unwrap_or_default();
    let key_at = |at: usize| {
        entries
            .iter()
            .find(|(k, v)| k.span().contains(&at) || v.span().contains(&at))
            .map_or("", |(k, _)| k.get_ref().as_str())
    };
    let params: CoreParams = toml::from_str(&text).map_err(|e| {
        let kind = match toml::from_str::<toml::Table>(&text) {
            Ok(_) => ErrorKind::Schema,
            Err(_) => ErrorKind::Syntax,
        };
        let key = e.span().map_or("", |s| key_at(s.start));
        located(kind, &file, &text, e.span(), key, e.message())
    })?;
    params.validate().map_err(|e| {
        // The key to blame: the one named, or the first named that the file sets.
        let names: &[&str] = match &e {
            ParamError::OutOfRange { name, .. }
            | ParamError::NotPowerOfTwo { name, .. }
            | ParamError::NotDatapathMultiple { name, .. } => &[name],
            _ => &["max_payload", "miss_buffer_packets"],
        };
        let set = names.iter().find_map(|n| {
            entries
                .iter()
                .find(|(k, _)| k.get_ref() == n)
                .map(|(k, v)| (k.get_ref().as_str(), v.span()))
        });
        let (key, span) = set.map_or(("", None), |(k, span)| (k, Some(span)));
        located(ErrorKind::Invalid, &file, &text, span, key, &e.to_string())
    })?;
    Ok(params)
}
