//! What `lint` and `up`'s gate share in the CLI: the linter's options from strata.toml and the
//! flags, whether to colour the findings, and paths shown relative to the working directory.

use crate::config::Settings;
use anyhow::{bail, Context, Result};
use std::io::IsTerminal;
use strata_lint::{Level, Options, Report};

/// Whether findings printed to `stream` are coloured: on a terminal, unless `NO_COLOR` is set.
/// Whether findings written to `stream` get ANSI colours: only on a terminal, and never when
/// `NO_COLOR` is set (to anything, even empty).
// why not a crate: `anstream`'s automatic choice (through `anstyle-query`) also honours
// `CLICOLOR_FORCE` (colour into a pipe), `CLICOLOR=0` and `TERM=dumb`, and ignores an empty
// `NO_COLOR`, so the same command would print different bytes than it always has; and the
// colours come from `annotate-snippets`' own renderer into a writer the caller gives, not from a
// stream anstream could wrap. Adopting those conventions is a behaviour change to decide apart.
pub fn colour_for(stream: &impl IsTerminal) -> bool {
    colour_when(
        stream.is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

fn colour_when(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none()
}

/// Shows paths relative to the working directory, as compilers do, so they are short and
/// clickable in terminals and CI logs.
pub fn relative_paths(report: &mut Report) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    for f in &mut report.findings {
        if let Ok(rel) = f.file.strip_prefix(&cwd) {
            f.file = rel.to_path_buf();
        }
    }
}

/// The linter's options from strata.toml and the flags `--pg-version` and `--rule` (a
/// connection may refine the version; each set's timeouts are its own).
pub fn options(
    settings: &Settings,
    pg_version: Option<u32>,
    rule_flags: &[String],
) -> Result<Options> {
    let mut options = Options::default();
    if let Some(v) = pg_version.or(settings.lint.target_version) {
        options.target_version = v;
    }
    for (name, level) in &settings.lint.rules {
        let parsed = Level::parse(level).with_context(|| {
            format!("[lint.rules] {name} = \"{level}\" in strata.toml: the level must be \"off\", \"warning\" or \"error\"")
        })?;
        options
            .set_level(name, parsed)
            .context("[lint.rules] in strata.toml")?;
    }
    for spec in rule_flags {
        let Some((name, level)) = spec.split_once('=') else {
            bail!("--rule {spec}: write it as --rule <rule>=<off|warning|error>");
        };
        let parsed = Level::parse(level)
            .with_context(|| format!("--rule {spec}: the level must be off, warning or error"))?;
        options
            .set_level(name.trim(), parsed)
            .with_context(|| format!("--rule {spec}"))?;
    }
    Ok(options)
}

#[cfg(test)]
mod colour_tests {
    use super::colour_when;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        // Golden behaviour: any NO_COLOR, even empty, turns colours off; a pipe never has them.
        assert!(colour_when(true, None));
        assert!(!colour_when(true, Some(OsStr::new("1"))));
        assert!(!colour_when(true, Some(OsStr::new(""))));
        assert!(!colour_when(false, None));
        assert!(!colour_when(false, Some(OsStr::new("1"))));
    }
}
