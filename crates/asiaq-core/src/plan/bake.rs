//! The cleanup after a bake as an engine plan: what [`cleanup_plan`] derives from what the
//! bake recorded while it ran.
//!
//! The bake instance is terminated once the bake is over, whether it made its image or not
//! (unless `--no-destroy` keeps it). A bake that failed after it asked for its image deletes
//! that image with its snapshots: by id, or, when the answer to CreateImage never arrived,
//! by the bake's unique image name. The image can be deregistered while its instance is
//! terminated, so the steps are independent: no step waits for another, and every one is
//! tried even when another fails. A step's snapshots are deleted after its deregistration,
//! inside the step.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// One step of the cleanup after a bake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum BakeCleanupAction {
    /// Deregisters the image the failed bake made, then deletes its snapshots.
    DeleteImage { image_id: String },
    /// Deregisters every image of this account named `name` (the bake's unique name), then
    /// deletes their snapshots: CreateImage was sent but its answer (the id) never arrived.
    DeleteImagesNamed { name: String },
    /// Terminates the bake instance.
    TerminateInstance { instance_id: String },
}

impl fmt::Display for BakeCleanupAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BakeCleanupAction::DeleteImage { image_id } => {
                write!(f, "delete image {image_id} with its snapshots")
            }
            BakeCleanupAction::DeleteImagesNamed { name } => {
                write!(f, "delete the images named \"{name}\" with their snapshots")
            }
            BakeCleanupAction::TerminateInstance { instance_id } => {
                write!(f, "terminate instance {instance_id}")
            }
        }
    }
}

impl PlanAction for BakeCleanupAction {
    fn resource(&self) -> Resource {
        match self {
            BakeCleanupAction::DeleteImage { image_id } => Resource::new("image", image_id),
            BakeCleanupAction::DeleteImagesNamed { name } => Resource::new("image", name),
            BakeCleanupAction::TerminateInstance { instance_id } => {
                Resource::new("instance", instance_id)
            }
        }
    }

    fn change(&self) -> Change {
        Change::Delete
    }
}

/// What a bake recorded as it ran: what cleaning up after it must know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BakeRecord {
    /// The bake's (unique) image name.
    pub image_name: String,
    /// The bake instance.
    pub instance_id: String,
    /// CreateImage was sent (its answer may not have arrived).
    pub image_requested: bool,
    /// The id CreateImage answered with, if the answer arrived.
    pub image_id: Option<String>,
    /// The bake did not produce its image (an error, an interrupt).
    pub failed: bool,
    /// `--no-destroy`: the instance is left running.
    pub no_destroy: bool,
}

/// The cleanup of a bake: the image a failed bake asked for is deleted (by id, or by name
/// when its id is unknown), also with `--no-destroy`; the instance is terminated unless
/// `--no-destroy` keeps it. The steps do not depend on each other.
pub fn cleanup_plan(r: &BakeRecord) -> Plan<BakeCleanupAction> {
    let mut b = PlanBuilder::new();
    if r.failed && r.image_requested {
        b.add(
            match &r.image_id {
                Some(id) => BakeCleanupAction::DeleteImage {
                    image_id: id.clone(),
                },
                None => BakeCleanupAction::DeleteImagesNamed {
                    name: r.image_name.clone(),
                },
            },
            &[],
        );
    }
    if !r.no_destroy {
        b.add(
            BakeCleanupAction::TerminateInstance {
                instance_id: r.instance_id.clone(),
            },
            &[],
        );
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::render;

    fn record() -> BakeRecord {
        BakeRecord {
            image_name: "mhcweb 100".into(),
            instance_id: "i-1".into(),
            ..BakeRecord::default()
        }
    }

    fn texts(p: &Plan<BakeCleanupAction>) -> Vec<String> {
        p.steps.iter().map(|s| s.action.to_string()).collect()
    }

    fn independent(p: &Plan<BakeCleanupAction>) -> bool {
        p.steps.iter().all(|s| s.after.is_empty()) && p.depth() <= 1
    }

    #[test]
    fn a_bake_that_made_its_image_only_terminates_the_instance() {
        // Whether or not CreateImage was sent: the image of a bake that succeeded stays.
        for image_requested in [false, true] {
            let p = cleanup_plan(&BakeRecord {
                image_requested,
                image_id: image_requested.then(|| "ami-1".to_string()),
                ..record()
            });
            assert_eq!(texts(&p), ["terminate instance i-1"]);
        }
    }

    #[test]
    fn a_failure_before_create_image_only_terminates_the_instance() {
        let p = cleanup_plan(&BakeRecord {
            failed: true,
            ..record()
        });
        assert_eq!(texts(&p), ["terminate instance i-1"]);
    }

    #[test]
    fn a_failed_bake_deletes_its_image_by_id_and_terminates_independently() {
        let p = cleanup_plan(&BakeRecord {
            failed: true,
            image_requested: true,
            image_id: Some("ami-1".into()),
            ..record()
        });
        assert_eq!(
            p.steps.iter().map(|s| s.action.clone()).collect::<Vec<_>>(),
            [
                BakeCleanupAction::DeleteImage {
                    image_id: "ami-1".into()
                },
                BakeCleanupAction::TerminateInstance {
                    instance_id: "i-1".into()
                },
            ]
        );
        assert!(independent(&p), "{:?}", p.steps);
        assert!(!p.depends_on(1, 0) && !p.depends_on(0, 1));
    }

    #[test]
    fn an_image_whose_id_never_arrived_is_deleted_by_name() {
        let p = cleanup_plan(&BakeRecord {
            failed: true,
            image_requested: true,
            ..record()
        });
        assert_eq!(
            texts(&p),
            [
                "delete the images named \"mhcweb 100\" with their snapshots",
                "terminate instance i-1"
            ]
        );
        assert!(independent(&p));
    }

    #[test]
    fn no_destroy_keeps_the_instance_but_not_a_half_made_image() {
        let kept = |failed, image_requested, image_id: Option<&str>| {
            texts(&cleanup_plan(&BakeRecord {
                failed,
                image_requested,
                image_id: image_id.map(str::to_string),
                no_destroy: true,
                ..record()
            }))
        };
        assert!(kept(false, false, None).is_empty());
        assert!(kept(true, false, None).is_empty());
        assert_eq!(
            kept(true, true, Some("ami-1")),
            ["delete image ami-1 with its snapshots"]
        );
        assert_eq!(
            kept(true, true, None),
            ["delete the images named \"mhcweb 100\" with their snapshots"]
        );
    }

    #[test]
    fn every_step_is_a_delete() {
        let p = cleanup_plan(&BakeRecord {
            failed: true,
            image_requested: true,
            image_id: Some("ami-1".into()),
            ..record()
        });
        assert!(p.steps.iter().all(|s| s.action.change().is_delete()));
        assert_eq!(
            p.steps[0].action.resource(),
            Resource::new("image", "ami-1")
        );
        assert_eq!(
            p.steps[1].action.resource(),
            Resource::new("instance", "i-1")
        );
        assert_eq!(p.steps[1].action.name(), "TerminateInstance");
        let text = render::text(&p);
        assert!(
            text.ends_with("Plan: 0 to create, 0 to change, 2 to delete.\n"),
            "{text}"
        );
        let json = serde_json::to_value(&p.steps[0].action).unwrap();
        assert_eq!(json["action"], "DeleteImage");
        assert_eq!(json["image_id"], "ami-1");
    }
}
