//! Environments (VPCs): observed state, plans for create/update/destroy, route diffs,
//! peering resolution. Pure: the AWS layer observes, calls these, and executes the plan.

pub mod destroy;
pub mod peering;
pub mod picture;
pub mod plan;
pub mod reconcile;
pub mod routes;
pub mod show;
pub mod state;
pub mod text;

/// Whether `name` may name an environment (VPC): not empty, and without `_` (alarm names
/// are split on it). The error says why not.
pub fn check_vpc_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('_') {
        return Err(format!(
            "VPC name {name:?} is not allowed: it must be non-empty and must not contain \"_\" (alarm names are split on it)"
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
