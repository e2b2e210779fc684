//! Build script: records the git revision the binary is built from, for `quizmaster --version`
//! and the `quizmaster_build_info` gauge. Outside a git checkout (a source tarball, a container
//! build context without `.git`) the revision is `QUIZMASTER_GIT_REVISION` if set, else
//! `unknown`; the build never fails for want of git.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=QUIZMASTER_GIT_REVISION");
    let revision = std::env::var("QUIZMASTER_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=10", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it points at (a commit),
    // and packed-refs (a gc). `--git-path` finds them in a worktree too.
    // A path that does not exist would make cargo rerun this script on every build.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in &watched {
        if let Some(file) = git(&["rev-parse", "--git-path", path]) {
            if std::path::Path::new(&file).exists() {
                println!("cargo:rerun-if-changed={file}");
            }
        }
    }
    println!("cargo:rustc-env=QUIZMASTER_GIT_REVISION={revision}");
}
