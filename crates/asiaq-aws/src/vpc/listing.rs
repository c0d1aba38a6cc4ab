//! The rows of `vpc list` and `vpc peerings --list`, environments named by their `Name`
//! tag.

use asiaq_core::vpc::show::{peering_rows, PeeringRow};
use serde::Serialize;

use super::{list_peerings, observe};
use crate::context::AwsContext;
use crate::error::AwsError;

/// One VPC of `vpc list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcRow {
    pub vpc_id: String,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub env_type: Option<String>,
    pub cidr: String,
}

impl VpcRow {
    /// `vpc-id<TAB>name` (name padded to 15, `-` when unnamed), then `<TAB>type` with
    /// `with_type`.
    pub fn line(&self, with_type: bool) -> String {
        let name = self.name.as_deref().unwrap_or("-");
        if with_type {
            let env_type = self.env_type.as_deref().unwrap_or("-");
            format!("{}\t{name:<15}\t{env_type}", self.vpc_id)
        } else {
            format!("{}\t{name:<15}", self.vpc_id)
        }
    }
}

/// Every VPC of the region, by name (then id).
pub async fn list_vpcs(ctx: &AwsContext) -> Result<Vec<VpcRow>, AwsError> {
    let mut vpcs = observe::all_vpcs(ctx).await?;
    vpcs.sort_by(|a, b| a.2.get("Name").cmp(&b.2.get("Name")).then(a.0.cmp(&b.0)));
    Ok(vpcs
        .iter()
        .map(|(id, cidr, tags)| VpcRow {
            vpc_id: id.clone(),
            name: tags.get("Name").cloned(),
            env_type: tags.get("type").cloned(),
            cidr: cidr.to_string(),
        })
        .collect())
}

/// The live and failed peerings of `vpc_id` (or of the region), each side named by its
/// VPC's `Name` tag (else its id), by accepter.
pub async fn list_peering_rows(
    ctx: &AwsContext,
    vpc_id: Option<&str>,
) -> Result<Vec<PeeringRow>, AwsError> {
    let (list, vpcs) = tokio::join!(list_peerings(ctx, vpc_id), observe::all_vpcs(ctx));
    let (list, vpcs) = (list?, vpcs?);
    let names: Vec<(String, Option<String>)> = vpcs
        .into_iter()
        .map(|(id, _, tags)| (id, tags.get("Name").cloned()))
        .collect();
    Ok(peering_rows(list, &names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vpc_line_pads_the_name_and_marks_what_is_missing() {
        let row = VpcRow {
            vpc_id: "vpc-1".into(),
            name: Some("ci".into()),
            env_type: None,
            cidr: "10.0.0.0/16".into(),
        };
        assert_eq!(row.line(false), "vpc-1\tci             ");
        assert_eq!(row.line(true), "vpc-1\tci             \t-");
    }
}
