//! Clean input: a teacher's pasted source (Markdown, reStructuredText, a rendered man page,
//! pydoc output, a C header's comments, or plain prose) becomes sections of prose paragraphs.
//! Code, URLs, table headers and boilerplate stay out of the prose; API names met in code,
//! signatures and inline code are collected whole, so later steps know them as API names.

use std::collections::BTreeSet;

/// A source text, cleaned.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub sections: Vec<Section>,
    /// API names as written: functions with "()", constants, types, command-line options.
    pub api_names: BTreeSet<String>,
    /// Terms the author marked: emphasis, strong text, definition-list terms (as written).
    pub marked_terms: Vec<String>,
    /// Every identifier met in code (variables too), to know `strm` in prose for code.
    pub code_identifiers: BTreeSet<String>,
    /// The command a man page documents (the first name of its NAME section: "gzip").
    pub command: Option<String>,
}

/// A heading and the prose under it (the first section may have no heading).
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub heading: Option<String>,
    pub paragraphs: Vec<Paragraph>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    /// The prose with markup taken out (inline code keeps its text).
    pub text: String,
    pub kind: ParagraphKind,
    /// The reference entry this paragraph describes, as the entry's names: a man page's
    /// option ("-k", "--keep") or a message it lists under DIAGNOSTICS ("not in gzip
    /// format"). Empty for other paragraphs.
    pub entry: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParagraphKind {
    Prose,
    ListItem { ordered: bool },
    TableRow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Markdown, reStructuredText or plain text: one line grammar handles all three.
    Markup,
    /// A man page rendered as text: headings at column 0, body indented.
    Man,
    /// `python -m pydoc` output.
    Pydoc,
    /// A C header or source: the comments are the prose.
    CSource,
}

/// Man page sections that hold no teachable prose (credits, cross-references), in the
/// languages the corpus meets. Upper case.
const MAN_BOILERPLATE_SECTIONS: &[&str] = &[
    "SEE ALSO",
    "SIEHE AUCH",
    "VOIR AUSSI",
    "VÉASE TAMBIÉN",
    "AUTHOR",
    "AUTHORS",
    "AUTOR",
    "AUTOREN",
    "AUTEUR",
    "AUTEURS",
    "REPORTING BUGS",
    "FEHLER MELDEN",
    "COPYRIGHT",
    "COLOPHON",
    "KOLOPHON",
    "ÜBERSETZUNG",
    "TRADUCTION",
    "TRADUCCIÓN",
    "AVAILABILITY",
    "VERFÜGBARKEIT",
    "FILE",
    "DATA",
    "MODULE REFERENCE",
    "VERSION",
    "CREDITS",
    "BUGS",
    "BOGUES",
    "FEHLER",
    "ERRORES",
    "REPORTING BUGS",
    "RAPPORTS DE BOGUES",
    "TRADUCTEURS",
    "TRADUCTION",
    "ÜBERSETZER",
];

/// Man page sections that name the command ("NAME", "BEZEICHNUNG").
const MAN_NAME_SECTIONS: &[&str] = &["NAME", "BEZEICHNUNG", "NOM", "NOMBRE"];

/// Man page sections whose body is command syntax, not prose.
const MAN_SYNTAX_SECTIONS: &[&str] = &["SYNOPSIS", "ÜBERSICHT", "SYNOPSE", "SINOPSIS"];

/// Lines pydoc writes around the documentation itself.
const PYDOC_BOILERPLATE_PREFIXES: &[&str] = &[
    "Methods defined here",
    "Methods inherited from",
    "Class methods defined here",
    "Class methods inherited from",
    "Static methods defined here",
    "Static methods inherited from",
    "Data descriptors defined here",
    "Data descriptors inherited from",
    "Data and other attributes defined here",
    "Data and other attributes inherited from",
    "Readonly properties defined here",
    "Readonly properties inherited from",
    "Method resolution order",
    "Help on module",
    "Help on class",
    "Help on function",
    "Help on built-in",
    "dictionary for instance variables",
    "list of weak references to the object",
    "__dict__",
    "__weakref__",
    "Create and return a new object",
    "Initialize self.",
    "Return repr(self).",
    "See help(type(self))",
];

/// Parses a source text into sections of clean prose.
pub fn parse(source: &str) -> Document {
    let source = source.replace("\r\n", "\n").replace('\r', "\n");
    let source = source.replace('\t', "    ");
    let mut builder = Builder::default();
    match detect_format(&source) {
        Format::CSource => parse_c(&source, &mut builder),
        Format::Man => parse_man(&source, &mut builder),
        Format::Pydoc => parse_pydoc(&source, &mut builder),
        Format::Markup => parse_markup(&source, &mut builder),
    }
    builder.finish()
}

fn detect_format(source: &str) -> Format {
    let lines: Vec<&str> = source.lines().collect();
    let first = lines.iter().find(|l| !l.trim().is_empty()).copied();
    let piped = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("| ") || l.trim() == "|")
        .count();
    let markdown_table = lines
        .iter()
        .filter(|l| l.trim_start().starts_with('|') && l.trim_end().ends_with('|'))
        .count();
    if first.is_some_and(|l| l.starts_with("Help on "))
        || (piped > 10 && markdown_table * 2 < piped)
    {
        return Format::Pydoc;
    }
    // A C header: preprocessor lines and block comments that open a line, and no Markdown
    // fences (a README shows C in fences).
    let c_lines = lines
        .iter()
        .filter(|l| {
            let t = l.trim();
            t.starts_with("#define")
                || t.starts_with("#include")
                || t.starts_with("#ifdef")
                || t.starts_with("#ifndef")
                || t.starts_with("#endif")
                || t.starts_with("typedef ")
        })
        .count();
    let comment_openers = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("/*"))
        .count();
    let fenced = lines.iter().any(|l| l.trim_start().starts_with("```"));
    if c_lines >= 2 && comment_openers >= 2 && !fenced {
        return Format::CSource;
    }
    let caps_headings = lines.iter().filter(|l| is_man_heading(l)).count();
    let indented = lines
        .iter()
        .filter(|l| !l.trim().is_empty() && l.starts_with("    "))
        .count();
    let nonempty = lines.iter().filter(|l| !l.trim().is_empty()).count().max(1);
    if caps_headings >= 2 && indented * 2 > nonempty {
        return Format::Man;
    }
    Format::Markup
}

/// A man page heading: upper case at column 0 ("DESCRIPTION", "SEE ALSO", "BESCHREIBUNG").
fn is_man_heading(line: &str) -> bool {
    let t = line.trim_end();
    !t.is_empty()
        && !line.starts_with(' ')
        && t.chars().any(char::is_alphabetic)
        && t.chars()
            .all(|c| c.is_uppercase() || c == ' ' || c == '-' || c == '_' || c.is_ascii_digit())
        && t.chars().count() <= 40
}

/// A man page's running header or footer: "TAR(1)   General Commands Manual   TAR(1)".
fn is_man_banner(line: &str) -> bool {
    let t = line.trim();
    let ends_with_page = |s: &str| {
        s.ends_with(')')
            && s.rfind('(').is_some_and(|open| {
                let inside = &s[open + 1..s.len() - 1];
                !inside.is_empty()
                    && inside.len() <= 4
                    && inside.chars().next().is_some_and(|c| c.is_ascii_digit())
            })
    };
    ends_with_page(t) && t.contains("   ")
}

#[derive(Default)]
struct Builder {
    doc: Document,
    /// Inside a man page's synopsis: command names there are the subject, not variables.
    command_syntax: bool,
    current: Section,
    paragraph: Vec<String>,
    paragraph_kind: Option<ParagraphKind>,
    /// The names of the entry whose description the next paragraph is.
    pending_entry: Vec<String>,
}

impl Builder {
    fn heading(&mut self, text: &str) {
        self.end_paragraph();
        let heading = clean_inline(text, &mut self.doc);
        let heading = heading
            .trim()
            .trim_end_matches(':')
            .trim_end_matches('#')
            .trim()
            .to_string();
        self.pending_entry.clear();
        if heading.is_empty() {
            return;
        }
        let previous = std::mem::take(&mut self.current);
        if previous.heading.is_some() || !previous.paragraphs.is_empty() {
            self.doc.sections.push(previous);
        }
        self.current.heading = Some(heading);
    }

    /// A line of prose; `kind` starts a new paragraph of that kind when given.
    fn line(&mut self, text: &str, starts: Option<ParagraphKind>) {
        if let Some(kind) = starts {
            self.end_paragraph();
            self.paragraph_kind = Some(kind);
        }
        let cleaned = clean_inline(text, &mut self.doc);
        let cleaned = cleaned.trim();
        if !cleaned.is_empty() {
            self.paragraph.push(cleaned.to_string());
        }
    }

    fn end_paragraph(&mut self) {
        let kind = self.paragraph_kind.take().unwrap_or(ParagraphKind::Prose);
        if self.paragraph.is_empty() {
            return;
        }
        let mut text = String::new();
        for part in self.paragraph.drain(..) {
            // A word hyphenated across a line break ("compres-\nsion") is one word again.
            // Man pages break words with U+2010 ("com‐\npressed").
            if (text.ends_with('-') || text.ends_with('\u{2010}') || text.ends_with('\u{00AD}'))
                && part.chars().next().is_some_and(char::is_lowercase)
            {
                text.pop();
            } else if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&part);
        }
        // A table of contents repeats the headings; it is no prose.
        let lower = text.to_lowercase();
        if (lower.starts_with("contents")
            || lower.starts_with("table of contents")
            || lower.starts_with("inhalt")
            || lower.starts_with("sommaire")
            || lower.starts_with("índice"))
            && text.chars().filter(char::is_ascii_digit).count() >= 3
        {
            return;
        }
        // A run-in heading ("Evaporación. El calor del Sol ...", "Divergent plate boundaries.
        // Where two plates ...") marks its term.
        // Not an option's description ("Use synchronous output. With this option …").
        if let Some((term, rest)) = text
            .split_once(". ")
            .filter(|_| self.pending_entry.is_empty())
        {
            let words = term.split_whitespace().count();
            if (1..=4).contains(&words)
                && rest.split_whitespace().count() >= 5
                && term.chars().next().is_some_and(char::is_uppercase)
                && !term.contains(',')
                && !super::phrases::has_verb(term)
            {
                self.doc.marked_terms.push(term.to_string());
            }
        }
        if text.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
            let entry = std::mem::take(&mut self.pending_entry);
            self.current
                .paragraphs
                .push(Paragraph { text, kind, entry });
        }
    }

    fn api(&mut self, name: &str) {
        let name = name.trim();
        if !name.is_empty() && name.chars().count() <= 60 {
            self.doc.api_names.insert(name.to_string());
        }
    }

    fn finish(mut self) -> Document {
        self.end_paragraph();
        let last = std::mem::take(&mut self.current);
        if last.heading.is_some() || !last.paragraphs.is_empty() {
            self.doc.sections.push(last);
        }
        self.doc
    }
}

/// List item markers: "- ", "* ", "+ ", "• ", "1. ", "1) ", "a) ". Returns the text after the
/// marker and whether the list is ordered.
fn list_item(line: &str) -> Option<(&str, bool)> {
    let t = line.trim_start();
    for marker in ["- ", "* ", "+ ", "• ", "– "] {
        if let Some(rest) = t.strip_prefix(marker) {
            return Some((rest, false));
        }
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let letter = t.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && t.chars().nth(1).is_some_and(|c| c == ')');
    let marker_len = if digits > 0 && digits <= 3 {
        digits
    } else if letter {
        1
    } else {
        return None;
    };
    let rest = &t[marker_len..];
    let rest = rest
        .strip_prefix(". ")
        .or_else(|| rest.strip_prefix(") "))?;
    Some((rest, true))
}

/// A line of one repeated punctuation character: a reST/setext underline or a rule.
fn is_rule_line(line: &str) -> bool {
    let t = line.trim();
    let mut chars = t.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    t.chars().count() >= 3 && "=-~^\"'`#*+:_.".contains(first) && t.chars().all(|c| c == first)
}

/// Whether a line reads as code rather than prose: prompts, statements, or a high share of
/// code punctuation.
pub fn looks_like_code(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() {
        return false;
    }
    if ["$ ", "# ", ">>> ", "... ", "% ", "C:\\>"]
        .iter()
        .any(|p| t.starts_with(p))
        || t.starts_with("#include")
        || t.starts_with("#define")
        || t.starts_with("import ")
        || t.starts_with("from ") && t.contains(" import ")
        || t.starts_with("def ") && t.ends_with(':')
        || t.starts_with("fn ")
        || t.starts_with("let ")
        || t.starts_with("use ") && t.ends_with(';')
        || t.starts_with("pub ")
        || t.starts_with("return ") && t.ends_with(';')
        // A grammar production ("try_stmt ::= try1_stmt | try2_stmt").
        || t.contains("::=")
        // A call with a string literal (`printf("I scanned %g directories.",`).
        || t.contains("(\"") && !t.ends_with('.')
        // A literal of a program's table (`"directory" : "directories",`).
        || t.starts_with('"') && (t.contains("\" : \"") || t.contains("\": \"") || t.contains("\" => "))
        // A line of a program's variables (`$file_count, $directory_count,`).
        || t.starts_with('$') && t.split_whitespace().all(|w| w.starts_with('$'))
    {
        return true;
    }
    if t.ends_with(';') || t.ends_with('{') || t == "}" || t.ends_with("};") {
        return true;
    }
    let symbols = t.chars().filter(|c| "{}[]();=<>&|$\\".contains(*c)).count();
    let letters = t.chars().filter(|c| c.is_alphabetic()).count().max(1);
    symbols * 6 > letters || t.contains(" = ") && !t.contains(". ") || t.contains("->")
}

/// Collects API names from a line of code: called names become `name()`, and constants in
/// upper case with an underscore stay as they are.
fn harvest_code(line: &str, builder: &mut Builder) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphabetic() || chars[i] == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if !builder.command_syntax {
                builder.doc.code_identifiers.insert(word.clone());
            }
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let called = j < chars.len() && chars[j] == '(';
            if is_constant_name(&word) {
                builder.api(&word);
            } else if called
                && word.chars().count() >= 3
                && !is_code_keyword(&word)
                && !crate::generator::text::is_stop_word(&word.to_lowercase())
            {
                builder.api(&format!("{word}()"));
            }
        } else {
            i += 1;
        }
    }
}

fn is_code_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "for"
            | "while"
            | "switch"
            | "return"
            | "sizeof"
            | "print"
            | "printf"
            | "OF"
            | "ZEXTERN"
            | "ZEXPORT"
            | "defined"
            | "main"
            | "int"
            | "void"
            | "char"
            | "unsigned"
            | "long"
            | "const"
            | "struct"
            | "typedef"
    )
}

/// `Z_BUF_ERROR`, `O_RDONLY`: upper case, an underscore, at least four characters.
pub fn is_constant_name(word: &str) -> bool {
    word.chars().count() >= 4
        && word.contains('_')
        && word.chars().any(|c| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !word.starts_with('_')
}

fn parse_markup(source: &str, builder: &mut Builder) {
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    // Indentation of a reST code block's introducing line, while inside that block.
    let mut code_block_indent: Option<usize> = None;
    let mut literal_follows = false;
    let mut table_header_seen = false;
    // Indentation of the indented code line just read: the lines right under it, as deep or
    // deeper, continue it (a grammar production's alternatives, a call's arguments).
    let mut code_line_indent: Option<usize> = None;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        let indent = line.len() - line.trim_start().len();
        if let Some(base) = code_line_indent.take() {
            if !trimmed.is_empty() && indent >= base {
                harvest_code(line, builder);
                code_line_indent = Some(base);
                i += 1;
                continue;
            }
        }

        // Fenced code (Markdown), skipped whole.
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            builder.end_paragraph();
            let fence = &trimmed[..3];
            i += 1;
            while i < lines.len() && !lines[i].trim().starts_with(fence) {
                harvest_code(lines[i], builder);
                i += 1;
            }
            i += 1;
            continue;
        }
        // A reST literal or code block: everything indented deeper than its introducer.
        if let Some(base) = code_block_indent {
            if trimmed.is_empty() || indent > base {
                harvest_code(line, builder);
                i += 1;
                continue;
            }
            code_block_indent = None;
        }
        if trimmed.is_empty() {
            builder.end_paragraph();
            if literal_follows {
                code_block_indent = Some(last_indent(&lines, i));
                literal_follows = false;
            }
            table_header_seen = false;
            i += 1;
            continue;
        }
        // reST directives and comments.
        if let Some(directive) = trimmed.strip_prefix(".. ") {
            builder.end_paragraph();
            let is_code = [
                "code",
                "code-block",
                "sourcecode",
                "highlight",
                "literalinclude",
            ]
            .iter()
            .any(|d| directive.starts_with(&format!("{d}::")));
            let is_comment = !directive.contains("::");
            let is_target = directive.starts_with('_') || directive.starts_with('[');
            if is_code || is_comment || is_target {
                code_block_indent = Some(indent);
            }
            i += 1;
            continue;
        }
        // Markdown link reference definitions.
        if trimmed.starts_with('[') && trimmed.contains("]: ") {
            i += 1;
            continue;
        }
        // Markdown ATX headings.
        if trimmed.starts_with('#') {
            let hashes = trimmed.chars().take_while(|c| *c == '#').count();
            if hashes <= 6 && trimmed[hashes..].starts_with(' ') {
                builder.heading(&trimmed[hashes..]);
                i += 1;
                continue;
            }
        }
        // Setext/reST headings: a single line over an underline (and maybe under an overline).
        if i + 1 < lines.len()
            && is_rule_line(lines[i + 1])
            && !is_rule_line(line)
            && lines[i + 1].trim().chars().count() + 2 >= trimmed.chars().count() / 2
            && builder.paragraph.is_empty()
        {
            builder.heading(trimmed);
            i += 2;
            continue;
        }
        if is_rule_line(line) {
            builder.end_paragraph();
            i += 1;
            continue;
        }
        // Tables: Markdown pipes and reST grids. The header row is a label, not prose.
        if trimmed.starts_with('|') || trimmed.starts_with("+-") || trimmed.starts_with("+=") {
            builder.end_paragraph();
            let is_separator = trimmed.chars().all(|c| "|+-=: ".contains(c));
            if !is_separator {
                let next_is_separator = lines.get(i + 1).is_some_and(|n| {
                    let n = n.trim();
                    !n.is_empty() && n.chars().all(|c| "|+-=: ".contains(c)) && n.contains("-")
                        || n.starts_with("+=")
                });
                if table_header_seen || !next_is_separator {
                    let cells: Vec<&str> = trimmed
                        .trim_matches('|')
                        .split('|')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .collect();
                    if !cells.iter().any(|c| looks_like_code(c)) {
                        builder.line(&cells.join("; "), Some(ParagraphKind::TableRow));
                        builder.end_paragraph();
                    }
                }
                table_header_seen = true;
            }
            i += 1;
            continue;
        }
        // Markdown indented code: four spaces after a blank line, outside a list, that reads
        // as code.
        if indent >= 4 && builder.paragraph.is_empty() && looks_like_code(line) {
            harvest_code(line, builder);
            code_line_indent = Some(indent);
            i += 1;
            continue;
        }
        if looks_like_code(line) && (indent >= 2 || trimmed.ends_with(';')) {
            builder.end_paragraph();
            harvest_code(line, builder);
            if indent >= 2 {
                code_line_indent = Some(indent);
            }
            i += 1;
            continue;
        }
        if builder.paragraph.is_empty() && is_plain_heading(&lines, i) {
            builder.heading(strip_numbering(trimmed));
            i += 1;
            continue;
        }
        if let Some((rest, ordered)) = list_item(line) {
            builder.line(rest, Some(ParagraphKind::ListItem { ordered }));
        } else if builder.paragraph.is_empty() && is_definition_term(&lines, i) {
            // A reST definition list's term: a short line over an indented body.
            let term = clean_inline(trimmed, &mut builder.doc);
            let term = term.trim().trim_end_matches(':').to_string();
            if !term.is_empty() {
                builder.doc.marked_terms.push(term);
            }
            builder.end_paragraph();
        } else {
            builder.line(line, None);
        }
        if trimmed.ends_with("::") {
            literal_follows = true;
            // "Example::" reads "Example:"; a lone "::" introduces code and says nothing.
            if let Some(last) = builder.paragraph.last_mut() {
                let kept = last.trim_end_matches(':').trim_end().to_string();
                *last = if kept.is_empty() {
                    kept
                } else {
                    format!("{kept}:")
                };
            }
        }
        i += 1;
    }
}

/// A plain-text heading: one short line between blank lines, without closing punctuation,
/// starting with a capital or a section number ("2 How volcanoes form").
fn is_plain_heading(lines: &[&str], i: usize) -> bool {
    let t = lines[i].trim();
    let blank_before = i == 0 || lines[i - 1].trim().is_empty();
    let blank_after = lines.get(i + 1).is_none_or(|l| l.trim().is_empty());
    let words = t.split_whitespace().count();
    blank_before
        && blank_after
        && (1..=8).contains(&words)
        && t.chars().count() <= 70
        && !t.ends_with(['.', ',', ':', ';', '!', ')'])
        && t.chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || c == '¿')
        && t.chars().any(char::is_alphabetic)
        && !looks_like_code(t)
        && list_item(t).is_none_or(|(_, ordered)| ordered)
}

/// "2.1 How volcanoes form" → "How volcanoes form".
fn strip_numbering(heading: &str) -> &str {
    let rest = heading.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ')');
    if rest.len() < heading.len() && rest.starts_with(' ') {
        rest.trim_start()
    } else {
        heading
    }
}

fn last_indent(lines: &[&str], blank_at: usize) -> usize {
    lines[..blank_at]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0)
}

/// A reST definition-list term: a short line without a full stop, followed directly by a
/// deeper-indented line.
fn is_definition_term(lines: &[&str], i: usize) -> bool {
    let line = lines[i];
    let indent = line.len() - line.trim_start().len();
    let t = line.trim();
    let Some(next) = lines.get(i + 1) else {
        return false;
    };
    let next_indent = next.len() - next.trim_start().len();
    !next.trim().is_empty()
        && next_indent > indent
        && t.split_whitespace().count() <= 6
        && !t.ends_with('.')
        && !t.ends_with(',')
        && list_item(line).is_none()
}

fn parse_man(source: &str, builder: &mut Builder) {
    let mut skipping = false;
    let mut in_name = false;
    let mut diagnostics = false;
    let mut previous_was_option = false;
    let mut syntax = false;
    let mut body_indent = usize::MAX;
    let lines: Vec<&str> = source.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if is_man_banner(line) {
            continue;
        }
        if is_man_heading(line) {
            let heading = trimmed.to_uppercase();
            skipping = MAN_BOILERPLATE_SECTIONS.contains(&heading.as_str());
            syntax = MAN_SYNTAX_SECTIONS.contains(&heading.as_str());
            in_name = MAN_NAME_SECTIONS.contains(&heading.as_str());
            diagnostics = heading == "DIAGNOSTICS" || heading == "DIAGNOSTIK";
            builder.end_paragraph();
            if !skipping {
                builder.heading(&title_case_heading(trimmed));
            }
            continue;
        }
        if skipping {
            continue;
        }
        if trimmed.is_empty() {
            builder.end_paragraph();
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if syntax {
            builder.command_syntax = true;
            harvest_code(line, builder);
            builder.command_syntax = false;
            for word in trimmed.split_whitespace() {
                let word = word.trim_matches(|c| c == '[' || c == ']' || c == '|');
                if word.starts_with('-') && word.len() > 1 {
                    builder.api(word.trim_end_matches(','));
                }
            }
            continue;
        }
        body_indent = body_indent.min(indent);
        if in_name && builder.doc.command.is_none() {
            // "gzip, gunzip, zcat - compress or expand files"
            let first = trimmed
                .split([',', ' '])
                .next()
                .unwrap_or("")
                .trim_end_matches(['\\', '-']);
            if !first.is_empty() && first.len() <= 40 {
                builder.doc.command = Some(first.to_string());
            }
        }
        // An option's name line ("-c, --create") starts an entry; its description is prose.
        // A line that goes on a sentence of the same or a deeper paragraph ("... if the
        // option\n --stdout is also given") is no name line.
        let previous = i
            .checked_sub(1)
            .and_then(|p| lines.get(p))
            .copied()
            .unwrap_or("");
        let goes_on = !previous.trim().is_empty()
            && !is_man_heading(previous)
            && previous.len() - previous.trim_start().len() <= indent
            && !previous_was_option;
        previous_was_option = false;
        // "-- Harald Tveit Alvestrand, in RFC 1766": a dash before a quotation's author, no
        // option.
        let dash_before_words =
            trimmed.starts_with("--") && !trimmed.chars().nth(2).is_some_and(char::is_alphanumeric);
        if trimmed.starts_with('-')
            && !goes_on
            && !dash_before_words
            && trimmed
                .chars()
                .nth(1)
                .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '#')
        {
            builder.end_paragraph();
            let (names, rest) = split_option_line(trimmed);
            for name in &names {
                builder.api(name);
            }
            previous_was_option = rest.is_empty();
            builder.pending_entry = names;
            if !rest.is_empty() {
                builder.line(rest, Some(ParagraphKind::Prose));
            }
            continue;
        }
        // Subsection headings inside a section: a short line at the body's indentation, in
        // capitals or title case, followed by deeper text.
        let next_deeper = lines
            .get(i + 1)
            .is_some_and(|n| !n.trim().is_empty() && (n.len() - n.trim_start().len()) > indent);
        // Under DIAGNOSTICS such a line is a message the program prints ("file: not in gzip
        // format"), an entry whose description follows.
        if diagnostics && indent == body_indent && next_deeper && builder.paragraph.is_empty() {
            let message = trimmed.strip_prefix("file: ").unwrap_or(trimmed).trim();
            // "Corrupt input. Use zcat to recover some data": the message, not the advice.
            let message = message.split(". ").next().unwrap_or(message);
            if !message.contains(['[', '(', '?']) && message.split_whitespace().count() <= 8 {
                builder.pending_entry = vec![message.trim_end_matches('.').to_string()];
                continue;
            }
        }
        if indent == body_indent
            && next_deeper
            && builder.paragraph.is_empty()
            && trimmed.split_whitespace().count() <= 5
            && !trimmed.ends_with('.')
        {
            if looks_like_code(trimmed) {
                harvest_code(trimmed, builder);
            } else {
                builder.heading(trimmed);
            }
            continue;
        }
        if looks_like_code(line) && indent > body_indent {
            builder.end_paragraph();
            harvest_code(line, builder);
            continue;
        }
        if let Some((rest, ordered)) = list_item(line) {
            builder.line(rest, Some(ParagraphKind::ListItem { ordered }));
        } else {
            builder.line(trimmed, None);
        }
    }
}

/// "-c, --create   Create a new archive." → (["-c", "--create"], "Create a new archive.")
fn split_option_line(line: &str) -> (Vec<String>, &str) {
    let mut names = Vec::new();
    let mut rest = line;
    loop {
        let t = rest.trim_start();
        if !t.starts_with('-') {
            break;
        }
        let end = t
            .find(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[')
            .unwrap_or(t.len());
        names.push(t[..end].to_string());
        let mut after = &t[end..];
        // Skip an argument placeholder ("=FILE", " FILE", "[=N]") and the comma.
        if let Some(stripped) = after.strip_prefix('=') {
            after = stripped.trim_start_matches(|c: char| !c.is_whitespace() && c != ',');
        } else if after.starts_with('[') {
            after = after.trim_start_matches(|c: char| !c.is_whitespace() && c != ',');
        } else if let Some(stripped) = after.strip_prefix(' ') {
            // "-f FILE, --file=FILE": an upper-case placeholder word; "-S .suf --suffix .suf":
            // any word between two names, or one word after the last before the line ends.
            let word_end = stripped.find([' ', ',']).unwrap_or(stripped.len());
            let word = &stripped[..word_end];
            let next = stripped[word_end..].trim_start_matches(',').trim_start();
            let placeholder = word.chars().all(|c| c.is_uppercase() || c == '_')
                || !word.starts_with('-') && (next.starts_with('-') || next.is_empty());
            if !word.is_empty() && placeholder {
                after = &stripped[word_end..];
            }
        }
        rest = after.trim_start_matches(',');
        if !rest.trim_start().starts_with('-') {
            break;
        }
    }
    // The description may follow on the same line after a run of spaces.
    let rest = rest.trim();
    (names, rest)
}

/// "DESCRIPTION" → "Description"; "SEE ALSO" → "See also".
fn title_case_heading(heading: &str) -> String {
    let lower = heading.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn parse_pydoc(source: &str, builder: &mut Builder) {
    let mut skipping = false;
    let mut in_mro = false;
    for raw in source.lines() {
        // pydoc prefixes class bodies with " |  "; strip it and the section's indentation.
        let mut line = raw.trim_end();
        let mut depth = 0;
        loop {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix('|') {
                line = rest;
                depth += 1;
            } else {
                break;
            }
        }
        let trimmed = line.trim();
        if depth == 0 && is_man_heading(raw) {
            let heading = raw.trim().to_uppercase();
            skipping = MAN_BOILERPLATE_SECTIONS.contains(&heading.as_str());
            builder.end_paragraph();
            continue;
        }
        if skipping {
            continue;
        }
        if trimmed.is_empty() {
            builder.end_paragraph();
            in_mro = false;
            continue;
        }
        if in_mro {
            continue;
        }
        if PYDOC_BOILERPLATE_PREFIXES
            .iter()
            .any(|p| trimmed.starts_with(p))
        {
            if trimmed.starts_with("Method resolution order") {
                in_mro = true;
            }
            builder.end_paragraph();
            continue;
        }
        if is_rule_line(trimmed) {
            builder.end_paragraph();
            continue;
        }
        // Aliases: "Lock = allocate_lock(...)" makes `Lock` a name of the module.
        if depth == 0 {
            if let Some((alias, value)) = trimmed.split_once(" = ") {
                if is_identifier(alias)
                    && value.contains('(')
                    && alias.chars().next().is_some_and(char::is_uppercase)
                {
                    builder.api(alias);
                    continue;
                }
            }
        }
        // Signatures: "class Lock(builtins.object)", "acquire(self, blocking=True)".
        if let Some(name) = pydoc_signature(trimmed) {
            builder.api(&name);
            builder.heading(&name);
            continue;
        }
        // The class tree under CLASSES: bare dotted names.
        if !trimmed.contains(' ')
            && builder.paragraph.is_empty()
            && !trimmed.ends_with('.')
            && trimmed.chars().all(|c| {
                c.is_alphanumeric() || c == '.' || c == '_' || c == '(' || c == ')' || c == ','
            })
        {
            continue;
        }
        if looks_like_code(trimmed) {
            builder.end_paragraph();
            harvest_code(trimmed, builder);
            continue;
        }
        if let Some((rest, ordered)) = list_item(trimmed) {
            builder.line(rest, Some(ParagraphKind::ListItem { ordered }));
        } else {
            builder.line(trimmed, None);
        }
    }
}

/// The API name of a pydoc signature line, or `None` if the line is not one.
fn pydoc_signature(line: &str) -> Option<String> {
    let line = line.trim();
    // "Lock = class lock(builtins.object)" and "Condition = class Condition(...)".
    let line = match line.split_once(" = class ") {
        Some((alias, _)) => return Some(alias.trim().to_string()).filter(|a| is_identifier(a)),
        None => line,
    };
    if let Some(rest) = line.strip_prefix("class ") {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = &rest[name.len()..];
        let signature = after.is_empty() || after.starts_with('(');
        return (signature && is_identifier(&name)).then_some(name);
    }
    let open = line.find('(')?;
    let name = line[..open].trim();
    let tail = line[open..].trim_end();
    let closes = tail.ends_with(')') || tail.contains(") ->") || tail.ends_with("...");
    (is_identifier(name) && closes && !line.contains(". ")).then(|| format!("{name}()"))
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && !word.starts_with("__")
}

fn parse_c(source: &str, builder: &mut Builder) {
    let mut in_comment = false;
    for line in source.lines() {
        let mut rest = line;
        let mut comment_text = String::new();
        let mut code_text = String::new();
        loop {
            if in_comment {
                match rest.find("*/") {
                    Some(end) => {
                        comment_text.push_str(&rest[..end]);
                        comment_text.push(' ');
                        rest = &rest[end + 2..];
                        in_comment = false;
                    }
                    None => {
                        comment_text.push_str(rest);
                        break;
                    }
                }
            } else {
                match rest.find("/*") {
                    Some(start) => {
                        code_text.push_str(&rest[..start]);
                        rest = &rest[start + 2..];
                        in_comment = true;
                    }
                    None => {
                        code_text.push_str(rest);
                        break;
                    }
                }
            }
        }
        if !code_text.trim().is_empty() {
            builder.end_paragraph();
            let code = code_text.trim();
            if let Some(name) = code
                .strip_prefix("#define ")
                .and_then(|r| r.split_whitespace().next())
            {
                if is_constant_name(name) {
                    builder.api(name);
                }
            } else {
                harvest_code(code, builder);
            }
        }
        let comment = comment_text
            .trim()
            .trim_start_matches('*')
            .trim_end_matches('*')
            .trim();
        if comment.is_empty() {
            if code_text.trim().is_empty() {
                builder.end_paragraph();
            }
            continue;
        }
        if is_rule_line(comment) {
            builder.end_paragraph();
            continue;
        }
        // Example code inside comments is indented deeper than the comment's prose.
        let comment_indent = comment_text.len() - comment_text.trim_start().len();
        if looks_like_code(comment) && comment_indent >= 4 {
            builder.end_paragraph();
            harvest_code(comment, builder);
            continue;
        }
        if let Some((rest, ordered)) = list_item(comment) {
            builder.line(rest, Some(ParagraphKind::ListItem { ordered }));
        } else {
            builder.line(comment, None);
        }
    }
}

/// Takes inline markup out of one line: code spans keep their text (and become API names when
/// they read as code), links keep their text, URLs and HTML tags go, emphasis is recorded.
fn clean_inline(line: &str, doc: &mut Document) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // reST roles: :func:`name`, :ref:`text <target>`.
        if c == ':' {
            if let Some((role_end, _)) = role_at(&chars, i) {
                i = role_end;
                continue;
            }
        }
        if c == '\\' && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '`' {
            let ticks = chars[i..].iter().take_while(|c| **c == '`').count();
            let start = i + ticks;
            if let Some(len) = find_run(&chars[start..], '`', ticks) {
                let inner: String = chars[start..start + len].iter().collect();
                let mut end = start + len + ticks;
                // A reST hyperlink: `text <url>`_ keeps its text.
                let is_link = end < chars.len() && chars[end] == '_';
                if is_link {
                    end += 1;
                    while end < chars.len() && chars[end] == '_' {
                        end += 1;
                    }
                    let text = inner.split(" <").next().unwrap_or("").trim().to_string();
                    out.push_str(&text);
                } else {
                    let inner = inner.trim();
                    let inner = inner.split(" <").next().unwrap_or(inner);
                    if reads_as_api(inner) {
                        doc.api_names.insert(inner.to_string());
                    } else if inner.split_whitespace().count() <= 4 {
                        doc.marked_terms.push(inner.to_string());
                    }
                    out.push_str(inner);
                }
                i = end;
                continue;
            }
        }
        // Markdown images and links.
        if c == '!' && chars.get(i + 1) == Some(&'[') {
            if let Some((_, end)) = link_at(&chars, i + 1) {
                i = end;
                continue;
            }
        }
        if c == '[' {
            if let Some((text, end)) = link_at(&chars, i) {
                out.push_str(&clean_inline(&text, doc));
                i = end;
                continue;
            }
        }
        // URLs and e-mail-like addresses.
        if starts_url(&chars, i) {
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ')' && chars[i] != '>'
            {
                i += 1;
            }
            if i < chars.len() && chars[i] == '>' {
                i += 1;
            }
            // Leave "(" + ")" pairs empty: "(see )" reads badly; drop a trailing "()".
            if out.ends_with('(') && i < chars.len() && chars[i] == ')' {
                out.pop();
                i += 1;
            }
            if out.ends_with('<') {
                out.pop();
            }
            continue;
        }
        // HTML tags.
        if c == '<' {
            if let Some(len) = chars[i + 1..].iter().position(|c| *c == '>') {
                let inner: String = chars[i + 1..i + 1 + len].iter().collect();
                let is_tag = inner
                    .trim_start_matches('/')
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && !inner.contains(' ')
                    || inner.starts_with("!--")
                    || inner.contains('=');
                if is_tag && len < 200 {
                    i += len + 2;
                    continue;
                }
            }
        }
        // Emphasis: **strong**, *em*, __strong__, _em_ (only at word edges).
        if (c == '*' || c == '_') && at_word_start(&chars, i) {
            let marks = chars[i..].iter().take_while(|x| **x == c).count().min(2);
            let start = i + marks;
            if let Some(len) = find_run(&chars[start..], c, marks) {
                let inner: String = chars[start..start + len].iter().collect();
                if !inner.starts_with(' ') && !inner.is_empty() && len < 120 {
                    let term = inner.trim().to_string();
                    if term.split_whitespace().count() <= 5 {
                        doc.marked_terms.push(term.clone());
                    }
                    out.push_str(&term);
                    i = start + len + marks;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    // Collapse runs of spaces left where markup was.
    let mut collapsed = String::with_capacity(out.len());
    for word in out.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    collapsed
}

/// A reST role at `i` (":func:`name`"): where it ends; its text is written by the caller.
fn role_at(chars: &[char], i: usize) -> Option<(usize, ())> {
    let mut j = i + 1;
    while j < chars.len()
        && (chars[j].is_ascii_alphanumeric()
            || chars[j] == ':' && chars.get(j + 1) != Some(&'`')
            || chars[j] == '-')
    {
        j += 1;
    }
    if j == i + 1 || chars.get(j) != Some(&':') || chars.get(j + 1) != Some(&'`') {
        return None;
    }
    let start = j + 2;
    let len = chars[start..].iter().position(|c| *c == '`')?;
    let _ = len;
    // The caller continues at the backtick so the code-span rule treats it as code.
    Some((j + 1, ()))
}

fn find_run(chars: &[char], mark: char, count: usize) -> Option<usize> {
    let mut j = 0;
    while j + count <= chars.len() {
        if chars[j..j + count].iter().all(|c| *c == mark)
            && chars.get(j + count) != Some(&mark)
            && (j == 0 || chars[j - 1] != mark)
        {
            return (j > 0).then_some(j);
        }
        j += 1;
    }
    None
}

fn at_word_start(chars: &[char], i: usize) -> bool {
    i == 0 || !chars[i - 1].is_alphanumeric()
}

/// A Markdown link at `i` ("[text](url)" or "[text][ref]"): its text and where it ends.
fn link_at(chars: &[char], i: usize) -> Option<(String, usize)> {
    let close = chars[i + 1..].iter().position(|c| *c == ']')? + i + 1;
    let text: String = chars[i + 1..close].iter().collect();
    match chars.get(close + 1) {
        Some('(') => {
            let end = chars[close + 2..].iter().position(|c| *c == ')')? + close + 2;
            Some((text, end + 1))
        }
        Some('[') => {
            let end = chars[close + 2..].iter().position(|c| *c == ']')? + close + 2;
            Some((text, end + 1))
        }
        _ => None,
    }
}

fn starts_url(chars: &[char], i: usize) -> bool {
    let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
    let at_boundary = i == 0 || !chars[i - 1].is_alphanumeric();
    at_boundary
        && (rest.starts_with("http://")
            || rest.starts_with("https://")
            || rest.starts_with("ftp://")
            || rest.starts_with("www.")
            || rest.starts_with("file://")
            || rest.starts_with("mailto:"))
}

/// Whether inline code names an API element (rather than a plain word someone put in code
/// style): it has code punctuation, or mixed or upper case.
pub fn reads_as_api(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() || t.contains(' ') && !t.ends_with(')') {
        return false;
    }
    t.contains('_')
        || t.contains("()")
        || t.contains("::")
        || t.contains('.') && !t.ends_with('.')
        || t.starts_with('-')
        || t.chars().skip(1).any(|c| c.is_uppercase())
        || t.chars().next().is_some_and(|c| c.is_uppercase())
        || t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose(doc: &Document) -> String {
        doc.sections
            .iter()
            .flat_map(|s| s.paragraphs.iter().map(|p| p.text.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn markdown_code_urls_and_tables_stay_out_of_the_prose() {
        let doc = parse(
            "# Usage\n\nCall `deflate()` until it returns `Z_STREAM_END`; see https://zlib.net/manual.html for more.\n\n```c\nint ret = deflate(&strm, Z_FINISH);\n```\n\n| Name | Meaning |\n|------|---------|\n| level | compression level |\n",
        );
        let text = prose(&doc);
        assert!(
            text.contains("Call deflate() until it returns Z_STREAM_END; see for more."),
            "{text}"
        );
        assert!(!text.contains("https"), "{text}");
        assert!(!text.contains("int ret"), "{text}");
        assert!(!text.contains("Meaning"), "table header kept: {text}");
        assert!(text.contains("level; compression level"), "{text}");
        assert!(doc.api_names.contains("deflate()"));
        assert!(doc.api_names.contains("Z_STREAM_END"));
        assert!(doc.api_names.contains("Z_FINISH"));
        assert_eq!(doc.sections[0].heading.as_deref(), Some("Usage"));
    }

    #[test]
    fn a_grammar_production_and_its_continuation_lines_are_code() {
        let doc = parse(
            "The try statement\n\nThe try statement specifies exception handlers:\n\n   try_stmt  ::= try1_stmt | try2_stmt\n   try1_stmt ::= \"try\" \":\" suite\n                 [\"finally\" \":\" suite]\n\nAn except clause names the exceptions it handles.\n",
        );
        let text = prose(&doc);
        assert!(!text.contains("try_stmt"), "{text}");
        assert!(!text.contains("finally"), "{text}");
        assert!(
            text.contains("An except clause names the exceptions it handles."),
            "{text}"
        );
    }

    #[test]
    fn rest_headings_literal_blocks_and_roles() {
        let doc = parse(
            "Binding\n=======\n\nA *name* is bound by :func:`setattr` and by assignment::\n\n    x = 1\n    y = 2\n\nThe scope decides visibility.\n\n.. note::\n\n   Names are case sensitive.\n",
        );
        let text = prose(&doc);
        assert_eq!(doc.sections[0].heading.as_deref(), Some("Binding"));
        assert!(
            text.contains("A name is bound by setattr and by assignment:"),
            "{text}"
        );
        assert!(!text.contains("x = 1"), "{text}");
        assert!(text.contains("The scope decides visibility."), "{text}");
        assert!(doc.marked_terms.contains(&"name".to_string()));
        assert!(doc.api_names.contains("setattr"));
    }

    #[test]
    fn program_lines_without_much_punctuation_are_code() {
        for code in [
            "printf(\"I scanned %g directories.\",",
            "$file_count, $directory_count,",
            "\"directory\" : \"directories\",",
        ] {
            assert!(looks_like_code(code), "{code}");
        }
        for prose in [
            "The \"finally\" clause can be used to specify cleanup code.",
            "Call deflate() with Z_FINISH once all input has been given.",
        ] {
            assert!(!looks_like_code(prose), "{prose}");
        }
    }

    #[test]
    fn a_run_in_heading_names_something_and_a_short_sentence_is_none() {
        let doc = parse(
            "Divergent plate boundaries. Where two plates move apart, magma rises to fill the gap.\n\n*Names* refer to objects.  Names are introduced by name binding operations.\n",
        );
        assert!(
            doc.marked_terms
                .contains(&"Divergent plate boundaries".to_string()),
            "{:?}",
            doc.marked_terms
        );
        assert!(
            !doc.marked_terms.iter().any(|t| t.contains("refer")),
            "{:?}",
            doc.marked_terms
        );
        assert!(doc.marked_terms.contains(&"Names".to_string()));
    }

    #[test]
    fn man_pages_lose_banners_synopsis_and_credits_and_keep_options_whole() {
        let doc = parse(
            "TAR(1)                 GNU TAR Manual                 TAR(1)\n\nNAME\n       tar - an archiving utility\n\nSYNOPSIS\n       tar -c [-f ARCHIVE] [OPTIONS] [FILE...]\n\nDESCRIPTION\n       GNU tar saves many files together into a single tape or disk archive,\n       and can restore individual files from the archive.\n\n       -c, --create\n              Create a new archive.\n\nSEE ALSO\n       bzip2(1), gzip(1)\n\nGNU TAR 1.34              2021-02-13                  TAR(1)\n",
        );
        let text = prose(&doc);
        assert!(text.contains("GNU tar saves many files together into a single tape or disk archive, and can restore"), "{text}");
        assert!(text.contains("Create a new archive."), "{text}");
        assert!(!text.contains("bzip2"), "{text}");
        assert!(!text.contains("TAR(1)"), "{text}");
        assert!(!text.contains("[-f ARCHIVE]"), "{text}");
        assert!(doc.api_names.contains("--create"));
        assert!(doc.api_names.contains("-c"));
    }

    #[test]
    fn a_dash_before_a_quotations_author_is_no_option() {
        let doc = parse(
            "NAME\n    Locale::Maketext::TPJ13 -- article about software localization\n\nDESCRIPTION\n    A Localization Horror Story\n        \"There are a number of languages spoken by human beings.\"\n\n        -- Harald Tveit Alvestrand, in RFC 1766\n\n    Imagine that your task is to localize a piece of software.\n",
        );
        assert!(!doc.api_names.contains("--"), "{:?}", doc.api_names);
        assert!(
            !doc.api_names.iter().any(|n| n.starts_with('-')),
            "{:?}",
            doc.api_names
        );
    }

    #[test]
    fn pydoc_boilerplate_goes_and_signatures_become_api_names() {
        let doc = parse(
            "Help on module threading:\n\nNAME\n    threading - Thread module emulating a subset of Java's threading model.\n\nCLASSES\n    builtins.object\n        Barrier\n\n    class Barrier(builtins.object)\n     |  Barrier(parties, action=None, timeout=None)\n     |\n     |  Implements a Barrier.\n     |\n     |  Useful for synchronizing a fixed number of threads at known synchronization\n     |  points.\n     |\n     |  Methods defined here:\n     |\n     |  wait(self, timeout=None)\n     |      Wait for the barrier.\n     |\n     |  ----------------------------------------------------------------------\n     |  Data descriptors defined here:\n     |\n     |  __dict__\n     |      dictionary for instance variables\n\nDATA\n    TIMEOUT_MAX = 9223372036.0\n",
        );
        let text = prose(&doc);
        assert!(text.contains("Useful for synchronizing a fixed number of threads at known synchronization points."), "{text}");
        assert!(!text.contains("Methods defined here"), "{text}");
        assert!(
            !text.contains("dictionary for instance variables"),
            "{text}"
        );
        assert!(!text.contains("TIMEOUT_MAX"), "{text}");
        assert!(doc.api_names.contains("Barrier"));
        assert!(doc.api_names.contains("wait()"));
        assert!(doc
            .sections
            .iter()
            .any(|s| s.heading.as_deref() == Some("wait()")));
    }

    #[test]
    fn c_headers_give_their_comments_as_prose() {
        let doc = parse(
            "#ifndef ZLIB_H\n#define ZLIB_H\n/* zlib.h -- interface of the compression library */\n#define Z_BUF_ERROR (-5)\n\nZEXTERN int ZEXPORT deflate(z_streamp strm, int flush);\n/*\n    deflate compresses as much data as possible, and stops when the input\n  buffer becomes empty or the output buffer becomes full.\n*/\n",
        );
        let text = prose(&doc);
        assert!(text.contains("deflate compresses as much data as possible, and stops when the input buffer becomes empty"), "{text}");
        assert!(doc.api_names.contains("deflate()"));
        assert!(doc.api_names.contains("Z_BUF_ERROR"));
        assert!(!text.contains("ZEXTERN"), "{text}");
    }

    #[test]
    fn plain_prose_passes_through() {
        let doc = parse("Volcanoes form where magma reaches the surface.\nThey erupt.\n\nA caldera is a large crater.");
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].paragraphs.len(), 2);
        assert_eq!(
            doc.sections[0].paragraphs[0].text,
            "Volcanoes form where magma reaches the surface. They erupt."
        );
    }
}
