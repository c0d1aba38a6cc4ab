//! The one plan model of every command that changes AWS: a DAG of typed steps, pure data.
//!
//! A tool group defines its own action type (an enum of the calls it makes) and implements
//! [`PlanAction`] for it: which resource each action touches, which kind of change it is, the
//! `${key}` it creates and how to undo a create. Everything else is shared: building a plan
//! with dependencies derived from `${key}` references ([`PlanBuilder`]), printing it for
//! `--dry-run` in text or in the one JSON schema ([`render`]), and executing it with bounded
//! concurrency, retries and rollback (the `asiaq-engine` crate).
//!
//! A resource that the plan itself creates is referred to as `${key}` until the step that
//! creates it has run; the executor substitutes the real id. A step depends on every step
//! that creates a key it refers to, plus the steps listed in its `after`.

pub mod alarms;
pub mod app_auth;
pub mod app_conf;
pub mod bake;
pub mod buckets;
pub mod cloudtrail;
pub mod dynamodb;
pub mod hosts;
pub mod log_metrics;
pub mod notifications;
pub mod provision;
pub mod render;
pub mod sandbox;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A `${key}` reference to a resource created by the plan.
pub fn new_ref(key: &str) -> String {
    format!("${{{key}}}")
}

/// The key of a `${key}` reference, or `None` for a real id.
pub fn ref_key(value: &str) -> Option<&str> {
    value.strip_prefix("${")?.strip_suffix('}')
}

/// What a step acts on: a kind ("subnet", "IAM role", "bucket") and a name (an id, a
/// `${key}` of the plan, or the resource's own name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Resource {
    pub kind: String,
    pub name: String,
}

impl Resource {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Resource {
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// A resource named by an id or a `${key}` reference: the key without `${}`.
    pub fn by_ref(kind: impl Into<String>, id_or_ref: &str) -> Self {
        Resource::new(kind, ref_key(id_or_ref).unwrap_or(id_or_ref))
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// The kind of change a step makes to its resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Change {
    Create,
    /// A change in place; `before`/`after` when the plan knows them.
    Update {
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
    Delete,
    /// Delete and create again (the resource cannot be changed in place).
    Replace,
}

impl Change {
    /// An update without before/after.
    pub const fn update() -> Self {
        Change::Update {
            before: None,
            after: None,
        }
    }

    /// The sign of the change in a printed plan, as Terraform's plan reads.
    pub fn sign(&self) -> &'static str {
        match self {
            Change::Create => "+",
            Change::Update { .. } => "~",
            Change::Delete => "-",
            Change::Replace => "-/+",
        }
    }

    pub fn is_delete(&self) -> bool {
        matches!(self, Change::Delete)
    }
}

/// What an action type tells the engine about each of its values.
pub trait PlanAction:
    Clone + fmt::Debug + fmt::Display + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The resource this action changes.
    fn resource(&self) -> Resource;
    /// The kind of change.
    fn change(&self) -> Change;
    /// The plan key of the resource this action creates (its id is then known to later
    /// steps as `${key}`), if it creates one.
    fn creates(&self) -> Option<&str> {
        None
    }
    /// How to undo this action once it has run, referring to what it created as
    /// `${key}`; `None` when there is nothing to undo (or it cannot be undone).
    fn undo(&self) -> Option<Self> {
        None
    }
    /// The action's name (the serde tag of the variant, e.g. `CreateSubnet`).
    fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| {
                v.as_object().and_then(|o| {
                    o.get("action")
                        .and_then(|a| a.as_str().map(str::to_string))
                        .or_else(|| o.keys().next().cloned())
                })
            })
            .unwrap_or_default()
    }
}

/// Every `${key}` `action` refers to, without the key it creates.
pub fn refs_of<A: PlanAction>(action: &A) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Ok(v) = serde_json::to_value(action) {
        collect_refs(&v, &mut out);
    }
    if let Some(own) = action.creates() {
        out.remove(own);
    }
    out
}

/// `action` with every `${key}` replaced by `ids[key]`; keys without an id are left as
/// they are.
pub fn resolve_refs<A: PlanAction>(action: &A, ids: &BTreeMap<String, String>) -> A {
    let Ok(mut v) = serde_json::to_value(action) else {
        return action.clone();
    };
    // Without references the action is used as it is: the JSON round trip would lose any
    // field kept out of the plan document (`#[serde(skip)]`, e.g. a SAML metadata body).
    let mut refs = BTreeSet::new();
    collect_refs(&v, &mut refs);
    if refs.is_empty() {
        return action.clone();
    }
    substitute(&mut v, ids);
    serde_json::from_value(v).unwrap_or_else(|_| action.clone())
}

fn collect_refs(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(k) = ref_key(s) {
                out.insert(k.to_string());
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn substitute(v: &mut serde_json::Value, ids: &BTreeMap<String, String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(id) = ref_key(s).and_then(|k| ids.get(k)) {
                *s = id.clone();
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, ids)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step<A> {
    pub id: usize,
    pub action: A,
    /// Steps that must finish first (refs and explicit ordering).
    pub after: Vec<usize>,
}

/// The steps of a plan in a valid order (every step after the steps it depends on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan<A> {
    pub steps: Vec<Step<A>>,
}

impl<A> Default for Plan<A> {
    fn default() -> Self {
        Plan { steps: Vec::new() }
    }
}

impl<A: Clone> Plan<A> {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// The length of the longest dependency chain (the number of rounds of calls that
    /// must follow each other, whatever the concurrency).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.steps.len()];
        for s in &self.steps {
            depth[s.id] = 1 + s.after.iter().map(|a| depth[*a]).max().unwrap_or(0);
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// The steps whose action matches, renumbered; dependencies on dropped steps are
    /// dropped (callers keep whole groups, e.g. a peering with its routes).
    pub fn retain(&self, keep: impl Fn(&A) -> bool) -> Plan<A> {
        let mut map = BTreeMap::new();
        let mut steps = Vec::new();
        for s in &self.steps {
            if keep(&s.action) {
                map.insert(s.id, steps.len());
                steps.push(s.clone());
            }
        }
        for s in &mut steps {
            s.id = map[&s.id];
            s.after = s.after.iter().filter_map(|a| map.get(a).copied()).collect();
        }
        Plan { steps }
    }

    /// Index of the first step whose action matches.
    pub fn position(&self, f: impl Fn(&A) -> bool) -> Option<usize> {
        self.steps.iter().position(|s| f(&s.action))
    }

    /// Whether step `b` (transitively) depends on step `a`.
    pub fn depends_on(&self, b: usize, a: usize) -> bool {
        let mut stack = vec![b];
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            for p in &self.steps[x].after {
                if *p == a {
                    return true;
                }
                if seen.insert(*p) {
                    stack.push(*p);
                }
            }
        }
        false
    }

    /// The plan followed by `next`, whose steps all come after every step of this one
    /// (for phases that must not overlap, e.g. one pipeline sequence after another).
    pub fn then(mut self, next: Plan<A>) -> Plan<A> {
        let offset = self.steps.len();
        let all_before: Vec<usize> = (0..offset).collect();
        for mut s in next.steps {
            s.id += offset;
            let mut after: BTreeSet<usize> = s.after.iter().map(|a| a + offset).collect();
            if after.is_empty() {
                after.extend(all_before.iter().copied());
            }
            s.after = after.into_iter().collect();
            self.steps.push(s);
        }
        self
    }
}

impl<A: PlanAction> Plan<A> {
    /// The plan that undoes the steps `completed` (ids, in the order they finished): each
    /// completed step's [`PlanAction::undo`], every undo after the undos of the steps that
    /// depended on it, with `${key}` resolved from `created`. An undo that still refers to
    /// a key nobody created is left out: its step found the resource already there (an
    /// "ensure" step returns no id then), and what this run did not make it does not remove.
    pub fn undo_plan(&self, completed: &[usize], created: &BTreeMap<String, String>) -> Plan<A> {
        let undoable: Vec<(usize, A)> = completed
            .iter()
            .rev()
            .filter_map(|&id| {
                self.steps
                    .get(id)
                    .and_then(|s| s.action.undo())
                    .map(|u| (id, resolve_refs(&u, created)))
                    .filter(|(_, u)| refs_of(u).is_empty())
            })
            .collect();
        let mut steps = Vec::new();
        for (i, (id, action)) in undoable.iter().enumerate() {
            let after = undoable[..i]
                .iter()
                .enumerate()
                .filter(|(_, (other, _))| self.depends_on(*other, *id))
                .map(|(j, _)| j)
                .collect();
            steps.push(Step {
                id: i,
                action: action.clone(),
                after,
            });
        }
        Plan { steps }
    }
}

impl<A: fmt::Display> fmt::Display for Plan<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "{:>3}. {}", s.id + 1, s.action)?;
        }
        Ok(())
    }
}

/// Builds a plan: each added step depends on the creators of the keys it refers to.
#[derive(Debug)]
pub struct PlanBuilder<A> {
    steps: Vec<Step<A>>,
    creators: BTreeMap<String, usize>,
}

impl<A> Default for PlanBuilder<A> {
    fn default() -> Self {
        PlanBuilder {
            steps: Vec::new(),
            creators: BTreeMap::new(),
        }
    }
}

impl<A: PlanAction> PlanBuilder<A> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `action` after the creators of its refs and after `after`. Refs to keys no
    /// step creates are left for the executor (it fails them clearly).
    pub fn add(&mut self, action: A, after: &[usize]) -> usize {
        let id = self.steps.len();
        let mut deps: BTreeSet<usize> = after.iter().copied().collect();
        for k in refs_of(&action) {
            if let Some(c) = self.creators.get(&k) {
                deps.insert(*c);
            }
        }
        if let Some(k) = action.creates() {
            self.creators.insert(k.to_string(), id);
        }
        self.steps.push(Step {
            id,
            action,
            after: deps.into_iter().collect(),
        });
        id
    }

    /// The step creating `key`, if any.
    pub fn creator(&self, key: &str) -> Option<usize> {
        self.creators.get(key).copied()
    }

    /// Ids of steps added so far that match.
    pub fn matching(&self, f: impl Fn(&A) -> bool) -> Vec<usize> {
        self.steps
            .iter()
            .filter(|s| f(&s.action))
            .map(|s| s.id)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn build(self) -> Plan<A> {
        Plan { steps: self.steps }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small action type for the engine's own tests.
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "action")]
    pub enum Toy {
        Make {
            key: String,
            name: String,
        },
        Link {
            from: String,
            to: String,
        },
        Change {
            thing: String,
            before: String,
            after: String,
        },
        Remove {
            thing: String,
        },
    }

    impl fmt::Display for Toy {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Toy::Make { name, .. } => write!(f, "make {name}"),
                Toy::Link { from, to } => write!(f, "link {from} to {to}"),
                Toy::Change { thing, .. } => write!(f, "change {thing}"),
                Toy::Remove { thing } => write!(f, "remove {thing}"),
            }
        }
    }

    impl PlanAction for Toy {
        fn resource(&self) -> Resource {
            match self {
                Toy::Make { key, .. } => Resource::new("thing", key.as_str()),
                Toy::Link { from, .. } => Resource::by_ref("thing", from),
                Toy::Change { thing, .. } | Toy::Remove { thing } => {
                    Resource::by_ref("thing", thing)
                }
            }
        }
        fn change(&self) -> Change {
            match self {
                Toy::Make { .. } => Change::Create,
                Toy::Link { .. } => Change::update(),
                Toy::Change { before, after, .. } => Change::Update {
                    before: Some(before.clone()),
                    after: Some(after.clone()),
                },
                Toy::Remove { .. } => Change::Delete,
            }
        }
        fn creates(&self) -> Option<&str> {
            match self {
                Toy::Make { key, .. } => Some(key),
                _ => None,
            }
        }
        fn undo(&self) -> Option<Self> {
            match self {
                Toy::Make { key, .. } => Some(Toy::Remove {
                    thing: new_ref(key),
                }),
                _ => None,
            }
        }
    }

    pub fn make(key: &str) -> Toy {
        Toy::Make {
            key: key.into(),
            name: key.into(),
        }
    }

    pub fn link(from: &str, to: &str) -> Toy {
        Toy::Link {
            from: new_ref(from),
            to: new_ref(to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn builder_derives_dependencies_from_refs() {
        let mut b = PlanBuilder::new();
        let a = b.add(make("a"), &[]);
        let c = b.add(make("c"), &[]);
        let l = b.add(link("a", "c"), &[]);
        let plan = b.build();
        assert_eq!(plan.steps[l].after, vec![a, c]);
        assert_eq!(plan.depth(), 2);
        assert!(plan.depends_on(l, a));
        assert!(!plan.depends_on(c, a));
        assert_eq!(refs_of(&plan.steps[l].action).len(), 2);
        assert_eq!(plan.steps[a].action.name(), "Make");
    }

    #[test]
    fn resolution_replaces_known_keys_only() {
        let ids = BTreeMap::from([("a".to_string(), "id-1".to_string())]);
        assert_eq!(
            resolve_refs(&link("a", "b"), &ids),
            Toy::Link {
                from: "id-1".into(),
                to: "${b}".into()
            }
        );
    }

    #[test]
    fn undo_plan_reverses_dependencies() {
        let mut b = PlanBuilder::new();
        let a = b.add(make("a"), &[]);
        let c = b.add(make("c"), &[]);
        let _l = b.add(link("a", "c"), &[]);
        let d = b.add(make("d"), &[c]);
        let plan = b.build();
        let created = BTreeMap::from([
            ("a".to_string(), "id-a".to_string()),
            ("c".to_string(), "id-c".to_string()),
            ("d".to_string(), "id-d".to_string()),
        ]);
        let undo = plan.undo_plan(&[a, c, 2, d], &created);
        let texts: Vec<String> = undo.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(texts, vec!["remove id-d", "remove id-c", "remove id-a"]);
        // c's removal waits for d's (d was made after c); a's does not wait for anything
        // (the link that depended on it has no undo, and d did not depend on it).
        assert_eq!(undo.steps[1].after, vec![0]);
        assert!(undo.steps[2].after.is_empty());
    }

    /// A step that made nothing (it found its resource there, and returned no id) has no
    /// undo: the rollback removes only what the run created.
    #[test]
    fn undo_plan_leaves_out_what_was_found_not_made() {
        let mut b = PlanBuilder::new();
        let a = b.add(make("a"), &[]);
        let c = b.add(make("c"), &[]);
        let plan = b.build();
        let created = BTreeMap::from([("c".to_string(), "id-c".to_string())]);
        let undo = plan.undo_plan(&[a, c], &created);
        let texts: Vec<String> = undo.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(texts, vec!["remove id-c"]);
        assert!(undo.steps[0].after.is_empty());
    }

    #[test]
    fn then_orders_phases() {
        let mut first = PlanBuilder::new();
        first.add(make("a"), &[]);
        first.add(make("b"), &[]);
        let mut second = PlanBuilder::new();
        second.add(make("c"), &[]);
        let s = second.add(make("d"), &[]);
        second.add(link("c", "d"), &[s]);
        let plan = first.build().then(second.build());
        assert_eq!(plan.steps[2].after, vec![0, 1]);
        assert_eq!(plan.steps[4].after, vec![2, 3]);
        assert_eq!(plan.depth(), 3);
    }

    #[test]
    fn change_signs() {
        assert_eq!(Change::Create.sign(), "+");
        assert_eq!(Change::update().sign(), "~");
        assert_eq!(Change::Delete.sign(), "-");
        assert_eq!(Change::Replace.sign(), "-/+");
    }
}
