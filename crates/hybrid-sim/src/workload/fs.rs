//! Files seen by simulated containers: per-volume file trees, mounts with `mountPath`/`subPath`,
//! and path normalisation for Linux (`/data/x`) and Windows (`C:\data\x`, `C:/data/x`) paths.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The contents of one volume (or of a container's own writable layer): files and folders by
/// path relative to the volume's root, `/`-separated, without a leading `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FileTree {
    pub(crate) files: BTreeMap<String, String>,
    pub(crate) dirs: BTreeSet<String>,
    /// Permission bits of files that do not have the default (0644 files, 0755 folders), as
    /// set by a volume's `defaultMode` or an item's `mode`.
    pub(crate) modes: BTreeMap<String, u32>,
}

impl FileTree {
    fn is_dir(&self, rel: &str) -> bool {
        rel.is_empty()
            || self.dirs.contains(rel)
            || self
                .files
                .keys()
                .chain(self.dirs.iter())
                .any(|p| p.starts_with(rel) && p[rel.len()..].starts_with('/'))
    }
}

/// A file tree shared between containers (emptyDir, PV contents) or owned by one instance.
pub(crate) type SharedTree = Arc<Mutex<FileTree>>;

pub(crate) fn lock(tree: &SharedTree) -> MutexGuard<'_, FileTree> {
    tree.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a file operation failed; the shell turns it into the OS's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FsError {
    #[error("No such file or directory")]
    NotFound,
    #[error("Is a directory")]
    IsDir,
    #[error("Read-only file system")]
    ReadOnly,
    #[error("File exists")]
    Exists,
}

/// One volume mounted into a container.
#[derive(Debug, Clone)]
pub(crate) struct Mount {
    /// Normalised absolute mount path (`/data`).
    pub(crate) path: String,
    pub(crate) tree: SharedTree,
    pub(crate) read_only: bool,
    /// Folder of the volume mounted instead of its root (`subPath`), normalised, no leading `/`.
    pub(crate) sub_path: String,
}

/// The file system of one container instance: its mounts over its own writable layer, in which
/// any folder exists (the image's folders are not modeled).
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerFs {
    pub(crate) mounts: Vec<Mount>,
    pub(crate) root: SharedTree,
}

/// `C:\data\x`, `c:/data/x`, `/data//x/` → `/data/x`; `.` and `..` resolved.
pub(crate) fn normalize(path: &str) -> String {
    let mut p = path.replace('\\', "/");
    let b = p.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        p = p[2..].to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{rel}"),
    }
}

struct Resolved<'a> {
    tree: &'a SharedTree,
    rel: String,
    read_only: bool,
    in_volume: bool,
}

impl ContainerFs {
    fn resolve(&self, path: &str) -> Resolved<'_> {
        let path = normalize(path);
        let best = self
            .mounts
            .iter()
            .filter(|m| {
                m.path == "/" || path == m.path || path.starts_with(&format!("{}/", m.path))
            })
            .max_by_key(|m| m.path.len());
        match best {
            Some(m) => {
                let rest = path[m.path.len()..].trim_start_matches('/');
                Resolved {
                    tree: &m.tree,
                    rel: join(&m.sub_path, rest),
                    read_only: m.read_only,
                    in_volume: true,
                }
            }
            None => Resolved {
                tree: &self.root,
                rel: path.trim_start_matches('/').to_string(),
                read_only: false,
                in_volume: false,
            },
        }
    }

    pub(crate) fn read(&self, path: &str) -> Result<String, FsError> {
        let r = self.resolve(path);
        let tree = lock(r.tree);
        match tree.files.get(&r.rel) {
            Some(c) => Ok(c.clone()),
            None if tree.is_dir(&r.rel) => Err(FsError::IsDir),
            None => Err(FsError::NotFound),
        }
    }

    /// Permission bits of a file or folder (`stat -c %a`).
    pub(crate) fn mode(&self, path: &str) -> Result<u32, FsError> {
        let (is_file, is_dir) = self.exists(path);
        let r = self.resolve(path);
        let tree = lock(r.tree);
        match tree.modes.get(&r.rel) {
            Some(mode) if is_file || is_dir => Ok(*mode),
            _ if is_file => Ok(0o644),
            _ if is_dir => Ok(0o755),
            _ => Err(FsError::NotFound),
        }
    }

    pub(crate) fn exists(&self, path: &str) -> (bool, bool) {
        let r = self.resolve(path);
        let tree = lock(r.tree);
        let is_file = tree.files.contains_key(&r.rel);
        let is_dir = !is_file && (tree.is_dir(&r.rel) || (!r.in_volume && r.rel.is_empty()));
        (is_file, is_dir)
    }

    /// Writes (or appends to) a file. In a volume the parent folder must exist.
    pub(crate) fn write(&self, path: &str, content: &str, append: bool) -> Result<(), FsError> {
        let r = self.resolve(path);
        if r.read_only {
            return Err(FsError::ReadOnly);
        }
        let mut tree = lock(r.tree);
        if r.rel.is_empty() || tree.is_dir(&r.rel) {
            return Err(FsError::IsDir);
        }
        let parent = r.rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        if r.in_volume && !tree.is_dir(parent) {
            return Err(FsError::NotFound);
        }
        let entry = tree.files.entry(r.rel).or_default();
        if append {
            entry.push_str(content);
        } else {
            *entry = content.to_string();
        }
        Ok(())
    }

    pub(crate) fn remove(&self, path: &str) -> Result<(), FsError> {
        let r = self.resolve(path);
        if r.read_only {
            return Err(FsError::ReadOnly);
        }
        let mut tree = lock(r.tree);
        if tree.files.remove(&r.rel).is_some() {
            Ok(())
        } else if tree.is_dir(&r.rel) {
            Err(FsError::IsDir)
        } else {
            Err(FsError::NotFound)
        }
    }

    pub(crate) fn mkdir(&self, path: &str, parents: bool) -> Result<(), FsError> {
        let r = self.resolve(path);
        if r.read_only {
            return Err(FsError::ReadOnly);
        }
        let mut tree = lock(r.tree);
        if tree.files.contains_key(&r.rel) || (tree.is_dir(&r.rel) && !parents) {
            return Err(FsError::Exists);
        }
        let parent = r.rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        if r.in_volume && !parents && !tree.is_dir(parent) {
            return Err(FsError::NotFound);
        }
        if !r.rel.is_empty() {
            tree.dirs.insert(r.rel);
        }
        Ok(())
    }

    /// Names in a folder, sorted (folders and files alike).
    pub(crate) fn list(&self, path: &str) -> Result<Vec<String>, FsError> {
        let r = self.resolve(path);
        let tree = lock(r.tree);
        if tree.files.contains_key(&r.rel) {
            return Ok(vec![r
                .rel
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()]);
        }
        if !tree.is_dir(&r.rel) && !r.rel.is_empty() && r.in_volume {
            return Err(FsError::NotFound);
        }
        let prefix = if r.rel.is_empty() {
            String::new()
        } else {
            format!("{}/", r.rel)
        };
        let mut names = BTreeSet::new();
        for p in tree.files.keys().chain(tree.dirs.iter()) {
            if let Some(rest) = p.strip_prefix(&prefix) {
                if let Some(first) = rest.split('/').next() {
                    if !first.is_empty() {
                        names.insert(first.to_string());
                    }
                }
            }
        }
        // Folders that are mount points show up in their parent.
        let here = normalize(path);
        for m in &self.mounts {
            if let Some((parent, name)) = m.path.rsplit_once('/') {
                let parent = if parent.is_empty() { "/" } else { parent };
                if parent == here && !name.is_empty() {
                    names.insert(name.to_string());
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs_with_data(read_only: bool) -> (ContainerFs, SharedTree) {
        let tree = SharedTree::default();
        let fs = ContainerFs {
            mounts: vec![Mount {
                path: "/data".into(),
                tree: tree.clone(),
                read_only,
                sub_path: String::new(),
            }],
            root: SharedTree::default(),
        };
        (fs, tree)
    }

    #[test]
    fn modes_default_to_0644_and_follow_the_volume() {
        let (fs, tree) = fs_with_data(false);
        fs.write("/data/a", "x", false).unwrap();
        assert_eq!(fs.mode("/data/a"), Ok(0o644));
        assert_eq!(fs.mode("/data"), Ok(0o755));
        lock(&tree).modes.insert("a".into(), 0o400);
        assert_eq!(fs.mode("/data/a"), Ok(0o400));
        assert_eq!(fs.mode("/data/missing"), Err(FsError::NotFound));
    }

    #[test]
    fn a_read_only_root_mount_leaves_volumes_writable() {
        let (mut fs, _) = fs_with_data(false);
        fs.mounts.push(Mount {
            path: "/".into(),
            tree: SharedTree::default(),
            read_only: true,
            sub_path: String::new(),
        });
        assert_eq!(fs.write("/probe", "x", false), Err(FsError::ReadOnly));
        fs.write("/data/probe", "x", false).unwrap();
    }

    #[test]
    fn windows_and_linux_paths_normalise_alike() {
        assert_eq!(normalize(r"C:\data\x"), "/data/x");
        assert_eq!(normalize("c:/data//x/"), "/data/x");
        assert_eq!(normalize("/data/./a/../x"), "/data/x");
    }

    #[test]
    fn volume_writes_need_parent_folders_and_respect_read_only() {
        let (fs, tree) = fs_with_data(false);
        fs.write(r"C:\data\a.txt", "hi", false).unwrap();
        assert_eq!(fs.read("/data/a.txt").unwrap(), "hi");
        assert_eq!(lock(&tree).files["a.txt"], "hi");
        assert_eq!(fs.write("/data/sub/b", "x", false), Err(FsError::NotFound));
        fs.mkdir("/data/sub", false).unwrap();
        fs.write("/data/sub/b", "x", true).unwrap();
        assert_eq!(fs.list("/data").unwrap(), vec!["a.txt", "sub"]);
        let (ro, _) = fs_with_data(true);
        assert_eq!(ro.write("/data/a", "x", false), Err(FsError::ReadOnly));
        // The writable layer has every folder.
        fs.write("/tmp/deep/f", "y", false).unwrap();
        assert_eq!(fs.read("/tmp/deep/f").unwrap(), "y");
    }
}
