//! `asiaq metrics upload` against moto: a local instance metadata endpoint
//! (`AWS_EC2_METADATA_SERVICE_ENDPOINT`), a `/proc` of our own (`ASIAQ_METRICS_PROC`), and
//! `df` and `rabbitmqctl` stand-ins on PATH; the values are read back with GetMetricData.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use crate::hosts_support::*;

/// Serves the metadata an instance of mhcapp in demo has, until the test ends.
fn metadata_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let req = String::from_utf8_lossy(&buf);
            let path = req.split_whitespace().nth(1).unwrap_or("");
            let body = match path {
                "/latest/api/token" => "test-token",
                "/latest/meta-data/placement/availability-zone" => "us-west-2b",
                "/latest/user-data" => {
                    "#!/bin/bash\nhostclass=\"mhcapp\"\nenvironment_name=\"demo\"\n"
                }
                _ => "",
            };
            let status = if body.is_empty() {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

fn script(dir: &Path, name: &str, output: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\ncat <<'OUT'\n{output}OUT\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A /proc with known memory and CPU figures, and `df` (and optionally `rabbitmqctl`)
/// stand-ins; returns (proc dir, PATH).
fn host(dir: &Path, rabbit: bool) -> (std::path::PathBuf, String) {
    let proc_dir = dir.join("proc");
    std::fs::create_dir_all(&proc_dir).unwrap();
    std::fs::write(
        proc_dir.join("meminfo"),
        "MemTotal:        2048000 kB\nMemFree:          512000 kB\nBuffers:          102400 kB\nCached:           409600 kB\n",
    )
    .unwrap();
    std::fs::write(proc_dir.join("stat"), "cpu  100 0 50 800 20 10 10 10 0 0\n").unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    script(
        &bin,
        "df",
        "Filesystem     1K-blocks    Used Available Use% Mounted on\n/dev/xvda1       8123812 3249524   4874288  40% /\ntmpfs               1024       0      1024   0% /dev/shm\n",
    );
    if rabbit {
        script(
            &bin,
            "rabbitmqctl",
            "Listing queues ...\ninference_workflow\t7\nother\t3\n",
        );
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (proc_dir, path)
}

/// The average of `namespace/name` for demo_mhcapp over the last hour, through
/// GetMetricData.
fn read_back(w: &World, namespace: &str, name: &str) -> Vec<f64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let query = MetricDataQuery::builder()
        .id("q")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(name)
                        .dimensions(
                            Dimension::builder()
                                .name("env_hostclass")
                                .value("demo_mhcapp")
                                .build(),
                        )
                        .build(),
                )
                .period(60)
                .stat("Average")
                .build(),
        )
        .build();
    let out =
        w.rt.block_on(
            w.cloudwatch()
                .get_metric_data()
                .metric_data_queries(query)
                .start_time(DateTime::from_secs(now - 3600))
                .end_time(DateTime::from_secs(now + 3600))
                .send(),
        )
        .unwrap();
    out.metric_data_results()[0].values().to_vec()
}

/// The instance's figures reach CloudWatch in the original's namespaces with the
/// env_hostclass dimension taken from the user data; the RabbitMQ queues when rabbitmqctl
/// is there.
#[test]
fn upload_sends_the_instance_figures() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let (proc_dir, path) = host(dir.path(), true);
    let out = w.ok_with(
        &["metrics", "upload", "--jitter", "0"],
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata_server()),
            ("ASIAQ_METRICS_PROC", &proc_dir.display().to_string()),
            ("PATH", &path),
        ],
    );
    assert!(out.contains("for demo_mhcapp"), "{out}");
    assert_eq!(read_back(&w, "EC2/Memory", "MemTotal"), [2000.0]);
    assert_eq!(read_back(&w, "EC2/Memory", "%MemFree"), [50.0]);
    assert_eq!(read_back(&w, "EC2/CPU", "idle"), [80.0]);
    assert_eq!(read_back(&w, "EC2/Disk", "/dev/xvda1"), [40.0]);
    assert_eq!(read_back(&w, "RabbitMQ", "inference_workflow"), [7.0]);
}

/// `--dummy` prints the values as the dummy instance's and sends nothing; without
/// rabbitmqctl the queue values are left out.
#[test]
fn dummy_prints_instead_of_sending() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let (proc_dir, path) = host(dir.path(), false);
    let out = w.ok_with(
        &["metrics", "--dummy", "upload"],
        &[
            ("ASIAQ_METRICS_PROC", &proc_dir.display().to_string()),
            ("PATH", &path),
        ],
    );
    assert!(
        out.contains(
            "+ put EC2/Memory (env_hostclass=desktop_mhccloudwatchtest): MemTotal=2000 Megabytes"
        ),
        "{out}"
    );
    assert!(!out.contains("RabbitMQ"), "{out}");
    assert!(
        out.ends_with("Plan: 3 to create, 0 to change, 0 to delete.\n"),
        "{out}"
    );
    assert!(w
        .rt
        .block_on(w.cloudwatch().list_metrics().send())
        .unwrap()
        .metrics()
        .is_empty());
}

/// Off an instance (no metadata) the upload fails with a message that says so, exit 1.
#[test]
fn upload_without_metadata_fails_clearly() {
    let w = World::new();
    let out = w
        .asiaq()
        .args(["metrics", "upload"])
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot read the availability zone from the instance metadata"),
        "{}",
        text(&out.stderr)
    );
}
