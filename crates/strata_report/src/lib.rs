//! One renderer for every diagnostic strata prints.
//!
//! A lint finding and a failed migration are the same thing to the reader: something is wrong
//! at a place in a file, here is the line, here is what to do. Both are described as a
//! [`Diagnostic`] and rendered by [`render`], so they look alike, get colour on a terminal
//! alike, and a change to the look is made once. The crate is pure (it never reads a file or
//! talks to a database): the caller hands it the text to show.

use annotate_snippets::{Level as Tone, Renderer, Snippet};
use std::ops::Range;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Stops something (a run, a lint gate, a CI job).
    Error,
    /// Worth a look; stops nothing by itself.
    Warning,
}

/// A line under the excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Footer {
    /// Context: a detail, a hint from the server, the database's state.
    Note(String),
    /// What to do next.
    Help(String),
}

/// The part of a file shown, with the place underlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The text shown: the whole file, or a window of whole lines of it.
    pub text: String,
    /// The 1-based line number of the first line of `text`.
    pub first_line: usize,
    /// The bytes of `text` underlined (at least one byte wide when rendered).
    pub span: Range<usize>,
    /// A word under the underline (`here`).
    pub label: Option<String>,
    /// Whether lines far from the span are folded away (a whole file) or all shown (a window).
    pub fold: bool,
}

/// Something wrong at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// The one-line summary.
    pub title: String,
    /// The file, as the user should see its path.
    pub origin: String,
    /// The lines to show; `None` when the text is not at hand (the file is gone) or the
    /// place is unknown, and then only the path is shown.
    pub excerpt: Option<Excerpt>,
    /// Notes and help, in order.
    pub footers: Vec<Footer>,
}

fn tone(level: Level) -> Tone {
    match level {
        Level::Error => Tone::Error,
        Level::Warning => Tone::Warning,
    }
}

/// Renders `diagnostic` as compilers do: `error: title`, ` --> file:line:col`, the source
/// line(s) with the span underlined, then `= note:` / `= help:` lines. `color` adds ANSI
/// colours (for a terminal). Without an excerpt, the title, the path and the footers.
pub fn render(diagnostic: &Diagnostic, color: bool) -> String {
    let Some(excerpt) = &diagnostic.excerpt else {
        return render_without_excerpt(diagnostic);
    };
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let footers: Vec<_> = diagnostic
        .footers
        .iter()
        .map(|f| match f {
            Footer::Note(text) => Tone::Note.title(text),
            Footer::Help(text) => Tone::Help.title(text),
        })
        .collect();
    let mut annotation = tone(diagnostic.level).span(excerpt.span.clone());
    if let Some(label) = &excerpt.label {
        annotation = annotation.label(label);
    }
    let message = tone(diagnostic.level)
        .title(&diagnostic.title)
        .snippet(
            Snippet::source(&excerpt.text)
                .line_start(excerpt.first_line)
                .origin(&diagnostic.origin)
                .fold(excerpt.fold)
                .annotation(annotation),
        )
        .footers(footers);
    let rendered = renderer.render(message).to_string();
    rendered
}

/// The plain form used when there is no text to show.
fn render_without_excerpt(diagnostic: &Diagnostic) -> String {
    let level = match diagnostic.level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    let mut out = format!(
        "{level}: {}\n  --> {}\n",
        diagnostic.title, diagnostic.origin
    );
    for footer in &diagnostic.footers {
        let (label, text) = match footer {
            Footer::Note(text) => ("note", text),
            Footer::Help(text) => ("help", text),
        };
        out.push_str(&format!("  = {label}: {text}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_insert() -> Diagnostic {
        Diagnostic {
            level: Level::Error,
            title: "apply of migration 002 failed: relation \"missing\" does not exist".into(),
            origin: "migrations/002_b.sql".into(),
            excerpt: Some(Excerpt {
                text: "CREATE TABLE b (id int);\nINSERT INTO missing VALUES (1);\n".into(),
                first_line: 1,
                span: 37..44,
                label: Some("here".into()),
                fold: true,
            }),
            footers: vec![
                Footer::Note("state: nothing was changed".into()),
                Footer::Help("fix the migration and run `strata up` again".into()),
            ],
        }
    }

    #[test]
    fn an_excerpt_is_shown_with_the_place_underlined() {
        insta::assert_snapshot!(render(&failed_insert(), false));
    }

    #[test]
    fn without_an_excerpt_the_path_and_footers_remain() {
        let mut d = failed_insert();
        d.excerpt = None;
        insta::assert_snapshot!(render(&d, false));
    }

    #[test]
    fn colour_is_only_added_when_asked() {
        let plain = render(&failed_insert(), false);
        let coloured = render(&failed_insert(), true);
        assert!(!plain.contains('\x1b'));
        assert!(coloured.contains('\x1b'));
        let stripped: String = {
            // Remove CSI sequences (ESC [ ... letter).
            let mut out = String::new();
            let mut chars = coloured.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        };
        assert_eq!(stripped, plain);
    }
}
