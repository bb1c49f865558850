//! Who the embedded PostgreSQL runs as.
//!
//! `postgres` refuses to run as root. When arksync itself runs as root (CI,
//! containers), the server runs as an unprivileged account instead: the
//! `postgres` user when the machine has one, else `nobody`. Otherwise it runs
//! as whoever runs arksync.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use nix::unistd::{Gid, Uid, User};

/// The account the server's files and processes belong to.
#[derive(Debug, Clone)]
pub struct ServerOwner {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// True when arksync switches to this account (it runs as root).
    pub switches_user: bool,
}

impl ServerOwner {
    pub fn detect() -> anyhow::Result<Self> {
        let me = Uid::effective();
        if !me.is_root() {
            let name = User::from_uid(me).ok().flatten().map_or_else(|| me.to_string(), |u| u.name);
            return Ok(Self { name, uid: me.as_raw(), gid: Gid::effective().as_raw(), switches_user: false });
        }
        for name in ["postgres", "nobody"] {
            if let Some(user) = User::from_name(name).context("reading the user database")? {
                return Ok(Self {
                    name: user.name,
                    uid: user.uid.as_raw(),
                    gid: user.gid.as_raw(),
                    switches_user: true,
                });
            }
        }
        bail!(
            "arksync runs as root and PostgreSQL refuses to; no `postgres` or `nobody` user exists to run it as \
             (create one with `useradd --system postgres`, or run arksync as an ordinary user)"
        )
    }

    /// A command that runs as this account.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        if self.switches_user {
            cmd.uid(self.uid).gid(self.gid);
        }
        cmd
    }

    /// Creates `dir` (if needed) owned by this account with mode 0700, the
    /// only mode PostgreSQL accepts for its data directory.
    pub fn make_private_dir(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        if self.switches_user {
            chown_tree(dir, self.uid, self.gid)?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting the mode of {}", dir.display()))
    }

    /// Whether this account can reach `dir` (not so for a data dir under
    /// root's 0700 home while the server runs as `postgres`).
    pub fn can_reach(&self, dir: &Path) -> anyhow::Result<bool> {
        if !self.switches_user {
            return Ok(true);
        }
        let status = self
            .command("sh")
            .args(["-c", "cd \"$1\"", "sh"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .context("checking the data directory's permissions")?;
        Ok(status.success())
    }
}

/// Gives a tree to `uid:gid` when it is not theirs already (a data dir made
/// by an earlier non-root run, now used by root).
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.uid() == uid && meta.gid() == gid {
        return Ok(());
    }
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).with_context(|| format!("chown {}", dir.display()))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
