//! Stamps the git commit and the cargo profile into the library for `healthml.version()`.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=HEALTHML_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=HEALTHML_BUILD_PROFILE={}", std::env::var("PROFILE").unwrap_or_else(|_| "unknown".to_string()));

    // Re-stamp when HEAD moves (checkout or commit), and not on every other file change.
    println!("cargo:rerun-if-changed=build.rs");
    for git_file in [".git/HEAD", ".git/packed-refs"] {
        if Path::new(git_file).exists() {
            println!("cargo:rerun-if-changed={git_file}");
        }
    }
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(reference) = head.trim().strip_prefix("ref: ") {
            let path = format!(".git/{reference}");
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
