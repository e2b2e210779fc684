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

fn markdown(document: &BlueprintDocument) -> String {
    let status = &document.status;
    let mut out = String::new();
    out.push_str(&format!(
        "# {}\n\n",
        status.title.as_deref().unwrap_or("Quiz blueprint")
    ));
    if let Some(description) = status.description.as_deref().filter(|d| !d.is_empty()) {
        out.push_str(description);
        out.push_str("\n\n");
    }
    for terminal in &document.terminal_objectives {
        let t = &terminal.objective;
        out.push_str(&format!(
            "## {}. {} *({})*\n\n",
            t.position,
            t.text,
            t.bloom_level.as_str()
        ));
        abcd_lines(&mut out, t.condition.as_deref(), t.criterion.as_deref(), "");
        for enabling in &terminal.enabling_objectives {
            out.push_str(&format!(
                "- {}.{} {} *({})*\n",
                t.position,
                enabling.position,
                enabling.text,
                enabling.bloom_level.as_str()
            ));
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

fn abcd_lines(out: &mut String, condition: Option<&str>, criterion: Option<&str>, indent: &str) {
    if let Some(condition) = condition {
        out.push_str(&format!("{indent}- Condition: {condition}\n"));
    }
    if let Some(criterion) = criterion {
        out.push_str(&format!("{indent}- Criterion: {criterion}\n"));
    }
    if indent.is_empty() && (condition.is_some() || criterion.is_some()) {
        out.push('\n');
    }
}

fn csv(document: &BlueprintDocument) -> String {
    let mut out = String::from(
        "terminal_position,enabling_position,kind,bloom_level,verb,text,condition,criterion\r\n",
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
    let defused = if value.starts_with(['=', '+', '-', '@']) {
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

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
    }
}
