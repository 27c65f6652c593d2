//! A check's `--help`, drawn from its [`Spec`] in the layout argh gives probe's modes, so
//! that every command's help reads alike.

use super::{Arity, Means, Opt, Spec};

const DESCRIPTION_COLUMN: usize = 20;
const WIDTH: usize = 80;

pub fn render(spec: &Spec, command: &str) -> String {
    let mut out = format!("Usage: {command}");
    let visible: Vec<&Opt> = spec.all().filter(|opt| !opt.hidden).collect();
    for opt in &visible {
        let name = match opt.short {
            Some(short) => format!("-{short}"),
            None => format!("--{}", opt.long),
        };
        let dots = if opt.repeatable { "..." } else { "" };
        match opt.takes_value {
            true => out.push_str(&format!(" [{name} <{}{dots}>]", opt.long)),
            false => out.push_str(&format!(" [{name}]")),
        }
    }
    let positional = &spec.positional;
    out.push_str(&match positional.arity {
        Arity::One => format!(" [--] <{}>", positional.name),
        Arity::Optional => format!(" [--] [<{}>]", positional.name),
        Arity::Many => format!(" [--] [<{}...>]", positional.name),
    });
    out.push_str("\n\n");
    out.push_str(spec.about);
    out.push_str("\n\nPositional Arguments:\n");
    describe(&mut out, positional.name, positional.help);
    out.push_str("\nOptions:\n");
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
    out
}

/// `  NAME              text wrapped at 80 columns, continued under itself`.
fn describe(out: &mut String, name: &str, text: &str) {
    let mut line = format!("  {name}");
    if line.len() + 1 > DESCRIPTION_COLUMN {
        out.push_str(&line);
        out.push('\n');
        line.clear();
    }
    let mut first = true;
    for word in text.split(' ') {
        let fits = line.chars().count() + 1 + word.chars().count() <= WIDTH;
        if !first && !fits {
            out.push_str(line.trim_end());
            out.push('\n');
            line.clear();
            first = true;
        }
        if first {
            let pad = DESCRIPTION_COLUMN.saturating_sub(line.chars().count());
            line.push_str(&" ".repeat(pad));
            first = false;
        } else {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
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
        };
        let help = render(&SPEC, "probe demo");
        assert!(help.starts_with("Usage: probe demo [-p <port>] [--] <URL>\n\nAbout.\n"));
        assert!(help.contains("  -p, --port        p\n"), "{help}");
        assert!(!help.contains("old"));
        assert!(help.ends_with("Examples:\n  probe demo x\n"));
    }
}
