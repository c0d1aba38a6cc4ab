//! Elastic IPs (`asiaq eip`, the original's `disco_eip.py`): what releasing one does.

use crate::vpc::state::AddressInfo;

/// What releasing an elastic IP does (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// Released, after disassociating it first when it was associated.
    Released { disassociated: bool },
    /// Associated, and not forced: nothing is done. `association`: what it is associated
    /// with (the instance, else the interface, else the association id).
    Refused { association: String },
    /// Not allocated in this account and region.
    NotFound,
}

/// Releasing `address` (`None`: not found): an associated address is refused unless
/// `force`, which disassociates it first.
pub fn release(address: Option<&AddressInfo>, force: bool) -> Release {
    let Some(a) = address else {
        return Release::NotFound;
    };
    match &a.association_id {
        Some(assoc) if !force => Release::Refused {
            association: a
                .instance_id
                .clone()
                .or(a.network_interface_id.clone())
                .unwrap_or_else(|| assoc.clone()),
        },
        assoc => Release::Released {
            disassociated: assoc.is_some(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(association: Option<&str>, instance: Option<&str>) -> AddressInfo {
        AddressInfo {
            allocation_id: "eipalloc-1".into(),
            public_ip: "54.0.0.1".into(),
            association_id: association.map(str::to_string),
            instance_id: instance.map(str::to_string),
            network_interface_id: association.map(|_| "eni-1".to_string()),
            tags: Default::default(),
        }
    }

    #[test]
    fn associated_addresses_need_force() {
        assert_eq!(release(None, true), Release::NotFound);
        let free = address(None, None);
        assert_eq!(
            release(Some(&free), false),
            Release::Released {
                disassociated: false
            }
        );
        let on_instance = address(Some("eipassoc-1"), Some("i-1"));
        assert_eq!(
            release(Some(&on_instance), false),
            Release::Refused {
                association: "i-1".into()
            }
        );
        let on_interface = address(Some("eipassoc-1"), None);
        assert_eq!(
            release(Some(&on_interface), false),
            Release::Refused {
                association: "eni-1".into()
            }
        );
        assert_eq!(
            release(Some(&on_instance), true),
            Release::Released {
                disassociated: true
            }
        );
    }
}
