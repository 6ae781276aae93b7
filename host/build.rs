//! Compiles the bundled checks (`plugins/*`) to WebAssembly components and
//! embeds them in the `runner` binary, so `cargo run` on a fresh clone just
//! works. Also builds the Python runtime (`plugins/python`, with a pinned
//! componentize-py in a venv of its own) and the misbehaving test guest
//! (`tests/guests/misbehave`), and tells the tests where it is.
//!
//! The guests are built by a nested `cargo build --target wasm32-wasip2`
//! into their own target directory (`target/plugins`): the outer cargo
//! holds the lock on the main one. The toolchain file brings the target.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

/// Bundled checks: (check name, crate name). The wasm file is named after
/// the crate's lib target.
const BUNDLED: &[(&str, &str)] = &[
    ("process", "process"),
    ("connections", "connections"),
    ("tcp_check", "tcp_check"),
    ("nginx", "nginx"),
    ("postgres", "postgres"),
];
/// Guests that only the tests use.
const TEST_GUESTS: &[&str] = &["misbehave"];
const PROFILE: &str = "plugin";

/// The componentize-py release that builds the Python runtime, pinned with
/// hashes in plugins/python/requirements.txt, and the CPython it bundles.
const COMPONENTIZE_PY: &str = "0.25.1";
const CPYTHON: &str = "3.14.0";
/// The world the Python runtime is built for: the script runtime, plus
/// `wasi:http` for `AgentCheck.http` (the WASI packages are vendored in
/// plugins/python/wit-deps, as wasmtime-wasi-http 48 defines them).
const PYTHON_WORLD: &str = "package runner:check@0.4.0;\n\n\
    world python-runtime {\n    include script-runtime;\n    \
    import wasi:http/outgoing-handler@0.2.12;\n}\n";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .expect("host/ is inside the workspace");
    for dir in [
        "plugins",
        "sdk",
        "wit",
        "tests/guests",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("plugins");
    build_guests(root, &target_dir);

    let wasm_dir = target_dir.join("wasm32-wasip2").join(PROFILE);
    // The hash is taken here so that starting the runner does not read
    // (and keep resident) megabytes of plugins whose compiled form is
    // already in the cache, or that no configuration names.
    let mut bundled = String::from(
        "/// Checks compiled into the runner: (name, component bytes, hex sha256).\n\
         pub const BUNDLED: &[(&str, &[u8], &str)] = &[\n",
    );
    for (check, krate) in BUNDLED {
        let wasm = wasm_dir.join(format!("{krate}.wasm"));
        let bytes =
            std::fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        writeln!(
            bundled,
            "    ({check:?}, include_bytes!({:?}), {sha256:?}),",
            wasm.display()
        )
        .unwrap();
    }
    bundled.push_str("];\n");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let python = build_python_runtime(root, &target_dir.join("python"), &out_dir);
    let bytes =
        std::fs::read(&python).unwrap_or_else(|e| panic!("reading {}: {e}", python.display()));
    writeln!(
        bundled,
        "/// The Python runtime: (component bytes, hex sha256).\n\
         pub const PYTHON_RUNTIME: (&[u8], &str) = (include_bytes!({:?}), {:?});\n\
         /// What runs Python checks, as `configcheck -v` shows it.\n\
         pub const PYTHON_RUNTIME_DESCRIPTION: &str = \"CPython {CPYTHON} (componentize-py {COMPONENTIZE_PY})\";",
        python.display(),
        hex::encode(sha2::Sha256::digest(&bytes)),
    )
    .unwrap();
    std::fs::write(out_dir.join("bundled.rs"), bundled).unwrap();
    println!(
        "cargo:rustc-env=RUNNER_TEST_GUEST_DIR={}",
        wasm_dir.display()
    );
}

/// rust-toolchain.toml lists the wasm32-wasip2 target, but rustup only
/// installs listed targets with the toolchain itself: on a machine that
/// already had this toolchain, add the target the file asks for.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot
        .map(|root| Path::new(&root).join("lib/rustlib/wasm32-wasip2").is_dir())
        .unwrap_or(false);
    if installed {
        return;
    }
    println!("cargo:warning=installing the wasm32-wasip2 target listed in rust-toolchain.toml");
    let added = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status();
    if !added.is_ok_and(|s| s.success()) {
        panic!(
            "the wasm32-wasip2 target is missing and `rustup target add wasm32-wasip2` failed; \
             install it, then build again"
        );
    }
}

fn build_guests(root: &Path, target_dir: &Path) {
    ensure_wasm_target();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--target", "wasm32-wasip2", "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for krate in BUNDLED
        .iter()
        .map(|(_, k)| *k)
        .chain(TEST_GUESTS.iter().copied())
    {
        cmd.args(["-p", krate]);
    }
    // Flags meant for the host build (coverage, sanitizers, target-cpu)
    // must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to start cargo to build the bundled checks");
    if !status.success() {
        panic!(
            "building the bundled checks for wasm32-wasip2 failed (see above). \
             Is the target installed? `rustup target add wasm32-wasip2`"
        );
    }
}

/// Build the Python runtime component with componentize-py: the runtime's
/// Python sources (plugins/python/runtime) imported and snapshotted into
/// CPython. Returns the component's path.
fn build_python_runtime(root: &Path, work: &Path, out_dir: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed=RUNNER_COMPONENTIZE_PY");
    std::fs::create_dir_all(work).unwrap();
    let (tool, venv) = componentize_py(root, work);
    // The WIT it is built against: the runner's package, the vendored
    // WASI packages as its deps, and the runtime's world.
    let wit = out_dir.join("python-wit");
    let _ = std::fs::remove_dir_all(&wit);
    std::fs::create_dir_all(wit.join("deps")).unwrap();
    for (from, to) in [
        (root.join("wit"), wit.clone()),
        (root.join("plugins/python/wit-deps"), wit.join("deps")),
    ] {
        for entry in std::fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wit") {
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    std::fs::write(wit.join("python-runtime.wit"), PYTHON_WORLD).unwrap();
    // Built from a copy: CPython writes __pycache__ next to what it
    // imports, which would make cargo rebuild this on every build.
    let sources = out_dir.join("python-runtime");
    let _ = std::fs::remove_dir_all(&sources);
    copy_python_sources(&root.join("plugins/python/runtime"), &sources);
    let output = work.join("python-runtime.wasm");
    let mut cmd = Command::new(&tool);
    cmd.arg("-d")
        .arg(&wit)
        .args([
            "-w",
            "runner:check/python-runtime@0.4.0",
            "componentize",
            "-p",
        ])
        .arg(&sources)
        .arg("runner_runtime")
        .arg("-o")
        .arg(&output)
        // Without a virtual environment, componentize-py would also
        // bundle the site-packages of whatever `python3` is on PATH.
        .env("VIRTUAL_ENV", &venv)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("failed to start {}: {e}", tool.display()));
    if !status.success() {
        panic!(
            "building the Python runtime with {} failed (see above)",
            tool.display()
        );
    }
    output
}

/// The pinned componentize-py: `RUNNER_COMPONENTIZE_PY` when set (for
/// machines without PyPI), else installed once into a venv of its own.
/// Returns the tool and the virtual environment to build in.
fn componentize_py(root: &Path, work: &Path) -> (PathBuf, PathBuf) {
    let venv = work.join(format!("venv-{COMPONENTIZE_PY}"));
    if let Some(tool) = env::var_os("RUNNER_COMPONENTIZE_PY") {
        let empty = work.join("empty-venv");
        std::fs::create_dir_all(&empty).unwrap();
        return (PathBuf::from(tool), empty);
    }
    let tool = venv.join("bin/componentize-py");
    // Written once the install completed: an interrupted one is redone.
    let done = venv.join("installed");
    if done.is_file() {
        return (tool, venv);
    }
    let python = env::var("PYTHON3").unwrap_or_else(|_| "python3".into());
    let _ = std::fs::remove_dir_all(&venv);
    let created = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    if !created.is_ok_and(|s| s.success()) {
        panic!(
            "building the Python runtime needs Python 3.9 or newer with its venv module \
             (`{python} -m venv` failed); install python3 and python3-venv, or point \
             RUNNER_COMPONENTIZE_PY at a componentize-py {COMPONENTIZE_PY} executable"
        );
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
        ])
        .arg(root.join("plugins/python/requirements.txt"))
        .status();
    if !installed.is_ok_and(|s| s.success()) {
        panic!(
            "installing componentize-py {COMPONENTIZE_PY} from PyPI failed (see above); \
             without network access, install it elsewhere and set RUNNER_COMPONENTIZE_PY \
             to its executable"
        );
    }
    std::fs::write(&done, COMPONENTIZE_PY).unwrap();
    (tool, venv)
}

/// Copy the `.py` files under `from` to `to`, keeping the layout.
fn copy_python_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                copy_python_sources(&path, &target);
            }
        } else if path.extension().is_some_and(|e| e == "py") {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
