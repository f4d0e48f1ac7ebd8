//! Crash-safe state file I/O, in two files:
//!
//! * the snapshot (`<state>`): whole-state JSON written to a temporary sibling, fsynced, then
//!   renamed over the old file (and the directory fsynced), so a crash leaves the old or the new
//!   snapshot, never a torn one;
//! * the journal (`<state>.journal`): one JSON line per change, appended and fsynced before the
//!   change is acknowledged. Rewriting the whole state on every create made creates slow as the
//!   state grew (0.5 s each at 500 instances with 16 KB user data); appending keeps them cheap.
//!
//! A torn last journal line (a crash mid-append) was never acknowledged and is dropped on
//! recovery. A lock file keeps two processes off one state.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Failures of state-file I/O, each naming the path.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading, writing, syncing or renaming failed.
    #[error("state file {path}: {action} failed: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another process holds the lock.
    #[error(
        "state file {path} is in use by another simulated cloud (lock file {lock} is held); stop that process or pass a different --state"
    )]
    Locked {
        /// The state file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
}

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> PersistError + use<> {
    let path = path.to_owned();
    move |source| PersistError::Io {
        path,
        action,
        source,
    }
}

/// An exclusive advisory lock on `<state>.lock`, held while the value lives.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Takes the lock of a state file, creating its directory if needed.
pub fn lock_state(path: &Path) -> Result<StateLock, PersistError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err(dir, "creating the directory"))?;
    }
    let lock = lock_path(path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io_err(&lock, "opening the lock file"))?;
    // A lock that was just released can still look held for a moment: a process forked by
    // another thread of the releasing process shares the lock until it execs. So wait briefly
    // before calling the state busy.
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(StateLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(PersistError::Locked {
                    path: path.to_owned(),
                    lock,
                });
            }
            Err(fs::TryLockError::Error(source)) => {
                return Err(PersistError::Io {
                    path: lock,
                    action: "locking",
                    source,
                });
            }
        }
    }
}

/// How long [`lock_state`] waits for a held lock.
const LOCK_PATIENCE: Duration = Duration::from_secs(3);

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Reads the state file; `None` if it does not exist yet.
pub fn read_state(path: &Path) -> Result<Option<Vec<u8>>, PersistError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, "reading")(e)),
    }
}

/// Replaces the state file with `bytes` atomically and durably. The file is created 0600: it
/// holds user data, which may carry bootstrap tokens.
pub fn write_state(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut options = OpenOptions::new();
        options.create(true).truncate(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .map_err(io_err(&tmp, "creating the temporary file"))?;
        file.write_all(bytes)
            .map_err(io_err(&tmp, "writing the temporary file"))?;
        file.sync_all()
            .map_err(io_err(&tmp, "syncing the temporary file"))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path, "renaming the temporary file over"))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir, "syncing the directory of"))?;
    }
    Ok(())
}

/// `<state>.journal`.
pub fn journal_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// The journal's lines that were completely written. A last line without its newline (a crash
/// mid-append) is left out; the caller decides what an unparsable complete line means.
pub fn read_journal(path: &Path) -> Result<Vec<Vec<u8>>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path, "reading the journal")(e)),
    };
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(last) => &bytes[..=last],
        None => &[][..],
    };
    Ok(complete
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// The open journal, appended to and fsynced line by line.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Journal {
    /// Opens (creating, mode 0600) the journal for appending.
    pub fn open(path: &Path) -> Result<Self, PersistError> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(io_err(path, "opening the journal"))?;
        let len = file
            .metadata()
            .map_err(io_err(path, "reading the size of the journal"))?
            .len();
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
        })
    }

    /// Appends one line (a newline is added) and waits until it is on disk.
    pub fn append(&mut self, line: &[u8]) -> Result<(), PersistError> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        self.file
            .write_all(&buf)
            .map_err(io_err(&self.path, "appending to the journal"))?;
        self.file
            .sync_data()
            .map_err(io_err(&self.path, "syncing the journal"))?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Empties the journal (after its content went into a snapshot).
    pub fn reset(&mut self) -> Result<(), PersistError> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.sync_all())
            .map_err(io_err(&self.path, "truncating the journal"))?;
        self.len = 0;
        Ok(())
    }

    /// Bytes in the journal.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        let _lock = lock_state(&path).unwrap();
        assert_eq!(read_state(&path).unwrap(), None);
        write_state(&path, b"one").unwrap();
        write_state(&path, b"two").unwrap();
        assert_eq!(read_state(&path).unwrap().unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn second_lock_on_the_same_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let first = lock_state(&path).unwrap();
        let err = lock_state(&path).unwrap_err();
        assert!(matches!(err, PersistError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("--state"), "{err}");
        drop(first);
        lock_state(&path).unwrap();
    }

    #[test]
    fn journal_keeps_complete_lines_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir.path().join("state.json"));
        assert!(read_journal(&path).unwrap().is_empty());
        let mut journal = Journal::open(&path).unwrap();
        journal.append(b"{\"a\":1}").unwrap();
        journal.append(b"{\"b\":2}").unwrap();
        assert_eq!(journal.len(), 16);
        // A crash in the middle of the third append.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"c\":")
            .unwrap();
        assert_eq!(
            read_journal(&path).unwrap(),
            vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]
        );
        journal.reset().unwrap();
        assert!(journal.is_empty());
        assert!(read_journal(&path).unwrap().is_empty());
    }
}
