//! The commands of `asiaq dynamodb`, observed and planned ([`prepare_create`] ...
//! [`prepare_pitr`]: the table as it is, then the core's plan), and run ([`execute`]: the
//! plan, with the waits around it, and the result to print).

use std::collections::BTreeMap;

use asiaq_core::dynamodb::{
    delete_question, sorted_json, Outcome, Request, RestoreFrom, RestoreRequest, TableDefinition,
};
use asiaq_core::plan::dynamodb::{
    create_plan, pitr_actions, restore_action, settle_first, update_plan, AfterWait, DynamoAction,
    Operation, Prepared,
};

use super::{
    apply_plan, describe_table, describe_time_to_live, list_backups, point_in_time_recovery,
    require_table, wait_active, wait_gone, ApplyFailure,
};
use crate::error::AwsError;
use crate::AwsContext;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    /// Bad input (exit 2), found before any change.
    #[error("{0}")]
    Usage(String),
    /// Refused as things are (exit 1), before any change.
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<&'static str>,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The plan failed (exit 1): what failed and what was rolled back.
    #[error("{}", .failure.message())]
    Apply {
        failure: ApplyFailure,
        hint: &'static str,
    },
}

impl DynamoError {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            DynamoError::Refused { hint, .. } => *hint,
            DynamoError::Apply { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

impl ApplyFailure {
    /// The failure, then what the rollback undid and what it could not.
    pub fn message(&self) -> String {
        let mut message = self.to_string();
        if let Some(r) = &self.rollback {
            if !r.undone.is_empty() {
                message.push_str(&format!("; rolled back: {}", r.undone.join(", ")));
            }
            if !r.is_complete() {
                message.push_str(&format!("; NOT rolled back: {}", r.failed.join(", ")));
            }
        }
        message
    }
}

fn note(text: &str) {
    asiaq_engine::report::emit(&asiaq_engine::Event::Note(text));
}

/// Waits for `table` to settle, saying so first; its status then.
async fn wait_noted(ctx: &AwsContext, table: &str) -> Result<String, AwsError> {
    note(&format!(
        "waiting for DynamoDB table {table} and its indexes to be ACTIVE"
    ));
    Ok(wait_active(ctx, table).await?.table_status)
}

/// `describe`: the table's description with its time to live, keys sorted.
pub async fn describe_json(
    ctx: &AwsContext,
    table: &str,
) -> Result<serde_json::Value, DynamoError> {
    let mut observed = require_table(ctx, table).await?;
    observed.time_to_live = Some(describe_time_to_live(ctx, table).await?);
    let value = serde_json::to_value(&observed).map_err(|e| DynamoError::Refused {
        message: format!("cannot render the description: {e}"),
        hint: None,
    })?;
    Ok(sorted_json(value))
}

/// `create`: table `table` of `env` from `def`; refused when it exists.
pub async fn prepare_create(
    ctx: &AwsContext,
    table: &str,
    env: &str,
    def: &TableDefinition,
) -> Result<Prepared, DynamoError> {
    if describe_table(ctx, table).await?.is_some() {
        return Err(DynamoError::Refused {
            message: format!("DynamoDB table {table} already exists"),
            hint: Some("`asiaq dynamodb update --table T --config FILE` changes a table"),
        });
    }
    Ok(Prepared {
        plan: create_plan(table, env, def),
        ..Prepared::new(Operation::Create, table, Vec::new())
    })
}

/// `update`: what makes `table` what `def` (read from `file`) says. A file that asks for
/// what DynamoDB cannot do in place is bad input.
pub async fn prepare_update(
    ctx: &AwsContext,
    table: &str,
    def: &TableDefinition,
    file: &str,
) -> Result<Prepared, DynamoError> {
    let mut observed = require_table(ctx, table).await?;
    if def.time_to_live_specification.is_some() {
        observed.time_to_live = Some(describe_time_to_live(ctx, table).await?);
    }
    let update =
        update_plan(def, &observed).map_err(|e| DynamoError::Usage(format!("{file}: {e}")))?;
    Ok(Prepared {
        operation: Operation::Update,
        table: table.to_string(),
        settle_first: settle_first(&update.plan, &observed),
        plan: update.plan,
        notes: update.notes,
    })
}

/// `delete`: table `table` of `env`, which must exist.
pub async fn prepare_delete(
    ctx: &AwsContext,
    table: &str,
    env: &str,
) -> Result<Prepared, DynamoError> {
    require_table(ctx, table).await?;
    let action = DynamoAction::DeleteTable {
        table: table.to_string(),
    };
    let operation = Operation::Delete {
        env: env.to_string(),
    };
    Ok(Prepared::new(operation, table, vec![action]))
}

/// `backup`: a backup `name` of `table`, which must exist.
pub async fn prepare_backup(
    ctx: &AwsContext,
    table: &str,
    name: &str,
) -> Result<Prepared, DynamoError> {
    require_table(ctx, table).await?;
    let action = DynamoAction::CreateBackup {
        table: table.to_string(),
        name: name.to_string(),
    };
    let operation = Operation::Backup {
        name: name.to_string(),
    };
    Ok(Prepared::new(operation, table, vec![action]))
}

/// `restore`: into a new table (refused when it exists), from the backup, the point in
/// time, or the newest available backup of the source table.
pub async fn prepare_restore(
    ctx: &AwsContext,
    request: &RestoreRequest,
) -> Result<Prepared, DynamoError> {
    let target = &request.target;
    if describe_table(ctx, target).await?.is_some() {
        return Err(DynamoError::Refused {
            message: format!(
                "DynamoDB table {target} exists, and a restore never writes into an existing table"
            ),
            hint: Some("name a new table with --to, or delete the existing one first"),
        });
    }
    let backups = match request.from {
        RestoreFrom::Latest => list_backups(ctx, Some(&request.source)).await?,
        _ => Vec::new(),
    };
    let action = restore_action(request, &backups).map_err(|message| DynamoError::Refused {
        message,
        hint: None,
    })?;
    Ok(Prepared::new(Operation::Restore, target, vec![action]))
}

/// `pitr on|off`: the change of `table` (which must exist), none when it is already so.
pub async fn prepare_pitr(
    ctx: &AwsContext,
    table: &str,
    on: bool,
) -> Result<Prepared, DynamoError> {
    require_table(ctx, table).await?;
    let now_on = point_in_time_recovery(ctx, table).await?;
    Ok(Prepared::new(
        Operation::Pitr { on },
        table,
        pitr_actions(table, now_on, on),
    ))
}

/// The plan of `request`, from the table(s) as they are.
pub async fn prepare(ctx: &AwsContext, request: &Request) -> Result<Prepared, DynamoError> {
    match request {
        Request::Create {
            table,
            env,
            definition,
        } => prepare_create(ctx, table, env, definition).await,
        Request::Update {
            table,
            definition,
            file,
        } => prepare_update(ctx, table, definition, file).await,
        Request::Delete { table, env } => prepare_delete(ctx, table, env).await,
        Request::Backup { table, name } => prepare_backup(ctx, table, name).await,
        Request::Restore(r) => prepare_restore(ctx, r).await,
        Request::Pitr { table, on } => prepare_pitr(ctx, table, *on).await,
    }
}

/// The question to ask before running `prepared`, if any: a delete (without `yes`) of a
/// table of an environment that is not a sandbox.
pub async fn confirmation(
    ctx: &AwsContext,
    prepared: &Prepared,
    yes: bool,
) -> Result<Option<String>, DynamoError> {
    match &prepared.operation {
        Operation::Delete { env } if !yes => {
            let env_type = crate::credentials::environment_type(ctx, env).await?;
            Ok(delete_question(&prepared.table, env, env_type.as_deref()))
        }
        _ => Ok(None),
    }
}

/// Runs `prepared` (nothing for an empty plan): first waits for a busy table when it must,
/// then, with `wait`, waits for the table to be `ACTIVE` (or gone); the result to print.
pub async fn execute(
    ctx: &AwsContext,
    prepared: &Prepared,
    wait: bool,
) -> Result<Outcome, DynamoError> {
    let (operation, table) = (&prepared.operation, prepared.table.as_str());
    if prepared.settle_first {
        wait_noted(ctx, table).await?;
    }
    let created = if prepared.plan.is_empty() {
        BTreeMap::new()
    } else {
        apply_plan(
            ctx,
            &operation.title(table),
            &prepared.plan,
            operation.rolls_back(),
        )
        .await
        .map_err(|failure| DynamoError::Apply {
            failure,
            hint: operation.hint(),
        })?
    };
    let status = match (wait, operation.waits_for()) {
        (false, _) => None,
        (true, AfterWait::Active) => Some(wait_noted(ctx, table).await?),
        (true, AfterWait::Gone) => {
            note(&format!("waiting for DynamoDB table {table} to be deleted"));
            wait_gone(ctx, table).await?;
            None
        }
    };
    Ok(operation.outcome(table, prepared.plan.len(), status, &created))
}
