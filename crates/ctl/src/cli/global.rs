//! What every command shares: its parsed flags and arguments, and turning the global flags
//! (after `ETCDCTL_*` variables) into a client and a printer, at the point etcdctl does it
//! (`clientConfigFromCmd` / `mustClientFromCmd`), so errors come out in etcdctl's order.

use super::env;
use super::exit::{CtlError, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_BAD_FEATURE, Stop};
use super::flag::{FlagSet, FlagSpec};
use crate::out::Out;
use crate::printer::{Format, Printer};
use oxcd_client::{Client, ClientError, ConnectOptions, Credentials, TlsOptions};
use std::time::Duration;

/// One command invocation.
pub struct Context {
    /// Every flag the command accepts, parsed.
    pub flags: FlagSet,
    /// The global (inherited) flags, to which `ETCDCTL_*` variables apply.
    pub inherited: Vec<FlagSpec>,
    /// Positional arguments.
    pub args: Vec<String>,
    /// The environment, without `ETCDCTL_API`.
    pub environ: Vec<(String, String)>,
    /// Pending output.
    pub out: Out,
    /// The process's arguments after the program name, as `watch` needs them to find an
    /// exec command after `--`.
    pub raw_args: Vec<String>,
    env_applied: bool,
}

/// Client settings taken from the global flags.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Endpoints, trimmed.
    pub endpoints: Vec<String>,
    /// Connection options.
    pub options: ConnectOptions,
}

impl Context {
    /// A context for parsed flags and arguments.
    pub fn new(
        flags: FlagSet,
        inherited: Vec<FlagSpec>,
        args: Vec<String>,
        environ: Vec<(String, String)>,
        raw_args: Vec<String>,
    ) -> Context {
        Context {
            flags,
            inherited,
            args,
            environ,
            out: Out::default(),
            raw_args,
            env_applied: false,
        }
    }

    /// `--command-timeout` as it stands now (etcdctl reads it before or after applying the
    /// environment depending on the command).
    pub fn command_timeout(&self) -> Duration {
        self.flags.duration("command-timeout")
    }

    /// Applies `ETCDCTL_*` variables once, printing etcdctl's warnings.
    pub fn apply_env(&mut self) -> Result<(), Stop> {
        if self.env_applied {
            return Ok(());
        }
        self.env_applied = true;
        if let Err(fatal) = env::apply(&mut self.flags, &self.inherited, &self.environ) {
            self.out.err_line(&fatal);
            return Err(Stop::Exit(1));
        }
        Ok(())
    }

    /// The printer `--write-out` and `--hex` select (`initDisplayFromCmd`).
    pub fn printer(&self) -> Result<Printer, CtlError> {
        let format = Format::parse(&self.flags.string("write-out"))
            .ok_or_else(|| CtlError::new(EXIT_BAD_FEATURE, "unsupported output format"))?;
        Ok(Printer::new(format, self.flags.bool("hex")))
    }

    /// The `--endpoints` list as given (untrimmed), as `endpoint` commands use it.
    pub fn raw_endpoints(&self) -> Vec<String> {
        self.flags.list("endpoints")
    }

    /// etcdctl's `clientConfigFromCmd`: environment, endpoints, timeouts, TLS, auth, printer.
    /// `endpoint health` builds its configuration without the `--debug` listing.
    pub fn client_config(&mut self, debug_listing: bool) -> Result<(ClientConfig, Printer), Stop> {
        self.apply_env()?;
        if debug_listing && self.flags.bool("debug") {
            for spec in &self.inherited {
                let line = format!(
                    "{}={}",
                    env::variable_for(spec.name),
                    self.flags.display(spec.name)
                );
                self.out.err_line(&line);
            }
        }
        if !self.flags.string("discovery-srv").is_empty() {
            return Err(CtlError::error(
                "DNS SRV discovery (--discovery-srv) is not supported by oxctl",
            )
            .into());
        }
        let endpoints: Vec<String> = self
            .flags
            .list("endpoints")
            .iter()
            .map(|e| e.trim().to_string())
            .collect();
        let tls = self.tls_options()?;
        let credentials = self.credentials()?;
        let printer = self.printer()?;
        let options = ConnectOptions {
            dial_timeout: self.flags.duration("dial-timeout"),
            keepalive_time: Some(self.flags.duration("keepalive-time")).filter(|d| !d.is_zero()),
            keepalive_timeout: self.flags.duration("keepalive-timeout"),
            tls,
            credentials,
            ..ConnectOptions::default()
        };
        Ok((ClientConfig { endpoints, options }, printer))
    }

    /// etcdctl's `mustClientFromCmd`.
    pub async fn connect(&mut self) -> Result<(Client, Printer), Stop> {
        let (client, printer, _) = self.connect_with_config().await?;
        Ok((client, printer))
    }

    /// Like [`Context::connect`], also returning the settings used.
    pub async fn connect_with_config(&mut self) -> Result<(Client, Printer, ClientConfig), Stop> {
        let (config, printer) = self.client_config(true)?;
        let client = connect(&config.endpoints, &config.options).await?;
        Ok((client, printer, config))
    }

    /// etcdctl's `secureCfgFromCmd` and `newClientCfg`: TLS settings exist when a file is named
    /// or `--insecure-transport=false`, and `--insecure-skip-tls-verify` only applies to them
    /// (alone it leaves an `https://` endpoint verified against the system's roots).
    fn tls_options(&self) -> Result<Option<TlsOptions>, CtlError> {
        let mut files = [None, None, None];
        for (slot, name) in files.iter_mut().zip(["cert", "key", "cacert"]) {
            let value = self.flags.string(name);
            if value.is_empty() && self.flags.changed(name) {
                return Err(CtlError::new(
                    EXIT_BAD_ARGS,
                    format!("empty string is passed to --{name} option"),
                ));
            }
            if !value.is_empty() {
                *slot = Some(value.into());
            }
        }
        let [cert_file, key_file, ca_file] = files;
        let wants_tls = cert_file.is_some()
            || key_file.is_some()
            || ca_file.is_some()
            || !self.flags.bool("insecure-transport");
        Ok(wants_tls.then(|| TlsOptions {
            ca_file,
            cert_file,
            key_file,
            server_name: None,
            insecure_skip_verify: self.flags.bool("insecure-skip-tls-verify"),
        }))
    }

    /// `--user name[:password]` and `--password`, prompting when no password is given.
    fn credentials(&mut self) -> Result<Option<Credentials>, Stop> {
        self.credentials_from("user", "password", "Password: ")
    }

    /// etcdctl's way of reading credentials from a user flag (`name[:password]`) and a
    /// password flag, prompting with `prompt` when neither gives a password.
    pub fn credentials_from(
        &mut self,
        user_flag: &str,
        password_flag: &str,
        prompt: &str,
    ) -> Result<Option<Credentials>, Stop> {
        let user = self.flags.string(user_flag);
        if user.is_empty() {
            return Ok(None);
        }
        let password = self.flags.string(password_flag);
        if !password.is_empty() {
            return Ok(Some(Credentials { user, password }));
        }
        if let Some((name, password)) = user.split_once(':') {
            return Ok(Some(Credentials {
                user: name.to_string(),
                password: password.to_string(),
            }));
        }
        self.out.text(prompt);
        self.out.flush();
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CtlError::error(e.to_string()))?;
        self.out.line("");
        Ok(Some(Credentials {
            user,
            password: line.trim_end_matches(['\r', '\n']).to_string(),
        }))
    }
}

/// Creates a client the way etcdctl's `mustClient` fails: unusable TLS files exit with code 128
/// (`newClientCfg`), bad settings and failed authentication with code 2 (`clientv3.New`).
pub async fn connect(endpoints: &[String], options: &ConnectOptions) -> Result<Client, CtlError> {
    let attempt = Client::connect(endpoints, options.clone());
    match tokio::time::timeout(options.dial_timeout, attempt).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(ClientError::Tls(message))) => Err(CtlError::new(EXIT_BAD_ARGS, message)),
        Ok(Err(error)) => Err(CtlError::new(EXIT_BAD_CONNECTION, error.to_string())),
        Err(_) => Err(CtlError::new(
            EXIT_BAD_CONNECTION,
            "context deadline exceeded",
        )),
    }
}

/// A request carrying the command timeout as its deadline.
pub fn with_timeout<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// The `Error:` text etcdctl prints for a failed call.
pub fn call_error(status: tonic::Status) -> CtlError {
    CtlError::error(oxcd_client::ClientError::from(status).to_string())
}
