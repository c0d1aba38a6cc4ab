//! Environments (VPCs): observed state, plans for create/update/destroy, route diffs,
//! peering resolution. Pure: the AWS layer observes, calls these, and executes the plan.

pub mod destroy;
pub mod peering;
pub mod plan;
pub mod reconcile;
pub mod routes;
pub mod show;
pub mod state;

#[cfg(test)]
mod tests;
