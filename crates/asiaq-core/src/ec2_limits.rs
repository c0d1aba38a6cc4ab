//! EC2's request-rate limits (`reference/aws-facts.md`) and the token bucket that models them.
//!
//! Two parts of asiaq use this module and must agree exactly: the client-side budget in
//! `asiaq-aws`, which waits for a token before a request leaves, and the emulation proxy,
//! which answers `RequestLimitExceeded` like EC2 when a bucket is empty. Both classify a
//! request with [`Ec2Category::classify`] and size buckets with [`BucketLimit::scaled`], so a
//! budget scaled like the proxy's limits never trips them.
//!
//! EC2 keeps one bucket per API action (per account and region); the category of the action
//! only decides the bucket's size and refill rate. Time is a parameter ([`Instant`]), so the
//! arithmetic is tested without a clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Size and refill rate of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketLimit {
    /// Tokens the bucket holds when full (the burst).
    pub capacity: f64,
    /// Tokens added per second, up to `capacity`.
    pub refill_per_sec: f64,
}

impl BucketLimit {
    pub const fn new(capacity: f64, refill_per_sec: f64) -> Self {
        Self {
            capacity,
            refill_per_sec,
        }
    }

    /// Both numbers multiplied by `scale` (e.g. 0.1 to emulate a busy account). The capacity
    /// stays at least one token: a bucket that can never hold a whole token would refuse
    /// every request forever, which no real limit does.
    pub fn scaled(self, scale: f64) -> Self {
        Self {
            capacity: (self.capacity * scale).max(1.0),
            refill_per_sec: self.refill_per_sec * scale,
        }
    }

    /// The bucket made smaller by what it refills in `headroom`. A client pacing itself by
    /// this limit stays within the original one at the server even when the network delays
    /// some of its requests up to `headroom` more than others (a request delayed less than
    /// its predecessors arrives early, and would otherwise find the server's bucket empty).
    pub fn with_headroom(self, headroom: Duration) -> Self {
        Self {
            capacity: (self.capacity - self.refill_per_sec * headroom.as_secs_f64()).max(1.0),
            refill_per_sec: self.refill_per_sec,
        }
    }
}

/// EC2's throttling categories. Each action has a bucket of its own with its category's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ec2Category {
    /// `Describe*`, `List*`, `Get*`.
    NonMutating,
    /// The describes that draw from a smaller bucket when sent with neither a filter nor
    /// pagination.
    UnfilteredDescribe,
    /// Every other mutating action (CreateVpc, CreateSubnet, ...).
    Mutating,
    /// Security-group ingress rules, key pairs and VPC peering.
    SecurityGroupAndPeering,
    /// `CreateTags`, `DeleteTags`.
    Tags,
    /// `RunInstances`, `StartInstances`.
    RunInstances,
    /// `TerminateInstances`.
    TerminateInstances,
    /// Snapshot, volume and image-attribute changes.
    SnapshotAndImage,
    /// `CopyImage`.
    CopyImage,
    /// `CreateNatGateway`, `DeleteNatGateway`.
    NatGateway,
}

/// Describes whose unfiltered, unpaginated form draws from the small bucket.
const UNFILTERED_DESCRIBES: &[&str] = &[
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeVolumes",
];

const PEERING_ACTIONS: &[&str] = &[
    "CreateVpcPeeringConnection",
    "AcceptVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "ModifyVpcPeeringConnectionOptions",
];

impl Ec2Category {
    pub const ALL: [Ec2Category; 10] = [
        Ec2Category::NonMutating,
        Ec2Category::UnfilteredDescribe,
        Ec2Category::Mutating,
        Ec2Category::SecurityGroupAndPeering,
        Ec2Category::Tags,
        Ec2Category::RunInstances,
        Ec2Category::TerminateInstances,
        Ec2Category::SnapshotAndImage,
        Ec2Category::CopyImage,
        Ec2Category::NatGateway,
    ];

    /// The category of one request. `filtered_or_paginated` is whether the request carries a
    /// filter or pagination (see [`QueryRequest`]); it only matters for the describes listed
    /// as unfiltered-unpaginated.
    pub fn classify(action: &str, filtered_or_paginated: bool) -> Self {
        match action {
            "CreateTags" | "DeleteTags" => return Ec2Category::Tags,
            "RunInstances" | "StartInstances" => return Ec2Category::RunInstances,
            "TerminateInstances" => return Ec2Category::TerminateInstances,
            "CreateSnapshot"
            | "DeleteSnapshot"
            | "DeregisterImage"
            | "ModifyImageAttribute"
            | "CreateVolume"
            | "DeleteVolume" => return Ec2Category::SnapshotAndImage,
            "CopyImage" => return Ec2Category::CopyImage,
            "CreateNatGateway" | "DeleteNatGateway" => return Ec2Category::NatGateway,
            "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress" | "CreateKeyPair" => {
                return Ec2Category::SecurityGroupAndPeering
            }
            _ => {}
        }
        if PEERING_ACTIONS.contains(&action) {
            return Ec2Category::SecurityGroupAndPeering;
        }
        if ["Describe", "List", "Get"]
            .iter()
            .any(|prefix| action.starts_with(prefix))
        {
            if !filtered_or_paginated && UNFILTERED_DESCRIBES.contains(&action) {
                return Ec2Category::UnfilteredDescribe;
            }
            return Ec2Category::NonMutating;
        }
        Ec2Category::Mutating
    }

    /// EC2's published limit for this category.
    pub fn limit(self) -> BucketLimit {
        match self {
            Ec2Category::NonMutating => BucketLimit::new(100.0, 20.0),
            Ec2Category::UnfilteredDescribe => BucketLimit::new(50.0, 10.0),
            Ec2Category::Mutating => BucketLimit::new(50.0, 5.0),
            Ec2Category::SecurityGroupAndPeering => BucketLimit::new(50.0, 5.0),
            Ec2Category::Tags => BucketLimit::new(100.0, 10.0),
            Ec2Category::RunInstances => BucketLimit::new(5.0, 2.0),
            Ec2Category::TerminateInstances => BucketLimit::new(100.0, 5.0),
            Ec2Category::SnapshotAndImage => BucketLimit::new(100.0, 5.0),
            Ec2Category::CopyImage => BucketLimit::new(100.0, 1.0),
            Ec2Category::NatGateway => BucketLimit::new(10.0, 1.0),
        }
    }

    /// A short stable name for logs and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Ec2Category::NonMutating => "non-mutating",
            Ec2Category::UnfilteredDescribe => "unfiltered-describe",
            Ec2Category::Mutating => "mutating",
            Ec2Category::SecurityGroupAndPeering => "sg-keypair-peering",
            Ec2Category::Tags => "tags",
            Ec2Category::RunInstances => "run-instances",
            Ec2Category::TerminateInstances => "terminate-instances",
            Ec2Category::SnapshotAndImage => "snapshot-image",
            Ec2Category::CopyImage => "copy-image",
            Ec2Category::NatGateway => "nat-gateway",
        }
    }
}

/// What throttling needs to know about a query-protocol request (`Action=...&...`, the form
/// body EC2 and the other query services receive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub action: String,
    /// A `Filter.N...`, `MaxResults` or `NextToken` parameter is present.
    pub filtered_or_paginated: bool,
}

impl QueryRequest {
    /// Reads a form-encoded parameter list; `None` when it has no `Action`.
    ///
    /// Only filters and pagination count as "filtered or paginated", as in EC2's documentation;
    /// a list of resource ids (`InstanceId.1=...`) does not, which errs on the side of the
    /// smaller bucket.
    pub fn parse(form: &[u8]) -> Option<Self> {
        let mut action = None;
        let mut filtered_or_paginated = false;
        for (key, value) in form_urlencoded::parse(form) {
            if key == "Action" {
                action = Some(value.into_owned());
            } else if key.starts_with("Filter.") || key == "MaxResults" || key == "NextToken" {
                filtered_or_paginated = true;
            }
        }
        action.map(|action| QueryRequest {
            action,
            filtered_or_paginated,
        })
    }

    pub fn ec2_category(&self) -> Ec2Category {
        Ec2Category::classify(&self.action, self.filtered_or_paginated)
    }
}

/// Refill and spending can disagree with exact arithmetic by a few ulps; a bucket that holds
/// 0.9999999999 tokens after exactly one refill interval has a whole token.
const EPSILON: f64 = 1e-9;

/// A token bucket; the caller supplies the time of every operation.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    limit: BucketLimit,
    /// May be negative: [`TokenBucket::reserve`] lends tokens that the refill has not
    /// produced yet, and the debt is the queue of callers waiting for them.
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket, as EC2's are for an idle account.
    pub fn full(limit: BucketLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: limit.capacity,
            updated: now,
        }
    }

    pub fn limit(&self) -> BucketLimit {
        self.limit
    }

    /// Tokens available at `now` (negative while callers wait for reserved tokens).
    pub fn tokens(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Takes a token if one is there (the server's view: an empty bucket refuses).
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 - EPSILON {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token now or reserves the next one not yet reserved, and says how long to wait
    /// until it exists (the client's view: wait, never be refused). Reservations are served in
    /// call order. `None` when the bucket never refills and is empty.
    pub fn reserve(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        if self.tokens >= 1.0 - EPSILON {
            self.tokens -= 1.0;
            return Some(Duration::ZERO);
        }
        if self.limit.refill_per_sec <= 0.0 {
            return None;
        }
        self.tokens -= 1.0;
        // The reserved token is complete when the debt (including this one) is paid off.
        let missing = -self.tokens;
        Some(Duration::from_secs_f64(missing / self.limit.refill_per_sec))
    }

    /// Returns a token reserved by a caller that gave up waiting, so later callers do not wait
    /// for it.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.limit.capacity);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated);
        if elapsed.is_zero() {
            return;
        }
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.limit.refill_per_sec)
            .min(self.limit.capacity);
        self.updated = now;
    }
}

/// One bucket per (action, category), created full on first use, as EC2 keeps them.
#[derive(Debug, Clone)]
pub struct Ec2Buckets {
    scale: f64,
    headroom: Duration,
    buckets: HashMap<(String, Ec2Category), TokenBucket>,
}

impl Ec2Buckets {
    /// Buckets with EC2's limits multiplied by `scale` (the server's view).
    pub fn new(scale: f64) -> Self {
        Self::with_headroom(scale, Duration::ZERO)
    }

    /// Buckets with EC2's limits multiplied by `scale` and reduced by `headroom` (see
    /// [`BucketLimit::with_headroom`]; the client's view).
    pub fn with_headroom(scale: f64, headroom: Duration) -> Self {
        Self {
            scale,
            headroom,
            buckets: HashMap::new(),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The bucket of one request.
    pub fn bucket(&mut self, request: &QueryRequest, now: Instant) -> &mut TokenBucket {
        let category = request.ec2_category();
        let limit = category
            .limit()
            .scaled(self.scale)
            .with_headroom(self.headroom);
        self.buckets
            .entry((request.action.clone(), category))
            .or_insert_with(|| TokenBucket::full(limit, now))
    }

    /// Forgets every bucket (they start full again).
    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, millis: u64) -> Instant {
        t0 + Duration::from_millis(millis)
    }

    #[test]
    fn categories_follow_the_published_table() {
        let c = |a| Ec2Category::classify(a, false);
        assert_eq!(c("DescribeVpcs"), Ec2Category::NonMutating);
        assert_eq!(c("GetConsoleOutput"), Ec2Category::NonMutating);
        assert_eq!(c("DescribeInstances"), Ec2Category::UnfilteredDescribe);
        assert_eq!(
            Ec2Category::classify("DescribeInstances", true),
            Ec2Category::NonMutating
        );
        assert_eq!(c("CreateVpc"), Ec2Category::Mutating);
        assert_eq!(c("AuthorizeSecurityGroupEgress"), Ec2Category::Mutating);
        assert_eq!(
            c("AuthorizeSecurityGroupIngress"),
            Ec2Category::SecurityGroupAndPeering
        );
        assert_eq!(
            c("AcceptVpcPeeringConnection"),
            Ec2Category::SecurityGroupAndPeering
        );
        assert_eq!(c("DescribeVpcPeeringConnections"), Ec2Category::NonMutating);
        assert_eq!(c("CreateKeyPair"), Ec2Category::SecurityGroupAndPeering);
        assert_eq!(c("CreateTags"), Ec2Category::Tags);
        assert_eq!(c("StartInstances"), Ec2Category::RunInstances);
        assert_eq!(c("TerminateInstances"), Ec2Category::TerminateInstances);
        assert_eq!(c("DeregisterImage"), Ec2Category::SnapshotAndImage);
        assert_eq!(c("CopyImage"), Ec2Category::CopyImage);
        assert_eq!(c("DeleteNatGateway"), Ec2Category::NatGateway);
        assert_eq!(
            Ec2Category::RunInstances.limit(),
            BucketLimit::new(5.0, 2.0)
        );
        assert_eq!(Ec2Category::CopyImage.limit(), BucketLimit::new(100.0, 1.0));
    }

    #[test]
    fn query_parsing_sees_action_filters_and_pagination() {
        let q = QueryRequest::parse(b"Action=DescribeInstances&Version=2016-11-15").unwrap();
        assert_eq!(q.action, "DescribeInstances");
        assert!(!q.filtered_or_paginated);
        assert_eq!(q.ec2_category(), Ec2Category::UnfilteredDescribe);

        let q = QueryRequest::parse(
            b"Action=DescribeInstances&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1",
        )
        .unwrap();
        assert!(q.filtered_or_paginated);
        assert_eq!(q.ec2_category(), Ec2Category::NonMutating);

        let q = QueryRequest::parse(b"MaxResults=5&Action=DescribeVolumes").unwrap();
        assert!(q.filtered_or_paginated);

        let q = QueryRequest::parse(b"Action=DescribeInstances&InstanceId.1=i-1").unwrap();
        assert!(!q.filtered_or_paginated);

        assert_eq!(QueryRequest::parse(b"Version=2016-11-15"), None);
        assert_eq!(QueryRequest::parse(b""), None);
    }

    #[test]
    fn scaling_keeps_at_least_one_token() {
        let l = BucketLimit::new(5.0, 2.0).scaled(0.1);
        assert_eq!(l.capacity, 1.0);
        assert!((l.refill_per_sec - 0.2).abs() < 1e-12);
        assert_eq!(
            BucketLimit::new(100.0, 20.0).scaled(0.5),
            BucketLimit::new(50.0, 10.0)
        );
    }

    #[test]
    fn headroom_shrinks_the_burst_by_what_refills_meanwhile() {
        let l = BucketLimit::new(100.0, 20.0).with_headroom(Duration::from_millis(250));
        assert_eq!(l, BucketLimit::new(95.0, 20.0));
        let l = BucketLimit::new(5.0, 2.0)
            .scaled(0.2)
            .with_headroom(Duration::from_secs(1));
        assert_eq!(l.capacity, 1.0);
    }

    #[test]
    fn empty_bucket_refuses_until_refilled_at_the_configured_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(BucketLimit::new(2.0, 4.0), t0);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        // 4 tokens/s: one token after 250 ms, not before.
        assert!(!b.try_take(at(t0, 249)));
        assert!(b.try_take(at(t0, 250)));
        assert!(!b.try_take(at(t0, 250)));
        // A long idle period refills to capacity, not beyond.
        assert_eq!(b.tokens(at(t0, 60_000)), 2.0);
        assert!(b.try_take(at(t0, 60_000)));
        assert!(b.try_take(at(t0, 60_000)));
        assert!(!b.try_take(at(t0, 60_000)));
    }

    #[test]
    fn time_going_backwards_is_ignored() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(BucketLimit::new(1.0, 1.0), at(t0, 1000));
        assert!(b.try_take(at(t0, 1000)));
        assert!(!b.try_take(t0));
        assert!(b.try_take(at(t0, 2000)));
    }

    #[test]
    fn reservations_queue_in_order_at_the_refill_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(BucketLimit::new(2.0, 2.0), t0);
        assert_eq!(b.reserve(t0), Some(Duration::ZERO));
        assert_eq!(b.reserve(t0), Some(Duration::ZERO));
        assert_eq!(b.reserve(t0), Some(Duration::from_millis(500)));
        assert_eq!(b.reserve(t0), Some(Duration::from_millis(1000)));
        // Half a second later one reservation is served; the next new one waits behind the
        // other.
        assert_eq!(b.reserve(at(t0, 500)), Some(Duration::from_millis(1000)));
        // A caller that gives up returns its token to the queue.
        b.give_back();
        assert_eq!(b.reserve(at(t0, 500)), Some(Duration::from_millis(1000)));
    }

    #[test]
    fn a_bucket_that_never_refills_cannot_promise_a_token() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(BucketLimit::new(1.0, 0.0), t0);
        assert_eq!(b.reserve(t0), Some(Duration::ZERO));
        assert_eq!(b.reserve(at(t0, 10_000)), None);
    }

    #[test]
    fn each_action_has_its_own_bucket() {
        let t0 = Instant::now();
        let mut buckets = Ec2Buckets::new(0.02);
        let vpcs = QueryRequest::parse(b"Action=DescribeVpcs").unwrap();
        let subnets = QueryRequest::parse(b"Action=DescribeSubnets").unwrap();
        // 100 x 0.02 = 2 tokens each.
        assert!(buckets.bucket(&vpcs, t0).try_take(t0));
        assert!(buckets.bucket(&vpcs, t0).try_take(t0));
        assert!(!buckets.bucket(&vpcs, t0).try_take(t0));
        assert!(buckets.bucket(&subnets, t0).try_take(t0));
        buckets.reset();
        assert!(buckets.bucket(&vpcs, t0).try_take(t0));
    }
}
