//! A command's `--help`, drawn from its [`Spec`]: the checks', the modes' and the top
//! level's alike, in the layout argh gave probe's commands before it was replaced.

use super::{Arity, Means, Opt, Spec};

const DESCRIPTION_COLUMN: usize = 20;
const WIDTH: usize = 80;

pub fn render(spec: &Spec, command: &str) -> String {
    let mut out = format!("Usage: {command}");
    let visible: Vec<&Opt> = spec.all().filter(|opt| !opt.hidden).collect();
    let positional = &spec.positional;
    match spec.usage {
        Some(usage) => {
            out.push(' ');
            out.push_str(usage);
        }
        None => {
            for opt in &visible {
                let name = match opt.short {
                    Some(short) => format!("-{short}"),
                    None => format!("--{}", opt.long),
                };
                let dots = if opt.repeatable { "..." } else { "" };
                let shown = match opt.takes_value {
                    true => format!("{name} <{}{dots}>", opt.long),
                    false => name,
                };
                match opt.required {
                    true => out.push_str(&format!(" {shown}")),
                    false => out.push_str(&format!(" [{shown}]")),
                }
            }
            out.push_str(&match positional.arity {
                Arity::None => String::new(),
                Arity::One => format!(" [--] <{}>", positional.name),
                Arity::Optional => format!(" [--] [<{}>]", positional.name),
                Arity::Many | Arity::Command => format!(" [--] [<{}...>]", positional.name),
            });
        }
    }
    out.push_str("\n\n");
    out.push_str(spec.about);
    out.push_str("\n\n");
    if positional.arity != Arity::None {
        out.push_str("Positional Arguments:\n");
        describe(&mut out, positional.name, positional.help);
        out.push('\n');
    }
    out.push_str("Options:\n");
    for opt in &visible {
        let name = match opt.short {
            Some(short) => format!("-{short}, --{}", opt.long),
            None => format!("--{}", opt.long),
        };
        describe(&mut out, &name, opt.help);
    }
    describe(&mut out, "--help, help", "display usage information");
    if !spec.foreign.is_empty() {
        out.push_str("\nDrop-in flags (docs/reference.md#drop-in-flags):\n");
        let mut tools: Vec<&str> = spec.foreign.iter().map(|f| f.tool).collect();
        tools.dedup();
        for tool in tools {
            let of_tool = || spec.foreign.iter().filter(move |f| f.tool == tool);
            let taken: Vec<&str> = of_tool()
                .filter(|f| !matches!(f.means, Means::Refused(_)))
                .map(|f| f.flag)
                .collect();
            let refused: Vec<&str> = of_tool()
                .filter(|f| matches!(f.means, Means::Refused(_)))
                .map(|f| f.flag)
                .collect();
            let mut text = taken.join(" ");
            if !refused.is_empty() {
                text.push_str(&format!(" (not taken: {})", refused.join(" ")));
            }
            describe(&mut out, tool, text.trim_start());
        }
    }
    if !spec.examples.is_empty() {
        out.push_str("\nExamples:\n");
        for example in spec.examples {
            out.push_str(&format!("  {example}\n"));
        }
    }
    if !spec.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for note in spec.notes {
            out.push_str(&format!("  {note}\n"));
        }
    }
    out
}

/// `  NAME              text wrapped at 80 columns, continued under itself`. Written
/// straight into `out`, each line's width counted as it grows: `probe --help` wraps
/// some 2,000 words.
pub fn describe(out: &mut String, name: &str, text: &str) {
    let mut start = out.len();
    out.push_str("  ");
    out.push_str(name);
    if out.len() - start + 1 > DESCRIPTION_COLUMN {
        out.push('\n');
        start = out.len();
    }
    let mut width = out[start..].chars().count();
    let mut first = true;
    for word in text.split(' ') {
        let chars = word.chars().count();
        if !first && width + 1 + chars > WIDTH {
            let kept = out[start..].trim_end().len();
            out.truncate(start + kept);
            out.push('\n');
            start = out.len();
            width = 0;
            first = true;
        }
        if first {
            for _ in width..DESCRIPTION_COLUMN {
                out.push(' ');
            }
            width = width.max(DESCRIPTION_COLUMN);
            first = false;
        } else {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += chars;
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Positional;

    #[test]
    fn lines_wrap_under_the_description_column() {
        let mut out = String::new();
        describe(&mut out, "--timeout", &"word ".repeat(30));
        for line in out.lines() {
            assert!(line.len() <= WIDTH, "{line}");
            assert_eq!(line.find("word"), Some(DESCRIPTION_COLUMN), "{line}");
        }
        let mut out = String::new();
        describe(&mut out, "--location-trusted", "x");
        assert_eq!(out, format!("  --location-trusted\n{}x\n", " ".repeat(20)));
    }

    #[test]
    fn usage_names_every_visible_option() {
        static SPEC: Spec = Spec {
            name: "demo",
            about: "About.",
            positional: Positional {
                name: "URL",
                arity: Arity::One,
                help: "the URL",
            },
            options: &[&[
                Opt::value("port", "p").short('p'),
                Opt::switch("old", "o").hidden(),
            ]],
            foreign: &[],
            examples: &["probe demo x"],
            usage: None,
            notes: &[],
        };
        let help = render(&SPEC, "probe demo");
        assert!(help.starts_with("Usage: probe demo [-p <port>] [--] <URL>\n\nAbout.\n"));
        assert!(help.contains("  -p, --port        p\n"), "{help}");
        assert!(!help.contains("old"));
        assert!(help.ends_with("Examples:\n  probe demo x\n"));
    }

    #[test]
    fn a_mode_has_its_usage_line_notes_and_no_positional_section() {
        const SPEC: Spec = Spec {
            name: "mode",
            about: "About.",
            positional: Positional {
                name: "",
                arity: Arity::None,
                help: "",
            },
            options: &[&[Opt::value("run", "r").required()]],
            foreign: &[],
            examples: &["probe mode --run x"],
            usage: Some("--run CMD [options]"),
            notes: &["A note."],
        };
        let help = render(&SPEC, "probe mode");
        assert!(
            help.starts_with("Usage: probe mode --run CMD [options]\n\nAbout.\n\nOptions:\n"),
            "{help}"
        );
        assert!(!help.contains("Positional"));
        assert!(help.ends_with("Examples:\n  probe mode --run x\n\nNotes:\n  A note.\n"));
        let drawn = render(
            &Spec {
                usage: None,
                ..SPEC
            },
            "probe mode",
        );
        assert!(
            drawn.starts_with("Usage: probe mode --run <run>\n"),
            "{drawn}"
        );
    }
}
