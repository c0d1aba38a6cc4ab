//! Elastic IPs (`asiaq eip`, the original's `disco_eip.py`): what releasing one does.

use serde::Serialize;

use crate::printout::{Printout, Refusal};
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

/// An elastic IP as `eip list` and `eip allocate` show it in JSON.
#[derive(Serialize)]
struct Row<'a> {
    public_ip: &'a str,
    instance_id: Option<&'a str>,
    allocation_id: &'a str,
}

impl<'a> Row<'a> {
    fn of(a: &'a AddressInfo) -> Self {
        Row {
            public_ip: &a.public_ip,
            instance_id: a.instance_id.as_deref(),
            allocation_id: &a.allocation_id,
        }
    }
}

/// `eip list`: `public_ip<TAB>instance id (or -)` each.
pub fn listing(addresses: &[AddressInfo]) -> Printout {
    let rows: Vec<Row> = addresses.iter().map(Row::of).collect();
    let lines = rows
        .iter()
        .map(|r| format!("{}\t{}", r.public_ip, r.instance_id.unwrap_or("-")))
        .collect();
    Printout::new(&rows, lines)
}

/// `eip allocate`: the new address (associated with nothing yet).
pub fn allocated(a: &AddressInfo) -> Printout {
    let row = Row {
        instance_id: None,
        ..Row::of(a)
    };
    Printout::new(&row, vec![a.public_ip.clone()])
}

/// `eip release --eip IP`: an IPv4 address.
pub fn check_ip(ip: &str) -> Result<(), String> {
    match ip.parse::<std::net::Ipv4Addr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("--eip {ip:?} is not an IPv4 address")),
    }
}

impl Release {
    /// What `eip release` of `ip` says, as `(stdout, stderr)` lines: a dry run says what it
    /// would do on stdout, a release what it did on stderr; not found, or refused for real,
    /// is a failure.
    pub fn report(&self, ip: &str, dry_run: bool) -> Result<(Vec<String>, Vec<String>), Refusal> {
        match (self, dry_run) {
            (Release::NotFound, true) => Err(Refusal::failed(format!(
                "elastic IP {ip} is not allocated here"
            ))),
            (Release::NotFound, false) => Err(Refusal::failed(format!(
                "elastic IP {ip} is not allocated in this account and region"
            ))),
            (Release::Refused { .. }, true) => Ok((
                vec![format!("would refuse: {ip} is associated (use --force)")],
                Vec::new(),
            )),
            (Release::Refused { association }, false) => Err(Refusal::failed(format!(
                "elastic IP {ip} is associated with {association}; not released"
            ))
            .with_hint("pass --force to disassociate it first")),
            (Release::Released { disassociated }, true) => {
                let what = match disassociated {
                    true => "disassociate and release",
                    false => "release",
                };
                Ok((vec![format!("would {what} {ip}")], Vec::new()))
            }
            (Release::Released { disassociated }, false) => {
                let mut done = Vec::new();
                if *disassociated {
                    done.push(format!("disassociated {ip}"));
                }
                done.push(format!("released {ip}"));
                Ok((Vec::new(), done))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_and_allocation() {
        let a = address(Some("eipassoc-1"), Some("i-1"));
        let free = address(None, None);
        let p = listing(&[a.clone(), free]);
        assert_eq!(p.lines, ["54.0.0.1\ti-1", "54.0.0.1\t-"]);
        assert_eq!(
            serde_json::to_string(&p.json[0]).unwrap(),
            r#"{"public_ip":"54.0.0.1","instance_id":"i-1","allocation_id":"eipalloc-1"}"#
        );
        let p = allocated(&a);
        assert_eq!(p.lines, ["54.0.0.1"]);
        assert_eq!(p.json["instance_id"], serde_json::Value::Null);
        assert_eq!(check_ip("54.0.0.1"), Ok(()));
        assert_eq!(
            check_ip("nope"),
            Err("--eip \"nope\" is not an IPv4 address".to_string())
        );
    }

    #[test]
    fn release_reports() {
        let ip = "1.2.3.4";
        let r = Release::NotFound.report(ip, true).unwrap_err();
        assert_eq!(r.message, "elastic IP 1.2.3.4 is not allocated here");
        let refused = Release::Refused {
            association: "i-1".into(),
        };
        assert_eq!(
            refused.report(ip, true),
            Ok((
                vec!["would refuse: 1.2.3.4 is associated (use --force)".into()],
                vec![]
            ))
        );
        let r = refused.report(ip, false).unwrap_err();
        assert_eq!(
            r.hint.as_deref(),
            Some("pass --force to disassociate it first")
        );
        let both = Release::Released {
            disassociated: true,
        };
        assert_eq!(
            both.report(ip, true),
            Ok((
                vec!["would disassociate and release 1.2.3.4".into()],
                vec![]
            ))
        );
        assert_eq!(
            both.report(ip, false),
            Ok((
                vec![],
                vec!["disassociated 1.2.3.4".into(), "released 1.2.3.4".into()]
            ))
        );
    }

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
