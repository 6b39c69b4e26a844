//! capsock's compile cache: each compiled component is one uncompressed
//! `.cwasm` file, which a later run maps instead of reading.
//!
//! Written here rather than using wasmtime's own cache (`CacheConfig`)
//! because of what a hit costs there: its artifacts are zstd-compressed, so
//! a hit decompresses the whole artifact into memory, and wasmtime then
//! copies every data segment into a new memfd for copy-on-write
//! instantiation. For the 19 MB component componentize-py makes (CPython
//! and an initialized heap) that was about 270 ms of every start. A file
//! that `Component::deserialize_file` maps is used in place: code and the
//! memory image come from the page cache, shared by every process.
//!
//! Entries are named by the SHA-256 of the component's bytes and a hash of
//! the engine's settings (`Engine::precompile_compatibility_hash`), so a
//! changed component or engine setting compiles afresh. Reading and
//! hashing 19 MB is most of what a hit then still costs (about 35 ms), so
//! a component file also gets a small pointer file, named by what
//! `stat(2)` says of it (path, device, inode, size, modification and change
//! times, as git's index decides whether a file changed), that names its
//! entry: a hit through it reads nothing of the component. A file changed
//! in the last two seconds (by its modification or its change time) gets
//! no pointer, since a rewrite within the timestamps' granularity could
//! keep them all (git's "racy clean" rule).
//!
//! The directory is private to the user (see
//! [`crate::native::private_dir`]). The cache keeps at most [`MAX_BYTES`]
//! of entries: past that, the ones used least recently are removed.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The most bytes of compiled components the cache keeps.
pub const MAX_BYTES: u64 = 2 << 30;

/// A directory of compiled components for one engine.
#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: PathBuf,
    /// Hex hash of the engine's compilation settings.
    engine: String,
    /// A component file changed less than this long ago gets no pointer.
    racy: Duration,
}

impl CompileCache {
    /// Creates (private) or checks `dir`, for components of `engine`.
    pub(crate) fn new(dir: &Path, engine: &Engine) -> anyhow::Result<CompileCache> {
        crate::native::private_dir(dir)
            .with_context(|| format!("compile cache {}", dir.display()))?;
        // `DefaultHasher::new()` is SipHash with fixed keys: the same value
        // in every run of this build, which is all a cache name needs
        // (wasmtime checks compatibility again when it loads the file).
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            engine: format!("{:016x}", h.finish()),
            racy: Duration::from_secs(2),
        })
    }

    /// The entry for a component of `bytes`.
    fn entry(&self, bytes: &[u8]) -> PathBuf {
        let digest = Sha256::digest(bytes);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}-{}.cwasm", self.engine))
    }

    /// The compiled component in `entry`, if it is there and usable (an
    /// unusable one is removed).
    // The one unsafe call outside `sys`: mapping a compiled component.
    #[allow(unsafe_code)]
    fn map(&self, engine: &Engine, entry: &Path) -> Option<Component> {
        if !entry.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` runs the file's code, so it must hold
        // what `Component::serialize` wrote for this engine. Only `store`
        // below writes entries, in a directory that only this user can
        // write to (`private_dir` checks owner and mode); whoever could
        // replace a file could already run code as this user. wasmtime
        // rejects files of another version or configuration.
        match unsafe { Component::deserialize_file(engine, entry) } {
            Ok(component) => {
                // The time of last use, for eviction.
                let _ = std::fs::File::open(entry).and_then(|f| f.set_modified(SystemTime::now()));
                Some(component)
            }
            Err(e) => {
                tracing::debug!(entry = %entry.display(), "compile cache: dropping an unusable entry: {e:#}");
                let _ = std::fs::remove_file(entry);
                None
            }
        }
    }

    /// The component of `bytes`: mapped from the cache, or compiled and
    /// stored there.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
        let entry = self.entry(bytes);
        if let Some(component) = self.map(engine, &entry) {
            return Ok(component);
        }
        let component = Component::new(engine, bytes).map_err(anyhow::Error::from)?;
        if let Err(e) = self.store(&entry, &component.serialize().map_err(anyhow::Error::from)?) {
            tracing::warn!(entry = %entry.display(), "compile cache: not stored: {e:#}");
        }
        self.trim(MAX_BYTES);
        Ok(component)
    }

    /// The pointer file for the component file at `path`, named by what
    /// `stat(2)` says of it; `None` for a file changed in the last two
    /// seconds, or one that cannot be examined.
    pub(crate) fn pointer(&self, path: &Path) -> Option<PathBuf> {
        let meta = std::fs::metadata(path).ok()?;
        // The later of the two times: a copy that kept its old
        // modification time (`cp -p`, tar) was still changed just now.
        let changed = SystemTime::UNIX_EPOCH
            + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
        let age = SystemTime::now()
            .duration_since(meta.modified().ok()?.max(changed))
            .ok()?;
        if !meta.is_file() || age < self.racy {
            return None;
        }
        let mut h = Sha256::new();
        h.update(std::fs::canonicalize(path).ok()?.as_os_str().as_bytes());
        h.update([0]);
        for n in [meta.dev(), meta.ino(), meta.size()] {
            h.update(n.to_le_bytes());
        }
        for n in [
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec(),
        ] {
            h.update(n.to_le_bytes());
        }
        let hex: String = h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(self.dir.join(format!("{hex}-{}.path", self.engine)))
    }

    /// The component `pointer` names, if both are there.
    pub(crate) fn load_pointer(&self, engine: &Engine, pointer: &Path) -> Option<Component> {
        let name = std::fs::read_to_string(pointer).ok()?;
        // Only an entry's own name: nothing outside the directory.
        let ok = name
            .strip_suffix(".cwasm")
            .is_some_and(|stem| stem.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        if !ok {
            let _ = std::fs::remove_file(pointer);
            return None;
        }
        self.map(engine, &self.dir.join(name))
    }

    /// Makes `pointer` name the entry of `bytes`.
    pub(crate) fn point(&self, pointer: &Path, bytes: &[u8]) {
        let entry = self.entry(bytes);
        if let Some(name) = entry.file_name() {
            if let Err(e) = self.store(pointer, name.as_bytes()) {
                tracing::warn!(pointer = %pointer.display(), "compile cache: not stored: {e:#}");
            }
        }
    }

    /// Writes `bytes` to `path`, whole or not at all: a new temporary file
    /// (a random name, created exclusively, 0600, so no two writers ever
    /// share one), synced, then renamed over `path`. A reader sees the old
    /// file or the whole new one.
    fn store(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".entry-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Removes the least recently used entries until at most `max` bytes
    /// remain, then the pointers to entries that are gone.
    fn trim(&self, max: u64) {
        self.trim_entries(max);
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for file in dir.flatten().map(|e| e.path()) {
            let is = |ext: &str| file.extension().is_some_and(|x| x == ext);
            // A temporary file a crashed writer left behind, or a pointer
            // whose entry is gone.
            let stale_tmp = is("tmp")
                && std::fs::metadata(&file)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < hour_ago);
            let dangling = is("path")
                && std::fs::read_to_string(&file)
                    .map_or(true, |name| !self.dir.join(name.trim()).is_file());
            if stale_tmp || dangling {
                let _ = std::fs::remove_file(&file);
            }
        }
    }

    fn trim_entries(&self, max: u64) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = dir
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= max {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: no imports, no exports.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn a_stored_component_is_mapped_back_and_a_changed_one_compiles_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let mut cache = CompileCache::new(&dir.path().join("c"), &engine).unwrap();
        cache.racy = Duration::ZERO;
        cache.load(&engine, EMPTY).unwrap();
        let files = || std::fs::read_dir(dir.path().join("c")).unwrap().count();
        assert_eq!(files(), 1, "one entry, no temporary file left");
        cache.load(&engine, EMPTY).unwrap();
        assert_eq!(files(), 1, "a hit stores nothing");
        let wat = wat_component();
        cache.load(&engine, &wat).unwrap();
        assert_eq!(files(), 2, "another component, another entry");
        let file = dir.path().join("guest.wasm");
        std::fs::write(&file, EMPTY).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        cache.point(&cache.pointer(&file).unwrap(), EMPTY);
        assert_eq!(files(), 3, "and a pointer");
        cache.trim(0);
        assert_eq!(files(), 0, "the pointer went with its entry");
    }

    #[test]
    fn a_pointer_finds_an_unchanged_file_and_loses_a_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let mut cache = CompileCache::new(&dir.path().join("c"), &engine).unwrap();
        let file = dir.path().join("guest.wasm");
        std::fs::write(&file, EMPTY).unwrap();
        assert_eq!(
            cache.pointer(&file),
            None,
            "a file written just now gets none"
        );
        let past = SystemTime::now() - Duration::from_secs(60);
        let set_mtime = |t| {
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        set_mtime(past);
        assert_eq!(
            cache.pointer(&file),
            None,
            "nor one whose modification time was set back just now"
        );
        // The rest is about what a pointer's name covers, not the window.
        cache.racy = Duration::ZERO;
        let pointer = cache.pointer(&file).expect("an old file gets a pointer");
        assert!(
            cache.load_pointer(&engine, &pointer).is_none(),
            "nothing yet"
        );
        cache.load(&engine, EMPTY).unwrap();
        cache.point(&pointer, EMPTY);
        assert!(cache.load_pointer(&engine, &pointer).is_some(), "a hit");
        // Rewritten with other bytes of the same length and its old
        // modification time put back: only the change time tells.
        std::fs::write(&file, b"\0asm\x0d\0\x01\x01").unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().len(), EMPTY.len() as u64);
        set_mtime(past);
        assert_ne!(cache.pointer(&file), Some(pointer.clone()));
        // A pointer naming anything but an entry is refused and removed.
        std::fs::write(&pointer, "../../etc/passwd").unwrap();
        assert!(cache.load_pointer(&engine, &pointer).is_none());
        assert!(!pointer.exists());
    }

    #[test]
    fn a_corrupt_entry_is_replaced_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(dir.path(), &engine).unwrap();
        cache.load(&engine, EMPTY).unwrap();
        let entry = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::write(&entry, b"not a compiled component").unwrap();
        cache.load(&engine, EMPTY).expect("compiled afresh");
        assert!(
            std::fs::read(&entry).unwrap().len() > 100,
            "the entry was written again"
        );
    }

    fn wat_component() -> Vec<u8> {
        // A component with one core module (a function), built by hand.
        let mut c = EMPTY.to_vec();
        // core module section (id 1) holding an empty core module.
        let module = b"\0asm\x01\0\0\0";
        c.push(1);
        c.push(module.len() as u8);
        c.extend_from_slice(module);
        c
    }
}
