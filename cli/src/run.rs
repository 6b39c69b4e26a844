//! `capsock run`: grants, WASI setup, and the run itself.

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use capsock_host::{native, CapsockCtx, Policy, Runtime, SocketType};
use clap::Args;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

#[derive(Args)]
pub struct RunArgs {
    /// Connect to the Unix socket at PATH and grant it as NAME. TYPE is
    /// stream (default), datagram or seqpacket.
    #[arg(long = "unix-connect", value_name = "NAME[:TYPE]=PATH", value_parser = parse_unix_connect)]
    unix_connect: Vec<UnixConnect>,

    /// Bind and listen on a Unix socket at PATH and grant it as NAME (the
    /// guest accepts). TYPE is stream (default) or seqpacket. The socket
    /// file is removed when capsock exits.
    #[arg(long = "unix-listen", value_name = "NAME[:TYPE]=PATH", value_parser = parse_unix_listen)]
    unix_listen: Vec<UnixConnect>,

    /// Grant file descriptor N, inherited from the parent process, as NAME
    /// (N > 2; it is closed in capsock once the guest takes and drops it).
    #[arg(long = "fd", value_name = "NAME=N", value_parser = parse_fd)]
    fds: Vec<(String, RawFd)>,

    /// Let the guest bind, connect and send to Unix sockets at paths below
    /// the host directory DIR, which it sees as GUEST (default: the same
    /// path). No `..`, no symbolic links.
    #[arg(long = "unix-dir", value_name = "DIR[::GUEST]", value_parser = parse_dir)]
    unix_dirs: Vec<(PathBuf, String)>,

    /// Let the guest bind and connect to Linux abstract-namespace names
    /// (they reach any abstract socket in the host's network namespace).
    #[arg(long = "allow-abstract")]
    allow_abstract: bool,

    /// Let the guest open paths beneath directories it receives (as
    /// std::fs::File / wasi:filesystem). Paths are resolved by capsock with
    /// its own credentials, and mounts beneath them are crossed: a /proc
    /// reached from a received directory is capsock's own. Only for peers
    /// trusted to send directories without such mounts beneath
    #[arg(long = "allow-received-dirs")]
    allow_received_dirs: bool,

    /// Let the guest create UDP and TCP sockets and bind, connect and send
    /// to addresses in CIDR (and choose them as sources), on PORTS if given
    /// (`N` or `N-M`); IPv6 with ports as `[CIDR]:PORTS`. Repeatable;
    /// nothing is allowed by default.
    #[arg(long = "allow-ip", value_name = "CIDR[:PORTS]")]
    allow_ip: Vec<capsock_host::IpRule>,

    /// Preopen the host directory HOST for WASI filesystem access, as GUEST
    /// (default: the same path).
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = parse_dir)]
    dirs: Vec<(PathBuf, String)>,

    /// Compile the component even if a compiled copy is cached
    /// ($CAPSOCK_CACHE_DIR, else $XDG_CACHE_HOME/capsock or ~/.cache/capsock).
    #[arg(long = "no-cache")]
    no_cache: bool,

    /// Set an environment variable for the guest.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    envs: Vec<(String, String)>,

    #[command(flatten)]
    limits: crate::wasm_opts::LimitArgs,

    /// The component to run.
    component: PathBuf,

    /// Arguments for the guest (after `--`, or after the component).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Clone)]
struct UnixConnect {
    name: String,
    ty: SocketType,
    path: PathBuf,
}

fn grant_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.contains([':', '=']) {
        Err(format!(
            "bad grant name {name:?} (non-empty, without ':' or '=')"
        ))
    } else {
        Ok(name.to_string())
    }
}

fn parse_unix_connect(s: &str) -> Result<UnixConnect, String> {
    let (lhs, path) = s.split_once('=').ok_or("expected NAME[:TYPE]=PATH")?;
    let (name, ty) = match lhs.split_once(':') {
        None => (lhs, SocketType::Stream),
        Some((name, "stream")) => (name, SocketType::Stream),
        Some((name, "datagram" | "dgram")) => (name, SocketType::Datagram),
        Some((name, "seqpacket")) => (name, SocketType::Seqpacket),
        Some((_, other)) => {
            return Err(format!(
                "unknown socket type {other:?} (stream, datagram or seqpacket)"
            ))
        }
    };
    if path.is_empty() {
        return Err("empty PATH".into());
    }
    Ok(UnixConnect {
        name: grant_name(name)?,
        ty,
        path: PathBuf::from(path),
    })
}

fn parse_unix_listen(s: &str) -> Result<UnixConnect, String> {
    let c = parse_unix_connect(s)?;
    if c.ty == SocketType::Datagram {
        return Err("a datagram socket cannot listen (stream or seqpacket)".into());
    }
    Ok(c)
}

fn parse_fd(s: &str) -> Result<(String, RawFd), String> {
    let (name, n) = s.split_once('=').ok_or("expected NAME=N")?;
    let n: RawFd = n
        .parse()
        .map_err(|_| format!("{n:?} is not a file descriptor number"))?;
    if n <= 2 {
        return Err(format!(
            "fd {n} is stdio, which the guest inherits anyway; pass another fd"
        ));
    }
    Ok((grant_name(name)?, n))
}

fn parse_dir(s: &str) -> Result<(PathBuf, String), String> {
    let (host, guest) = s.split_once("::").unwrap_or((s, s));
    if host.is_empty() || guest.is_empty() {
        return Err("expected HOST[::GUEST]".into());
    }
    Ok((PathBuf::from(host), guest.to_string()))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("expected K=V")?;
    if k.is_empty() {
        return Err("empty variable name".into());
    }
    Ok((k.to_string(), v.to_string()))
}

/// The sockets a supervisor passed with the `sd_listen_fds` protocol:
/// `LISTEN_PID` (this process), `LISTEN_FDS` (how many, from fd 3) and
/// `LISTEN_FDNAMES` (colon-separated names; `listen-fd-I` where missing).
fn socket_activation() -> anyhow::Result<Vec<(String, RawFd)>> {
    let var = |k: &str| std::env::var(k).ok();
    match var("LISTEN_PID").and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) if pid == std::process::id() => {}
        _ => return Ok(Vec::new()),
    }
    let count: u32 = var("LISTEN_FDS")
        .unwrap_or_default()
        .parse()
        .context("LISTEN_FDS is not a number")?;
    // Checked before anything is sized by it: the fds must fit the fd
    // table (fd 3 onwards), and each is checked to be open when adopted.
    let max = native::fd_limit()?.saturating_sub(3);
    if u64::from(count) > max {
        bail!("LISTEN_FDS={count}, but this process can have at most {max} fds from fd 3");
    }
    let count = count as RawFd;
    let names = var("LISTEN_FDNAMES").unwrap_or_default();
    let names: Vec<&str> = names.split(':').collect();
    Ok((0..count)
        .map(|i| {
            let name = names
                .get(i as usize)
                .filter(|n| !n.is_empty())
                .map(|n| n.to_string());
            (name.unwrap_or_else(|| format!("listen-fd-{i}")), 3 + i)
        })
        .collect())
}

/// Removes the socket files `--unix-listen` created, when capsock is done.
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    // Inherited fds first, before this process opens anything else.
    let mut grants: Vec<(String, OwnedFd)> = Vec::new();
    let mut seen_fds = std::collections::HashSet::new();
    let activated = socket_activation()?
        .into_iter()
        .map(|(name, n)| (format!("LISTEN_FDS ({name})"), name, n));
    let flagged = args
        .fds
        .iter()
        .map(|(name, n)| (format!("--fd {name}={n}"), name.clone(), *n));
    for (source, name, n) in activated.chain(flagged) {
        if !seen_fds.insert(n) {
            bail!("{source}: fd {n} is granted twice");
        }
        // SAFETY: at start-up nothing in this process owns inherited fds
        // above 2 yet, and each number is adopted once (checked above).
        #[allow(unsafe_code)]
        let fd = unsafe { native::adopt_inherited_fd(n) }
            .with_context(|| format!("{source}: fd {n} is not an open file descriptor"))?;
        grants.push((name, fd));
    }
    let names = grants
        .iter()
        .map(|(n, _)| n)
        .chain(args.unix_connect.iter().map(|c| &c.name))
        .chain(args.unix_listen.iter().map(|c| &c.name));
    let mut seen_names = Vec::new();
    for name in names {
        if seen_names.contains(&name) {
            bail!("the grant name {name:?} is used twice");
        }
        seen_names.push(name);
    }

    let runtime = runtime(args.limits.limits(), args.no_cache)?;
    let component = runtime.load_file(&args.component)?;

    let mut created = RemoveOnDrop(Vec::new());
    for c in &args.unix_listen {
        let fd = native::listen_unix(&c.path, c.ty, 128).with_context(|| {
            format!(
                "--unix-listen {}: cannot listen on {}",
                c.name,
                c.path.display()
            )
        })?;
        created.0.push(c.path.clone());
        grants.push((c.name.clone(), fd));
    }
    for c in &args.unix_connect {
        let fd = native::connect_unix(&c.path, c.ty).with_context(|| {
            format!(
                "--unix-connect {}: cannot connect to {}",
                c.name,
                c.path.display()
            )
        })?;
        grants.push((c.name.clone(), fd));
    }

    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio();
    let argv0 = args
        .component
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    wasi.arg(argv0).args(&args.args);
    for (k, v) in &args.envs {
        wasi.env(k, v);
    }
    for (host, guest) in &args.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("--dir {}: cannot open the directory", host.display()))?;
    }

    let mut policy = Policy::new();
    for (host, guest) in &args.unix_dirs {
        // Without ::GUEST a relative DIR is shown at its absolute path.
        let guest = match std::fs::canonicalize(host) {
            Ok(abs) if Path::new(guest) == host.as_path() && !guest.starts_with('/') => {
                abs.display().to_string()
            }
            _ => guest.clone(),
        };
        policy
            .allow_unix_dir(host, &guest)
            .with_context(|| format!("--unix-dir {}", host.display()))?;
    }
    policy.allow_abstract_names(args.allow_abstract);
    policy.allow_received_directories(args.allow_received_dirs);
    for rule in &args.allow_ip {
        policy.allow_ip(rule.clone());
    }

    // std::net (wasi:sockets) gets the same IP rules as capsock's sockets.
    policy.apply_to_wasi(&mut wasi);
    let mut capsock = CapsockCtx::builder();
    capsock.policy(policy);
    for (name, fd) in grants {
        capsock.grant(name, fd);
    }
    runtime.run(&component, wasi.build(), capsock.build())
}

/// The runtime `capsock run` and `capsock pair` use: `limits`, and the
/// compile cache unless `no_cache` (or there is no place for one).
pub fn runtime(limits: capsock_host::SandboxLimits, no_cache: bool) -> anyhow::Result<Runtime> {
    match Runtime::default_cache_dir().filter(|_| !no_cache) {
        Some(dir) => Runtime::builder()
            .limits(limits.clone())
            .cache_dir(&dir)
            .build()
            .or_else(|e| {
                // Compiling afresh is safe; the user should still hear why.
                eprintln!("capsock: warning: not using the compile cache: {e:#}");
                Runtime::builder().limits(limits).build()
            }),
        None => Runtime::builder().limits(limits).build(),
    }
}
