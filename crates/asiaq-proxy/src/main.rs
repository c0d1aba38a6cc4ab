//! `asiaq-proxy`: runs the emulation proxy until interrupted, then prints its summary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use asiaq_proxy::{parse_limit, FaultRule, Proxy, ProxyConfig};
use clap::Parser;

/// A loopback proxy in front of moto_server that adds AWS-like latency, EC2 throttling and
/// injected faults, and logs every request.
///
/// The endpoint is printed on stdout (use it as AWS_ENDPOINT_URL); the summary goes to
/// stderr (and --summary FILE) when the proxy stops (Ctrl-C or SIGTERM). While it runs,
/// `GET /__proxy/summary` returns the summary and `POST /__proxy/reset` zeroes it.
#[derive(Debug, Parser)]
#[command(name = "asiaq-proxy", version)]
struct Args {
    /// Start from this JSON configuration; the flags below override it
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Where to forward, e.g. http://127.0.0.1:5000 (a moto_server)
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,

    /// Address to listen on (port 0: a free port)
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// Latency added to every request
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,

    /// Up to this much more latency, uniformly at random
    #[arg(long, value_name = "MS")]
    jitter_ms: Option<u64>,

    /// Multiply EC2's bucket sizes and refill rates (0.1: a busy account)
    #[arg(long, value_name = "FACTOR")]
    ec2_limit_scale: Option<f64>,

    /// Do not throttle EC2
    #[arg(long)]
    no_ec2_throttling: bool,

    /// A bucket for a service or one operation: SERVICE[:OPERATION]=CAPACITY/REFILL_PER_SEC
    #[arg(long = "limit", value_name = "SPEC")]
    limits: Vec<String>,

    /// Inject a fault: MATCH=KIND@TRIGGER, KIND one of httpSTATUS[:Code], throttle, reset,
    /// slow:MS; TRIGGER one of nth:N, p:PROBABILITY, cycle:PERIOD/HITS
    /// (e.g. ec2:RunInstances=http500@nth:3)
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,

    /// Seed for jitter and probabilistic faults
    #[arg(long)]
    seed: Option<u64>,

    /// Append one JSON line per request to this file
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,

    /// Write the summary as JSON to this file at shutdown
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
}

fn config_from(args: Args) -> Result<ProxyConfig, String> {
    let mut config = match &args.config {
        Some(path) => ProxyConfig::from_json_file(path).map_err(|e| e.to_string())?,
        None => ProxyConfig::default(),
    };
    if let Some(v) = args.upstream {
        config.upstream = v;
    }
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.latency_ms {
        config.latency_ms = v;
    }
    if let Some(v) = args.jitter_ms {
        config.jitter_ms = v;
    }
    if let Some(v) = args.ec2_limit_scale {
        config.ec2_limit_scale = v;
    }
    if args.no_ec2_throttling {
        config.ec2_throttling = false;
    }
    for spec in &args.limits {
        let (key, limit) = parse_limit(spec).map_err(|e| e.to_string())?;
        config.limits.insert(key, limit);
    }
    for spec in &args.faults {
        config
            .faults
            .push(spec.parse::<FaultRule>().map_err(|e| e.to_string())?);
    }
    if args.seed.is_some() {
        config.seed = args.seed;
    }
    if args.log.is_some() {
        config.log = args.log;
    }
    if args.summary.is_some() {
        config.summary = args.summary;
    }
    if config.upstream.is_empty() {
        return Err("no upstream: pass --upstream URL or set \"upstream\" in --config".into());
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = match config_from(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("asiaq-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let proxy = match Proxy::start(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("asiaq-proxy: {e}");
            return ExitCode::from(1);
        }
    };
    println!("{}", proxy.endpoint());
    eprintln!(
        "asiaq-proxy: {} -> {} (Ctrl-C to stop)",
        proxy.endpoint(),
        proxy.config().upstream
    );
    let stopped = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(wait_for_signal()));
    if let Err(e) = stopped {
        eprintln!("asiaq-proxy: cannot wait for signals: {e}");
    }
    let summary = proxy.shutdown();
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_are_validated() {
        let args = Args::parse_from([
            "asiaq-proxy",
            "--upstream",
            "http://127.0.0.1:5000",
            "--latency-ms",
            "50",
            "--ec2-limit-scale",
            "0.1",
            "--limit",
            "autoscaling=20/2",
            "--fault",
            "ec2:RunInstances=http500@nth:3",
        ]);
        let config = config_from(args).unwrap();
        assert_eq!(config.latency_ms, 50);
        assert_eq!(config.ec2_limit_scale, 0.1);
        assert_eq!(config.limits.len(), 1);
        assert_eq!(config.faults.len(), 1);
        assert!(config_from(Args::parse_from(["asiaq-proxy"])).is_err());
        assert!(config_from(Args::parse_from([
            "asiaq-proxy",
            "--upstream",
            "http://127.0.0.1:5000",
            "--fault",
            "nonsense"
        ]))
        .is_err());
    }
}
