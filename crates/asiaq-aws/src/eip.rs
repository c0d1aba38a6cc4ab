//! Elastic IPs (`asiaq eip`, the original's `disco_eip.py`).

pub use asiaq_core::eip::Release;
use asiaq_core::vpc::state::AddressInfo;
use aws_sdk_ec2::types::DomainType;

use crate::context::AwsContext;
use crate::environment::filter;
use crate::error::AwsError;
use crate::vpc::observe::address_info;

/// Every elastic IP of the region, sorted by public IP (numerically).
pub async fn list(ctx: &AwsContext) -> Result<Vec<AddressInfo>, AwsError> {
    let out = ctx
        .ec2()
        .describe_addresses()
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeAddresses", e))?;
    let mut all: Vec<AddressInfo> = out.addresses().iter().map(address_info).collect();
    all.sort_by_key(|a| {
        a.public_ip
            .parse::<std::net::Ipv4Addr>()
            .map(u32::from)
            .unwrap_or(u32::MAX)
    });
    Ok(all)
}

/// Allocates a VPC elastic IP; returns it.
pub async fn allocate(ctx: &AwsContext) -> Result<AddressInfo, AwsError> {
    let out = ctx
        .ec2()
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "AllocateAddress", e))?;
    Ok(AddressInfo {
        allocation_id: out.allocation_id().unwrap_or_default().to_string(),
        public_ip: out.public_ip().unwrap_or_default().to_string(),
        association_id: None,
        instance_id: None,
        network_interface_id: None,
        tags: Default::default(),
    })
}

/// The elastic IP `ip`, if allocated here.
pub async fn find(ctx: &AwsContext, ip: &str) -> Result<Option<AddressInfo>, AwsError> {
    let out = ctx
        .ec2()
        .describe_addresses()
        .filters(filter("public-ip", &[ip]))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeAddresses", e))?;
    Ok(out.addresses().first().map(address_info))
}

/// Releases `ip` ([`asiaq_core::eip::release`] decides: an associated address is refused
/// unless `force`, which disassociates it first). A dry run only decides.
pub async fn release(
    ctx: &AwsContext,
    ip: &str,
    force: bool,
    dry_run: bool,
) -> Result<Release, AwsError> {
    let found = find(ctx, ip).await?;
    let outcome = asiaq_core::eip::release(found.as_ref(), force);
    let (Some(a), Release::Released { disassociated }, false) = (&found, &outcome, dry_run) else {
        return Ok(outcome);
    };
    if let (Some(assoc), true) = (&a.association_id, disassociated) {
        ctx.ec2()
            .disassociate_address()
            .association_id(assoc)
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "DisassociateAddress", e))?;
    }
    ctx.ec2()
        .release_address()
        .allocation_id(&a.allocation_id)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "ReleaseAddress", e))?;
    Ok(outcome)
}
