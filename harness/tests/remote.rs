//! Remote endpoints with real parts: an OpenSSH server of the test's own on
//! a loopback port (a host key and a client key made for the run) in front
//! of the production engine, and a Docker engine of the test's own
//! listening with `--tlsverify` on a loopback port, with a CA, server and
//! client certificates made by openssl. The library's one-shot scenarios
//! give the same verdicts through ssh and TLS as through the unix socket
//! (images they name are copied into the TLS engine; a built image is
//! built there, its FROM image copied in first, and copied out); a context
//! made by `docker context create` brings its TLS material; bad endpoints get an
//! error that names what to fix; a bind mount against an engine on another
//! machine is a located error; an engine that goes away mid-run gives
//! `error`. Nothing is left behind: no container, no ssh process.
//!
//! The ssh client is the system's, as for users: the test puts an `ssh`
//! first on parity's PATH that runs the real one with the test's config
//! (`-F`), since OpenSSH reads `~/.ssh` from the password database, not
//! from `$HOME`. Skipped with the reason when sshd, ssh, openssl or dockerd
//! is missing or the engines are down, unless `PARITY_REQUIRE_ENGINES` is
//! set (.ci/run installs openssh-server and openssl).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;
use common::{ENGINES, engines_up};

/// The tests share the machine's two cores and the production engine:
/// one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SSHD: &str = "/usr/sbin/sshd";

/// Whether everything these tests need is here; when not, why, as a skip
/// (or a failure under `PARITY_REQUIRE_ENGINES`).
fn ready() -> bool {
    if !engines_up() {
        return false;
    }
    let missing: Vec<&str> = [
        (SSHD, Path::new(SSHD).exists()),
        ("ssh", on_path("ssh")),
        ("ssh-keygen", on_path("ssh-keygen")),
        ("openssl", on_path("openssl")),
        ("dockerd", on_path("dockerd")),
        ("docker", on_path("docker")),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(n, _)| n)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("PARITY_REQUIRE_ENGINES").is_none(),
        "missing {missing:?} and PARITY_REQUIRE_ENGINES is set (apt-get install openssh-server openssl)"
    );
    eprintln!("skipped: missing {missing:?} (apt-get install openssh-server openssl)");
    false
}

fn on_path(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port(preferred: u16) -> u16 {
    if TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return preferred;
    }
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn wait_for(what: &str, bound: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + bound;
    while !ok() {
        assert!(Instant::now() < until, "{what} within {bound:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An sshd of the test's own on 127.0.0.1, letting in root with a key
/// made for the run; and the client side: a config, known_hosts and an
/// `ssh` wrapper to put first on PATH.
struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key", "stranger_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(d.join(key)));
        }
        // Only root has authorized keys: any other user fails to log in.
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys_root")).unwrap();
        let port = free_port(2222);
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys_%u\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
                 StrictModes no\n",
                d = d.display()
            ),
        )
        .unwrap();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", host_pub.join(" ")),
        )
        .unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n  \
                 IdentityAgent none\n",
                d = d.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(d.join("bin")).unwrap();
        let wrapper = d.join("bin/ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {}/ssh_config \"$@\"\n",
                d.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        // sshd's privilege separation folder.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd");
        wait_for("sshd listening", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Sshd { dir, child, port }
    }

    fn endpoint(&self, user: &str) -> String {
        format!("ssh://{user}@127.0.0.1:{}", self.port)
    }

    /// PATH with the wrapper first.
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Pids of ssh clients still running with this test's config.
    fn clients(&self) -> Vec<String> {
        let config = self.dir.path().join("ssh_config").display().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (text.starts_with("/usr/bin/ssh ") && text.contains(&config))
                    .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
            })
            .collect()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Docker engine of the test's own on 127.0.0.1 with `--tlsverify`.
struct TlsEngine {
    dir: PathBuf,
    child: Option<Child>,
    port: u16,
}

impl TlsEngine {
    fn start() -> TlsEngine {
        let dir = PathBuf::from(format!("/tmp/parity-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        make_certs(&dir.join("certs"));
        let port = free_port(2376);
        let c = dir.join("certs");
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--tlsverify")
            .arg("--tlscacert")
            .arg(c.join("ca.pem"))
            .arg("--tlscert")
            .arg(c.join("server-cert.pem"))
            .arg("--tlskey")
            .arg(c.join("server-key.pem"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args(["--storage-driver", "vfs", "--bridge", "none"])
            .args(["--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("dockerd.log")).unwrap())
            .spawn()
            .expect("dockerd");
        let engine = TlsEngine {
            dir,
            child: Some(child),
            port,
        };
        wait_for("the TLS engine answering", Duration::from_secs(60), || {
            engine.docker(&["version"]).status.success()
        });
        engine
    }

    fn endpoint(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn certs(&self) -> PathBuf {
        self.dir.join("certs")
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("--tlsverify")
            .arg("-H")
            .arg(self.endpoint())
            .args(args)
            .env("DOCKER_CERT_PATH", self.certs())
            .output()
            .unwrap()
    }

    /// Stops the engine (its containerd goes with it); `kill` for an
    /// engine that goes away without a word.
    fn stop(&mut self, kill: bool) {
        if let Some(mut c) = self.child.take() {
            let sig = if kill { "-KILL" } else { "-TERM" };
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        // A killed dockerd leaves its containerd: that one's pid is in
        // the exec root.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("exec/containerd/containerd.pid")) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        self.stop(false);
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "grep -o ' {d}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null; rm -rf {d}",
                d = self.dir.display()
            ))
            .status();
    }
}

/// A CA, the engine's certificate for 127.0.0.1, a client certificate, and
/// (under `other/`) a second CA with a client certificate of its own.
fn make_certs(dir: &Path) {
    let sh = |script: &str| {
        run(Command::new("sh").arg("-ec").arg(script).current_dir(dir));
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    sh(&format!(
        "openssl req -x509 {ec} -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=parity-test-ca 2>/dev/null
         openssl req {ec} -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null
         printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext 2>/dev/null
         openssl req {ec} -keyout key.pem -out client.csr -subj /CN=client 2>/dev/null
         printf 'extendedKeyUsage=clientAuth\\n' > client.ext
         openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext 2>/dev/null
         mkdir other
         cd other
         openssl req -x509 {ec} -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=other-ca 2>/dev/null
         openssl req {ec} -keyout key.pem -out client.csr -subj /CN=stranger 2>/dev/null
         openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile ../client.ext 2>/dev/null"
    ));
}

/// A project in a temporary folder: the repository's scenarios, the
/// shipped profiles, and profiles of the test's own.
struct Project {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            common::root().join("scenarios"),
            dir.path().join("scenarios"),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("runtimes")).unwrap();
        std::fs::create_dir_all(dir.path().join("own")).unwrap();
        std::fs::write(dir.path().join("parity.toml"), "baseline = \"runc\"\n").unwrap();
        Project {
            dir,
            env: Vec::new(),
        }
    }

    fn profile(&self, name: &str, engine: &str) {
        std::fs::write(
            self.dir.path().join(format!("runtimes/{name}.yaml")),
            format!("name: {name}\noci_runtime: runc\nengine: {engine}\n"),
        )
        .unwrap();
    }

    fn env(mut self, k: &str, v: &str) -> Project {
        self.env.push((k.into(), v.into()));
        self
    }

    fn parity(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_parity"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("PARITY_CANDIDATES")
            .env_remove("PARITY_BASELINE");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

/// `(id, verdict)` of a `--format json` run, sorted.
fn verdicts(out: &Output) -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not the results document ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut v: Vec<(String, String)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn reasons(out: &Output) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["reason"].as_str().map(str::to_string))
        .collect()
}

/// Containers the parity runs of this test left on `docker_args`' engine.
fn parity_containers(docker: &dyn Fn(&[&str]) -> Output) -> String {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=io.parity.run",
        "--format",
        "{{.Names}}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One-shot scenarios from the library: identities, /proc, and one that
/// names an image (copied into the TLS engine from the production one).
const SCENARIOS: [&str; 4] = [
    "scenarios/identity",
    "scenarios/procfs/proc_kcore_masked.yaml",
    "scenarios/procfs/proc_sys_write.yaml",
    "scenarios/workloads/debian_shell.yaml",
];

#[test]
fn one_shot_scenarios_give_the_same_verdicts_through_ssh_and_tls() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let tls = TlsEngine::start();
    let p = Project::new().env("PATH", &sshd.path());
    p.profile("prod-ssh", &sshd.endpoint("root"));
    p.profile("prod-tls", &tls.endpoint());
    let certs = tls.certs().display().to_string();
    let tls_env = [
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs.as_str()),
    ];

    // The doctor names each transport and what it used.
    let doctor = p.parity(
        &[
            "doctor",
            "--baseline",
            "prod-ssh",
            "--candidate",
            "prod-tls",
        ],
        &tls_env,
    );
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains(&format!("via ssh root@127.0.0.1:{}", sshd.port)),
        "{text}"
    );
    assert!(
        text.contains(&format!("via tcp+tls 127.0.0.1:{} (ca {certs}/ca.pem, cert {certs}/cert.pem, key {certs}/key.pem; from DOCKER_CERT_PATH={certs})", tls.port)),
        "{text}"
    );

    // The same TLS engine through a docker context, as `docker context
    // create` stores it (TLS material under contexts/tls/<sha256>/docker),
    // named by a profile's `engine:`.
    let config = p.dir.path().join("docker-config");
    run(Command::new("docker")
        .env("DOCKER_CONFIG", &config)
        .args(["context", "create", "parity-tls-test", "--docker"])
        .arg(format!(
            "host={},ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem",
            tls.endpoint()
        )));
    p.profile("ctx-tls", "parity-tls-test");
    let config_s = config.display().to_string();
    let doctor = p.parity(
        &["doctor", "--baseline", "ctx-tls", "--candidate", "runc"],
        &[("DOCKER_CONFIG", config_s.as_str())],
    );
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains(&format!(
            "ok    ctx-tls: runc on {} (from docker context \"parity-tls-test\" (the profile's `engine`))",
            tls.endpoint()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("(ca {config_s}/contexts/tls/"))
            && text.contains("/docker/key.pem; from docker context \"parity-tls-test\")"),
        "{text}"
    );

    let mut run_ids = Vec::new();
    let mut through = |baseline: &str| {
        let mut args = vec!["run", "--format", "json", "--baseline", baseline];
        args.extend(["--candidate", "userns-remap"]);
        args.extend(SCENARIOS);
        let out = p.parity(&args, &tls_env);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        run_ids.push(doc["run_id"].as_str().unwrap_or_default().to_string());
        let v = verdicts(&out);
        assert!(
            v.iter().all(|(_, v)| v != "error"),
            "{baseline}: {v:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (v, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (socket, _) = through("runc");
    assert!(socket.len() >= 8, "{socket:?}");
    let (over_ssh, _) = through("prod-ssh");
    assert_eq!(over_ssh, socket, "ssh gives the socket's verdicts");
    let (over_tls, progress) = through("prod-tls");
    assert_eq!(over_tls, socket, "TLS gives the socket's verdicts");
    assert!(
        progress.contains("copied debian:bookworm into the engine at tcp://127.0.0.1"),
        "the named image reached the TLS engine with a progress line: {progress}"
    );
    // The same image id on both sides.
    let id = |out: Output| String::from_utf8_lossy(&out.stdout).trim().to_string();
    let local = id(run(Command::new("docker").args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "debian:bookworm",
    ])));
    assert_eq!(
        id(tls.docker(&["image", "inspect", "--format", "{{.Id}}", "debian:bookworm"])),
        local
    );

    // A scenario that builds its image: built on the baseline's engine
    // (the TLS one, after its FROM image is copied there), then copied
    // into the candidate's.
    let own = p.dir.path().join("own");
    std::fs::create_dir_all(own.join("images/tiny")).unwrap();
    std::fs::create_dir_all(own.join("built")).unwrap();
    std::fs::write(
        own.join("images/tiny/Dockerfile"),
        format!(
            "FROM busybox:latest\nRUN echo built-{} > /x\n",
            std::process::id()
        ),
    )
    .unwrap();
    std::fs::write(
        own.join("built/tiny.yaml"),
        "description: runs an image built for it\nimage: { build: ../images/tiny }\ncommand: [cat, /x]\nobserve: [exit_code, stdout]\n",
    )
    .unwrap();
    let out = p.parity(
        &[
            "run",
            "--format",
            "json",
            "--baseline",
            "prod-tls",
            "--candidate",
            "userns-remap",
            "own",
        ],
        &tls_env,
    );
    let progress = String::from_utf8_lossy(&out.stderr).to_string();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    run_ids.push(doc["run_id"].as_str().unwrap_or_default().to_string());
    let label = format!(
        "label=io.parity.build={}",
        own.join("images/tiny").display()
    );
    for sock in ENGINES {
        // The test's own image goes; the library's stay.
        let host = format!("unix://{sock}");
        let ids =
            run(Command::new("docker").args(["-H", &host, "images", "-q", "--filter", &label]));
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = Command::new("docker")
                .args(["-H", &host, "rmi", "-f", id])
                .output();
        }
    }
    assert_eq!(
        verdicts(&out),
        [("built/tiny".to_string(), "parity".to_string())],
        "{progress}"
    );
    assert!(
        progress.contains("copying busybox:latest from the engine at unix://")
            && progress.contains(&format!(
                "into the engine at {} to build on",
                tls.endpoint()
            ))
            && progress.contains("into the engine at unix:///run/parity/userns-remap.sock"),
        "{progress}"
    );

    // Nothing left: no container of these runs on any engine, no ssh
    // client.
    for run_id in &run_ids {
        let label = format!("label=io.parity.run={run_id}");
        let on_tls = tls.docker(&["ps", "-aq", "--filter", &label]);
        assert_eq!(
            String::from_utf8_lossy(&on_tls.stdout).trim(),
            "",
            "{run_id}"
        );
        for sock in ENGINES {
            let host = format!("unix://{sock}");
            let out =
                run(Command::new("docker").args(["-H", &host, "ps", "-aq", "--filter", &label]));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "",
                "{run_id} on {sock}"
            );
        }
    }
    assert_eq!(sshd.clients(), Vec::<String>::new());
}

/// What is tried, the endpoint, extra environment, what the error says.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_endpoints_get_errors_that_say_what_to_fix() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let tls = TlsEngine::start();
    let p = Project::new().env("PATH", &sshd.path());
    let certs = tls.certs();
    // Folders of mixed-up material.
    let own = p.dir.path().join("own");
    let mix = |name: &str, files: [(&str, PathBuf); 3]| {
        let d = own.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (to, from) in files {
            std::fs::copy(from, d.join(to)).unwrap();
        }
        d.display().to_string()
    };
    let wrong_ca = mix(
        "wrong-ca",
        [
            ("ca.pem", certs.join("other/ca.pem")),
            ("cert.pem", certs.join("cert.pem")),
            ("key.pem", certs.join("key.pem")),
        ],
    );
    let stranger = mix(
        "stranger",
        [
            ("ca.pem", certs.join("ca.pem")),
            ("cert.pem", certs.join("other/cert.pem")),
            ("key.pem", certs.join("other/key.pem")),
        ],
    );
    let empty = own.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();
    let certs = certs.display().to_string();
    // A plain HTTP server, for TLS spoken to it.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in plain.incoming().flatten() {
            use std::io::Write;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });

    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases: Vec<Case> = vec![
        (
            "unknown ssh host",
            "ssh://root@parity-no-such-host.invalid".into(),
            vec![],
            "ssh cannot resolve the host of root@parity-no-such-host.invalid",
        ),
        (
            "failed ssh login",
            sshd.endpoint("nobody"),
            vec![],
            "ssh could not log in to nobody@127.0.0.1",
        ),
        (
            "nothing listens for ssh",
            format!("ssh://root@127.0.0.1:{closed_port}"),
            vec![],
            "nothing answers ssh at root@127.0.0.1:",
        ),
        (
            "missing certificates",
            tls.endpoint(),
            vec![("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &empty)],
            "ca.pem (from DOCKER_CERT_PATH=",
        ),
        (
            "a CA that did not sign the engine's certificate",
            tls.endpoint(),
            vec![("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &wrong_ca)],
            "the engine's certificate is not signed by the CA in",
        ),
        (
            "a client certificate the engine does not trust",
            tls.endpoint(),
            vec![("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &stranger)],
            "the engine refused the client certificate",
        ),
        (
            "plain HTTP to a TLS port",
            tls.endpoint(),
            vec![],
            "the engine speaks TLS on this port and parity spoke plain HTTP: set DOCKER_TLS_VERIFY=1",
        ),
        (
            "TLS to a plain HTTP port",
            format!("tcp://127.0.0.1:{plain_port}"),
            vec![("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &certs)],
            "does not speak TLS on this port",
        ),
    ];
    for (what, endpoint, env, says) in cases {
        let mut env = env;
        env.push(("DOCKER_HOST", &endpoint));
        let started = Instant::now();
        let out = p.parity(&["doctor", "--candidate", "runc"], &env);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("  FAIL  runc:"))
            .unwrap_or_else(|| panic!("{what}: {text}"));
        assert!(line.contains(says), "{what}: {line}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(sshd.clients(), Vec::<String>::new());
}

#[test]
fn a_bind_mount_against_a_remote_engine_is_a_located_error() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let p = Project::new().env("PATH", &sshd.path());
    p.profile("prod-ssh", &sshd.endpoint("root"));
    let own = p.dir.path().join("own/binds");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("hostname.yaml"),
        "description: reads a file of this machine\ncommand: [cat, /h]\nobserve: [exit_code, stdout]\ncontainer:\n  volumes:\n    - /etc/hostname:/h:ro\n",
    )
    .unwrap();
    let out = p.parity(
        &[
            "run",
            "--format",
            "json",
            "--baseline",
            "prod-ssh",
            "--candidate",
            "runc",
            "own",
        ],
        &[],
    );
    assert_eq!(
        verdicts(&out),
        [("binds/hostname".to_string(), "error".to_string())]
    );
    let why = reasons(&out).join("\n");
    assert!(
        why.contains("binds/hostname.yaml:6: volume \"/etc/hostname:/h:ro\" bind-mounts /etc/hostname of the machine parity runs on")
            && why.contains("is on another machine"),
        "{why}"
    );
}

#[test]
fn an_engine_that_goes_away_mid_run_gives_error() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !ready() {
        return;
    }
    let mut tls = TlsEngine::start();
    let p = Project::new()
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &tls.certs().display().to_string());
    p.profile("prod-tls", &tls.endpoint());
    let own = p.dir.path().join("own/slow");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("sleeps.yaml"),
        "description: sleeps\ncommand: [sh, -c, \"sleep 20; echo done\"]\ntimeout: 60s\nobserve: [exit_code, stdout]\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_parity");
    let mut cmd = Command::new(bin);
    cmd.args([
        "run",
        "--format",
        "json",
        "--baseline",
        "prod-tls",
        "--candidate",
        "runc",
        "own",
    ])
    .current_dir(p.dir.path())
    .env("NO_COLOR", "1")
    .env_remove("DOCKER_HOST")
    .env_remove("PARITY_CANDIDATES")
    .env_remove("PARITY_BASELINE")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in &p.env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    wait_for(
        "a container on the TLS engine",
        Duration::from_secs(60),
        || !parity_containers(&|a| tls.docker(a)).is_empty(),
    );
    tls.stop(true);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        verdicts(&out),
        [("slow/sleeps".to_string(), "error".to_string())],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
}
