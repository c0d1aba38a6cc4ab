//! `asiaq route53` (disco_route53.py): hosted zones and their records.

use asiaq_aws::route53;
use asiaq_aws::AwsContext;
use asiaq_core::plan::Plan;
use asiaq_core::route53::{self as names, text};
use clap::Subcommand;

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{print, print_plan};

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
        Route53Command::ListZones => aws_session::run(global, |ctx| async move {
            let zones = route53::zones(&ctx).await?;
            print(global, route53::zones_printout(&zones))
        }),
        Route53Command::ListRecords { zone } => aws_session::run(global, |ctx| async move {
            let rows = route53::zone_records(&ctx, zone.as_deref())
                .await?
                .map_err(text::no_zone)?;
            print(global, text::records(&rows))
        }),
        Route53Command::CreateRecord {
            zone,
            name,
            rtype,
            value,
            change,
        } => {
            let rtype = names::record_type(rtype).map_err(|e| usage("TYPE", e))?;
            let value = names::record_value(&rtype, value).map_err(|e| usage("VALUE", e))?;
            names::check_record_name(zone, name).map_err(CliError::usage)?;
            aws_session::run(global, |ctx| async move {
                let zone = route53::one_zone(&ctx, zone)
                    .await?
                    .map_err(text::no_zone)?;
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
            let rtype = names::record_type(rtype).map_err(|e| usage("TYPE", e))?;
            names::check_record_name(zone, name).map_err(CliError::usage)?;
            aws_session::run(global, |ctx| async move {
                let zone = route53::one_zone(&ctx, zone)
                    .await?
                    .map_err(text::no_zone)?;
                let set = route53::record(&ctx, &zone.id, name, &rtype)
                    .await?
                    .ok_or_else(|| text::no_record(&rtype, name, &zone.name))?;
                let plan = names::delete_plan(&zone.as_ref(), &set);
                apply(global, &ctx, "route53 delete-record", &plan, change).await
            })
        }
    }
}

fn usage(what: &str, e: String) -> CliError {
    CliError::usage(format!("{what}: {e}"))
}

async fn apply(
    global: &GlobalArgs,
    ctx: &AwsContext,
    command: &str,
    plan: &Plan<names::RecordAction>,
    change: &ChangeArgs,
) -> Result<(), CliError> {
    if change.dry_run {
        return print_plan(global, command, plan, &[], true);
    }
    route53::apply(ctx, plan, !change.no_wait, command).await?;
    print(global, text::outcome(plan))
}
