//! Renders `$...$` and `$$...$$` to HTML with KaTeX at build time, so the
//! book shows math without loading any script.

use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::errors::Result;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

/// The mdBook preprocessor.
pub struct Katex;

impl Preprocessor for Katex {
    fn name(&self) -> &str {
        "katex"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> Result<Book> {
        let mut failure = None;
        book.for_each_mut(|item| {
            if let BookItem::Chapter(ch) = item {
                match render_math(&ch.content) {
                    Ok(html) => ch.content = html,
                    Err(e) => failure = Some(format!("{}: {e}", ch.name)),
                }
            }
        });
        match failure {
            Some(e) => Err(anyhow_error(e)),
            None => Ok(book),
        }
    }
}

fn anyhow_error(msg: String) -> mdbook_preprocessor::errors::Error {
    mdbook_preprocessor::errors::Error::msg(msg)
}

fn katex_html(tex: &str, display: bool) -> std::result::Result<String, String> {
    let opts = katex::Opts::builder()
        .display_mode(display)
        .output_type(katex::OutputType::Html)
        .throw_on_error(true)
        .build()
        .map_err(|e| e.to_string())?;
    // KaTeX's SVG paths (square roots) contain newlines, which would end a
    // Markdown table row or heading, and a rendered `|` would split a table
    // row; HTML needs neither as a raw character.
    katex::render_with_opts(tex, &opts)
        .map(|html| html.replace('\n', " ").replace('|', "&#124;"))
        .map_err(|e| format!("cannot render math `{tex}`: {e}"))
}

/// Replaces math in Markdown prose; leaves fenced code, inline code and
/// `<script>` blocks untouched.
pub fn render_math(markdown: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(markdown.len());
    let mut prose = String::new();
    let (mut in_fence, mut in_script) = (false, false);
    for line in markdown.split_inclusive('\n') {
        let t = line.trim_start();
        let verbatim = if in_fence {
            in_fence = !t.starts_with("```");
            true
        } else if in_script {
            in_script = !t.contains("</script>");
            true
        } else if t.starts_with("```") {
            in_fence = true;
            true
        } else if t.starts_with("<script") {
            in_script = !t.contains("</script>");
            true
        } else {
            t.starts_with("<div") && t.contains("plotly-graph-div")
        };
        if verbatim {
            out.push_str(&render_prose(&std::mem::take(&mut prose))?);
            out.push_str(line);
        } else {
            prose.push_str(line);
        }
    }
    out.push_str(&render_prose(&prose)?);
    Ok(out)
}

fn render_prose(text: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(['$', '`']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with('`') {
            // Inline code: copy through the matching run of backticks.
            let ticks = tail.len() - tail.trim_start_matches('`').len();
            let fence = &tail[..ticks];
            match tail[ticks..].find(fence) {
                Some(end) => {
                    out.push_str(&tail[..ticks + end + ticks]);
                    rest = &tail[ticks + end + ticks..];
                }
                None => {
                    out.push_str(fence);
                    rest = &tail[ticks..];
                }
            }
        } else if let Some(body) = tail.strip_prefix("$$") {
            let end = body.find("$$").ok_or_else(|| format!("unclosed $$ near `{}`", excerpt(tail)))?;
            let html = katex_html(body[..end].trim(), true)?;
            out.push_str("\n\n<div class=\"math-display\">");
            out.push_str(&html);
            out.push_str("</div>\n\n");
            rest = &body[end + 2..];
        } else {
            let body = &tail[1..];
            match body.find(['$', '\n']) {
                Some(end) if body.as_bytes()[end] == b'$' && end > 0 && !body.starts_with(' ') => {
                    out.push_str(&katex_html(&body[..end], false)?);
                    rest = &body[end + 1..];
                }
                _ => {
                    out.push('$');
                    rest = body;
                }
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_inline_and_display_math_but_not_code() {
        let md = "Let $x_t$ be\n\n$$\\sum_t r_t$$\n\n`$not math$`\n\n```rust\nlet a = \"$b$\";\n```\n";
        let html = render_math(md).unwrap();
        assert!(html.contains("class=\"katex\""), "{html}");
        assert!(html.contains("katex-display"), "{html}");
        assert!(html.contains("`$not math$`"));
        assert!(html.contains("let a = \"$b$\";"));
    }

    #[test]
    fn bad_math_is_an_error_naming_it() {
        let err = render_math("$\\frac{1}{$").unwrap_err();
        assert!(err.contains("\\frac{1}{"), "{err}");
    }

    #[test]
    fn rendered_math_is_one_line_so_tables_survive() {
        let html = render_math("| a | $\\sqrt{N}$ |\n").unwrap();
        assert_eq!(html.lines().count(), 1, "{html}");
    }

    #[test]
    fn a_bar_in_math_cannot_split_a_table_row() {
        let html = render_math("| a | $\\lvert x \\rvert + |y|$ |\n").unwrap();
        assert_eq!(html.matches('|').count(), 3, "{html}");
    }

    #[test]
    fn lone_dollar_signs_stay() {
        assert_eq!(render_math("costs $ 5\n").unwrap(), "costs $ 5\n");
    }
}
