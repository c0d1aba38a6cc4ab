//! `asiaq ssh` against moto and a confined sshd that plays both the jump host and the
//! target: the instances' addresses are moto's, the test's ssh configuration maps them onto
//! the sshd (the jump host through a ProxyCommand, the targets as the jump host's own
//! loopback address).

use crate::hosts_support::*;
use asiaq_testkit::SshHost;

/// mhcadminproxy (the jump host of the example) and two mhcapp instances.
fn spin_up(w: &World) {
    demo_world(w);
    w.write_pipeline(
        "ssh.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcadminproxy,1,1,1,t2.micro,no\n\
         1,mhcapp,2,2,2,t2.small,no\n",
    );
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/ssh.csv"]);
}

/// `(instance id, private IP)` of the live instances of `hostclass`, by id.
fn hosts_of(w: &World, hostclass: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = w
        .instances()
        .iter()
        .filter(|i| tag_value(i.tags(), "hostclass") == Some(hostclass))
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) == Some("running"))
        .map(|i| {
            (
                i.instance_id().unwrap().to_string(),
                i.private_ip_address().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn smoke_tag(w: &World, id: &str, tested: bool) {
    let mut args = vec!["aws", "tag", "--instance", id, "--key", "smoketest"];
    if tested {
        args.extend(["--value", "tested"]);
    }
    w.ok(&args);
}

#[test]
fn ssh_runs_a_command_on_the_target_through_the_jump_host() {
    let host = SshHost::start();
    let w = World::new();
    spin_up(&w);
    let proxy = hosts_of(&w, "mhcadminproxy");
    let apps = hosts_of(&w, "mhcapp");
    assert_eq!((proxy.len(), apps.len()), (1, 2));
    smoke_tag(&w, &proxy[0].0, true);
    let ssh_config = host.jump_ssh_config(&[&apps[0].1, &apps[1].1]);
    let ssh = |args: &[&str]| {
        w.asiaq()
            .arg("ssh")
            .args(args)
            .env("ASIAQ_SSH_CONFIG", &ssh_config)
            .output()
            .unwrap()
    };

    // A real command on the target, through the jump host; it leaves a file behind.
    let out = ssh(&[
        &apps[1].0,
        "-u",
        "root",
        "--",
        "echo through-the-jump-host > /tmp/asiaq-ssh && cat /tmp/asiaq-ssh",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stderr),
        host.log()
    );
    assert_eq!(text(&out.stdout).trim(), "through-the-jump-host");
    assert_eq!(
        std::fs::read_to_string(host.path("/tmp/asiaq-ssh"))
            .unwrap()
            .trim(),
        "through-the-jump-host"
    );
    // The command line shown on stderr went through the jump host to the private IP.
    let err = text(&out.stderr);
    assert!(err.contains(" -J root@"), "{err}");
    assert!(err.contains(&format!(" -- {}", apps[1].1)), "{err}");
    // Two logins: the jump host, then the target through the jump host's forwarding.
    assert_eq!(
        host.log().matches("Accepted publickey for root").count(),
        2,
        "{}",
        host.log()
    );
    // The command's words may also follow HOST without `--`, as for ssh.
    let out = ssh(&[&apps[1].0, "-u", "root", "cat", "/tmp/asiaq-ssh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "through-the-jump-host");
    // The remote exit status is asiaq's; the target by its private IP works the same.
    let out = ssh(&[&apps[0].1, "-u", "root", "--", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));

    // --print: the command, not run; --first takes the first of one hostclass (by id here:
    // moto's instances have no hostname tag).
    let out = ssh(&[
        "mhcapp",
        "--first",
        "-u",
        "root",
        "-L",
        "8080",
        "-L",
        "15432:5432",
        "--print",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["route"]["kind"], "jump");
    assert_eq!(json["route"]["address"], apps[0].1.as_str());
    let jump = json["route"]["jump"].as_str().unwrap().to_string();
    let out = ssh(&[
        "mhcapp",
        "--first",
        "-u",
        "root",
        "-L",
        "8080",
        "-L",
        "15432:5432",
        "--print",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (app, cfg) = (&apps[0].1, ssh_config.display());
    assert_eq!(
        text(&out.stdout),
        format!(
            "ssh -F {cfg} -A -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o ConnectTimeout=7 -J root@{jump} -L 8080:{app}:8080 -L 15432:{app}:5432 \
             -l root -- {app}\n"
        )
    );

    // Without a smoke-tested jump host there is no route: exit 1, saying why.
    smoke_tag(&w, &proxy[0].0, false);
    let out = ssh(&[&apps[0].0, "--print"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no direct route to") && err.contains("jump_box_hostclasses (mhcadminproxy)"),
        "{err}"
    );
}

#[test]
fn ssh_host_errors() {
    let w = World::new();
    spin_up(&w);
    let apps = hosts_of(&w, "mhcapp");
    let run = |args: &[&str]| w.asiaq().arg("ssh").args(args).output().unwrap();

    // Several matches: exit 2, listing them.
    let out = run(&["mhcapp", "--print"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("2 running instances of environment demo match \"mhcapp\"")
            && err.contains(&apps[0].0)
            && err.contains(&apps[1].0)
            && err.contains("--first"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty());
    // --first does not pick across hostclasses.
    let out = run(&["mhc", "--first", "--print"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("several hostclasses (mhcadminproxy, mhcapp)"),
        "{}",
        text(&out.stderr)
    );
    // No match.
    let out = run(&["mhcnothing", "--print"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("no running instance of environment demo matches \"mhcnothing\""),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["i-0123456789abcdef0", "--print"]);
    assert_eq!(out.status.code(), Some(2));
    // A bad tunnel: exit 2 before any call (no environment is needed to say so).
    let out = w
        .asiaq()
        .args(["--env", "nowhere", "ssh", "mhcapp", "-L", "http", "--print"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("-L \"http\": expected PORT"),
        "{}",
        text(&out.stderr)
    );
    // An address of no instance is used as given, directly.
    let out = run(&["192.0.2.7", "--print"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with(" -- 192.0.2.7\n"),
        "{}",
        text(&out.stdout)
    );
}
