//! The one way a plan is shown: text grouped by resource, one `+`/`~`/`-` line per change
//! with a closing count (as Terraform's plan reads), or the one JSON schema,
//! [`PlanDocument`], that every command's `--dry-run --output json` writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, Resource};

/// Unchanged lines shown around each changed line of a multi-line update.
pub const DIFF_CONTEXT: usize = 3;

/// The schema name and version of [`PlanDocument`]; it changes only with a change of shape.
pub const PLAN_SCHEMA: &str = "asiaq.plan/1";

/// How many steps of each kind of change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub replace: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.create + self.update + self.delete + self.replace
    }

    fn add(&mut self, change: &Change) {
        match change {
            Change::Create => self.create += 1,
            Change::Update { .. } => self.update += 1,
            Change::Delete => self.delete += 1,
            Change::Replace => self.replace += 1,
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to create, {} to change, {} to delete",
            self.create, self.update, self.delete
        )?;
        if self.replace > 0 {
            write!(f, ", {} to replace", self.replace)?;
        }
        Ok(())
    }
}

/// One step as the JSON document shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDocument {
    pub id: usize,
    pub resource: Resource,
    pub change: Change,
    /// The step as the text plan prints it.
    pub description: String,
    /// The typed action, tagged by its name (`{"action": "CreateSubnet", ...}`).
    pub action: serde_json::Value,
    /// Ids of the steps that must finish first.
    pub after: Vec<usize>,
    /// How the step is undone if a later step fails (creates of commands that roll back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<serde_json::Value>,
}

/// The steps, and the longest chain of them that must follow each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepList {
    pub steps: Vec<StepDocument>,
    pub depth: usize,
}

/// The resources a plan touches, in the order the plan first touches them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChanges {
    #[serde(flatten)]
    pub resource: Resource,
    /// Ids of the steps that change it.
    pub steps: Vec<usize>,
}

/// What every `--dry-run --output json` writes: one schema for every command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDocument {
    /// [`PLAN_SCHEMA`].
    pub schema: String,
    /// The command that made the plan (`vpc create`, `iam update`, ...).
    pub command: String,
    pub dry_run: bool,
    /// Things the operator should know that are not changes (what is left alone, ...).
    pub notes: Vec<String>,
    pub summary: Summary,
    pub resources: Vec<ResourceChanges>,
    pub steps: StepList,
}

/// Counts the steps of each kind.
pub fn summary<A: PlanAction>(plan: &Plan<A>) -> Summary {
    let mut s = Summary::default();
    for step in &plan.steps {
        s.add(&step.action.change());
    }
    s
}

/// The line that closes every text plan: `Plan: N to create, M to change, K to delete.`, or
/// `No changes.` for an empty plan. Dry runs that print a detailed form of their own (spinup,
/// spindown, buckets) close with it too, so every dry run ends the same way.
pub fn closing_line(summary: &Summary) -> String {
    if summary.total() == 0 {
        "No changes.".to_string()
    } else {
        format!("Plan: {summary}.")
    }
}

/// The plan as [`PlanDocument`].
pub fn document<A: PlanAction>(
    command: &str,
    plan: &Plan<A>,
    notes: &[String],
    dry_run: bool,
) -> PlanDocument {
    let mut resources: Vec<ResourceChanges> = Vec::new();
    let mut index: BTreeMap<Resource, usize> = BTreeMap::new();
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let resource = s.action.resource();
            let i = *index.entry(resource.clone()).or_insert_with(|| {
                resources.push(ResourceChanges {
                    resource: resource.clone(),
                    steps: Vec::new(),
                });
                resources.len() - 1
            });
            resources[i].steps.push(s.id);
            StepDocument {
                id: s.id,
                resource,
                change: s.action.change(),
                description: s.action.to_string(),
                action: serde_json::to_value(&s.action).unwrap_or(serde_json::Value::Null),
                after: s.after.clone(),
                undo: s.action.undo().and_then(|u| serde_json::to_value(u).ok()),
            }
        })
        .collect();
    PlanDocument {
        schema: PLAN_SCHEMA.to_string(),
        command: command.to_string(),
        dry_run,
        notes: notes.to_vec(),
        summary: summary(plan),
        resources,
        steps: StepList {
            steps,
            depth: plan.depth(),
        },
    }
}

/// The plan as text: `No changes.`, or each resource followed by its changes, one line
/// each, and the count.
///
/// ```text
/// security group sg:intranet
///   + create security group demo_intranet (intranet security group)
///   ~ allow into ${sg:intranet}: tcp 22 from 10.0.0.0/8
/// Plan: 1 to create, 1 to change, 0 to delete.
/// ```
///
/// An update whose before or after spans several lines (a document's content) is shown as
/// a line diff under its step ([`crate::textdiff`]).
pub fn text<A: PlanAction>(plan: &Plan<A>) -> String {
    document("", plan, &[], true).to_text()
}

impl PlanDocument {
    /// Plans that run one after another (the stages of `account init`), as one document:
    /// the steps are numbered on, each stage's first steps wait for every step of the stage
    /// before, and each note names its stage.
    pub fn sequence(command: &str, stages: &[(String, PlanDocument)], dry_run: bool) -> Self {
        let mut steps: Vec<StepDocument> = Vec::new();
        let mut resources: Vec<ResourceChanges> = Vec::new();
        let mut notes = Vec::new();
        let mut summary = Summary::default();
        let mut depth = 0;
        let mut previous: Vec<usize> = Vec::new();
        for (stage, doc) in stages {
            let offset = steps.len();
            notes.extend(doc.notes.iter().map(|n| format!("{stage}: {n}")));
            summary.create += doc.summary.create;
            summary.update += doc.summary.update;
            summary.delete += doc.summary.delete;
            summary.replace += doc.summary.replace;
            depth += doc.steps.depth;
            for r in &doc.resources {
                let ids = r.steps.iter().map(|i| i + offset);
                match resources.iter_mut().find(|x| x.resource == r.resource) {
                    Some(x) => x.steps.extend(ids),
                    None => resources.push(ResourceChanges {
                        resource: r.resource.clone(),
                        steps: ids.collect(),
                    }),
                }
            }
            for s in &doc.steps.steps {
                let mut s = s.clone();
                s.id += offset;
                s.after = if s.after.is_empty() {
                    previous.clone()
                } else {
                    s.after.iter().map(|a| a + offset).collect()
                };
                steps.push(s);
            }
            if !doc.steps.steps.is_empty() {
                previous = (offset..steps.len()).collect();
            }
        }
        PlanDocument {
            schema: PLAN_SCHEMA.to_string(),
            command: command.to_string(),
            dry_run,
            notes,
            summary,
            resources,
            steps: StepList { steps, depth },
        }
    }

    /// The text form of the plan (see [`text`]).
    pub fn to_text(&self) -> String {
        if self.steps.steps.is_empty() {
            return format!("{}\n", closing_line(&self.summary));
        }
        let mut out = String::new();
        for r in &self.resources {
            let _ = writeln!(out, "{}", r.resource);
            for id in &r.steps {
                let Some(s) = self.steps.steps.get(*id) else {
                    continue;
                };
                let _ = write!(out, "  {} {}", s.change.sign(), s.description);
                if let Change::Update {
                    before: Some(b),
                    after: Some(a),
                } = &s.change
                {
                    if b.contains('\n') || a.contains('\n') {
                        // Content (a document): the changed lines, under the step.
                        out.push('\n');
                        for line in crate::textdiff::line_diff(b, a, DIFF_CONTEXT) {
                            let _ = writeln!(out, "      {line}");
                        }
                        continue;
                    }
                    let _ = write!(out, ": {b} -> {a}");
                }
                out.push('\n');
            }
        }
        let _ = writeln!(out, "{}", closing_line(&self.summary));
        out
    }
}

#[cfg(test)]
mod closing_line_tests {
    use super::*;

    #[test]
    fn closing_line_counts_or_says_no_changes() {
        assert_eq!(closing_line(&Summary::default()), "No changes.");
        let s = Summary {
            create: 2,
            update: 1,
            delete: 3,
            replace: 0,
        };
        assert_eq!(
            closing_line(&s),
            "Plan: 2 to create, 1 to change, 3 to delete."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::PlanBuilder;
    use super::*;

    fn sample() -> Plan<Toy> {
        let mut b = PlanBuilder::new();
        b.add(make("a"), &[]);
        b.add(make("b"), &[]);
        b.add(link("a", "b"), &[]);
        b.add(
            Toy::Change {
                thing: "t-1".into(),
                before: "1".into(),
                after: "2".into(),
            },
            &[],
        );
        b.add(
            Toy::Remove {
                thing: "t-2".into(),
            },
            &[],
        );
        b.build()
    }

    #[test]
    fn text_groups_by_resource_and_counts() {
        assert_eq!(
            text(&sample()),
            "thing a\n  + make a\n  ~ link ${a} to ${b}\n\
             thing b\n  + make b\n\
             thing t-1\n  ~ change t-1: 1 -> 2\n\
             thing t-2\n  - remove t-2\n\
             Plan: 2 to create, 2 to change, 1 to delete.\n"
        );
        assert_eq!(text(&Plan::<Toy>::default()), "No changes.\n");
    }

    #[test]
    fn multi_line_updates_are_shown_as_a_diff() {
        let mut b = PlanBuilder::new();
        b.add(
            Toy::Change {
                thing: "doc".into(),
                before: "{\n  \"a\": 1,\n  \"b\": 2\n}".into(),
                after: "{\n  \"a\": 1,\n  \"b\": 3\n}".into(),
            },
            &[],
        );
        assert_eq!(
            text(&b.build()),
            [
                "thing doc",
                "  ~ change doc",
                "        {",
                "          \"a\": 1,",
                "      -   \"b\": 2",
                "      +   \"b\": 3",
                "        }",
                "Plan: 0 to create, 1 to change, 0 to delete.",
                "",
            ]
            .join("\n")
        );
    }

    #[test]
    fn document_round_trips_through_json() {
        let doc = document("toy apply", &sample(), &["a note".to_string()], true);
        assert_eq!(doc.schema, PLAN_SCHEMA);
        assert_eq!(doc.summary.total(), 5);
        assert_eq!(doc.resources.len(), 4);
        assert_eq!(doc.resources[0].steps, vec![0, 2]);
        assert_eq!(doc.steps.steps[0].action["action"], "Make");
        assert_eq!(
            doc.steps.steps[0].undo.as_ref().unwrap()["action"],
            "Remove"
        );
        assert_eq!(doc.steps.depth, 2);
        let json = serde_json::to_string(&doc).unwrap();
        let back: PlanDocument = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.to_text(), text(&sample()));
    }

    #[test]
    fn a_sequence_numbers_on_and_orders_each_stage_after_the_one_before() {
        let mut one = PlanBuilder::new();
        let a = one.add(make("a"), &[]);
        one.add(make("b"), &[a]);
        let one = document("first", &one.build(), &["n1".to_string()], true);
        let two = document("second", &Plan::<Toy>::default(), &[], true);
        let mut three = PlanBuilder::new();
        three.add(make("c"), &[]);
        three.add(make("d"), &[]);
        let three = document("third", &three.build(), &[], true);
        let all = PlanDocument::sequence(
            "all",
            &[
                ("first".into(), one.clone()),
                ("second".into(), two),
                ("third".into(), three),
            ],
            true,
        );
        assert_eq!(all.command, "all");
        assert_eq!(all.notes, vec!["first: n1".to_string()]);
        let ids: Vec<usize> = all.steps.steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3]);
        assert_eq!(all.steps.steps[1].after, vec![0]);
        // The third stage's steps wait for both steps of the first (the second is empty).
        assert_eq!(all.steps.steps[2].after, vec![0, 1]);
        assert_eq!(all.steps.steps[3].after, vec![0, 1]);
        assert_eq!(all.summary.total(), 4);
        assert_eq!(all.steps.depth, one.steps.depth + 1);
        assert_eq!(
            all.resources.iter().map(|r| r.steps.len()).sum::<usize>(),
            4
        );
    }
}
