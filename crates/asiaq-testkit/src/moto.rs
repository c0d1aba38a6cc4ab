use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::free_port;

/// Environment variable naming the moto_server executable to use.
pub const MOTO_SERVER_ENV: &str = "ASIAQ_MOTO_SERVER";
/// The region tests run in (moto gives it 4 availability zones).
pub const TEST_REGION: &str = "us-west-2";

/// A running moto_server.
pub struct Moto {
    endpoint: String,
    watchdog: Child,
    _log_dir: tempfile::TempDir,
    log_path: PathBuf,
}

impl Moto {
    /// One server shared by every test of this test binary, started on first use.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// A server of its own (for tests that need an empty region or reset the server).
    pub fn start() -> Moto {
        let executable = moto_executable();
        let port = free_port();
        let log_dir = tempfile::tempdir().expect("temp dir for the moto log");
        let log_path = log_dir.path().join("moto.log");
        // The watchdog is the parent of moto: it stops moto when this test process is gone
        // (checked twice a second) or when it is itself terminated (Drop below).
        let script = r#"
            "$MOTO" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
            moto=$!
            trap 'kill $moto 2>/dev/null; exit 0' EXIT INT TERM
            while kill -0 "$OWNER" 2>/dev/null && kill -0 $moto 2>/dev/null; do sleep 0.5; done
        "#;
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("MOTO", &executable)
            .env("PORT", port.to_string())
            .env("LOG", &log_path)
            .env("OWNER", std::process::id().to_string())
            .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", executable.display()));
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            watchdog,
            _log_dir: log_dir,
            log_path,
        };
        moto.wait_until_ready(port);
        moto
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A fresh account no other test uses.
    pub fn new_account(&self) -> AwsAccount {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Distinct per process and per call; 12 digits as AWS account ids are.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let account_id = format!(
            "{:06}{:06}",
            std::process::id() % 1_000_000,
            (n + 1) % 1_000_000
        );
        AwsAccount::assume(self.endpoint.clone(), account_id)
    }

    /// Wipes every account's state (`POST /moto-api/reset`). Only for servers of one's own.
    pub fn reset(&self) {
        http_post(&self.endpoint, "/moto-api/reset").expect("moto reset");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn wait_until_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http_post(&self.endpoint, "/moto-api/reset").is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "moto_server did not start on port {port} within 60 s; its log:\n{}",
            self.log()
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // SIGTERM so the watchdog's trap stops moto too.
        let _ = Command::new("kill")
            .arg(self.watchdog.id().to_string())
            .status();
        let _ = self.watchdog.wait();
    }
}

fn moto_executable() -> PathBuf {
    if let Ok(path) = std::env::var(MOTO_SERVER_ENV) {
        return PathBuf::from(path);
    }
    let venv = crate::workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

fn http_post(endpoint: &str, path: &str) -> std::io::Result<String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200") {
        Ok(response)
    } else {
        Err(std::io::Error::other(format!(
            "unexpected answer: {response}"
        )))
    }
}

/// Credentials of one isolated account inside a moto server.
#[derive(Clone)]
pub struct AwsAccount {
    pub account_id: String,
    pub endpoint: String,
    pub region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
}

impl std::fmt::Debug for AwsAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsAccount")
            .field("account_id", &self.account_id)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl AwsAccount {
    fn assume(endpoint: String, account_id: String) -> AwsAccount {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let creds = runtime.block_on(async {
            let conf = base_config(&endpoint, "bootstrap", "bootstrap", None).await;
            aws_sdk_sts::Client::new(&conf)
                .assume_role()
                .role_arn(format!("arn:aws:iam::{account_id}:role/asiaq-test"))
                .role_session_name("asiaq-test")
                .send()
                .await
                .expect("moto AssumeRole")
                .credentials
                .expect("AssumeRole returns credentials")
        });
        AwsAccount {
            account_id,
            endpoint,
            region: TEST_REGION.to_string(),
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            session_token: creds.session_token,
        }
    }

    /// The environment that points the asiaq binary (or any AWS SDK/CLI) at this account,
    /// isolated from the developer's own profiles and credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", self.session_token.clone()),
            ("AWS_CONFIG_FILE", "/dev/null".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            // moto answers unimplemented operations with HTTP 500, which the SDK retries.
            ("ASIAQ_MAX_ATTEMPTS", "2".to_string()),
        ]
    }

    /// Applies [`Self::env`] to a command and removes variables that would override it.
    pub fn configure<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for var in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "ASIAQ_CONFIG"] {
            cmd.env_remove(var);
        }
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// An SDK configuration for checking results through the AWS API in tests.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        base_config(
            &self.endpoint,
            &self.access_key_id,
            &self.secret_access_key,
            Some(self.session_token.clone()),
        )
        .await
    }
}

async fn base_config(
    endpoint: &str,
    key: &str,
    secret: &str,
    token: Option<String>,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(TEST_REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            key,
            secret,
            token,
            None,
            "asiaq-testkit",
        ))
        .load()
        .await
}
