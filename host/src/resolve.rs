//! Resolving configuration against plugins: which plugin runs each conf.d
//! instance, and whether the instance passes that plugin's schema. Shared
//! by `check`, `configcheck` and `run`, so they can never disagree about
//! what is valid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::catalog::Catalog;
use crate::catalog::{PluginFile, PluginSource};
use crate::config::{
    self, CheckSchemas, ConfigError, ConfigFile, InstanceConfig, LoadedConfigs, RunnerConfig,
};
use crate::grants;
use crate::sandbox::{
    self, CheckInstance, InstanceSpec, LoadedPlugin, NetworkGrants, ProcessGrants, Sandbox, Sizing,
};
use crate::snapshot::{SnapshotService, SnapshotSettings};

/// Instances running within this long of each other share one /proc
/// snapshot.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(500);

/// How runner.yaml says the host is read: `procfs_path` (or `proc_root`,
/// an instance file's `init_config.procfs_path`), `sysfs_path`,
/// `passwd_file`. Kernel threads are left out, as Datadog's process-agent
/// does.
pub fn snapshot_settings(runner: &RunnerConfig, proc_root: Option<&Path>) -> SnapshotSettings {
    SnapshotSettings {
        proc_root: proc_root.unwrap_or(&runner.procfs_path).to_path_buf(),
        sys_root: runner.sysfs_path.clone(),
        passwd_file: runner.passwd_file.clone(),
        include_kernel_threads: false,
    }
}

/// A snapshot service as runner.yaml says, command lines scrubbed as its
/// `process_config` says.
fn snapshot_service(runner: &RunnerConfig, proc_root: Option<&Path>) -> SnapshotService {
    SnapshotService::new(snapshot_settings(runner, proc_root), SNAPSHOT_MAX_AGE)
        .with_scrubber(runner.process_config.scrubber())
}

/// Everything the verbs need: settings, conf.d, plugins and the engine.
pub struct Environment {
    pub runner: RunnerConfig,
    pub hostname: String,
    pub configs: LoadedConfigs,
    pub catalog: Catalog,
    pub sandbox: Sandbox,
    /// The snapshot of `/proc`, shared by every instance.
    pub snapshots: Arc<SnapshotService>,
    /// Snapshots of other proc file systems (init_config `procfs_path`),
    /// one per path, each shared by the instances that name it.
    other_procfs: Mutex<BTreeMap<PathBuf, Arc<SnapshotService>>>,
}

/// An instance with the plugin that will run it and what validation said.
pub struct ResolvedInstance {
    pub config: InstanceConfig,
    /// None when the plugin is missing or failed to load.
    pub plugin: Option<Arc<LoadedPlugin>>,
    /// Schema errors, or the plugin's problem when it is missing or
    /// failed to load: the instance will not run.
    pub errors: Vec<ConfigError>,
    /// Unknown keys and other things that do not stop it.
    pub warnings: Vec<ConfigError>,
    /// What its configuration lets the check see of the host.
    pub grants: ProcessGrants,
    /// The endpoints its configuration lets the check reach.
    pub network: NetworkGrants,
}

/// The outcome of resolution.
pub struct Resolution {
    /// Config files (of the selected check, if one was asked for).
    pub files: Vec<ConfigFile>,
    /// Every instance of those files, in file order.
    pub instances: Vec<ResolvedInstance>,
    /// Loader errors and per-instance errors, in one list.
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
    /// Checks whose plugin could not be loaded (not found, invalid), with
    /// why; their instances have the same error.
    pub plugin_errors: Vec<(String, String)>,
}

impl Environment {
    /// Load runner.yaml (or defaults), conf.d and the catalog. Only a
    /// broken runner.yaml is fatal; conf.d problems are reported by
    /// [`Environment::resolve`].
    pub fn load(
        config_path: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> Result<Self, Box<ConfigError>> {
        let env = |name: &str| std::env::var(name).ok();
        let mut runner = RunnerConfig::load(config_path, &env).map_err(Box::new)?;
        if let Some(dir) = &overrides.conf_d {
            runner.conf_d = dir.clone();
        }
        if let Some(dir) = &overrides.checks_d {
            runner.checks_d = dir.clone();
        }
        let hostname = runner.hostname.clone().unwrap_or_default();
        let configs = config::load(&runner, &env);
        let catalog = Catalog::discover(&runner.checks_d);
        let sizing = Sizing {
            pooling: runner.instance_pool,
            ..sizing(&configs)
        };
        let sandbox = Sandbox::new(runner.cache_dir.clone(), sizing).map_err(|e| {
            Box::new(ConfigError::new(format!(
                "cannot start the WebAssembly engine: {e:#}"
            )))
        })?;
        let snapshots = Arc::new(snapshot_service(&runner, None));
        Ok(Self {
            runner,
            hostname,
            configs,
            catalog,
            sandbox,
            snapshots,
            other_procfs: Mutex::new(BTreeMap::new()),
        })
    }

    /// Read conf.d and checks.d again (hot reload); settings, engine and
    /// snapshot services stay.
    pub fn reread(&mut self) {
        let env = |name: &str| std::env::var(name).ok();
        self.configs = config::load(&self.runner, &env);
        self.catalog = Catalog::discover(&self.runner.checks_d);
    }

    /// The snapshot service for an instance: `/proc`, or the proc file
    /// system its file's `init_config.procfs_path` names.
    fn snapshots_for(&self, config: &InstanceConfig) -> Arc<SnapshotService> {
        match &config.procfs_path {
            Some(root) if root.as_path() != self.snapshots.root() => {
                let mut others = self.other_procfs.lock().unwrap_or_else(|e| e.into_inner());
                others
                    .entry(root.clone())
                    .or_insert_with(|| Arc::new(snapshot_service(&self.runner, Some(root))))
                    .clone()
            }
            _ => self.snapshots.clone(),
        }
    }

    /// Pair every instance (of `only` check, when given) with its plugin
    /// and validate it against the plugin's schemas. Plugins are loaded
    /// once per check name, and only for checks that are configured.
    pub async fn resolve(&self, only: Option<&str>) -> Resolution {
        let selected = |check: &str| only.is_none_or(|name| name == check);
        let files: Vec<ConfigFile> = self
            .configs
            .files
            .iter()
            .filter(|f| selected(&f.check))
            .cloned()
            .collect();
        let mut errors: Vec<ConfigError> = self
            .configs
            .errors
            .iter()
            .filter(|e| e.check.as_deref().is_none_or(selected))
            .cloned()
            .collect();
        let mut warnings: Vec<ConfigError> = self
            .configs
            .warnings
            .iter()
            .filter(|e| e.check.as_deref().is_none_or(selected))
            .cloned()
            .collect();
        warnings.extend(self.catalog.warnings.iter().map(ConfigError::new));

        // Load each configured check's plugin once, and compile its
        // schemas once for all its instances. Plugins load concurrently, so
        // one whose `info` spins for its whole budget delays the others by
        // that budget at most, not once per such plugin.
        let mut names: Vec<&str> = files.iter().map(|f| f.check.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let loads = names.iter().map(|name| self.load_plugin(name));
        let plugins: BTreeMap<String, Result<(Arc<LoadedPlugin>, CheckSchemas), String>> = names
            .iter()
            .map(|name| name.to_string())
            .zip(futures_util::future::join_all(loads).await)
            .collect();

        let mut instances = Vec::new();
        for file in &files {
            let plugin = &plugins[&file.check];
            if let Err(message) = plugin {
                // Once per file that needs the plugin.
                errors.push(
                    ConfigError::new(message.clone())
                        .with_check(file.check.clone())
                        .with_file(&file.path),
                );
            }
            for config in &file.instances {
                let mut resolved = ResolvedInstance {
                    config: config.clone(),
                    plugin: plugin.as_ref().ok().map(|(p, _)| p.clone()),
                    errors: Vec::new(),
                    warnings: Vec::new(),
                    grants: ProcessGrants::default(),
                    network: NetworkGrants::default(),
                };
                match plugin {
                    Ok((plugin, schemas)) => {
                        resolved.grants = grants::process_grants(config, &plugin.info.file_keys);
                        let (network, problems) =
                            grants::network_grants(config, &plugin.info.endpoint_keys);
                        resolved.network = network;
                        // Validation may rewrite Datadog-style booleans in
                        // the copy the check receives.
                        let mut report = config::validate_instance(&mut resolved.config, schemas);
                        for e in report.errors.iter_mut().chain(report.warnings.iter_mut()) {
                            file.positions.place(e);
                        }
                        for problem in problems {
                            let mut warning = problem
                                .with_check(config.check.clone())
                                .with_file(&config.source)
                                .with_instance(config.index);
                            file.positions.place(&mut warning);
                            report.warnings.push(warning);
                        }
                        // init_config findings repeat for every instance of a file.
                        extend_unique(&mut errors, &report.errors);
                        extend_unique(&mut warnings, &report.warnings);
                        resolved.errors = report.errors;
                        resolved.warnings = report.warnings;
                    }
                    Err(message) => resolved.errors.push(
                        ConfigError::new(message.clone())
                            .with_check(config.check.clone())
                            .with_file(&config.source)
                            .with_instance(config.index),
                    ),
                }
                instances.push(resolved);
            }
        }
        let plugin_errors = plugins
            .iter()
            .filter_map(|(name, plugin)| Some((name.clone(), plugin.as_ref().err()?.clone())))
            .collect();
        Resolution {
            files,
            instances,
            errors,
            warnings,
            plugin_errors,
        }
    }

    /// The plugin of check `name`, loaded, with its schemas compiled.
    async fn load_plugin(&self, name: &str) -> Result<(Arc<LoadedPlugin>, CheckSchemas), String> {
        let Some(plugin_file) = self.catalog.get(name) else {
            return Err(self.catalog.not_found(name, &self.runner.checks_d));
        };
        let plugin = self
            .sandbox
            .load_plugin(plugin_file.to_load())
            .await
            .map_err(|e| plugin_error(plugin_file, &e.to_string()))?;
        let schemas = CheckSchemas::parse(
            &plugin.info.instance_schema,
            &plugin.info.init_config_schema,
        )
        .map_err(|e| format!("{}: {e}", plugin_file.source))?;
        Ok((plugin, schemas))
    }

    /// Instantiate and configure every valid instance, so errors only the
    /// check itself can see (mutually exclusive options, a bad regex) are
    /// configuration errors too. Instances are configured concurrently,
    /// each within its own limits, so a slow one delays nobody. Those that
    /// fail get the error added and are left out; the others come back
    /// ready to run, with what the check warned about while configuring
    /// added to their warnings.
    pub async fn prepare(&self, resolution: &mut Resolution) -> Vec<(usize, CheckInstance)> {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, resolved) in resolution.instances.iter().enumerate() {
            if let Some(mut instance) = self.instantiate(resolved) {
                tasks.spawn(async move {
                    let result = instance.prepare().await;
                    (index, instance, result)
                });
            }
        }
        let mut ready = Vec::new();
        let files = &resolution.files;
        while let Some(joined) = tasks.join_next().await {
            let Ok((index, instance, result)) = joined else {
                continue; // a panicking task is a bug, reported by tokio
            };
            let resolved = &mut resolution.instances[index];
            match result {
                Ok(()) => {
                    // What the check warned about while configuring (e.g.
                    // a deprecated option) is a warning of this instance.
                    for message in instance.configure_warnings() {
                        let warning = instance_problem(
                            files,
                            &resolved.config,
                            format!("the check warns: {message}"),
                        );
                        resolution.warnings.push(warning.clone());
                        resolved.warnings.push(warning);
                    }
                    ready.push((index, instance));
                }
                Err(error) => {
                    let error = instance_problem(files, &resolved.config, error.to_string());
                    resolution.errors.push(error.clone());
                    resolved.errors.push(error);
                }
            }
        }
        // Reports list instances in file order, whatever finished first.
        ready.sort_by_key(|(index, _)| *index);
        ready
    }

    /// A runnable check instance for a resolved, valid instance.
    pub fn instantiate(&self, resolved: &ResolvedInstance) -> Option<CheckInstance> {
        let plugin = resolved
            .plugin
            .clone()
            .filter(|_| resolved.errors.is_empty())?;
        let config = &resolved.config;
        let spec = InstanceSpec {
            id: config.id.clone(),
            init_config: config.init_config.clone(),
            instance: config.instance.clone(),
            limits: sandbox_limits(&config.limits),
            grants: resolved.grants.clone(),
            network: resolved.network.clone(),
            hostname: self.hostname.as_str().into(),
            snapshots: self.snapshots_for(config),
        };
        Some(CheckInstance::new(plugin, spec))
    }
}

/// The engine sized for every configured instance and the largest memory
/// cap among them (at least what a plugin's `info` call gets).
fn sizing(configs: &LoadedConfigs) -> Sizing {
    let mut sizing = Sizing {
        instances: 0,
        max_memory_bytes: sandbox::plugin::INFO_MEMORY,
        pooling: true,
    };
    for instance in configs.instances() {
        sizing.instances += 1;
        sizing.max_memory_bytes = sizing.max_memory_bytes.max(instance.limits.memory_bytes());
    }
    // Room for instances a reload adds while the daemon runs (slots are
    // address space reserved, not memory used).
    sizing.instances += sizing.instances.max(64);
    sizing
}

/// The sandbox's budget for an instance's configured limits.
pub fn sandbox_limits(limits: &config::Limits) -> sandbox::Limits {
    sandbox::Limits {
        timeout: limits.timeout_duration(),
        memory_bytes: limits.memory_bytes(),
        max_metrics: limits.max_metrics,
        max_service_checks: limits.max_service_checks,
        max_events: limits.max_events,
        max_metadata: limits.max_metadata,
        max_submission_bytes: limits.max_submission_kib.saturating_mul(1024),
        max_output_bytes: limits.max_output_kib.saturating_mul(1024),
    }
}

/// A plugin's load error, named after where the plugin comes from.
fn plugin_error(file: &PluginFile, message: &str) -> String {
    match &file.source {
        PluginSource::Bundled => format!("bundled check `{}`: {message}", file.name),
        PluginSource::File(path) => format!("{}: {message}", path.display()),
    }
}

/// A problem of one instance, placed at its line in its file.
fn instance_problem(files: &[ConfigFile], config: &InstanceConfig, message: String) -> ConfigError {
    let mut e = ConfigError::new(message)
        .with_check(config.check.clone())
        .with_file(&config.source)
        .with_instance(config.index);
    if let Some(file) = files.iter().find(|f| f.path == config.source) {
        file.positions.place(&mut e);
    }
    e
}

fn extend_unique(list: &mut Vec<ConfigError>, new: &[ConfigError]) {
    for item in new {
        if !list.contains(item) {
            list.push(item.clone());
        }
    }
}

/// Command-line overrides of runner.yaml settings.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub conf_d: Option<PathBuf>,
    pub checks_d: Option<PathBuf>,
}
