//! `asiaq route53` (disco_route53.py): hosted zones and their records.

use std::io::Write;

use asiaq_aws::route53::{self, Zone};
use asiaq_aws::AwsContext;
use asiaq_core::route53 as names;
use clap::Subcommand;

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{emit, print_plan};

#[derive(Debug, Subcommand)]
pub enum Route53Command {
    /// List the hosted zones: name, id, private or not
    ListZones,
    /// List the record sets of every zone, or of one
    ListRecords {
        /// The zone's name (with or without its final dot, in any case)
        #[arg(long)]
        zone: Option<String>,
    },
    /// Create or replace a single-value record (UPSERT, TTL 5)
    CreateRecord {
        zone: String,
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        value: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Delete the record set of that name and type
    DeleteRecord {
        zone: String,
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Show the change without making it
    #[arg(long)]
    dry_run: bool,
    /// Do not wait for the change to reach every Route53 name server (INSYNC)
    #[arg(long)]
    no_wait: bool,
}

pub fn run(global: &GlobalArgs, cmd: &Route53Command) -> Result<(), CliError> {
    match cmd {
        Route53Command::ListZones => list_zones(global),
        Route53Command::ListRecords { zone } => list_records(global, zone.as_deref()),
        Route53Command::CreateRecord {
            zone,
            name,
            rtype,
            value,
            change,
        } => {
            let rtype = names::record_type(rtype)
                .map_err(|e| CliError::usage(format!("create-record TYPE: {e}")))?;
            let value = names::record_value(&rtype, value)
                .map_err(|e| CliError::usage(format!("create-record VALUE: {e}")))?;
            check_name(zone, name)?;
            aws_session::run(global, |ctx| async move {
                let zone = one_zone(&ctx, zone).await?;
                let existing = route53::record(&ctx, &zone.id, name, &rtype).await?;
                let plan =
                    names::upsert_plan(&zone.as_ref(), name, &rtype, &value, existing.as_ref());
                apply(global, &ctx, "route53 create-record", &plan, change).await
            })
        }
        Route53Command::DeleteRecord {
            zone,
            name,
            rtype,
            change,
        } => {
            let rtype = names::record_type(rtype)
                .map_err(|e| CliError::usage(format!("delete-record TYPE: {e}")))?;
            check_name(zone, name)?;
            aws_session::run(global, |ctx| async move {
                let zone = one_zone(&ctx, zone).await?;
                let set = route53::record(&ctx, &zone.id, name, &rtype)
                    .await?
                    .ok_or_else(|| {
                        CliError::failed(format!(
                            "there is no {rtype} record {} in {}",
                            names::fqdn(name),
                            zone.name
                        ))
                    })?;
                let plan = names::delete_plan(&zone.as_ref(), &set);
                apply(global, &ctx, "route53 delete-record", &plan, change).await
            })
        }
    }
}

/// A record name must be a DNS name inside its zone (exit 2 otherwise).
fn check_name(zone: &str, name: &str) -> Result<(), CliError> {
    if !names::is_dns_name(zone) {
        return Err(CliError::usage(format!("ZONE: {zone:?} is not a DNS name")));
    }
    if !names::is_dns_name(name) {
        return Err(CliError::usage(format!("NAME: {name:?} is not a DNS name")));
    }
    if !names::in_zone(name, zone) {
        return Err(CliError::usage(format!(
            "NAME: {name} is not in the zone {}",
            names::fqdn(zone)
        )));
    }
    Ok(())
}

/// The one zone named `name`: none is a usage error (exit 2, nothing changed), and so are
/// two (a public and a private zone of one name), which the original never told apart.
async fn one_zone(ctx: &AwsContext, name: &str) -> Result<Zone, CliError> {
    let mut found = route53::zones_named(ctx, name).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(
            CliError::usage(format!("there is no hosted zone {}", names::fqdn(name)))
                .with_hint("`asiaq route53 list-zones` lists them"),
        ),
        _ => Err(CliError::usage(format!(
            "{} names {} hosted zones ({}); asiaq cannot tell which one is meant",
            names::fqdn(name),
            found.len(),
            found
                .iter()
                .map(|z| z.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

async fn apply(
    global: &GlobalArgs,
    ctx: &AwsContext,
    command: &str,
    plan: &asiaq_core::plan::Plan<names::RecordAction>,
    change: &ChangeArgs,
) -> Result<(), CliError> {
    if change.dry_run {
        return print_plan(global, command, plan, &[], true);
    }
    route53::apply(ctx, plan, !change.no_wait, command).await?;
    #[derive(serde::Serialize)]
    struct Done<'a> {
        changed: Vec<String>,
        command: &'a str,
    }
    let done = Done {
        changed: plan.steps.iter().map(|s| s.action.to_string()).collect(),
        command,
    };
    emit(global.output, &done, |out: &mut dyn Write| {
        if done.changed.is_empty() {
            writeln!(out, "no change: the record is already so")?;
        }
        for c in &done.changed {
            let verb = if command.ends_with("delete-record") {
                "deleted"
            } else {
                "written"
            };
            writeln!(out, "{verb}: {c}")?;
        }
        Ok(())
    })
}

fn list_zones(global: &GlobalArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let zones = route53::zones(&ctx).await?;
        emit(global.output, &zones, |out: &mut dyn Write| {
            for z in &zones {
                writeln!(out, "{} {} {}", z.name, z.id, z.private)?;
            }
            Ok(())
        })
    })
}

fn list_records(global: &GlobalArgs, zone: Option<&str>) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let zones = match zone {
            Some(name) => vec![one_zone(&ctx, name).await?],
            None => route53::zones(&ctx).await?,
        };
        #[derive(serde::Serialize)]
        struct Row {
            zone: String,
            #[serde(flatten)]
            set: names::RecordSet,
        }
        let mut rows = Vec::new();
        for z in &zones {
            for set in route53::records(&ctx, &z.id).await? {
                rows.push(Row {
                    zone: z.name.clone(),
                    set,
                });
            }
        }
        emit(global.output, &rows, |out: &mut dyn Write| {
            for r in &rows {
                let value = match &r.set.alias {
                    Some(target) => format!("ALIAS {target}"),
                    None => r.set.values.join(","),
                };
                let ttl = r
                    .set
                    .ttl
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "{} {} {} {ttl} {value}",
                    r.zone, r.set.name, r.set.rtype
                )?;
            }
            Ok(())
        })
    })
}
