//! Exit codes and the one place errors are shown to the user.

use std::process::ExitCode;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: everything asked for was done.
    Success,
    /// 1: the operation was attempted and failed (AWS refused, a wait timed out, ...).
    Failure,
    /// 2: bad usage or configuration; nothing was changed.
    Usage,
    /// The exit status of remote commands (`aws exec`), passed through.
    Remote(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Remote(code) => code,
        })
    }
}

/// An error on its way to the terminal: one clear message, an optional hint, an exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    status: ExitStatus,
    message: String,
    hint: Option<String>,
    /// Set when the details were already printed (e.g. a list of diagnostics).
    already_reported: bool,
}

impl CliError {
    /// Bad usage or configuration: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Usage,
            message: message.into(),
            hint: None,
            already_reported: false,
        }
    }

    /// The operation failed: exit 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Failure,
            message: message.into(),
            hint: None,
            already_reported: false,
        }
    }

    /// Ends with the exit status of remote commands; the details are already printed.
    pub fn remote(code: u8) -> Self {
        Self {
            status: ExitStatus::Remote(code),
            message: String::new(),
            hint: None,
            already_reported: true,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The details are already on stderr; print only the summary line.
    pub fn reported(mut self) -> Self {
        self.already_reported = true;
        self
    }

    pub fn status(&self) -> ExitStatus {
        self.status
    }

    pub fn print(&self) {
        if !self.already_reported || !self.message.is_empty() {
            eprintln!("error: {}", self.message);
        }
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
    }
}

impl From<asiaq_aws::AwsError> for CliError {
    fn from(err: asiaq_aws::AwsError) -> Self {
        let hint = match &err {
            asiaq_aws::AwsError::NoRegion => None,
            asiaq_aws::AwsError::NoCredentials(_) => Some(
                "configure credentials as for the AWS CLI (AWS_PROFILE, ~/.aws/credentials, environment, or an instance role)",
            ),
            _ => None,
        };
        let status = match &err {
            asiaq_aws::AwsError::NoRegion | asiaq_aws::AwsError::InvalidSetting { .. } => {
                ExitStatus::Usage
            }
            _ => ExitStatus::Failure,
        };
        let mut cli = CliError {
            status,
            message: err.to_string(),
            hint: None,
            already_reported: false,
        };
        if let Some(h) = hint {
            cli = cli.with_hint(h);
        }
        cli
    }
}

impl From<asiaq_core::printout::Refusal> for CliError {
    /// What a library refused: bad input (exit 2) or a failure (exit 1), with its hint.
    fn from(r: asiaq_core::printout::Refusal) -> Self {
        let cli = if r.usage {
            CliError::usage(r.message)
        } else {
            CliError::failed(r.message)
        };
        r.hint.into_iter().fold(cli, CliError::with_hint)
    }
}

impl From<asiaq_aws::FlowError> for CliError {
    fn from(e: asiaq_aws::FlowError) -> Self {
        match e {
            asiaq_aws::FlowError::Refused(r) => r.into(),
            asiaq_aws::FlowError::Aws(a) => a.into(),
        }
    }
}

impl From<asiaq_config::dynamodb::InputError> for CliError {
    /// Input refused before any call: exit 2.
    fn from(e: asiaq_config::dynamodb::InputError) -> Self {
        let hint = e.hint();
        let cli = match e {
            asiaq_config::dynamodb::InputError::Config(c)
            | asiaq_config::dynamodb::InputError::NoEnvironment(c) => CliError::from(c),
            asiaq_config::dynamodb::InputError::Invalid(m) => CliError::usage(m),
        };
        hint.into_iter().fold(cli, CliError::with_hint)
    }
}

impl From<asiaq_aws::dynamodb::DynamoError> for CliError {
    /// Bad input: exit 2; AWS's errors as they are; anything else: exit 1.
    fn from(e: asiaq_aws::dynamodb::DynamoError) -> Self {
        match e {
            asiaq_aws::dynamodb::DynamoError::Usage(m) => CliError::usage(m),
            asiaq_aws::dynamodb::DynamoError::Aws(a) => CliError::from(a),
            e => {
                let failed = CliError::failed(e.to_string());
                e.hint().into_iter().fold(failed, CliError::with_hint)
            }
        }
    }
}

impl From<asiaq_aws::ssm::ExecSsmError> for CliError {
    /// `exec-ssm`: bad input (exit 2), no instance to run on or AWS's error (exit 1).
    fn from(e: asiaq_aws::ssm::ExecSsmError) -> Self {
        use asiaq_aws::ssm::ExecSsmError;
        match e {
            ExecSsmError::Usage(m) => CliError::usage(m),
            ExecSsmError::NoInstances(m) => CliError::failed(m),
            ExecSsmError::Aws(e) => e.into(),
        }
    }
}

impl From<asiaq_config::ConfigError> for CliError {
    /// A configuration problem: every diagnostic, then exit 2.
    fn from(err: asiaq_config::ConfigError) -> Self {
        CliError::usage(
            err.diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

impl From<asiaq_core::spinup::SpinupError> for CliError {
    /// The configuration at fault: exit 2; something missing (an image): exit 1.
    fn from(err: asiaq_core::spinup::SpinupError) -> Self {
        match err {
            asiaq_core::spinup::SpinupError::Config(m) => CliError::usage(m),
            asiaq_core::spinup::SpinupError::Missing(m) => CliError::failed(m),
        }
    }
}

impl From<asiaq_core::provision::PlanError> for CliError {
    /// A planning error: the configuration at fault (exit 2) except a missing image (exit 1).
    fn from(err: asiaq_core::provision::PlanError) -> Self {
        asiaq_core::spinup::SpinupError::from(err).into()
    }
}

impl From<asiaq_config::accounts::ChangeError<asiaq_aws::AwsError>> for CliError {
    /// An account change refused (exit 2) or failed (exit 1).
    fn from(err: asiaq_config::accounts::ChangeError<asiaq_aws::AwsError>) -> Self {
        use asiaq_config::accounts::ChangeError;
        match err {
            ChangeError::Usage(m) => CliError::usage(m),
            ChangeError::Failed(m) => CliError::failed(m),
            ChangeError::Store(e) => e.into(),
        }
    }
}

impl From<asiaq_config::hosts::SettingsError> for CliError {
    /// What the configuration says about an environment: its problem (exit 2).
    fn from(err: asiaq_config::hosts::SettingsError) -> Self {
        match err {
            asiaq_config::hosts::SettingsError::Config(e) => e.into(),
            asiaq_config::hosts::SettingsError::Plan(e) => e.into(),
        }
    }
}

impl From<asiaq_aws::vpc::VpcError> for CliError {
    /// An environment change: the configuration or the plan at fault (exit 2), else failed
    /// (exit 1).
    fn from(err: asiaq_aws::vpc::VpcError) -> Self {
        use asiaq_aws::vpc::VpcError;
        match err {
            VpcError::Plan(p) => CliError::usage(p.to_string()),
            VpcError::Ntp { .. } | VpcError::Config(_) => CliError::usage(err.to_string()),
            VpcError::Destroy(d) => CliError::failed(d.to_string()),
            VpcError::Aws(a) => a.into(),
            other => CliError::failed(other.to_string()),
        }
    }
}

impl From<asiaq_config::iam_tree::DesiredError> for CliError {
    /// The `iam/` tree or `[iam]` at fault (exit 2), with what to do about it.
    fn from(err: asiaq_config::iam_tree::DesiredError) -> Self {
        let hint = err.hint();
        let cli = CliError::usage(err.to_string());
        match hint {
            Some(h) => cli.with_hint(h),
            None => cli,
        }
    }
}

impl From<asiaq_aws::iam::PlanError> for CliError {
    /// A SAML metadata URL refused (exit 2), else the fetch or IAM failed (exit 1).
    fn from(err: asiaq_aws::iam::PlanError) -> Self {
        use asiaq_aws::iam::PlanError;
        use asiaq_aws::saml::SamlMetadataError;
        match err {
            PlanError::Saml(e @ SamlMetadataError::BadUrl { .. }) => CliError::usage(e.to_string()),
            PlanError::Saml(e) => CliError::failed(e.to_string()),
            PlanError::Aws(e) => e.into(),
        }
    }
}
