//! Compiles the bundled checks (`plugins/*`) to WebAssembly components and
//! embeds them in the `runner` binary, so `cargo run` on a fresh clone just
//! works. Also builds the misbehaving test guest (`tests/guests/misbehave`)
//! and tells the tests where it is.
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
