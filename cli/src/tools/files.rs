//! The live demo's read-only file lister: lists one directory's entries (name, kind, size)
//! below a root the user chose, and never anything outside it — absolute paths are refused and
//! every path is resolved (`..`, symlinks) before it is checked against the root. It reads
//! directory entries and their metadata only, never file contents.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

/// The most entries one listing returns.
pub(crate) const MAX_ENTRIES: usize = 200;

/// Lists directories below a root.
#[derive(Debug, Clone)]
pub(crate) struct FileLister {
    root: PathBuf,
}

/// Why a listing was refused or failed.
#[derive(Debug)]
pub(crate) enum ListError {
    /// The path leaves the root (absolute, `..` above it, or a symlink out of it).
    OutsideRoot(String),
    /// The path is not a directory.
    NotADirectory(String),
    /// The OS said no.
    Io(String, io::Error),
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::OutsideRoot(path) => {
                write!(f, "{path:?} is outside the directory I may list")
            }
            ListError::NotADirectory(path) => write!(f, "{path:?} is not a directory"),
            ListError::Io(path, error) => write!(f, "cannot list {path:?}: {error}"),
        }
    }
}

impl std::error::Error for ListError {}

impl FileLister {
    /// A lister of `root`, which must be a directory.
    pub(crate) fn new(root: &Path) -> io::Result<FileLister> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(FileLister { root })
    }

    /// The root, resolved.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The entries of `path` (relative to the root), sorted by name.
    pub(crate) fn list(&self, path: &str) -> Result<Value, ListError> {
        let target = self.resolve(path)?;
        if !target.is_dir() {
            return Err(ListError::NotADirectory(path.into()));
        }
        let reader = std::fs::read_dir(&target).map_err(|e| ListError::Io(path.into(), e))?;
        let mut entries: Vec<(String, &'static str, u64)> = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|e| ListError::Io(path.into(), e))?;
            // Not followed: a symlink is reported as one, whatever it points to.
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            let kind = if metadata.is_symlink() {
                "symlink"
            } else if metadata.is_dir() {
                "dir"
            } else if metadata.is_file() {
                "file"
            } else {
                "other"
            };
            let size = if metadata.is_file() {
                metadata.len()
            } else {
                0
            };
            entries.push((entry.file_name().to_string_lossy().into_owned(), kind, size));
        }
        entries.sort();
        let total = entries.len();
        let listed: Vec<Value> = entries
            .into_iter()
            .take(MAX_ENTRIES)
            .map(|(name, kind, size)| json!({ "name": name, "kind": kind, "size": size }))
            .collect();
        Ok(json!({
            "path": path,
            "entries": listed,
            "total_entries": total,
            "truncated": total > MAX_ENTRIES,
        }))
    }

    /// `path` below the root, resolved; refused when it leaves the root.
    fn resolve(&self, path: &str) -> Result<PathBuf, ListError> {
        let relative = Path::new(path);
        let escapes = relative
            .components()
            .any(|component| matches!(component, Component::RootDir | Component::Prefix(_)));
        if escapes {
            return Err(ListError::OutsideRoot(path.into()));
        }
        let resolved = self
            .root
            .join(relative)
            .canonicalize()
            .map_err(|e| ListError::Io(path.into(), e))?;
        if !resolved.starts_with(&self.root) {
            return Err(ListError::OutsideRoot(path.into()));
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "responses-ws-cli-files-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/sub")).unwrap();
        std::fs::write(dir.join("root/a.txt"), "hello").unwrap();
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        dir
    }

    #[test]
    fn lists_inside_the_root_and_nothing_outside() {
        let dir = scratch();
        let lister = FileLister::new(&dir.join("root")).unwrap();
        let listing = lister.list(".").unwrap();
        assert_eq!(listing["total_entries"], 2);
        assert_eq!(listing["entries"][0]["name"], "a.txt");
        assert_eq!(listing["entries"][0]["size"], 5);
        assert_eq!(listing["entries"][1]["kind"], "dir");
        assert!(lister.list("sub").is_ok());
        assert!(lister.list("sub/..").is_ok());
        for outside in ["..", "../", "sub/../..", "/", "/etc"] {
            assert!(
                matches!(lister.list(outside), Err(ListError::OutsideRoot(_))),
                "{outside}"
            );
        }
        assert!(matches!(
            lister.list("a.txt"),
            Err(ListError::NotADirectory(_))
        ));
        assert!(matches!(lister.list("missing"), Err(ListError::Io(..))));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_root_is_refused() {
        let dir = scratch();
        std::os::unix::fs::symlink(&dir, dir.join("root/up")).unwrap();
        let lister = FileLister::new(&dir.join("root")).unwrap();
        assert!(matches!(lister.list("up"), Err(ListError::OutsideRoot(_))));
        let listing = lister.list(".").unwrap();
        assert!(listing.to_string().contains(r#""kind":"symlink""#));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
