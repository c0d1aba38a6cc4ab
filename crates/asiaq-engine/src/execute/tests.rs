//! The executor against a fake world: things with parents, calls that take a second of
//! (paused) time, and faults, throttling and invisibility injected per step.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use asiaq_core::plan::{new_ref, Change, PlanBuilder, Resource};
use serde::{Deserialize, Serialize};

use super::*;
use crate::report::WarningsOnly;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
enum Thing {
    Make {
        key: String,
        name: String,
        parent: Option<String>,
    },
    Touch {
        thing: String,
    },
    Remove {
        thing: String,
    },
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Thing::Make { name, .. } => write!(f, "make {name}"),
            Thing::Touch { thing } => write!(f, "touch {thing}"),
            Thing::Remove { thing } => write!(f, "remove {thing}"),
        }
    }
}

impl PlanAction for Thing {
    fn resource(&self) -> Resource {
        match self {
            Thing::Make { key, .. } => Resource::new("thing", key.as_str()),
            Thing::Touch { thing } | Thing::Remove { thing } => Resource::by_ref("thing", thing),
        }
    }
    fn change(&self) -> Change {
        match self {
            Thing::Make { .. } => Change::Create,
            Thing::Touch { .. } => Change::update(),
            Thing::Remove { .. } => Change::Delete,
        }
    }
    fn creates(&self) -> Option<&str> {
        match self {
            Thing::Make { key, .. } => Some(key),
            _ => None,
        }
    }
    fn undo(&self) -> Option<Self> {
        match self {
            Thing::Make { key, .. } => Some(Thing::Remove {
                thing: new_ref(key),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum FakeError {
    #[error("throttled")]
    Throttled,
    #[error("{0} not found")]
    NotFound(String),
    #[error("injected fault")]
    Injected,
    #[error("{0} still has children")]
    Dependency(String),
    #[error("nothing created {0}")]
    Unresolved(String),
    #[error("made {0}, then its tagging failed")]
    AfterCreate(String),
}

impl StepError for FakeError {
    fn is_throttling(&self) -> bool {
        matches!(self, FakeError::Throttled)
    }
    fn is_not_found(&self) -> bool {
        matches!(self, FakeError::NotFound(_))
    }
    fn is_injected(&self) -> bool {
        matches!(self, FakeError::Injected)
    }
    fn created_before_failure(&self) -> Option<&str> {
        match self {
            FakeError::AfterCreate(id) => Some(id),
            _ => None,
        }
    }
}

#[derive(Default)]
struct World {
    /// id → (name, parent id)
    things: Mutex<BTreeMap<String, (String, Option<String>)>>,
    next_id: AtomicUsize,
    /// Step texts that fail (injected fault) every time.
    faults: Mutex<Vec<String>>,
    /// Step texts whose thing is made, then a second call of the step fails.
    half_made: Mutex<Vec<String>>,
    /// Step text → how many more times it is answered "throttled".
    throttle: Mutex<BTreeMap<String, usize>>,
    /// Step text → how many more times its parent is "not found" (not visible yet).
    invisible: Mutex<BTreeMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicUsize,
    /// "start X" / "end X" in the order they happened.
    log: Mutex<Vec<String>>,
}

fn take_one(map: &Mutex<BTreeMap<String, usize>>, text: &str) -> bool {
    let mut m = map.lock().unwrap();
    match m.get_mut(text) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

impl World {
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .things
            .lock()
            .unwrap()
            .values()
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }

    fn index(&self, entry: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .position(|l| l == entry)
            .unwrap_or_else(|| panic!("{entry} not in the log"))
    }

    fn call(&self, action: &Thing) -> Result<Option<String>, FakeError> {
        let text = action.to_string();
        if self.faults.lock().unwrap().contains(&text) {
            return Err(FakeError::Injected);
        }
        if take_one(&self.throttle, &text) {
            return Err(FakeError::Throttled);
        }
        let mut things = self.things.lock().unwrap();
        match action {
            Thing::Make { name, parent, .. } => {
                if let Some(p) = parent {
                    if take_one(&self.invisible, &text) || !things.contains_key(p) {
                        return Err(FakeError::NotFound(p.clone()));
                    }
                }
                let id = format!("id-{}", self.next_id.fetch_add(1, Ordering::SeqCst));
                things.insert(id.clone(), (name.clone(), parent.clone()));
                if self.half_made.lock().unwrap().contains(&text) {
                    return Err(FakeError::AfterCreate(id));
                }
                Ok(Some(id))
            }
            Thing::Touch { thing } => {
                if things.contains_key(thing) {
                    Ok(None)
                } else {
                    Err(FakeError::NotFound(thing.clone()))
                }
            }
            Thing::Remove { thing } => {
                if !things.contains_key(thing) {
                    return Err(FakeError::NotFound(thing.clone()));
                }
                if things.values().any(|(_, p)| p.as_deref() == Some(thing)) {
                    return Err(FakeError::Dependency(thing.clone()));
                }
                things.remove(thing);
                Ok(None)
            }
        }
    }
}

impl Apply<Thing> for World {
    type Error = FakeError;

    async fn apply(&self, action: &Thing) -> Result<Option<String>, FakeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.log.lock().unwrap().push(format!("start {action}"));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let out = self.call(action);
        self.log.lock().unwrap().push(format!("end {action}"));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn unresolved(&self, _action: &Thing, key: &str) -> FakeError {
        FakeError::Unresolved(key.to_string())
    }
}

fn make(key: &str, parent: Option<&str>) -> Thing {
    Thing::Make {
        key: key.into(),
        name: key.into(),
        parent: parent.map(new_ref),
    }
}

/// A root, eight children of it, a grandchild under each of the first two children and a
/// touch of the root: 12 steps, 3 rounds deep.
fn tree() -> Plan<Thing> {
    let mut b = PlanBuilder::new();
    b.add(make("root", None), &[]);
    for i in 0..8 {
        b.add(make(&format!("child{i}"), Some("root")), &[]);
    }
    b.add(make("grand0", Some("child0")), &[]);
    b.add(make("grand1", Some("child1")), &[]);
    b.add(
        Thing::Touch {
            thing: new_ref("root"),
        },
        &[],
    );
    b.build()
}

fn options(bound: usize) -> ExecOptions {
    ExecOptions {
        max_in_flight: bound,
        ..ExecOptions::default()
    }
}

#[tokio::test(start_paused = true)]
async fn runs_along_the_edges_within_the_bound() {
    let plan = tree();
    for bound in [1, 3, 8, 100] {
        let world = World::default();
        let report = execute(&world, &plan, &options(bound), &WarningsOnly)
            .await
            .unwrap();
        assert_eq!(report.steps_done, 12);
        assert_eq!(report.created.len(), 11);
        let expected_peak = bound.min(9); // 8 children + the touch after the root
        assert_eq!(world.max_in_flight.load(Ordering::SeqCst), expected_peak);
        // Every step starts after each step it depends on has ended.
        for step in &plan.steps {
            for dep in &step.after {
                let dep_text = plan.steps[*dep].action.to_string();
                let own = resolve_refs(&step.action, &report.created).to_string();
                assert!(
                    world.index(&format!("end {dep_text}")) < world.index(&format!("start {own}")),
                    "{own} started before {dep_text} ended (bound {bound})"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn wall_time_follows_the_critical_path_when_unbounded() {
    let world = World::default();
    let start = Instant::now();
    execute(&world, &tree(), &options(100), &WarningsOnly)
        .await
        .unwrap();
    // Three rounds of one (paused) second each: root, children and the touch, grandchildren.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_fault_at_any_step_rolls_back_to_nothing() {
    let plan = tree();
    for (k, step) in plan.steps.iter().enumerate() {
        let world = World::default();
        let text = step.action.to_string();
        // The text the executor sends has references resolved; faults match on it, so
        // inject on the resolved form of creates (their text has no reference).
        world.faults.lock().unwrap().push(text.clone());
        if matches!(step.action, Thing::Touch { .. }) {
            world.faults.lock().unwrap().push("touch id-0".into());
        }
        let failure = execute(&world, &plan, &options(4), &WarningsOnly)
            .await
            .expect_err("the injected fault fails the run");
        assert_eq!(failure.step_id, k, "step {k} failed");
        assert!(!failure.completed.contains(&k));
        let undone = rollback(
            &world,
            &plan,
            &failure.completed,
            &failure.created,
            &options(4),
            &WarningsOnly,
        )
        .await;
        assert!(undone.is_complete(), "fault at step {k}: {undone:?}");
        assert_eq!(
            undone.undone.len(),
            failure.created.len(),
            "fault at step {k}"
        );
        assert_eq!(world.names(), Vec::<String>::new(), "fault at step {k}");
        // Children were removed before their parent.
        for (key, id) in &failure.created {
            if key.starts_with("child") || key.starts_with("grand") {
                let root = &failure.created["root"];
                assert!(
                    world.index(&format!("end remove {id}"))
                        < world.index(&format!("start remove {root}")),
                    "fault at step {k}: {key} removed after the root"
                );
            }
        }
    }
}

/// A create whose second call (its tagging) fails has still made something: the run
/// records its id, does not send the step again (that would make a second one), and the
/// rollback deletes it with the rest.
#[tokio::test(start_paused = true)]
async fn what_a_failed_step_made_is_recorded_and_rolled_back() {
    let plan = tree();
    let world = World::default();
    world.half_made.lock().unwrap().push("make child3".into());
    let failure = execute(&world, &plan, &options(4), &WarningsOnly)
        .await
        .expect_err("the tagging fault fails the run");
    assert_eq!(failure.step, "make child3");
    assert!(
        failure.created.contains_key("child3"),
        "{:?}",
        failure.created
    );
    let made_child3 = world
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| *l == "start make child3")
        .count();
    assert_eq!(made_child3, 1, "a half-made step is not sent again");
    let undone = rollback(
        &world,
        &plan,
        &failure.completed,
        &failure.created,
        &options(4),
        &WarningsOnly,
    )
    .await;
    assert!(undone.is_complete(), "{undone:?}");
    assert_eq!(world.names(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn throttled_calls_are_sent_again() {
    let world = World::default();
    world
        .throttle
        .lock()
        .unwrap()
        .insert("make child3".into(), 3);
    let report = execute(&world, &tree(), &options(4), &WarningsOnly)
        .await
        .unwrap();
    assert_eq!(report.steps_done, 12);
    assert_eq!(world.calls.load(Ordering::SeqCst), 12 + 3);
}

#[tokio::test(start_paused = true)]
async fn throttling_that_never_ends_fails_with_the_last_answer_in_bounded_time() {
    let world = World::default();
    world
        .throttle
        .lock()
        .unwrap()
        .insert("make root".into(), usize::MAX);
    let start = Instant::now();
    let failure = execute(&world, &tree(), &options(4), &WarningsOnly)
        .await
        .unwrap_err();
    assert!(matches!(failure.error, FakeError::Throttled));
    assert_eq!(failure.steps_done, 0);
    let waited = start.elapsed();
    assert!(waited >= RetryPolicy::DEFAULT.timeout, "{waited:?}");
    assert!(
        waited <= RetryPolicy::DEFAULT.timeout + Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resource_not_visible_yet_is_waited_for() {
    let world = World::default();
    world
        .invisible
        .lock()
        .unwrap()
        .insert("make child5".into(), 2);
    let report = execute(&world, &tree(), &options(4), &WarningsOnly)
        .await
        .unwrap();
    assert_eq!(report.steps_done, 12);
    assert_eq!(world.calls.load(Ordering::SeqCst), 12 + 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_delete_finishes_when_run_again() {
    let world = World::default();
    let made = execute(&world, &tree(), &options(4), &WarningsOnly)
        .await
        .unwrap();
    // The delete plan: every thing, children first.
    let all: Vec<usize> = made.completed.clone();
    let delete = tree().undo_plan(&all, &made.created);
    assert_eq!(delete.len(), 11);
    let victim = delete.steps[4].action.to_string();
    world.faults.lock().unwrap().push(victim.clone());
    let failure = execute(&world, &delete, &options(4), &WarningsOnly)
        .await
        .unwrap_err();
    assert_eq!(failure.step, victim);
    assert!(!world.names().is_empty());
    // Run the same plan again: what is gone counts as done, the rest is deleted.
    world.faults.lock().unwrap().clear();
    let again = execute(&world, &delete, &options(4), &WarningsOnly)
        .await
        .unwrap();
    assert_eq!(again.steps_done, 11);
    assert_eq!(world.names(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_reference_nobody_creates_fails_clearly() {
    let mut b = PlanBuilder::new();
    b.add(
        Thing::Touch {
            thing: new_ref("ghost"),
        },
        &[],
    );
    let failure = execute(&World::default(), &b.build(), &options(4), &WarningsOnly)
        .await
        .unwrap_err();
    assert_eq!(failure.to_string(), "touch ${ghost}: nothing created ghost");
}

#[tokio::test(start_paused = true)]
async fn events_tell_every_step() {
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl Reporter for Recorder {
        fn event(&self, event: &Event<'_>) {
            let line = match event {
                Event::PlanStarted { total, .. } => format!("plan {total}"),
                Event::StepDone { id, .. } => format!("done {id}"),
                Event::StepRetrying { id, .. } => format!("retry {id}"),
                Event::PlanFinished { done, failed } => format!("finished {done} {failed}"),
                _ => return,
            };
            self.0.lock().unwrap().push(line);
        }
    }
    let world = World::default();
    world.throttle.lock().unwrap().insert("make root".into(), 1);
    let recorder = Recorder::default();
    execute(&world, &tree(), &options(4), &recorder)
        .await
        .unwrap();
    let lines = recorder.0.into_inner().unwrap();
    assert_eq!(lines.first().map(String::as_str), Some("plan 12"));
    assert_eq!(lines[1], "retry 0");
    assert_eq!(lines.iter().filter(|l| l.starts_with("done")).count(), 12);
    assert_eq!(lines.last().map(String::as_str), Some("finished 12 false"));
}

/// A rollback tries every undo step, also after one failed: only the steps that wait for
/// the failed one (here the root, which waits for its children) are left, and the report
/// names both the failed step and the one not tried.
#[tokio::test(start_paused = true)]
async fn a_rollback_goes_on_past_a_failed_undo() {
    let plan = tree();
    let world = World::default();
    // Fail the last step (the touch of the root) so that every thing has been made.
    world.faults.lock().unwrap().push("touch id-0".into());
    let failure = execute(&world, &plan, &options(100), &WarningsOnly)
        .await
        .expect_err("the injected fault fails the run");
    let child0 = failure.created["child0"].clone();
    world
        .faults
        .lock()
        .unwrap()
        .push(format!("remove {child0}"));
    let report = rollback(
        &world,
        &plan,
        &failure.completed,
        &failure.created,
        &options(100),
        &WarningsOnly,
    )
    .await;
    assert_eq!(
        report.failed,
        [
            format!("remove {child0}: injected fault"),
            "remove id-0: not tried (it waits for a failed undo)".to_string()
        ]
    );
    // Everything but the root and child0 (and child0's grandchild, removed first) is gone.
    assert_eq!(report.undone.len(), failure.created.len() - 2);
    assert_eq!(world.names(), ["child0", "root"]);
}
