//! sqitch plans: `sqitch.plan` parsed into changes, tags and dependencies.
//!
//! sqitch keeps no versions: the order of a project is the order of its plan file, and a
//! change is identified by its name (plus a tag when the same name was *reworked* later in the
//! plan). strata's registry keys migrations by version, so a sqitch change gets a synthesized
//! one: its 1-based position among the changes of the plan. That is stable as long as the plan
//! is append-only, which sqitch itself requires (`sqitch add` and `sqitch rework` append; an
//! edit in the middle changes which change a position names, and strata then reports the
//! applied position as modified, because its deploy script's checksum no longer matches).
//!
//! The grammar follows sqitch's own parser (`App::Sqitch::Plan::_parse`): pragmas
//! (`%project=...`) up to the first blank line, then one change or tag per line,
//!
//! ```text
//! name [dep !conflict other_project:change change@tag] 2025-01-01T10:00:00Z Planner <e@mail> # note
//! @tag 2025-01-02T10:00:00Z Planner <e@mail> # note
//! ```
//!
//! A reworked change is a name appearing again after a tag; the earlier instance's scripts
//! were copied by `sqitch rework` to `deploy/name@tag.sql` (and `revert/`, `verify/`), where
//! `tag` is one of the tags between the two instances (sqitch takes the first of them, latest
//! first, whose file exists). The earlier instance's strata name is `name@tag`.
//!
//! Dependencies are checked here, before anything can run: a `requires` of the same project
//! must name a change (or `change@tag`, or `@tag`) earlier in the plan, and a `!conflict` must
//! not name a change earlier in the plan (it would be deployed before this one). Dependencies on
//! other projects (`other:change`) are left to that project.

use std::collections::HashMap;

/// A parsed `sqitch.plan`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SqitchPlan {
    /// `%project`: the name sqitch's registry files the project's changes under.
    pub project: String,
    /// `%uri`, when given.
    pub uri: Option<String>,
    /// `%syntax-version`, when given.
    pub syntax_version: Option<String>,
    /// The changes, in plan (and deploy) order. Change `i` is strata version `i + 1`.
    pub changes: Vec<PlanChange>,
    /// The tags, in plan order.
    pub tags: Vec<PlanTag>,
}

/// One change line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanChange {
    /// The change name as written (may contain `/`: scripts then live in sub-directories).
    pub name: String,
    /// 1-based line in `sqitch.plan`.
    pub line: usize,
    /// Required changes.
    pub requires: Vec<Dependency>,
    /// Conflicting changes (`!name`).
    pub conflicts: Vec<Dependency>,
    /// `planned_at` timestamp as written (`2025-01-01T10:00:00Z`).
    pub planned_at: String,
    /// Planner name.
    pub planner_name: String,
    /// Planner email.
    pub planner_email: String,
    /// The note after `#`.
    pub note: String,
    /// Tags declared right after this change.
    pub tags: Vec<String>,
    /// For a change reworked later in the plan: the tags between it and its rework, in the
    /// order sqitch tries them for the file name (latest first). Empty otherwise.
    pub rework_tags: Vec<String>,
}

impl PlanChange {
    /// The name strata records: the change name, or `name@tag` for an instance that was
    /// reworked later in the plan (`tag` is the tag of its script files).
    pub fn qualified_name(&self, chosen_tag: Option<&str>) -> String {
        match chosen_tag {
            Some(t) => format!("{}@{t}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A tag line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanTag {
    /// Name without the `@`.
    pub name: String,
    /// 1-based line in `sqitch.plan`.
    pub line: usize,
    /// Index of the change the tag follows.
    pub change: usize,
}

/// One entry of a change's `[...]` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dependency {
    /// `!` prefix: a conflict.
    pub conflict: bool,
    /// `project:` prefix.
    pub project: Option<String>,
    /// The change name (absent for `@tag` alone).
    pub change: Option<String>,
    /// `@tag` suffix (or the whole reference).
    pub tag: Option<String>,
    /// As written.
    pub text: String,
}

impl Dependency {
    /// True when the dependency is on another project than `project`.
    pub fn is_external(&self, project: &str) -> bool {
        self.project.as_deref().is_some_and(|p| p != project)
    }
}

/// A line sqitch itself would reject, or a dependency strata cannot satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    /// 1-based line in `sqitch.plan`.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

const PUNCT: &str = "-!\"#$%&'()*+,./:;<=>?@[\\]^`{|}~";

/// sqitch's name rule: no blanks, `:`, `@`, `#` or `\`; neither first nor last character
/// is punctuation; not a SHA-1 lookalike; not `HEAD` / `ROOT`.
fn valid_name(name: &str) -> bool {
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    let bad_char = |c: char| c.is_whitespace() || matches!(c, ':' | '@' | '#' | '\\');
    let sha1_like = name.len() >= 40 && name.as_bytes()[..40].iter().all(u8::is_ascii_hexdigit);
    let punct_edge = PUNCT.contains(first) || PUNCT.contains(last);
    !punct_edge && !name.chars().any(bad_char) && !sha1_like && name != "HEAD" && name != "ROOT"
}

fn valid_timestamp(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Parses one dependency as sqitch's `Depend->parse` does.
fn parse_dependency(text: &str) -> Option<Dependency> {
    let (conflict, rest) = match text.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (project, rest) = match rest.split_once(':') {
        Some((p, r)) => (Some(p), r),
        None => (None, rest),
    };
    if project.is_some_and(|p| !valid_name(p)) {
        return None;
    }
    let (change, tag) = match rest.split_once('@') {
        Some((c, t)) => ((!c.is_empty()).then_some(c), Some(t)),
        None => (Some(rest), None),
    };
    if change.is_some_and(|c| !valid_name(c)) || tag.is_some_and(|t| !valid_name(t)) {
        return None;
    }
    if change.is_none() && tag.is_none() {
        return None;
    }
    Some(Dependency {
        conflict,
        project: project.map(str::to_owned),
        change: change.map(str::to_owned),
        tag: tag.map(str::to_owned),
        text: text.to_owned(),
    })
}

/// The fields of a change or tag line after its name.
struct LineFields {
    deps: Option<String>,
    timestamp: String,
    planner_name: String,
    planner_email: String,
    note: String,
}

fn parse_fields(rest: &str) -> Result<LineFields, String> {
    let mut rest = rest.trim_start();
    let mut deps = None;
    if let Some(r) = rest.strip_prefix('[') {
        let end = r
            .find(']')
            .ok_or("the dependency list `[` is never closed with `]`")?;
        deps = Some(r[..end].to_owned());
        rest = r[end + 1..].trim_start();
    }
    let ts_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let timestamp = &rest[..ts_end];
    if !valid_timestamp(timestamp) {
        return Err(format!(
            "missing timestamp: expected `YYYY-MM-DDTHH:MM:SSZ` after the name{}, found `{timestamp}`",
            if deps.is_some() { " and dependencies" } else { "" }
        ));
    }
    rest = rest[ts_end..].trim_start();
    let lt = rest
        .find('<')
        .ok_or("missing planner name and email (`Name <email>`) after the timestamp")?;
    let gt = rest[lt..]
        .find('>')
        .map(|g| lt + g)
        .ok_or("the planner email `<...>` is never closed")?;
    let planner_name = rest[..lt].trim().to_owned();
    if planner_name.is_empty() {
        return Err("missing planner name before `<email>`".into());
    }
    let planner_email = rest[lt + 1..gt].to_owned();
    let after = rest[gt + 1..].trim();
    let note = match after.strip_prefix('#') {
        Some(n) => n.trim().to_owned(),
        None if after.is_empty() => String::new(),
        None => {
            return Err(format!(
                "unexpected `{after}` after the planner; a note starts with `#`"
            ))
        }
    };
    Ok(LineFields {
        deps,
        timestamp: timestamp.to_owned(),
        planner_name,
        planner_email,
        note,
    })
}

/// Parses `sqitch.plan`, reporting every line sqitch would reject and every dependency that
/// cannot be satisfied, each with its line.
pub fn parse_plan(text: &str) -> Result<SqitchPlan, Vec<PlanProblem>> {
    let mut problems = Vec::new();
    let mut plan = SqitchPlan {
        project: String::new(),
        uri: None,
        syntax_version: None,
        changes: Vec::new(),
        tags: Vec::new(),
    };
    let mut in_header = true;
    let mut project_line = None;
    // Latest instance of each change name, and tags by name, for rework and dependencies.
    let mut latest: HashMap<String, usize> = HashMap::new();
    let mut tag_index: HashMap<String, usize> = HashMap::new();
    // Change names seen since the last tag: a repeat without a tag in between is an error.
    let mut since_tag: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        let mut problem = |message: String| problems.push(PlanProblem { line, message });
        if trimmed.is_empty() || trimmed.starts_with('#') {
            if trimmed.is_empty() {
                in_header = false;
            }
            continue;
        }
        if let Some(pragma) = trimmed.strip_prefix('%') {
            if !in_header {
                problem("a pragma (`%...`) after the first change or blank line; move it to the top of the plan, before the blank line".into());
                continue;
            }
            let body = pragma.split('#').next().unwrap_or("").trim();
            let (key, value) = match body.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (body, ""),
            };
            match key {
                "syntax-version" => plan.syntax_version = Some(value.to_owned()),
                "project" => {
                    if valid_name(value) {
                        plan.project = value.to_owned();
                        project_line = Some(line);
                    } else {
                        problem(format!("invalid project name `{value}`: project names must not begin with punctuation, contain `@`, `:`, `#`, `\\` or blanks, or end in punctuation"));
                    }
                }
                "uri" => plan.uri = Some(value.to_owned()),
                _ => {}
            }
            continue;
        }
        in_header = false;
        if let Some(tag_line) = trimmed.strip_prefix('@') {
            let name_end = tag_line
                .find(|c: char| c.is_whitespace() || c == '[')
                .unwrap_or(tag_line.len());
            let name = &tag_line[..name_end];
            if !valid_name(name) || name.contains('/') {
                problem(format!("invalid tag name `@{name}`: tag names must not begin or end with punctuation, or contain `@`, `:`, `#`, `\\`, `/` or blanks"));
                continue;
            }
            match parse_fields(&tag_line[name_end..]) {
                Ok(f) if f.deps.is_some() => {
                    problem(format!("tag `@{name}` lists dependencies; tags may not have any, move them to a change"))
                }
                Ok(_) => {}
                Err(e) => {
                    problem(format!("tag `@{name}`: {e}"));
                    continue;
                }
            }
            let Some(change) = plan.changes.len().checked_sub(1) else {
                problem(format!(
                    "tag `@{name}` comes before any change; a tag marks the change above it"
                ));
                continue;
            };
            if let Some(&earlier) = tag_index.get(name) {
                problem(format!(
                    "tag `@{name}` duplicates the tag at line {}; rename one of them",
                    plan.tags[earlier].line
                ));
                continue;
            }
            tag_index.insert(name.to_owned(), plan.tags.len());
            plan.changes[change].tags.push(name.to_owned());
            plan.tags.push(PlanTag {
                name: name.to_owned(),
                line,
                change,
            });
            since_tag.clear();
            continue;
        }
        let body = match trimmed.strip_prefix('+') {
            Some(b) => b.trim_start(),
            None if trimmed.starts_with('-') => {
                problem("a `-change` line (a revert in the plan) is not supported by strata; remove the line and write the revert as a new change".into());
                continue;
            }
            None => trimmed,
        };
        let name_end = body
            .find(|c: char| c.is_whitespace() || c == '[')
            .unwrap_or(body.len());
        let name = &body[..name_end];
        if !valid_name(name) {
            problem(format!("invalid change name `{name}`: names must not begin or end with punctuation, contain `@`, `:`, `#`, `\\` or blanks, or be `HEAD`/`ROOT`"));
            continue;
        }
        let fields = match parse_fields(&body[name_end..]) {
            Ok(f) => f,
            Err(e) => {
                problem(format!("change `{name}`: {e}"));
                continue;
            }
        };
        if let Some(&at) = since_tag.get(name) {
            problem(format!("change `{name}` duplicates the change at line {at} with no tag in between; to rework a change, tag the plan first (`sqitch tag`, then `sqitch rework {name}`)"));
            continue;
        }
        let mut requires = Vec::new();
        let mut conflicts = Vec::new();
        let mut seen = Vec::new();
        for d in fields.deps.as_deref().unwrap_or("").split_whitespace() {
            if seen.contains(&d) {
                problem(format!(
                    "change `{name}` lists dependency `{d}` twice; remove one"
                ));
                continue;
            }
            seen.push(d);
            match parse_dependency(d) {
                Some(dep) if dep.conflict => conflicts.push(dep),
                Some(dep) => requires.push(dep),
                None => problem(format!("`{d}` is not a valid dependency of change `{name}`; write `change`, `change@tag`, `@tag`, `project:change` or `!change` for a conflict")),
            }
        }
        let index = plan.changes.len();
        if let Some(&earlier) = latest.get(name) {
            // Rework: sqitch's rework tags are the tags of every change after the earlier
            // instance, latest first, then the earlier instance's own.
            let mut tags: Vec<String> = plan.changes[earlier + 1..]
                .iter()
                .rev()
                .flat_map(|c| c.tags.iter().cloned())
                .collect();
            tags.extend(plan.changes[earlier].tags.iter().cloned());
            plan.changes[earlier].rework_tags = tags;
        }
        latest.insert(name.to_owned(), index);
        since_tag.insert(name.to_owned(), line);
        plan.changes.push(PlanChange {
            name: name.to_owned(),
            line,
            requires,
            conflicts,
            planned_at: fields.timestamp,
            planner_name: fields.planner_name,
            planner_email: fields.planner_email,
            note: fields.note,
            tags: Vec::new(),
            rework_tags: Vec::new(),
        });
    }
    if project_line.is_none() && problems.is_empty() {
        problems.push(PlanProblem {
            line: 1,
            message: "missing `%project=<name>` pragma at the top of the plan; sqitch requires it (add `%project=myapp` before the first blank line)".into(),
        });
    }
    check_dependencies(&plan, &mut problems);
    if problems.is_empty() {
        Ok(plan)
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

/// Requires must point backwards; conflicts must not.
fn check_dependencies(plan: &SqitchPlan, problems: &mut Vec<PlanProblem>) {
    let position_of_tag = |t: &str| plan.tags.iter().find(|x| x.name == t).map(|x| x.change);
    for (i, c) in plan.changes.iter().enumerate() {
        let earlier = &plan.changes[..i];
        let first_index = |n: &str| earlier.iter().position(|e| e.name == n);
        for d in c.requires.iter().filter(|d| !d.is_external(&plan.project)) {
            let ok = match (&d.change, &d.tag) {
                // `change@tag`: the change as of that tag: declared before the tag, and the
                // tag itself before this change.
                (Some(n), Some(t)) => match (first_index(n), position_of_tag(t)) {
                    (Some(ci), Some(ti)) => ci <= ti && ti < i,
                    _ => false,
                },
                (Some(n), None) => first_index(n).is_some(),
                (None, Some(t)) => position_of_tag(t).is_some_and(|ti| ti < i),
                (None, None) => false,
            };
            if ok {
                continue;
            }
            let later = plan.changes[i..]
                .iter()
                .find(|l| Some(&l.name) == d.change.as_ref());
            let message = if d.change.as_deref() == Some(c.name.as_str()) && d.tag.is_none() {
                format!(
                    "change `{}` requires itself; remove `{}` from its dependencies",
                    c.name, d.text
                )
            } else if let Some(l) = later {
                format!(
                    "change `{}` requires `{}`, which is planned later (line {}); a change can only require changes above it: move `{}` above line {}, or drop the dependency",
                    c.name, d.text, l.line, l.name, c.line
                )
            } else {
                format!(
                    "change `{}` requires `{}`, which is not in the plan above it; add that change (or tag) above line {}, fix the name, or write `project:{}` if it belongs to another sqitch project",
                    c.name,
                    d.text,
                    c.line,
                    d.text
                )
            };
            problems.push(PlanProblem {
                line: c.line,
                message,
            });
        }
        for d in c.conflicts.iter().filter(|d| !d.is_external(&plan.project)) {
            let Some(n) = &d.change else { continue };
            if let Some(e) = earlier.iter().find(|e| e.name == *n) {
                problems.push(PlanProblem {
                    line: c.line,
                    message: format!(
                        "change `{}` conflicts with `{n}`, which is planned above it (line {}) and would be deployed first; remove `{}` from the dependencies, or remove `{n}` from the plan (revert it first where it is deployed)",
                        c.name, e.line, d.text
                    ),
                });
            }
        }
    }
}

/// The conflicts of `pending` changes (indices into the plan) with changes recorded as applied
/// (their strata names, `name` or `name@tag`): `(change index, conflicting name)`. Checked
/// before anything runs, as sqitch checks conflicts against its registry.
pub fn conflicts_with_applied<'a>(
    plan: &'a SqitchPlan,
    pending: &[usize],
    applied_names: &[&str],
) -> Vec<(usize, &'a Dependency)> {
    let mut out = Vec::new();
    for &i in pending {
        let Some(c) = plan.changes.get(i) else {
            continue;
        };
        for d in c.conflicts.iter().filter(|d| !d.is_external(&plan.project)) {
            let Some(n) = &d.change else { continue };
            let hit = applied_names
                .iter()
                .any(|a| a == n || a.split_once('@').is_some_and(|(base, _)| base == n));
            if hit {
                out.push((i, d));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "%syntax-version=1.0.0\n%project=flipr\n%uri=https://example.com/flipr/\n\n";

    fn plan(body: &str) -> Result<SqitchPlan, Vec<PlanProblem>> {
        parse_plan(&format!("{HEAD}{body}"))
    }

    #[test]
    fn pragmas_changes_tags_and_notes() {
        let p = plan(
            "appschema 2025-01-01T10:00:00Z Marge N. O'Vera <marge@example.com> # App schema.\n\
             users [appschema] 2025-01-01T10:05:00Z Marge N. O'Vera <marge@example.com> # Users.\n\
             @v1.0 2025-01-01T10:06:00Z Marge N. O'Vera <marge@example.com> # Tag v1.0.\n\
             \n\
             # a comment\n\
             +flips [users appschema !legacy other:thing] 2025-01-02T10:00:00Z Marge <marge@example.com>\n",
        )
        .unwrap();
        assert_eq!(p.project, "flipr");
        assert_eq!(p.uri.as_deref(), Some("https://example.com/flipr/"));
        assert_eq!(p.syntax_version.as_deref(), Some("1.0.0"));
        let names: Vec<&str> = p.changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["appschema", "users", "flips"]);
        assert_eq!(p.changes[0].line, 5);
        assert_eq!(p.changes[0].note, "App schema.");
        assert_eq!(p.changes[0].planner_name, "Marge N. O'Vera");
        assert_eq!(p.changes[0].planner_email, "marge@example.com");
        assert_eq!(p.changes[0].planned_at, "2025-01-01T10:00:00Z");
        assert_eq!(p.changes[1].tags, ["v1.0"]);
        assert_eq!(p.tags[0].change, 1);
        let flips = &p.changes[2];
        assert_eq!(flips.requires.len(), 3);
        assert_eq!(flips.requires[2].project.as_deref(), Some("other"));
        assert_eq!(flips.conflicts[0].change.as_deref(), Some("legacy"));
        assert!(flips.conflicts[0].conflict);
    }

    #[test]
    fn rework_records_the_tags_latest_first() {
        let p = plan(
            "a 2025-01-01T10:00:00Z P <p@x>\n@v1 2025-01-01T10:00:01Z P <p@x>\n\
             b 2025-01-01T10:00:02Z P <p@x>\n@v2 2025-01-01T10:00:03Z P <p@x>\n\
             a [a@v2] 2025-01-01T10:00:04Z P <p@x> # reworked\n",
        )
        .unwrap();
        assert_eq!(p.changes[0].rework_tags, ["v2", "v1"]);
        assert!(p.changes[2].rework_tags.is_empty());
        assert_eq!(p.changes[0].qualified_name(Some("v2")), "a@v2");
        assert_eq!(p.changes[2].requires[0].tag.as_deref(), Some("v2"));
    }

    #[test]
    fn rework_without_a_tag_is_refused() {
        let e =
            plan("a 2025-01-01T10:00:00Z P <p@x>\na 2025-01-01T10:00:01Z P <p@x>\n").unwrap_err();
        assert_eq!(e[0].line, 6);
        assert!(
            e[0].message.contains("duplicates the change at line 5"),
            "{e:?}"
        );
    }

    #[test]
    fn requires_must_point_backwards() {
        let e = plan(
            "a [b] 2025-01-01T10:00:00Z P <p@x>\nb 2025-01-01T10:00:01Z P <p@x>\nc [nope] 2025-01-01T10:00:02Z P <p@x>\nd [a@v9] 2025-01-01T10:00:02Z P <p@x>\n",
        )
        .unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0].line, 5);
        assert!(e[0].message.contains("planned later (line 6)"), "{e:?}");
        assert_eq!(e[1].line, 7);
        assert!(e[1].message.contains("not in the plan above it"), "{e:?}");
        assert_eq!(e[2].line, 8);
    }

    #[test]
    fn other_projects_and_tags_are_fine() {
        plan("a [other:x @nope2] 2025-01-01T10:00:00Z P <p@x>\n").unwrap_err();
        let p = plan("a [other:x] 2025-01-01T10:00:00Z P <p@x>\n@t 2025-01-01T10:00:00Z P <p@x>\nb [@t flipr:a] 2025-01-01T10:00:00Z P <p@x>\n").unwrap();
        assert_eq!(p.changes.len(), 2);
    }

    #[test]
    fn conflict_with_an_earlier_change_is_an_error() {
        let e = plan("a 2025-01-01T10:00:00Z P <p@x>\nb [!a] 2025-01-01T10:00:01Z P <p@x>\n")
            .unwrap_err();
        assert_eq!(e[0].line, 6);
        assert!(e[0].message.contains("conflicts with `a`"), "{e:?}");
        // A conflict with a change that is not (or not yet) planned is checked against the
        // database instead.
        let p = plan("b [!legacy] 2025-01-01T10:00:01Z P <p@x>\n").unwrap();
        let hits = conflicts_with_applied(&p, &[0], &["legacy"]);
        assert_eq!(hits.len(), 1);
        assert!(conflicts_with_applied(&p, &[0], &["other"]).is_empty());
    }

    #[test]
    fn syntax_errors_carry_lines() {
        let e = parse_plan("%project=x\n\na\nb 2025-01-01 P <p@x>\n@t 2025-01-01T10:00:00Z P <p@x>\n-c 2025-01-01T10:00:00Z P <p@x>\n").unwrap_err();
        let lines: Vec<usize> = e.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4, 5, 6], "{e:?}");
        assert!(e[0].message.contains("missing timestamp"));
        let e = parse_plan("\nfoo 2025-01-01T10:00:00Z P <p@x>\n").unwrap_err();
        assert!(e[0].message.contains("%project"), "{e:?}");
        let e = plan("@t 2025-01-01T10:00:00Z P <p@x>\n").unwrap_err();
        assert!(e[0].message.contains("before any change"), "{e:?}");
    }

    #[test]
    fn names_follow_sqitch_rules() {
        assert!(valid_name("users"));
        assert!(valid_name("schema/users"));
        assert!(valid_name("v1.0"));
        assert!(!valid_name("-users"));
        assert!(!valid_name("users."));
        assert!(!valid_name("a:b"));
        assert!(!valid_name("HEAD"));
        assert!(!valid_name(&"a".repeat(40)));
    }
}
