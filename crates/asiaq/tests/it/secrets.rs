//! `asiaq creds`, `asiaq app-auth` and `asiaq accounts` against moto (and `accounts
//! install` inside the confined SSH test host), plus the check that no secret reaches a
//! log, an error or `--debug` output.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::identity_common::*;
use asiaq_testkit::{AwsAccount, Moto};

const BUCKET: &str = "us-west-2.example.credentials.demo";

fn s3(account: &AwsAccount) -> aws_sdk_s3::Client {
    let conf = runtime().block_on(account.sdk_config());
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

/// Bucket names are global in moto (as in S3): the tests that use the demo credential
/// bucket take turns, and each deletes the bucket when it ends (also on panic).
static BUCKET_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the bucket for one test; deletes its objects and the bucket when dropped.
struct DemoBucket {
    s3: aws_sdk_s3::Client,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Drop for DemoBucket {
    fn drop(&mut self) {
        let s3 = self.s3.clone();
        runtime().block_on(async move {
            if let Ok(list) = s3.list_objects_v2().bucket(BUCKET).send().await {
                for o in list.contents() {
                    let _ = s3
                        .delete_object()
                        .bucket(BUCKET)
                        .key(o.key().unwrap_or_default())
                        .send()
                        .await;
                }
            }
            let _ = s3.delete_bucket().bucket(BUCKET).send().await;
        });
    }
}

/// The environment "demo" (a VPC tagged Name=demo, type=sandbox) and its credential bucket.
#[must_use]
fn demo_environment(account: &AwsAccount) -> DemoBucket {
    let turn = BUCKET_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let conf = runtime().block_on(account.sdk_config());
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let s3 = s3(account);
    runtime().block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.101.0.0/16")
            .send()
            .await
            .unwrap();
        let id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        ec2.create_tags()
            .resources(id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("Name")
                    .value("demo")
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("type")
                    .value("sandbox")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.create_bucket()
            .bucket(BUCKET)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    DemoBucket { s3, _turn: turn }
}

fn object(account: &AwsAccount, key: &str) -> Option<(String, Option<String>)> {
    let s3 = s3(account);
    runtime().block_on(async {
        let out = s3.get_object().bucket(BUCKET).key(key).send().await.ok()?;
        let sse = out.server_side_encryption().map(|s| s.as_str().to_string());
        let body = out.body.collect().await.unwrap().into_bytes();
        Some((String::from_utf8_lossy(&body).into_owned(), sse))
    })
}

fn keys(account: &AwsAccount, prefix: &str) -> Vec<String> {
    let s3 = s3(account);
    runtime().block_on(async {
        s3.list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    })
}

fn creds(account: &AwsAccount, config: &Path, args: &[&str]) -> Command {
    let mut c = asiaq(account, config);
    c.args(["--env", "demo", "creds"]).args(args);
    c
}

#[test]
fn creds_set_get_list_delete_setfile_on_the_environment_bucket() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let _demo = demo_environment(&account);

    succeed(&mut creds(
        &account,
        cfg,
        &["set", "--key", "app/db", "--value", "s3cr3t-value"],
    ));
    let (value, sse) = object(&account, "app/db").unwrap();
    assert_eq!(value, "s3cr3t-value");
    assert_eq!(sse.as_deref(), Some("AES256"));
    assert_eq!(
        succeed(&mut creds(&account, cfg, &["get", "--key", "app/db"])),
        "s3cr3t-value\n"
    );

    // --value - reads stdin as is.
    let mut c = creds(
        &account,
        cfg,
        &["set", "--key", "app/stdin", "--value", "-"],
    );
    c.stdin(std::process::Stdio::piped());
    let mut child = c.stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(object(&account, "app/stdin").unwrap().0, "from stdin\n");

    // setfile uploads the file (the original downloaded into it).
    let file = config.path().join("upload.pem");
    std::fs::write(&file, "-----BEGIN KEY-----\nabc\n").unwrap();
    succeed(&mut creds(
        &account,
        cfg,
        &[
            "setfile",
            "--key",
            "private_keys/ssh/x",
            "--filename",
            file.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        object(&account, "private_keys/ssh/x").unwrap().0,
        "-----BEGIN KEY-----\nabc\n"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "-----BEGIN KEY-----\nabc\n"
    );

    assert_eq!(
        succeed(&mut creds(&account, cfg, &["list", "--prefix", "app/"])),
        "app/db\napp/stdin\n"
    );
    let json: serde_json::Value = serde_json::from_str(&succeed(
        asiaq(&account, cfg).args(["--env", "demo", "--output", "json", "creds", "list"]),
    ))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);

    // --dry-run changes nothing; delete removes.
    let (_, calls) = with_stats(&mut creds(
        &account,
        cfg,
        &["delete", "--key", "app/db", "--dry-run"],
    ));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(object(&account, "app/db").is_some());
    succeed(&mut creds(&account, cfg, &["delete", "--key", "app/db"]));
    assert!(object(&account, "app/db").is_none());

    // --bucket names the bucket directly.
    let mut c = asiaq(&account, cfg);
    c.args(["creds", "--bucket", BUCKET, "get", "--key", "app/stdin"]);
    assert_eq!(succeed(&mut c), "from stdin\n\n");
}

#[test]
fn creds_refuse_unknown_environments_and_bad_input_before_writing() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let (out, calls) = with_stats(&mut creds(
        &account,
        cfg,
        &["set", "--key", "k", "--value", "v"],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("environment demo does not exist"));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    // A file that cannot be read: exit 2, no AWS call at all.
    let (out, calls) = with_stats(&mut creds(
        &account,
        cfg,
        &["setfile", "--key", "k", "--filename", "/nonexistent/file"],
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(calls.is_empty());
    // --password without a terminal cannot prompt: exit 2.
    let out = expect_code(
        &mut creds(&account, cfg, &["set", "--key", "k", "--password"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("password"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn app_auth_update_writes_passwords_and_passwd_files() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let _demo = demo_environment(&account);
    std::fs::write(
        cfg.join("app_auth/demo/myapp/literal"),
        "plain-literal-pw\n",
    )
    .unwrap();

    let update = |extra: &[&str]| {
        let mut c = asiaq(&account, cfg);
        c.args(["--env", "demo", "app-auth", "update"]).args(extra);
        c
    };
    let (_, calls) = with_stats(&mut update(&["--dry-run"]));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(keys(&account, "app_auth/").is_empty());

    succeed(&mut update(&[]));
    assert_eq!(
        keys(&account, "app_auth/"),
        vec![
            "app_auth/myapp/admin",
            "app_auth/myapp/literal",
            "app_auth/myapp/passwd",
            "app_auth/myapp/svcuser",
        ]
    );
    let get = |k: &str| object(&account, k).unwrap();
    let admin = get("app_auth/myapp/admin").0;
    let svc = get("app_auth/myapp/svcuser").0;
    assert_eq!(admin.len(), 60);
    assert!(admin.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(get("app_auth/myapp/literal").0, "plain-literal-pw");
    assert_eq!(get("app_auth/myapp/svcuser").1.as_deref(), Some("AES256"));
    let passwd = get("app_auth/myapp/passwd").0;
    let lines: Vec<&str> = passwd.lines().collect();
    assert_eq!(lines[0], "# Generated by disco_app_auth.py automatically");
    assert_eq!(lines.len(), 4);
    let sha = |pw: &str| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys,hashlib,base64;print(base64.standard_b64encode(hashlib.sha512(sys.argv[1].encode()).digest()).decode())",
                pw,
            ])
            .output()
            .unwrap();
        text(&out.stdout).trim().to_string()
    };
    assert!(
        lines.contains(&format!("admin:{}", sha(&admin)).as_str()),
        "{passwd}"
    );
    assert!(
        lines.contains(&format!("svcuser:{}", sha(&svc)).as_str()),
        "{passwd}"
    );

    // Again: ALWAYS_GENERATE changes, GENERATE_WHEN_EMPTY is kept.
    succeed(&mut update(&[]));
    assert_ne!(get("app_auth/myapp/admin").0, admin);
    assert_eq!(get("app_auth/myapp/svcuser").0, svc);
    // --force regenerates GENERATE_WHEN_EMPTY too.
    succeed(&mut update(&["--force"]));
    assert_ne!(get("app_auth/myapp/svcuser").0, svc);
    // The environment can come from the bucket name.
    let mut c = asiaq(&account, cfg);
    c.args(["app-auth", "--bucket", BUCKET, "update", "--dry-run"]);
    assert!(succeed(&mut c)
        .contains("would write s3://us-west-2.example.credentials.demo/app_auth/myapp/passwd"));
}

/// An `$EDITOR` that replaces the template's SSH key placeholder with `key` (and records
/// that it ran).
fn editor_script(dir: &Path, key: &str) -> std::path::PathBuf {
    let path = dir.join("editor.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nsed -i 's|^ssh_key_0 = .*|ssh_key_0 = {key}|; s|^groups = .*|groups = disco_operators|' \"$1\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxRzTestKeyOnlyForAsiaqTests alice@example";

#[test]
fn accounts_add_edit_and_list() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let _demo = demo_environment(&account);
    let editor = editor_script(cfg, SSH_KEY);
    let accounts = |args: &[&str]| {
        let mut c = asiaq(&account, cfg);
        c.args(["--env", "demo", "accounts"])
            .args(args)
            .env("EDITOR", &editor);
        c
    };
    succeed(&mut accounts(&["addgroup", "--name", "disco_operators"]));
    succeed(&mut accounts(&[
        "adduser",
        "--name",
        "alice",
        "--password",
        "correct horse",
    ]));
    let user = object(&account, "accounts/users/alice").unwrap();
    assert_eq!(user.1.as_deref(), Some("AES256"));
    let user = user.0;
    assert!(user.starts_with("[user]\npassword = $6$rounds="), "{user}");
    assert!(user.contains(&format!("ssh_key_0 = {SSH_KEY}\n")), "{user}");
    assert!(user.contains("groups = disco_operators\n"));
    assert!(user.contains("id = 2000\n"), "{user}");
    assert!(!user.contains("correct horse"));
    // The hash is a real sha512_crypt of the password.
    let hash = user
        .lines()
        .find_map(|l| l.strip_prefix("password = "))
        .unwrap()
        .to_string();
    let check = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys;print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])",
            "correct horse",
            &hash,
        ])
        .output()
        .unwrap();
    assert_eq!(
        text(&check.stdout).trim(),
        "True",
        "{}",
        text(&check.stderr)
    );
    // The user's own group: the next free group id.
    assert_eq!(
        object(&account, "accounts/groups/alice").unwrap().0,
        "[group]\nid = 2001\n\n"
    );
    assert_eq!(
        object(&account, "accounts/groups/disco_operators")
            .unwrap()
            .0,
        "[group]\nid = 2000\n\n"
    );

    succeed(&mut accounts(&[
        "adduser",
        "--name",
        "bob",
        "--password",
        "pw2",
    ]));
    assert!(object(&account, "accounts/users/bob")
        .unwrap()
        .0
        .contains("id = 2001\n"));
    // Adding an existing user is refused.
    expect_code(
        &mut accounts(&["adduser", "--name", "bob", "--password", "x"]),
        2,
    );

    succeed(&mut accounts(&[
        "edituser", "--name", "bob", "--active", "no",
    ]));
    assert!(object(&account, "accounts/users/bob")
        .unwrap()
        .0
        .contains("active = no\n"));
    expect_code(
        &mut accounts(&["edituser", "--name", "bob", "--active", "maybe"]),
        2,
    );

    // An edit that drops the id is refused and changes nothing.
    let breaker = cfg.join("break.sh");
    std::fs::write(&breaker, "#!/bin/sh\nsed -i '/^id = /d' \"$1\"\n").unwrap();
    std::fs::set_permissions(&breaker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = object(&account, "accounts/users/bob").unwrap().0;
    let out = expect_code(
        accounts(&["edituser", "--name", "bob"]).env("EDITOR", &breaker),
        2,
    );
    assert!(
        text(&out.stderr).contains("option id is missing"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(object(&account, "accounts/users/bob").unwrap().0, before);

    assert_eq!(succeed(&mut accounts(&["listusers"])), "alice\nbob\n");
    assert_eq!(
        succeed(&mut accounts(&["listgroups"])),
        "alice\nbob\ndisco_operators\n"
    );
}

/// Copies an executable and the libraries it loads into the test host's chroot.
fn copy_into_chroot(host: &asiaq_testkit::SshHost, program: &Path, remote: &str) {
    let target = host.path(remote);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(program, &target).unwrap();
    let ldd = Command::new("ldd").arg(program).output().unwrap();
    for lib in text(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = host.path(lib);
        if !dest.exists() {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(lib, &dest).unwrap();
        }
    }
}

#[test]
fn accounts_install_creates_groups_users_and_keys_on_the_test_host() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let _demo = demo_environment(&account);
    let editor = editor_script(cfg, SSH_KEY);
    let accounts = |args: &[&str]| {
        let mut c = asiaq(&account, cfg);
        c.args(["accounts", "--bucket", BUCKET])
            .args(args)
            .env("EDITOR", &editor);
        c
    };
    succeed(&mut accounts(&["addgroup", "--name", "disco_operators"]));
    succeed(&mut accounts(&[
        "adduser",
        "--name",
        "alice",
        "--password",
        "pw",
    ]));
    succeed(&mut accounts(&[
        "adduser",
        "--name",
        "bob",
        "--password",
        "pw",
    ]));
    succeed(&mut accounts(&[
        "edituser", "--name", "bob", "--active", "no",
    ]));

    // The on-host half runs on the confined host: asiaq and the shadow tools are copied
    // into its chroot, with the files useradd needs.
    let host = asiaq_testkit::SshHost::start();
    copy_into_chroot(
        &host,
        Path::new(env!("CARGO_BIN_EXE_asiaq")),
        "/usr/local/bin/asiaq",
    );
    for tool in ["useradd", "usermod", "groupadd", "groupmod"] {
        copy_into_chroot(
            &host,
            &Path::new("/usr/sbin").join(tool),
            &format!("/usr/sbin/{tool}"),
        );
    }
    std::fs::write(host.path("/etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(host.path("/etc/gshadow"), "root:*::\n").unwrap();
    std::fs::create_dir_all(host.path("/home")).unwrap();
    // The SDK's TLS setup needs the trust store even for a plain-HTTP endpoint.
    let ca = "/etc/ssl/certs/ca-certificates.crt";
    std::fs::create_dir_all(host.path("/etc/ssl/certs")).unwrap();
    std::fs::copy(ca, host.path(ca)).unwrap();
    if Path::new("/etc/login.defs").exists() {
        std::fs::copy("/etc/login.defs", host.path("/etc/login.defs")).unwrap();
    }
    let env: Vec<String> = account
        .env()
        .into_iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect();
    let remote = format!(
        "env {} ASIAQ_QUIET=1 /usr/local/bin/asiaq accounts --bucket {BUCKET} install",
        env.join(" ")
    );
    let out = host.ssh("10.101.0.10").arg(&remote).output().unwrap();
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let group = std::fs::read_to_string(host.path("/etc/group")).unwrap();
    assert!(group.contains("disco_operators:x:2000:alice"), "{group}");
    assert!(group.contains("alice:x:2001:"), "{group}");
    let passwd = std::fs::read_to_string(host.path("/etc/passwd")).unwrap();
    assert!(
        passwd.contains("alice:x:2000:2001::/home/alice:/bin/bash"),
        "{passwd}"
    );
    let shadow = std::fs::read_to_string(host.path("/etc/shadow")).unwrap();
    let alice = shadow.lines().find(|l| l.starts_with("alice:")).unwrap();
    assert!(alice.starts_with("alice:$6$rounds="), "{alice}");
    let bob = shadow.lines().find(|l| l.starts_with("bob:")).unwrap();
    assert_eq!(bob.split(':').nth(7), Some("0"), "bob expires: {bob}");
    let keys = host.path("/home/alice/.ssh/authorized_keys");
    assert_eq!(
        std::fs::read_to_string(&keys).unwrap(),
        format!("{SSH_KEY}\n")
    );
    let meta = std::fs::metadata(&keys).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (2000, 2001, 0o600)
    );

    // Installing again changes nothing and adds no duplicate key.
    let out = host.ssh("10.101.0.10").arg(&remote).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&keys).unwrap(),
        format!("{SSH_KEY}\n")
    );
}

/// Every secret of a creds/app-auth/accounts session, run with --debug: none may appear in
/// any output except `creds get`'s stdout.
#[test]
fn secrets_never_reach_logs_errors_or_debug_output() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let _demo = demo_environment(&account);
    let literal = "LiteralAppSecret-93d1";
    std::fs::write(cfg.join("app_auth/demo/myapp/literal"), literal).unwrap();
    let cred = "CredValueSecret-51fe";
    let file_secret = "FileSecret-77aa";
    let password = "AccountPassword-3c2b";
    let file = cfg.join("secret.txt");
    std::fs::write(&file, file_secret).unwrap();
    let editor = editor_script(cfg, SSH_KEY);

    let mut outputs: Vec<(String, std::process::Output)> = Vec::new();
    let mut run_debug = |label: &str, args: &[&str]| {
        let mut c = asiaq(&account, cfg);
        c.arg("--debug")
            .env_remove("ASIAQ_QUIET")
            .env("EDITOR", &editor)
            .args(args);
        outputs.push((label.to_string(), run(&mut c)));
    };
    run_debug(
        "creds set",
        &[
            "--env", "demo", "creds", "set", "--key", "k1", "--value", cred,
        ],
    );
    run_debug(
        "creds setfile",
        &[
            "--env",
            "demo",
            "creds",
            "setfile",
            "--key",
            "k2",
            "--filename",
            file.to_str().unwrap(),
        ],
    );
    run_debug(
        "creds get",
        &["--env", "demo", "creds", "get", "--key", "k1"],
    );
    run_debug(
        "creds get missing",
        &["--env", "demo", "creds", "get", "--key", "nope"],
    );
    run_debug("app-auth", &["--env", "demo", "app-auth", "update"]);
    run_debug("app-auth again", &["--env", "demo", "app-auth", "update"]);
    run_debug(
        "adduser",
        &[
            "--env",
            "demo",
            "accounts",
            "adduser",
            "--name",
            "zed",
            "--password",
            password,
        ],
    );
    run_debug(
        "edituser",
        &[
            "--env", "demo", "accounts", "edituser", "--name", "zed", "--active", "no",
        ],
    );
    run_debug(
        "install dry run",
        &["--env", "demo", "accounts", "install", "--dry-run"],
    );
    run_debug("listusers", &["--env", "demo", "accounts", "listusers"]);

    // The generated secrets, read back from the bucket.
    let mut secrets: Vec<String> = vec![
        literal.into(),
        cred.into(),
        file_secret.into(),
        password.into(),
    ];
    for k in ["app_auth/myapp/admin", "app_auth/myapp/svcuser"] {
        secrets.push(object(&account, k).unwrap().0);
    }
    let user = object(&account, "accounts/users/zed").unwrap().0;
    let hash = user
        .lines()
        .find_map(|l| l.strip_prefix("password = "))
        .unwrap();
    secrets.push(hash.to_string());
    // The passwd lines are hashes of the app passwords; they stay in the bucket too.
    let passwd = object(&account, "app_auth/myapp/passwd").unwrap().0;
    secrets.extend(
        passwd
            .lines()
            .skip(1)
            .map(|l| l.split(':').nth(1).unwrap().to_string()),
    );

    assert!(
        outputs
            .iter()
            .all(|(l, o)| o.status.code() == Some(if l == "creds get missing" { 1 } else { 0 })),
        "{:#?}",
        outputs
            .iter()
            .map(|(l, o)| (l, o.status.code(), text(&o.stderr)))
            .collect::<Vec<_>>()
    );
    assert!(
        text(&outputs[0].1.stderr).contains("PutObject"),
        "--debug logs the calls"
    );
    for (label, out) in &outputs {
        let stderr = text(&out.stderr);
        let stdout = text(&out.stdout);
        for s in &secrets {
            assert!(
                !stderr.contains(s.as_str()),
                "{label}: a secret is in stderr"
            );
            if label != "creds get" {
                assert!(
                    !stdout.contains(s.as_str()),
                    "{label}: a secret is in stdout"
                );
            }
        }
    }
    assert_eq!(text(&outputs[2].1.stdout), format!("{cred}\n"));
}
