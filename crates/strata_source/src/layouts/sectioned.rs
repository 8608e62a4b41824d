//! What the sectioned single-file layouts share: dbmate ([`super::dbmate`], `-- migrate:up` /
//! `-- migrate:down`) and goose ([`super::goose`], `-- +goose Up` / `-- +goose Down`) keep both
//! scripts in one file, so each is a byte range of it and positions map back to the file's
//! real lines.

use super::{common_checks, directives_of, source_file, versioned, LayoutKind, Loaded};
use crate::listing::Listing;
use crate::names::split_version_name;
use crate::Problem;
use strata_model::{Checksum, Directive, DirectiveKind, MigrationId, Script, SourceFile};

/// A line that means something to the tool.
#[derive(Debug, PartialEq)]
pub(super) enum Marker {
    Up { no_transaction: bool },
    Down { no_transaction: bool },
    NoTransaction,
    StatementBegin,
    StatementEnd,
    Other,
}

/// Reads one line as the tool does: `None` for an ordinary line.
pub(super) type MarkerFn = fn(&str) -> Option<Result<Marker, String>>;

/// A sectioned layout's evidence: the top-level `.sql` files holding its tool's up marker.
pub(super) fn evidence(listing: &Listing, marker: MarkerFn) -> usize {
    listing
        .entries()
        .iter()
        .filter(|e| {
            e.parent.is_none() && e.name.ends_with(".sql") && has_up_marker(&e.bytes, marker)
        })
        .count()
}

/// True when the file holds the tool's up marker.
fn has_up_marker(bytes: &[u8], marker: MarkerFn) -> bool {
    String::from_utf8_lossy(bytes)
        .lines()
        .any(|l| matches!(marker(l), Some(Ok(Marker::Up { .. }))))
}

struct Section {
    range: std::ops::Range<usize>,
    marker_line: usize,
    no_transaction: bool,
}

/// Reads a directory of sectioned files. A file without a down section has a no-op down when
/// `missing_down_is_no_op` (goose), and none otherwise (dbmate refuses to roll it back).
pub(super) fn load_sectioned(
    listing: &Listing,
    kind: LayoutKind,
    marker: MarkerFn,
    (up_text, down_text): (&str, &str),
    missing_down_is_no_op: bool,
) -> Loaded {
    let mut loaded = Loaded::default();
    common_checks(listing, &mut loaded);
    for entry in listing.entries() {
        if entry.parent.is_some() {
            super::not_a_top_level_migration(entry, &mut loaded);
            continue;
        }
        if !entry.name.ends_with(".sql") {
            super::not_a_migration(kind, listing, entry, &mut loaded);
            continue;
        }
        let stem = entry.name.trim_end_matches(".sql");
        let Some((version, name)) = split_version_name(stem) else {
            // Without a version the tool does not read it, whatever it holds; with the
            // tool's own marker in it, it was probably meant to run.
            let marked = !super::starts_like_a_migration(kind, &entry.name)
                && std::str::from_utf8(&entry.bytes).is_ok_and(|t| t.contains(up_text));
            if marked {
                loaded.warnings.push(Problem::new(
                    &entry.rel,
                    format!("holds a `{up_text}` section but its name has no version, so it is not a migration and does not run (as {kind} ignores it); give it a version prefix if it should run"),
                ));
                loaded.ignored.push(entry.rel.clone());
            } else {
                super::not_a_migration(kind, listing, entry, &mut loaded);
            }
            continue;
        };
        let Some(file) = source_file(listing, entry, &mut loaded.problems) else {
            continue;
        };
        let sections = match split_sections(&file, marker) {
            Ok(s) => s,
            Err(message) => {
                loaded.problems.push(Problem::new(&entry.rel, message));
                continue;
            }
        };
        let (up, down, file_no_tx) = sections;
        // Directives before the first section marker apply to the whole file; an unknown one
        // there is as much an error as inside a section.
        let first_section = [up.as_ref(), down.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.range.start)
            .min()
            .unwrap_or(file.text().len());
        let preamble_end =
            file.line_start(file.line_col(first_section).line.saturating_sub(1).max(1));
        let preamble = directives_of(
            &file,
            0..preamble_end.min(first_section),
            &entry.rel,
            &mut loaded.problems,
        );
        let Some(up) = up else {
            loaded.problems.push(Problem::new(
                &entry.rel,
                format!("missing the `{up_text}` marker: a {kind} migration starts its forward SQL with a `{up_text}` line (and its rollback with `{down_text}`)"),
            ));
            continue;
        };
        let script = |s: Section, problems: &mut Vec<Problem>| {
            let mut directives = directives_of(&file, s.range.clone(), &entry.rel, problems);
            directives.extend(preamble.iter().cloned());
            if s.no_transaction || file_no_tx.is_some() {
                let line = file_no_tx.unwrap_or(s.marker_line);
                directives.push(Directive {
                    kind: DirectiveKind::NoTransaction,
                    line,
                    text: file.line_text(line).trim().to_owned(),
                });
            }
            Script {
                file: file.clone(),
                range: s.range,
                directives,
            }
        };
        // What `up` runs is the file without its down section: that is what the history's
        // checksum vouches for, so a fix to the down section alone is not an edit of an
        // applied migration. (Rows an older strata wrote with the whole file's checksum are
        // recognised by the planner and upgraded in place.)
        let text = file.text();
        let checksum = match &down {
            Some(d) => {
                let start = file.line_start(d.marker_line).min(d.range.start);
                Checksum::of_up_parts(&[&text.as_bytes()[..start], &text.as_bytes()[d.range.end..]])
            }
            None => Checksum::of_up_parts(&[text.as_bytes()]),
        };
        let up = script(up, &mut loaded.problems);
        let down = match down {
            Some(d) => Some(script(d, &mut loaded.problems)),
            // goose reads a file without a `-- +goose Down` section as one whose down does
            // nothing (`goose down` only removes its version); dbmate refuses to roll back.
            None if missing_down_is_no_op => Some(Script {
                file: file.clone(),
                range: file.text().len()..file.text().len(),
                directives: preamble.clone(),
            }),
            None => None,
        };
        let id = MigrationId {
            version: Some(version),
            name,
            shared_version: false,
        };
        loaded.migrations.push(versioned(id, up, down, checksum));
    }
    loaded
}

type Sections = (Option<Section>, Option<Section>, Option<usize>);

fn split_sections(file: &SourceFile, marker: MarkerFn) -> Result<Sections, String> {
    let text = file.text();
    let mut up: Option<Section> = None;
    let mut down: Option<Section> = None;
    let mut file_no_tx = None;
    let mut open_statement: Option<usize> = None;
    // (which, marker line, start byte of section body)
    let mut current: Option<(bool, usize, usize, bool)> = None;
    let mut offset = 0;
    let mut line_no = 0;
    let close = |current: &mut Option<(bool, usize, usize, bool)>,
                 end: usize,
                 up: &mut Option<Section>,
                 down: &mut Option<Section>| {
        if let Some((is_up, marker_line, start, no_tx)) = current.take() {
            let section = Section {
                range: start..end,
                marker_line,
                no_transaction: no_tx,
            };
            if is_up {
                *up = Some(section);
            } else {
                *down = Some(section);
            }
        }
    };
    for line in text.split_inclusive('\n') {
        line_no += 1;
        let line_start = offset;
        offset += line.len();
        let Some(found) = marker(line) else { continue };
        let found = found.map_err(|m| format!("line {line_no}: {m}"))?;
        match found {
            Marker::Up { no_transaction } | Marker::Down { no_transaction } => {
                let is_up = matches!(found, Marker::Up { .. });
                if let Some(open) = open_statement {
                    return Err(format!("line {open}: `StatementBegin` is not closed by `StatementEnd` before the next section"));
                }
                if (is_up && (up.is_some() || current.is_some_and(|c| c.0)))
                    || (!is_up && (down.is_some() || current.is_some_and(|c| !c.0)))
                {
                    return Err(format!(
                        "line {line_no}: a second {} section; each migration has one",
                        if is_up { "up" } else { "down" }
                    ));
                }
                close(&mut current, line_start, &mut up, &mut down);
                current = Some((is_up, line_no, offset, no_transaction));
            }
            Marker::NoTransaction => file_no_tx = Some(line_no),
            Marker::StatementBegin => {
                if let Some(open) = open_statement {
                    return Err(format!("line {line_no}: `StatementBegin` inside the block opened at line {open}; close it with `StatementEnd` first"));
                }
                open_statement = Some(line_no);
            }
            Marker::StatementEnd => {
                if open_statement.take().is_none() {
                    return Err(format!(
                        "line {line_no}: `StatementEnd` without a matching `StatementBegin`"
                    ));
                }
            }
            Marker::Other => {}
        }
    }
    if let Some(open) = open_statement {
        return Err(format!(
            "line {open}: `StatementBegin` is never closed by `StatementEnd`"
        ));
    }
    close(&mut current, text.len(), &mut up, &mut down);
    Ok((up, down, file_no_tx))
}
