//! The environment lease's heartbeat and guard against moto: a long run keeps its lease,
//! a broken lease makes the holder's next mutating call fail unsent, and two first users
//! making the table at once both succeed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use asiaq_aws::lock::{self, Acquired, LeaseClient};
use asiaq_aws::{AwsContext, ContextOptions};
use asiaq_core::lock::Holder;
use asiaq_testkit::Moto;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn want(env: &str, who: &str) -> Holder {
    Holder {
        environment: env.into(),
        arn: "arn:aws:iam::123456789012:user/test".into(),
        who: who.into(),
        command: "asiaq vpc update --name ci".into(),
        started_at: 0,
        expires_at: 0,
        generation: 0,
    }
}

// One test: the context reads the account from the process's environment.
#[test]
fn the_lease_is_kept_by_its_heartbeat_and_a_broken_one_stops_the_next_change() {
    let account = Moto::shared().new_account();
    for (k, v) in account.env() {
        std::env::set_var(k, v);
    }
    std::env::remove_var("ASIAQ_INJECT_FAULT");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let ctx = AwsContext::load(ContextOptions::default()).await.unwrap();
            let a = LeaseClient::new(&ctx);
            let b = LeaseClient::new(&ctx);
            // Two first users make the table at once: both succeed.
            let (ra, rb) = tokio::join!(lock::ensure_table(&a), lock::ensure_table(&b));
            ra.unwrap();
            rb.unwrap();

            // A 3 s lease renewed every second outlives its first expiry by far.
            let ttl = Duration::from_secs(3);
            let Acquired::Held(held) = lock::try_acquire(&a, want("ci", "one"), ttl, now())
                .await
                .unwrap()
            else {
                panic!("the table is empty")
            };
            assert_eq!(held.generation, 1);
            let lost = ctx.lease_lost_flag();
            let stop = Arc::new(tokio::sync::Notify::new());
            let beat = tokio::spawn(lock::heartbeat(
                a.clone(),
                held.clone(),
                ttl,
                Duration::from_secs(1),
                lost.clone(),
                stop.clone(),
                now,
            ));
            tokio::time::sleep(Duration::from_secs(5)).await;
            let other = lock::try_acquire(&b, want("ci", "two"), ttl, now())
                .await
                .unwrap();
            assert!(
                matches!(other, Acquired::Busy(ref h) if h.who == "one"),
                "{other:?}"
            );
            let current = lock::current(&a, "ci").await.unwrap().unwrap();
            assert!(current.expires_at > held.expires_at, "{current:?}");
            assert!(!lost.load(Ordering::SeqCst));
            // Reads and writes of the command go through while the lease holds.
            ctx.ec2()
                .create_vpc()
                .cidr_block("10.9.0.0/16")
                .send()
                .await
                .unwrap();

            // Broken (lock break): the next renewal notices, and the command's next
            // mutating call fails before it is sent; reads still work.
            lock::break_lease(&b, "ci").await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), beat)
                .await
                .expect("the heartbeat stops")
                .unwrap();
            assert!(lost.load(Ordering::SeqCst));
            let refused = ctx
                .ec2()
                .create_vpc()
                .cidr_block("10.8.0.0/16")
                .send()
                .await
                .unwrap_err();
            assert!(
                format!("{:?}", refused).contains(asiaq_aws::guard::LEASE_LOST),
                "{refused:?}"
            );
            ctx.ec2().describe_vpcs().send().await.unwrap();
            let vpcs = ctx.ec2().describe_vpcs().send().await.unwrap();
            assert!(!vpcs
                .vpcs()
                .iter()
                .any(|v| v.cidr_block() == Some("10.8.0.0/16")));
            stop.notify_one();

            // The next holder takes the next generation; the old one's release leaves it.
            let Acquired::Held(next) = lock::try_acquire(&b, want("ci", "two"), ttl, now())
                .await
                .unwrap()
            else {
                panic!("the lease was broken")
            };
            assert_eq!(
                next.generation, 2,
                "a broken lease is taken with the next generation"
            );
            lock::release(&a, &held).await.unwrap();
            assert_eq!(lock::current(&a, "ci").await.unwrap().unwrap().who, "two");
            lock::release(&b, &next).await.unwrap();
            assert_eq!(lock::current(&a, "ci").await.unwrap(), None);
            assert!(lock::list(&a).await.unwrap().is_empty());
        });
}
