//! `runner configcheck [-v]` on a conf.d that exercises every Datadog rule:
//! folder and flat forms, `.default`, `.example`, an empty file, broken
//! YAML, a file without instances, unknown keys, wrong types, a missing
//! plugin. Offline, exact output, exit status 1 on any error.

mod common;

use std::process::Output;

use common::{Workspace, stderr, stdout, test_guest};

/// Run configcheck from inside the workspace with relative paths, so the
/// output is the same on every machine.
fn configcheck(ws: &Workspace, verbose: bool) -> Output {
    let mut command = common::runner_command(ws.path());
    command.args([
        "configcheck",
        "--conf-d",
        "conf.d",
        "--checks-d",
        "checks.d",
    ]);
    if verbose {
        command.arg("-v");
    }
    command.output().unwrap()
}

fn every_rule(ws: &Workspace) {
    ws.install_misbehave("misbehave");
    ws.install_misbehave("defaulted");
    // Folder form, two files; a typo'd key and a secret.
    ws.write(
        "conf.d/process.d/conf.yaml",
        "init_config:\ninstances:\n  - name: folder\n    search_string: [nginx]\n    \
         exact_matc: false\n    password: hunter2\n",
    );
    ws.write(
        "conf.d/process.d/extra.yml",
        "instances:\n  - name: second-file\n    pid: 1\n",
    );
    // Never loaded, even though broken.
    ws.write(
        "conf.d/process.d/conf.yaml.example",
        "instances: [ {broken\n",
    );
    // Flat form wins over the folder's .default.
    ws.write("conf.d/misbehave.yaml", "instances:\n  - {mode: ok}\n");
    ws.write(
        "conf.d/misbehave.d/conf.yaml.default",
        "instances:\n  - {mode: panic}\n",
    );
    // A .default alone is loaded.
    ws.write(
        "conf.d/defaulted.yaml.default",
        "instances:\n  - {mode: ok}\n",
    );
    // Empty: skipped silently, although no `empty` check exists.
    ws.write("conf.d/empty.yaml", "");
    ws.write(
        "conf.d/broken.yaml",
        "init_config:\ninstances:\n  - name: x\n    search_string: [a\n  - b: c\n",
    );
    ws.write("conf.d/noinst.yaml", "init_config:\n");
}

#[test]
fn every_conf_d_rule_in_the_datadog_format() {
    let ws = Workspace::new();
    every_rule(&ws);
    let output = configcheck(&ws, false);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // The Agent's layout byte for byte: absolute `file:` sources, instances
    // as go-yaml writes them (sorted keys, indentless lists) and scrubbed,
    // no `Init Config:` for a missing init_config, a final blank line.
    let root = ws.path().canonicalize().unwrap();
    let root = root.display();
    assert_eq!(
        stdout(&output),
        format!(
            "=== Configuration errors ===\n\
             \n\
             broken: conf.d/broken.yaml:5:6: invalid YAML: did not find expected ',' or ']', while parsing a flow sequence\n\
             \n\
             noinst: conf.d/noinst.yaml: Configuration file contains no valid instances (fix: add at least one instance, e.g. `instances: [{{}}]`)\n\
             \n\
             === defaulted check ===\n\
             Configuration provider: file\n\
             Configuration source: file:{root}/conf.d/defaulted.yaml.default\n\
             Config for instance ID: defaulted:8fcfce38d736228a\n\
             mode: ok\n\
             ~\n\
             ===\n\
             \n\
             === misbehave check ===\n\
             Configuration provider: file\n\
             Configuration source: file:{root}/conf.d/misbehave.yaml\n\
             Config for instance ID: misbehave:ca8be2a5a9949d68\n\
             mode: ok\n\
             ~\n\
             ===\n\
             \n\
             === process check ===\n\
             Configuration provider: file\n\
             Configuration source: file:{root}/conf.d/process.d/conf.yaml\n\
             Config for instance ID: process:folder:8e82e310c9f35791\n\
             exact_matc: false\n\
             name: folder\n\
             password: \"********\"\n\
             search_string:\n\
             - nginx\n\
             ~\n\
             ===\n\
             \n\
             === process check ===\n\
             Configuration provider: file\n\
             Configuration source: file:{root}/conf.d/process.d/extra.yml\n\
             Config for instance ID: process:second-file:32665f5a51efe04b\n\
             name: second-file\n\
             pid: 1\n\
             ~\n\
             ===\n\
             \n"
        )
    );
    assert_eq!(
        stderr(&output),
        "2 configuration warning(s); run `runner configcheck -v` to see them.\n"
    );
}

#[test]
fn verbose_extras_go_in_separate_sections_after_the_configs() {
    let ws = Workspace::new();
    every_rule(&ws);
    let output = configcheck(&ws, true);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    // The config blocks are exactly the non-verbose ones...
    let plain = stdout(&configcheck(&ws, false));
    let blocks = plain.trim_end_matches('\n');
    assert!(out.starts_with(blocks), "{out}");
    // ...then the Agent's `-v` warnings section, then the runner's own.
    let extras = &out[blocks.len()..];
    assert!(
        extras.starts_with(
            "\n\n=== Resolve warnings ===\n\
             \n\
             process\n\
             * conf.d/process.d/conf.yaml:5:5: instance #0: key `exact_matc`: unknown key; \
             the check does not use it (fix: did you mean `exact_match`?)\n"
        ),
        "{extras}"
    );
    let misbehave_sha = sha256_hex(&std::fs::read(test_guest("misbehave")).unwrap());
    assert!(extras.contains("\n=== Runner details ===\n"), "{extras}");
    assert!(
        extras.contains(&format!(
            "\nInstance ID: misbehave:ca8be2a5a9949d68\n\
             Plugin: checks.d/misbehave.wasm (misbehave 0.1.0, sha256:{misbehave_sha})\n\
             Interval: 15s\n\
             Limits: timeout 10s, memory 64 MiB; per run: 10000 metric samples, 1000 service checks, \
             100 events, 100 metadata entries, 4096 KiB submitted, 64 KiB of output; \
             10000 live metric contexts\n\
             Grants: processes (no files, scrubbed command lines)\n\
             Network: none (every connection is denied)\n\
             Status: valid\n\
             Schema warnings: none\n"
        )),
        "{extras}"
    );
    assert!(
        extras.contains("Plugin: bundled (process 0.1.0, sha256:"),
        "{extras}"
    );
    assert!(
        extras.contains(
            "Schema warnings:\n  - conf.d/process.d/conf.yaml:5:5: instance #0: key `exact_matc`: unknown key"
        ),
        "{extras}"
    );
}

#[test]
fn secrets_are_scrubbed_with_the_agents_rules() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.d/conf.yaml",
        "init_config:\n  community_string: public\n  api_key: 0123456789abcdef0123456789abcdef\n\
         instances:\n  - name: secrets\n    search_string: [x]\n    db_pass: hunter2\n    \
         passphrase: opensesame\n    url: http://admin:s3cret@db.local:5432/x\n    \
         auth_token: tok123\n    app_key: abcdefgh\n    tags: [\"env:prod\"]\n",
    );
    let output = configcheck(&ws, true);
    let out = stdout(&output);
    for secret in [
        "hunter2",
        "opensesame",
        "s3cret",
        "tok123",
        "public",
        "0123456789abcdef0123456789ab",
        "abcdef",
    ] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(
        out.contains(
            "app_key: '******gh'\n\
             auth_token: \"********\"\n\
             db_pass: \"********\"\n\
             name: secrets\n\
             passphrase: \"********\"\n\
             search_string:\n\
             - x\n\
             tags:\n\
             - env:prod\n\
             url: http://admin:********@db.local:5432/x\n\
             ~\n\
             Init Config:\n\
             api_key: '****************************cdef'\n\
             community_string: \"********\"\n\
             ===\n"
        ),
        "{out}"
    );
}

#[test]
fn a_clean_conf_d_exits_zero_and_unknown_keys_alone_are_only_warnings() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.d/conf.yaml",
        "instances:\n  - name: web\n    search_string: [nginx]\n    min_collection_interval: 30\n    \
         limits: {timeout: 2}\n    bogus_key: 1\n    thresholds: {warnng: [1, 2]}\n",
    );
    // A check without init_config (the SDK's NoInitConfig) reports its keys.
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "init_config:\n  foo: 1\ninstances:\n  - {mode: ok}\n",
    );
    let output = configcheck(&ws, true);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let out = stdout(&output);
    assert!(!out.contains("=== Configuration errors ==="), "{out}");
    assert!(out.contains("Interval: 30s\n"), "{out}");
    assert!(out.contains("Limits: timeout 2s, memory 64 MiB;"), "{out}");
    assert!(out.contains("key `bogus_key`: unknown key"), "{out}");
    assert!(
        out.contains("key `thresholds.warnng`: unknown key; the check does not use it (fix: did you mean `warning`?)"),
        "{out}"
    );
    assert!(
        out.contains(
            "\nmisbehave\n* conf.d/misbehave.yaml:2:3: key `init_config.foo`: unknown key"
        ),
        "{out}"
    );
}

#[test]
fn wrong_types_missing_keys_check_rules_and_missing_plugins_are_errors() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.d/conf.yaml",
        "instances:\n\
         \x20 - {name: typed, pid: abc}\n\
         \x20 - {search_string: [x]}\n\
         \x20 - {name: neither}\n\
         \x20 - {name: bad-interval, search_string: [x], min_collection_interval: 0}\n\
         \x20 - {name: bad-regex, search_string: ['(x'], exact_match: false}\n",
    );
    ws.write("conf.d/nosuch.yaml", "instances:\n  - {}\n");
    let output = configcheck(&ws, false);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    let errors: Vec<&str> = out
        .split("\n\n")
        .filter(|block| !block.starts_with("===") && !block.trim().is_empty())
        .collect();
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(
        has("process: conf.d/process.d/conf.yaml:2:19: instance #0: key `pid`:"),
        "{out}"
    );
    assert!(
        has("process: conf.d/process.d/conf.yaml:3:5: instance #1: missing required key `name`"),
        "{out}"
    );
    // Only the check knows that one of search_string / pid / pid_file is
    // needed: configcheck asks it.
    assert!(
        has(
            "process: conf.d/process.d/conf.yaml:4:5: instance #2: configuration rejected by the check:"
        ),
        "{out}"
    );
    // `min_collection_interval: 0` means the default, as in the Agent: a
    // warning (shown with -v), not an error.
    assert!(!has("instance #3"), "{out}");
    assert!(
        has(
            "process: conf.d/process.d/conf.yaml:6:5: instance #4: configuration rejected by the check: \
             `search_string` entry `(x` is not a valid regular expression (exact_match is false): unclosed group"
        ),
        "{out}"
    );
    assert!(
        has(
            "nosuch: conf.d/nosuch.yaml: no check named `nosuch`: it is not bundled and there is no checks.d/nosuch.wasm or checks.d/nosuch.py; known checks: connections, nginx, postgres, process, tcp_check"
        ),
        "{out}"
    );
}

#[test]
fn runner_yaml_errors_name_the_file_key_and_line() {
    let ws = Workspace::new();
    ws.write(
        "runner.yaml",
        "conf_d: conf.d\nlimits:\n  timeout: 5\n  memroy_mib: 8\n",
    );
    let output = common::runner_command(ws.path())
        .arg("configcheck")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("runner.yaml"), "{err}");
    assert!(err.contains("memroy_mib"), "{err}");
    assert!(
        err.contains("memory_mib"),
        "should suggest the right key: {err}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
