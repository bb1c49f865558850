//! The embedded PostgreSQL cluster: arksync's default database when no
//! `DATABASE_URL` is given, and the test harness's database.
//!
//! The cluster lives in `<data dir>/pg`, is created by `initdb` on first use
//! (into a temporary folder renamed into place, so a crash never leaves a
//! half-made cluster), listens only on a Unix socket in a private folder, and
//! is reused on every later start. A lock file in the data dir makes a second
//! arksync on the same data dir fail at once instead of sharing it.
//!
//! `postgres` runs under a small `sh` watchdog whose standard input is a pipe
//! from arksync: when arksync exits for any reason, even `kill -9`, the pipe
//! closes and the watchdog asks PostgreSQL for a fast shutdown. No server is
//! ever left running without its arksync.

mod binaries;
mod owner;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub use binaries::Binaries;
pub use owner::ServerOwner;

/// The port number only names the socket file; nothing listens on TCP.
const PORT: u16 = 5432;
/// The role `initdb` creates and arksync connects as.
pub const SUPERUSER: &str = "arksync";
/// How long a start may take before we give up and show the server's log.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// A Unix socket path must fit in `sun_path` (108 bytes on Linux).
const MAX_SOCKET_PATH: usize = 100;

/// Runs `postgres "$@"`, stops it when our stdin closes, and exits with its
/// status. fd 3 keeps the pipe: a background job's stdin is /dev/null.
const WATCHDOG: &str = r#"exec 3<&0
"$@" </dev/null 3<&- &
pg=$!
( read -r _ <&3; kill -INT "$pg" 2>/dev/null ) &
watcher=$!
trap 'kill -INT "$pg" 2>/dev/null' INT TERM
wait "$pg"; rc=$?
while kill -0 "$pg" 2>/dev/null; do wait "$pg"; rc=$?; done
kill "$watcher" 2>/dev/null
exit "$rc"
"#;

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// arksync's data dir; the cluster goes in its `pg` folder.
    pub data_dir: PathBuf,
    /// Extra `-c name=value` server settings (tests turn fsync off).
    pub settings: Vec<(String, String)>,
}

/// A running embedded cluster. Dropping it stops the server too (the
/// watchdog's pipe closes), but [`EmbeddedPostgres::stop`] waits for it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    child: Child,
    socket_dir: PathBuf,
    cluster_dir: PathBuf,
    log_path: PathBuf,
    /// Held for the cluster's lifetime; released by the OS if we die.
    _lock: File,
    /// A private socket folder outside the data dir, removed at stop.
    temp_socket_dir: Option<PathBuf>,
}

impl EmbeddedPostgres {
    /// Creates the cluster on first use, starts it, waits until it accepts
    /// connections and makes sure database `dbname` exists.
    pub async fn start(opts: &ClusterOptions, dbname: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating data directory {}", opts.data_dir.display()))?;
        let data_dir = opts.data_dir.canonicalize()?;
        let lock = lock_data_dir(&data_dir)?;
        let bins = Binaries::find()?;
        let owner = ServerOwner::detect()?;
        let cluster_dir = cluster_home(&owner, &data_dir)?.join("pg");
        if !cluster_dir.join("PG_VERSION").exists() {
            init_cluster(&bins, &owner, &cluster_dir)?;
        }
        check_version(&bins, &cluster_dir)?;
        owner.make_private_dir(&cluster_dir)?;
        wait_for_previous_server(&cluster_dir).await?;
        let (socket_dir, temp_socket_dir) = choose_socket_dir(&owner, &cluster_dir)?;
        let log_path = data_dir.join("postgres.log");
        let child = spawn_server(&bins, &owner, &cluster_dir, &socket_dir, &log_path, &opts.settings)?;
        let mut pg = Self { child, socket_dir, cluster_dir, log_path, _lock: lock, temp_socket_dir };
        pg.wait_until_ready().await?;
        pg.ensure_database(dbname).await?;
        Ok(pg)
    }

    /// Connection settings for database `dbname` on this cluster.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(&self.socket_dir).port(PORT).user(SUPERUSER).dbname(dbname);
        cfg
    }

    /// Where the cluster's files are.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A psql-style connection string for people (`psql "<this>"`).
    pub fn psql_url(&self, dbname: &str) -> String {
        format!("postgresql://{SUPERUSER}@/{dbname}?host={}&port={PORT}", self.socket_dir.display())
    }

    /// Asks for a fast shutdown (connections are closed, data is flushed)
    /// and waits for it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.child.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                tracing::info!(%status, "embedded PostgreSQL stopped");
                break;
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                bail!("embedded PostgreSQL did not stop within 60 s; killed it");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(dir) = self.temp_socket_dir.take() {
            std::fs::remove_dir_all(dir).ok();
        }
        Ok(())
    }

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("embedded PostgreSQL exited ({status}) while starting:\n{}", self.log_tail());
            }
            match self.config("postgres").connect(tokio_postgres::NoTls).await {
                Ok(_) => return Ok(()),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(25)).await,
                Err(e) => bail!("embedded PostgreSQL did not accept connections in 60 s ({e}):\n{}", self.log_tail()),
            }
        }
    }

    async fn ensure_database(&self, dbname: &str) -> anyhow::Result<()> {
        let (client, conn) = self.config("postgres").connect(tokio_postgres::NoTls).await?;
        let conn = tokio::spawn(conn);
        let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&dbname]).await?.is_some();
        if !exists {
            // CREATE DATABASE takes no parameters; quote the identifier.
            let sql = format!("CREATE DATABASE \"{}\"", dbname.replace('"', "\"\""));
            client.batch_execute(&sql).await.context("creating the arksync database")?;
        }
        drop(client);
        conn.await.ok();
        Ok(())
    }

    /// The last lines of the server log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(20);
        lines[start..].join("\n")
    }
}

/// Where the cluster lives: in the data dir, unless the account PostgreSQL
/// runs as cannot reach it (arksync runs as root with its data dir under
/// root's private home, the usual case in a fresh container or VM). Then it
/// lives in `/var/lib/arksync/clusters/<digest of the data dir>` (or the
/// temp dir when `/var/lib` is not writable), which that account can
/// reach, and the log says so; the data dir keeps everything else.
fn cluster_home(owner: &ServerOwner, data_dir: &Path) -> anyhow::Result<PathBuf> {
    if owner.can_reach(data_dir)? {
        return Ok(data_dir.to_path_buf());
    }
    use sha2::Digest;
    let digest = hex::encode(&sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes())[..8]);
    let bases = [PathBuf::from("/var/lib/arksync/clusters"), std::env::temp_dir().join("arksync-clusters")];
    for base in bases {
        let home = base.join(&digest);
        if open_to_all(&home).is_ok() && owner.can_reach(&home)? {
            tracing::info!(
                data = %data_dir.display(),
                cluster = %home.display(),
                "PostgreSQL runs as `{}` and cannot reach the data directory, so its cluster is kept here instead",
                owner.name
            );
            return Ok(home);
        }
    }
    bail!(
        "PostgreSQL runs as `{}` (arksync runs as root) and cannot reach {}, nor /var/lib/arksync or the temp dir; \
         set ARKSYNC_DATA_DIR to a folder every user can traverse",
        owner.name,
        data_dir.display()
    )
}

/// Creates `dir` and its missing parents, each traversable by every user
/// (0711: they can pass through, not list).
fn open_to_all(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for d in dir.ancestors().take_while(|d| {
        d.starts_with("/var/lib/arksync") || d.starts_with(std::env::temp_dir().join("arksync-clusters"))
    }) {
        let mode = std::fs::metadata(d)?.permissions().mode();
        if mode & 0o011 != 0o011 {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o711))?;
        }
    }
    Ok(())
}

/// How long a start waits for the server of a previous arksync on this
/// data dir (killed with `kill -9`, its server still shutting down).
const PREVIOUS_SERVER_WAIT: Duration = Duration::from_secs(30);

/// Waits until no server of an earlier arksync still runs the cluster (its
/// `postmaster.pid` names a live process), for at most
/// [`PREVIOUS_SERVER_WAIT`]. Holding the data dir's lock, we know that
/// arksync is gone, and its watchdog is stopping that server.
async fn wait_for_previous_server(cluster_dir: &Path) -> anyhow::Result<()> {
    let pid_file = cluster_dir.join("postmaster.pid");
    let alive = || -> Option<i32> {
        let text = std::fs::read_to_string(&pid_file).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        let gone =
            matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH));
        // A pid reused by another program after a reboot is no server.
        let postgres = std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c.trim() == "postgres");
        (!gone && postgres).then_some(pid)
    };
    let Some(pid) = alive() else { return Ok(()) };
    tracing::info!(pid, "waiting for the previous arksync's PostgreSQL to finish shutting down");
    let deadline = Instant::now() + PREVIOUS_SERVER_WAIT;
    while alive().is_some() {
        if Instant::now() > deadline {
            bail!(
                "a PostgreSQL server (pid {pid}) still runs the cluster in {} after {} s; stop it, then start again",
                cluster_dir.display(),
                PREVIOUS_SERVER_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Takes the data dir's lock, or explains who holds it.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join("arksync.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "another arksync (pid {}) is already using data directory {}; stop it first, \
                 or give this one its own ARKSYNC_DATA_DIR",
                holder.trim(),
                data_dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).context("locking the data directory"),
    }
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// Runs `initdb` into a sibling folder and renames it into place, so an
/// interrupted first start leaves nothing that looks like a cluster.
fn init_cluster(bins: &Binaries, owner: &ServerOwner, cluster_dir: &Path) -> anyhow::Result<()> {
    let staging = cluster_dir.with_extension("initdb-tmp");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    if cluster_dir.exists() && std::fs::read_dir(cluster_dir)?.next().is_some() {
        bail!(
            "{} exists but holds no PostgreSQL cluster (no PG_VERSION); move it away and start again",
            cluster_dir.display()
        );
    }
    owner.make_private_dir(&staging)?;
    tracing::info!(dir = %cluster_dir.display(), "creating the embedded PostgreSQL cluster (first run)");
    let out = owner
        .command(&bins.initdb)
        .arg("-D")
        .arg(&staging)
        .args(["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bins.initdb.display()))?;
    if !out.status.success() {
        bail!(
            "initdb failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if cluster_dir.exists() {
        std::fs::remove_dir(cluster_dir)?;
    }
    std::fs::rename(&staging, cluster_dir).context("moving the new cluster into place")?;
    Ok(())
}

/// A cluster made by another major version cannot be opened by this one.
fn check_version(bins: &Binaries, cluster_dir: &Path) -> anyhow::Result<()> {
    let on_disk = std::fs::read_to_string(cluster_dir.join("PG_VERSION"))?;
    let on_disk: u32 = on_disk.trim().parse().context("reading PG_VERSION")?;
    let binary = bins.major_version()?;
    if on_disk != binary {
        bail!(
            "the cluster in {} was made by PostgreSQL {on_disk} but the server found is PostgreSQL {binary} ({}); \
             point ARKSYNC_PG_BIN at PostgreSQL {on_disk}'s binaries or upgrade the cluster with pg_upgrade",
            cluster_dir.display(),
            bins.postgres.display()
        );
    }
    Ok(())
}

/// The socket goes in the cluster folder (private: mode 0700) unless its
/// path would be too long for a Unix socket; then in a fresh private folder
/// under the system's temp dir.
fn choose_socket_dir(owner: &ServerOwner, cluster_dir: &Path) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let socket_len = cluster_dir.join(format!(".s.PGSQL.{PORT}")).as_os_str().len();
    if socket_len <= MAX_SOCKET_PATH {
        return Ok((cluster_dir.to_path_buf(), None));
    }
    let dir = std::env::temp_dir().join(format!("arksync-pg-{}", uuid::Uuid::new_v4().simple()));
    owner.make_private_dir(&dir)?;
    Ok((dir.clone(), Some(dir)))
}

fn spawn_server(
    bins: &Binaries,
    owner: &ServerOwner,
    cluster_dir: &Path,
    socket_dir: &Path,
    log_path: &Path,
    settings: &[(String, String)],
) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut cmd = owner.command("sh");
    cmd.args(["-c", WATCHDOG, "arksync-postgres"])
        .arg(&bins.postgres)
        .arg("-D")
        .arg(cluster_dir)
        .arg("-k")
        .arg(socket_dir)
        .args(["-p", &PORT.to_string(), "-c", "listen_addresses="]);
    for (name, value) in settings {
        cmd.arg("-c").arg(format!("{name}={value}"));
    }
    // Its own process group: a Ctrl-C in the terminal reaches arksync, which
    // then stops PostgreSQL after its own connections are done.
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).stdin(Stdio::piped()).stdout(log.try_clone()?).stderr(log);
    cmd.spawn().context("starting the embedded PostgreSQL server")
}
