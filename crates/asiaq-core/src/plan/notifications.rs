//! SNS notification topics of an environment (spec §4.24, `alarms update_notifications`):
//! one topic per `[notifications]` key of the environment, each endpoint subscribed (email
//! when it contains `@`, http/https when it starts with `http`); with `--delete`, the
//! environment's other topics and the extra subscriptions go.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{new_ref, Change, Plan, PlanAction, PlanBuilder, Resource};

/// The SNS protocol of an endpoint: `email` when it contains `@`, `https`/`http` by its
/// scheme; `None` for anything else (a configuration error).
pub fn endpoint_protocol(endpoint: &str) -> Option<&'static str> {
    if endpoint.contains('@') {
        Some("email")
    } else if endpoint.starts_with("https") {
        Some("https")
    } else if endpoint.starts_with("http") {
        Some("http")
    } else {
        None
    }
}

/// Whether topic `name` belongs to environment `env`: its second-to-last `_` part is the
/// environment (`team_env_level` and `env_level` alike).
pub fn topic_of_env(name: &str, env: &str) -> bool {
    let parts: Vec<&str> = name.split('_').collect();
    parts.len() >= 2 && parts[parts.len() - 2] == env
}

/// A topic the configuration wants, with its endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredTopic {
    pub name: String,
    pub endpoints: Vec<String>,
}

/// A subscription as ListSubscriptionsByTopic reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSubscription {
    /// `PendingConfirmation` until confirmed (then it cannot be unsubscribed).
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
}

/// A topic of the account with its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedTopic {
    pub name: String,
    pub arn: String,
    pub subscriptions: Vec<ObservedSubscription>,
}

/// One change to topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum TopicAction {
    /// Creates plan key `key` (`topic:<name>`): its ARN.
    CreateTopic {
        key: String,
        name: String,
    },
    /// `topic_arn` is the topic's ARN or `${topic:<name>}` when the plan creates it.
    Subscribe {
        topic: String,
        topic_arn: String,
        protocol: String,
        endpoint: String,
    },
    Unsubscribe {
        topic: String,
        subscription_arn: String,
        endpoint: String,
    },
    DeleteTopic {
        name: String,
        arn: String,
    },
}

fn topic_key(name: &str) -> String {
    format!("topic:{name}")
}

impl fmt::Display for TopicAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicAction::CreateTopic { name, .. } => write!(f, "create SNS topic {name}"),
            TopicAction::Subscribe {
                topic,
                protocol,
                endpoint,
                ..
            } => write!(f, "subscribe {endpoint} ({protocol}) to {topic}"),
            TopicAction::Unsubscribe {
                topic, endpoint, ..
            } => write!(f, "unsubscribe {endpoint} from {topic}"),
            TopicAction::DeleteTopic { name, .. } => write!(f, "delete SNS topic {name}"),
        }
    }
}

impl PlanAction for TopicAction {
    fn resource(&self) -> Resource {
        match self {
            TopicAction::CreateTopic { name, .. } | TopicAction::DeleteTopic { name, .. } => {
                Resource::new("SNS topic", name.as_str())
            }
            TopicAction::Subscribe {
                topic, endpoint, ..
            }
            | TopicAction::Unsubscribe {
                topic, endpoint, ..
            } => Resource::new("SNS subscription", format!("{topic} {endpoint}")),
        }
    }

    fn change(&self) -> Change {
        match self {
            TopicAction::CreateTopic { .. } | TopicAction::Subscribe { .. } => Change::Create,
            TopicAction::Unsubscribe { .. } | TopicAction::DeleteTopic { .. } => Change::Delete,
        }
    }

    fn creates(&self) -> Option<&str> {
        match self {
            TopicAction::CreateTopic { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The plan of `update_notifications`: missing topics created, missing subscriptions made;
/// with `delete`, the environment's topics not wanted deleted and the wanted topics'
/// confirmed subscriptions that no endpoint stands for unsubscribed. The endpoints were
/// checked with the configuration: one without a protocol is skipped here.
pub fn notifications_plan(
    desired: &[DesiredTopic],
    observed: &[ObservedTopic],
    env: &str,
    delete: bool,
) -> Plan<TopicAction> {
    let by_name: BTreeMap<&str, &ObservedTopic> =
        observed.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut b = PlanBuilder::new();
    for t in desired {
        let existing = by_name.get(t.name.as_str());
        let (arn, after) = match existing {
            Some(o) => (o.arn.clone(), Vec::new()),
            None => {
                let id = b.add(
                    TopicAction::CreateTopic {
                        key: topic_key(&t.name),
                        name: t.name.clone(),
                    },
                    &[],
                );
                (new_ref(&topic_key(&t.name)), vec![id])
            }
        };
        let have: BTreeSet<(&str, &str)> = existing
            .map(|o| {
                o.subscriptions
                    .iter()
                    .map(|s| (s.protocol.as_str(), s.endpoint.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let mut wanted = BTreeSet::new();
        for e in &t.endpoints {
            let Some(protocol) = endpoint_protocol(e) else {
                continue;
            };
            wanted.insert((protocol, e.as_str()));
            if !have.contains(&(protocol, e.as_str())) {
                b.add(
                    TopicAction::Subscribe {
                        topic: t.name.clone(),
                        topic_arn: arn.clone(),
                        protocol: protocol.to_string(),
                        endpoint: e.clone(),
                    },
                    &after,
                );
            }
        }
        if delete {
            if let Some(o) = existing {
                for s in &o.subscriptions {
                    if !wanted.contains(&(s.protocol.as_str(), s.endpoint.as_str()))
                        && s.arn.starts_with("arn:")
                    {
                        b.add(
                            TopicAction::Unsubscribe {
                                topic: t.name.clone(),
                                subscription_arn: s.arn.clone(),
                                endpoint: s.endpoint.clone(),
                            },
                            &[],
                        );
                    }
                }
            }
        }
    }
    if delete {
        let wanted: BTreeSet<&str> = desired.iter().map(|t| t.name.as_str()).collect();
        for o in observed {
            if topic_of_env(&o.name, env) && !wanted.contains(o.name.as_str()) {
                b.add(
                    TopicAction::DeleteTopic {
                        name: o.name.clone(),
                        arn: o.arn.clone(),
                    },
                    &[],
                );
            }
        }
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(name: &str, endpoints: &[&str]) -> DesiredTopic {
        DesiredTopic {
            name: name.into(),
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn sub(arn: &str, protocol: &str, endpoint: &str) -> ObservedSubscription {
        ObservedSubscription {
            arn: arn.into(),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
        }
    }

    fn texts(p: &Plan<TopicAction>) -> Vec<String> {
        p.steps.iter().map(|s| s.action.to_string()).collect()
    }

    #[test]
    fn protocols_and_environments() {
        assert_eq!(endpoint_protocol("ops@example.com"), Some("email"));
        assert_eq!(endpoint_protocol("https://pager/x"), Some("https"));
        assert_eq!(endpoint_protocol("http://pager/x"), Some("http"));
        assert_eq!(endpoint_protocol("pager"), None);
        assert!(topic_of_env("team_ci_critical", "ci"));
        assert!(topic_of_env("ci_info", "ci"));
        assert!(!topic_of_env("team_prod_critical", "ci"));
        assert!(!topic_of_env("ci", "ci"));
    }

    #[test]
    fn missing_topics_are_created_before_their_subscriptions() {
        let p = notifications_plan(
            &[desired("team_ci_critical", &["a@x.com", "https://p/1"])],
            &[],
            "ci",
            false,
        );
        assert_eq!(
            texts(&p),
            [
                "create SNS topic team_ci_critical",
                "subscribe a@x.com (email) to team_ci_critical",
                "subscribe https://p/1 (https) to team_ci_critical"
            ]
        );
        assert_eq!(p.steps[1].after, vec![0]);
        match &p.steps[1].action {
            TopicAction::Subscribe { topic_arn, .. } => {
                assert_eq!(topic_arn, "${topic:team_ci_critical}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.steps[0].action.creates(), Some("topic:team_ci_critical"));
    }

    #[test]
    fn delete_removes_other_topics_of_the_env_and_extra_subscriptions() {
        let observed = vec![
            ObservedTopic {
                name: "team_ci_critical".into(),
                arn: "arn:aws:sns:r:1:team_ci_critical".into(),
                subscriptions: vec![
                    sub("arn:s1", "email", "a@x.com"),
                    sub("arn:s2", "email", "old@x.com"),
                    sub("PendingConfirmation", "email", "pending@x.com"),
                ],
            },
            ObservedTopic {
                name: "team_ci_info".into(),
                arn: "arn:aws:sns:r:1:team_ci_info".into(),
                subscriptions: vec![],
            },
            ObservedTopic {
                name: "team_prod_info".into(),
                arn: "arn:aws:sns:r:1:team_prod_info".into(),
                subscriptions: vec![],
            },
        ];
        let want = [desired("team_ci_critical", &["a@x.com"])];
        assert!(notifications_plan(&want, &observed, "ci", false).is_empty());
        let p = notifications_plan(&want, &observed, "ci", true);
        assert_eq!(
            texts(&p),
            [
                "unsubscribe old@x.com from team_ci_critical",
                "delete SNS topic team_ci_info"
            ]
        );
    }
}
