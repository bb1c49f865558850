//! Finding the machine's PostgreSQL server binaries (`initdb`, `postgres`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Where `initdb` and `postgres` live.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
}

/// What to tell a person whose machine has no server binaries.
const INSTALL_HINT: &str = "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`; \
     Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@15`), \
     set ARKSYNC_PG_BIN to the folder holding `initdb` and `postgres`, \
     or set DATABASE_URL to use an existing PostgreSQL";

impl Binaries {
    /// Looks, in order, at `$ARKSYNC_PG_BIN`, `pg_config --bindir`, `PATH`,
    /// and `/usr/lib/postgresql/*/bin` (newest version first). The first
    /// folder holding both programs wins.
    pub fn find() -> anyhow::Result<Self> {
        let candidates = explicit_dir().into_iter().chain(pg_config_bindir()).chain(path_dirs()).chain(debian_dirs());
        for dir in candidates {
            if let Some(found) = Self::in_dir(&dir) {
                return Ok(found);
            }
        }
        bail!("no PostgreSQL server binaries (initdb, postgres) were found; {INSTALL_HINT}")
    }

    fn in_dir(dir: &Path) -> Option<Self> {
        let initdb = dir.join("initdb");
        let postgres = dir.join("postgres");
        (is_executable(&initdb) && is_executable(&postgres)).then_some(Self { initdb, postgres })
    }

    /// The server's major version, e.g. 15, read from `postgres --version`.
    pub fn major_version(&self) -> anyhow::Result<u32> {
        let out = Command::new(&self.postgres)
            .arg("--version")
            .output()
            .with_context(|| format!("running {} --version", self.postgres.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        parse_major_version(&text).with_context(|| format!("unexpected `postgres --version` output: {text:?}"))
    }
}

fn explicit_dir() -> Option<PathBuf> {
    std::env::var_os("ARKSYNC_PG_BIN").map(PathBuf::from)
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default()
}

/// Debian and Ubuntu keep each major version under its own folder and put
/// none of the server programs on PATH.
fn debian_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn parse_major_version(text: &str) -> Option<u32> {
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let version = text.split_whitespace().nth(2)?;
    version.split(['.', 'b', 'r']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_version_is_read_from_debian_and_plain_version_strings() {
        assert_eq!(parse_major_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"), Some(15));
        assert_eq!(parse_major_version("postgres (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(parse_major_version("garbage"), None);
    }
}
