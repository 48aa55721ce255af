//! Paths given with flags, checked before any work: what is wrong with one is said in words
//! (does not exist, not a directory, not writable), the path named once, and nothing is
//! created that was not asked for: an output directory itself may be created later, never
//! its parents.

use crate::{clip, Failure};
use std::io::ErrorKind;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// Most characters of a path an error repeats.
const PATH_CHARS: usize = 200;

fn shown(path: &Path) -> String {
    clip(&path.display().to_string(), PATH_CHARS)
}

/// A failure about the path given with `flag`.
fn bad(flag: &str, path: &Path, why: impl std::fmt::Display) -> Failure {
    Failure::failed(format!("{flag} {}: {why}", shown(path)))
}

/// An I/O error in words, without its "(os error N)".
pub(crate) fn reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |c| {
        c.to_lowercase().chain(chars).collect::<String>()
    })
}

/// The directory a new entry `path` goes into ("." for a bare name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Why `dir` is not an existing directory, if it is not.
fn not_a_directory(dir: &Path) -> Option<String> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", shown(dir))),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Some(format!("directory {} does not exist", shown(dir)))
        }
        // A file where a directory should be, further up.
        Err(e) if e.kind() == ErrorKind::NotADirectory => dir
            .ancestors()
            .find(|a| std::fs::metadata(a).is_ok_and(|m| !m.is_dir()))
            .map(|file| format!("{} is not a directory", shown(file))),
        Err(e) => Some(reason(&e)),
    }
}

/// Why files cannot be created in the existing directory `dir`, if they cannot.
fn unwritable(dir: &Path) -> Option<String> {
    writable(dir)
        .err()
        .map(|e| format!("not writable ({})", reason(&e)))
}

/// Why files cannot be created in `dir`, if they cannot.
fn not_a_place_for_files(dir: &Path) -> Option<String> {
    not_a_directory(dir)
        .or_else(|| unwritable(dir).map(|why| format!("directory {} is {why}", shown(dir))))
}

/// Whether files can be created in `dir`: by creating one and removing it (permission bits
/// say nothing for root or on a read-only file system).
fn writable(dir: &Path) -> std::io::Result<()> {
    static PROBES: AtomicU32 = AtomicU32::new(0);
    let probe = dir.join(format!(
        ".vassa-write-probe-{}-{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Reads the file given with `flag`.
pub(crate) fn read_input(flag: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    check_input(flag, path)?;
    std::fs::read(path).map_err(|e| bad(flag, path, format!("cannot read: {}", reason(&e))))
}

/// The file given with `flag` exists, is a file and can be opened for reading.
pub(crate) fn check_input(flag: &str, path: &Path) -> Result<(), Failure> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(bad(flag, path, "is a directory, not a file")),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            // Which part is missing, when it is a directory.
            let why = not_a_directory(parent(path)).unwrap_or_else(|| "does not exist".into());
            return Err(bad(flag, path, why));
        }
        Err(e) => return Err(bad(flag, path, reason(&e))),
    }
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| match e.kind() {
            ErrorKind::PermissionDenied => bad(flag, path, "not readable (permission denied)"),
            _ => bad(flag, path, format!("cannot read: {}", reason(&e))),
        })
}

/// The output directory given with `flag`: an existing writable directory, or a new name in
/// one (created when the command writes; its parents are not).
pub(crate) fn check_out_dir(flag: &str, dir: &Path) -> Result<(), Failure> {
    let why = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => unwritable(dir),
        Ok(_) => Some("is a file, not a directory".into()),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            not_a_place_for_files(parent(dir)).map(|why| {
                let name = dir.file_name().unwrap_or_default().to_string_lossy();
                if !why.ends_with("does not exist") || name.is_empty() {
                    return why;
                }
                let name = clip(&name, PATH_CHARS);
                format!("{why} ({name} itself is created, not its parents)")
            })
        }
        Err(e) => Some(reason(&e)),
    };
    why.map_or(Ok(()), |why| Err(bad(flag, dir, why)))
}

/// `--trace FILE`: traces go to FILE with each node's name before the extension, in FILE's
/// directory, which must exist.
pub(crate) fn check_trace(file: &Path) -> Result<(), Failure> {
    if std::fs::metadata(file).is_ok_and(|m| m.is_dir()) {
        return Err(bad(
            "--trace",
            file,
            "is a directory; give a file name (each card's trace is FILE with its node name \
             before the extension)",
        ));
    }
    match not_a_place_for_files(parent(file)) {
        Some(why) => Err(bad("--trace", file, why)),
        None => Ok(()),
    }
}

/// A card's trace file (`--trace FILE` with its node name) must not be a directory.
pub(crate) fn check_trace_node(flag_value: &Path, file: &Path) -> Result<(), Failure> {
    if std::fs::metadata(file).is_ok_and(|m| m.is_dir()) {
        let why = format!("{} is a directory", shown(file));
        return Err(bad("--trace", flag_value, why));
    }
    Ok(())
}

/// Writes `text` to `dir/name`, creating `dir` itself when missing (its parent was checked).
pub(crate) fn write_file(dir: &Path, name: &str, text: &str) -> Result<(), Failure> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| Failure::failed(format!("cannot write {}: {}", shown(&path), reason(&e))))?;
    crate::say(&format!("wrote {}\n", path.display()))
}
