//! `seal export`: the values `seal exec` would inject, written for another
//! tool (Kubernetes, docker, compose, dotenv, JSON, a shell, GitHub Actions).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{
    open_all, print_stdout, variables_error, write_file, CliError, FormatArg, IdentityArgs,
    NameArgs,
};
use crate::exec;
use crate::export::{self, ExportError, K8sSecret, Target};
use crate::fsio::Mode;

/// What `--to` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum To {
    /// A v1 Secret manifest (needs --name).
    #[value(name = "k8s-secret")]
    K8sSecret,
    /// NAME=value lines for `docker run --env-file`.
    #[value(name = "docker-env")]
    DockerEnv,
    /// One 0600 file per value in --dir, and a compose snippet.
    #[value(name = "compose-secrets")]
    ComposeSecrets,
    /// A dotenv file.
    Dotenv,
    /// One JSON object.
    Json,
    /// `export NAME='value'` lines for `eval` in sh or bash.
    Shell,
    /// NAME<<DELIM blocks for $GITHUB_ENV.
    #[value(name = "github-env")]
    GithubEnv,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    to: To,
    /// Write to FILE (0600, atomically) instead of standard output; with
    /// compose-secrets, the compose snippet.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    names: NameArgs,
    /// k8s-secret: the Secret's metadata.name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// k8s-secret: the Secret's metadata.namespace.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// k8s-secret: a label K=V; repeatable.
    #[arg(long, value_name = "K=V")]
    label: Vec<String>,
    /// k8s-secret: plain `stringData` instead of base64 `data`.
    #[arg(long)]
    string_data: bool,
    /// compose-secrets: the directory for the secret files (created 0700).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// compose-secrets: the service named in the printed snippet.
    #[arg(long, value_name = "SERVICE", default_value = "app")]
    service: String,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    signed: super::SignedArgs,
    #[command(flatten)]
    pending: super::PendingArgs,
    #[command(flatten)]
    format: FormatArg,
    /// Sealed files; later files override earlier ones (as `seal exec`).
    #[arg(required = true, value_name = "FILE")]
    sealed_files: Vec<PathBuf>,
}

/// The text target, or `None` for compose-secrets; flags that belong to
/// another format are refused rather than ignored.
fn target(args: &ExportArgs) -> Result<Option<Target>, CliError> {
    let k8s = args.to == To::K8sSecret;
    let k8s_flags = [
        ("--name", args.name.is_some()),
        ("--namespace", args.namespace.is_some()),
        ("--label", !args.label.is_empty()),
        ("--string-data", args.string_data),
    ];
    let compose = args.to == To::ComposeSecrets;
    let compose_flags = [
        ("--dir", args.dir.is_some()),
        ("--service", args.service != "app"),
    ];
    for (flags, allowed, format) in [
        (&k8s_flags[..], k8s, "k8s-secret"),
        (&compose_flags[..], compose, "compose-secrets"),
    ] {
        if let Some((flag, _)) = flags.iter().find(|(_, given)| *given && !allowed) {
            return Err(CliError::usage(format!("{flag} goes with --to {format}")));
        }
    }
    Ok(Some(match args.to {
        To::K8sSecret => {
            let name = args.name.clone().ok_or_else(|| {
                CliError::usage("--to k8s-secret needs --name NAME (the Secret's metadata.name)")
            })?;
            let labels = args
                .label
                .iter()
                .map(|l| {
                    l.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| CliError::usage(format!("--label {l:?}: expected K=V")))
                })
                .collect::<Result<_, _>>()?;
            let k8s = K8sSecret {
                name,
                namespace: args.namespace.clone(),
                labels,
                string_data: args.string_data,
            };
            export::check_k8s(&k8s).map_err(|e| CliError::usage(e.to_string()))?;
            Target::K8sSecret(k8s)
        }
        To::DockerEnv => Target::DockerEnv,
        To::ComposeSecrets => {
            if args.dir.is_none() {
                return Err(CliError::usage(
                    "--to compose-secrets needs --dir DIR (where the secret files go)",
                ));
            }
            return Ok(None);
        }
        To::Dotenv => Target::Dotenv,
        To::Json => Target::Json,
        To::Shell => Target::Shell,
        To::GithubEnv => Target::GithubEnv,
    }))
}

pub fn run(args: ExportArgs) -> Result<ExitCode, CliError> {
    let target = target(&args)?;
    let options = args.names.options(&args.sealed_files, false)?;
    let opened = open_all(
        &args.sealed_files,
        &args.format,
        &args.identity,
        &args.signed,
        &args.pending,
        "nothing was exported",
    )?;
    let vars = exec::variables(&opened, &options).map_err(variables_error)?;
    drop(opened);
    let output = match (&target, &args.dir) {
        (Some(target), _) => export::render(&vars, target).map_err(export_error)?,
        (None, Some(dir)) => zeroize::Zeroizing::new(
            export::compose_secrets(&vars, dir, &args.service).map_err(export_error)?,
        ),
        (None, None) => return Err(CliError::usage("--to compose-secrets needs --dir DIR")),
    };
    match &args.output {
        Some(out) => write_file(out, output.as_bytes(), Mode::Private)?,
        None => print_stdout(output.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn export_error(e: ExportError) -> CliError {
    let hint = match &e {
        ExportError::LineBreak { .. } | ExportError::TooLong { .. } => {
            "export the other values with --only PATH, or use --to compose-secrets (files hold any bytes)"
        }
        ExportError::CarriageReturn { .. } => "export the other values with --only PATH",
        ExportError::ShellName { .. } => {
            "shell names cannot hold `.` or `-`: rename the key, or export the others with --only PATH"
        }
        ExportError::UnsafeDir { .. } => {
            "give a new directory (seal creates it 0700) or one only you can read"
        }
        _ => "nothing was written",
    };
    CliError::new(e.to_string()).hint(hint)
}
