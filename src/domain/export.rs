//! Exports of a completed blueprint: Markdown for people, CSV for spreadsheets, JSON for tools.

use super::blueprint::BlueprintDocument;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Csv,
    Json,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "markdown" | "md" => Some(Self::Markdown),
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

pub fn render(document: &BlueprintDocument, format: ExportFormat) -> String {
    match format {
        ExportFormat::Markdown => markdown(document),
        ExportFormat::Csv => csv(document),
        ExportFormat::Json => {
            let mut json = serde_json::to_string_pretty(document).unwrap_or_default();
            json.push('\n');
            json
        }
    }
}

/// Text as Markdown shows it, never as HTML: Markdown passes raw HTML through to whatever
/// renders it, so a title like `<script>` must arrive escaped.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn markdown(document: &BlueprintDocument) -> String {
    let status = &document.status;
    let mut out = String::new();
    out.push_str(&format!(
        "# {}\n\n",
        md(status.title.as_deref().unwrap_or("Quiz blueprint"))
    ));
    if let Some(description) = status.description.as_deref().filter(|d| !d.is_empty()) {
        out.push_str(&md(description));
        out.push_str("\n\n");
    }
    for terminal in &document.terminal_objectives {
        let t = &terminal.objective;
        out.push_str(&format!(
            "## {}. {} *({})*\n\n",
            t.position,
            md(&t.text),
            t.bloom_level.as_str()
        ));
        evidence_lines(&mut out, t.evidence.as_deref(), "");
        abcd_lines(&mut out, t.condition.as_deref(), t.criterion.as_deref(), "");
        for enabling in &terminal.enabling_objectives {
            out.push_str(&format!(
                "- {}.{} {} *({})*\n",
                t.position,
                enabling.position,
                md(&enabling.text),
                enabling.bloom_level.as_str()
            ));
            evidence_lines(&mut out, enabling.evidence.as_deref(), "  ");
            abcd_lines(
                &mut out,
                enabling.condition.as_deref(),
                enabling.criterion.as_deref(),
                "  ",
            );
        }
        out.push('\n');
    }
    out
}

/// The evidence as a quotation under its objective, every line of the passage quoted.
fn evidence_lines(out: &mut String, evidence: Option<&str>, indent: &str) {
    let Some(evidence) = evidence.filter(|e| !e.trim().is_empty()) else {
        return;
    };
    for (i, line) in evidence.lines().enumerate() {
        let lead = if i == 0 { "Evidence: " } else { "" };
        let line = format!("{lead}{}", md(line.trim_end()));
        if line.is_empty() {
            out.push_str(&format!("{indent}>\n"));
        } else {
            out.push_str(&format!("{indent}> {line}\n"));
        }
    }
    if indent.is_empty() {
        out.push('\n');
    }
}

fn abcd_lines(out: &mut String, condition: Option<&str>, criterion: Option<&str>, indent: &str) {
    if let Some(condition) = condition {
        out.push_str(&format!("{indent}- Condition: {}\n", md(condition)));
    }
    if let Some(criterion) = criterion {
        out.push_str(&format!("{indent}- Criterion: {}\n", md(criterion)));
    }
    if indent.is_empty() && (condition.is_some() || criterion.is_some()) {
        out.push('\n');
    }
}

fn csv(document: &BlueprintDocument) -> String {
    let mut out = String::from(
        "terminal_position,enabling_position,kind,bloom_level,verb,text,condition,criterion,\
         evidence\r\n",
    );
    for terminal in &document.terminal_objectives {
        let t = &terminal.objective;
        let mut row = |enabling_position: String, kind: &str, o: &super::objective::Objective| {
            let fields = [
                t.position.to_string(),
                enabling_position,
                kind.to_string(),
                o.bloom_level.as_str().to_string(),
                o.verb.clone(),
                o.text.clone(),
                o.condition.clone().unwrap_or_default(),
                o.criterion.clone().unwrap_or_default(),
                o.evidence.clone().unwrap_or_default(),
            ];
            let cells: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        };
        row(String::new(), "terminal", t);
        for enabling in &terminal.enabling_objectives {
            row(enabling.position.to_string(), "enabling", enabling);
        }
    }
    out
}

/// Quotes a CSV cell (RFC 4180) and defuses spreadsheet formulas, which a cell starting with
/// `=`, `+`, `-` or `@` would otherwise become when the file is opened.
fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::blueprint::{Blueprint, BlueprintStatus};
    use crate::domain::objective::{BloomLevel, Objective, TerminalObjective};
    use uuid::Uuid;

    fn objective(position: i64, text: &str, evidence: Option<&str>) -> Objective {
        Objective {
            id: Uuid::nil(),
            position,
            text: text.into(),
            bloom_level: BloomLevel::Apply,
            verb: text.split_whitespace().next().unwrap_or("").into(),
            condition: None,
            criterion: None,
            evidence: evidence.map(str::to_string),
        }
    }

    fn document() -> BlueprintDocument {
        let blueprint = Blueprint {
            id: Uuid::nil(),
            topic_id: Uuid::nil(),
            status: BlueprintStatus::Completed,
            title: Some("Blocks".into()),
            description: None,
            terminal_objectives_count: 1,
            enabling_objectives_count: 2,
            target_terminal_objectives: 1,
            error: None,
            error_code: None,
            attempt: 1,
            created_at: 0,
            generation_started_at: Some(0),
            finished_at: Some(1),
            version: 3,
            updated_at: 1,
            quality: None,
        };
        BlueprintDocument {
            status: blueprint.status_view(),
            terminal_objectives: vec![TerminalObjective {
                objective: objective(1, "Use blocks", Some("A block is a unit.\nIt holds data.")),
                enabling_objectives: vec![
                    objective(1, "Define a block", Some("A block is a unit.")),
                    objective(2, "List the kinds of blocks", None),
                ],
            }],
            quality: None,
        }
    }

    #[test]
    fn markdown_quotes_evidence_under_its_objective_and_omits_it_when_null() {
        let markdown = render(&document(), ExportFormat::Markdown);
        assert!(
            markdown.contains(
                "## 1. Use blocks *(apply)*\n\n> Evidence: A block is a unit.\n> It holds data.\n"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("- 1.1 Define a block *(apply)*\n  > Evidence: A block is a unit.\n"),
            "{markdown}"
        );
        assert!(
            markdown.contains("- 1.2 List the kinds of blocks *(apply)*\n\n"),
            "no evidence line for a null: {markdown}"
        );
        assert_eq!(markdown.matches("Evidence:").count(), 2);
    }

    #[test]
    fn csv_and_json_carry_evidence() {
        let csv = render(&document(), ExportFormat::Csv);
        let rows: Vec<&str> = csv.split("\r\n").collect();
        assert!(rows[0].ends_with(",criterion,evidence"), "{}", rows[0]);
        assert!(rows[2].ends_with(",A block is a unit."), "{}", rows[2]);
        assert!(
            rows[3].ends_with(','),
            "an empty cell for a null: {}",
            rows[3]
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&document(), ExportFormat::Json)).expect("json");
        let terminal = &json["terminal_objectives"][0];
        assert_eq!(terminal["evidence"], "A block is a unit.\nIt holds data.");
        assert!(terminal["enabling_objectives"][1]["evidence"].is_null());
        assert!(terminal["enabling_objectives"][1]
            .as_object()
            .is_some_and(|o| o.contains_key("evidence")));
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert!(csv_cell("\t=cmd|' /C calc'!A0").starts_with("'\t"));
        assert!(csv_cell("\r=1+1").starts_with("\"'\r"));
    }

    #[test]
    fn markdown_never_carries_raw_html() {
        let mut doc = document();
        doc.status.title = Some("<script>alert(1)</script> & co".into());
        let markdown = render(&doc, ExportFormat::Markdown);
        assert!(!markdown.contains("<script>"), "{markdown}");
        assert!(markdown.starts_with("# &lt;script&gt;alert(1)&lt;/script&gt; &amp; co\n"));
    }
}
