//! What the templates show, computed in Rust so that templates only place ready-made values.

use std::convert::Infallible;

use axum::extract::OptionalFromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::JobListing;
use crate::domain::blueprint::Blueprint;
use crate::domain::objective::{Objective, TerminalObjective};
use crate::domain::time::rfc3339;
use crate::domain::{BloomLevel, BlueprintId, BlueprintStatus, Topic, TopicId, UserId};
use crate::http::auth::CurrentUser;
use crate::http::AppState;

/// Who is looking at a page, for the header's user menu (their email, API tokens, log out).
/// Every page template has a `viewer: Option<Viewer>`; a handler gets it by taking
/// `Option<Viewer>` as an argument. It is `None` with `QUIZMASTER_AUTH=off` (nobody logs in,
/// so there is nothing to show) and on the pages for anonymous people.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub email: String,
}

impl OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        // The pages' access layer put the caller there; without it the page is anonymous.
        let caller = parts.extensions.get::<CurrentUser>();
        Ok(caller
            .filter(|_| state.auth.enabled())
            .map(|caller| Viewer {
                email: caller.user.email.clone(),
            }))
    }
}

/// A date as people read it, in UTC: `2 Dec 2026, 21:15 UTC`. The pages' script
/// (`static/js/common.mjs`, `formatLocal`) writes the same format in the reader's time zone;
/// `tests/js/dates.test.mjs` holds it to this one.
pub fn human_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%-d %b %Y, %H:%M UTC")
        .to_string()
}

/// A duration as a clock: `0:07`, `12:34`, `1:02:03`.
pub fn clock(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The progress bar of the seed: while generating `min(max(done / target * 100, 5), 90)`,
/// 100 when completed, 0 while queued; a generation that ended otherwise keeps where it got to.
pub fn bar_percent(b: &Blueprint) -> i64 {
    match b.status {
        BlueprintStatus::Queued => 0,
        BlueprintStatus::Completed => 100,
        BlueprintStatus::Error | BlueprintStatus::Cancelled
            if b.generation_started_at.is_none() =>
        {
            0
        }
        _ => {
            let target = b.target_terminal_objectives.max(1) as f64;
            let raw = b.terminal_objectives_count as f64 / target * 100.0;
            raw.clamp(5.0, 90.0).round() as i64
        }
    }
}

pub fn status_label(status: BlueprintStatus) -> &'static str {
    match status {
        BlueprintStatus::Queued => "Queued",
        BlueprintStatus::Generating => "Generating",
        BlueprintStatus::Completed => "Completed",
        BlueprintStatus::Error => "Failed",
        BlueprintStatus::Cancelled => "Cancelled",
    }
}

pub fn bloom_label(level: BloomLevel) -> &'static str {
    match level {
        BloomLevel::Remember => "Remember",
        BloomLevel::Understand => "Understand",
        BloomLevel::Apply => "Apply",
        BloomLevel::Analyze => "Analyze",
        BloomLevel::Evaluate => "Evaluate",
        BloomLevel::Create => "Create",
    }
}

/// The first `max` characters of a text, on a word boundary, with an ellipsis when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':']))
}

pub fn topic_url(topic_id: TopicId) -> String {
    format!("/topics/{topic_id}")
}

pub fn status_page_url(topic_id: TopicId, blueprint_id: BlueprintId) -> String {
    format!("/topics/{topic_id}/blueprints/generate-status?blueprint={blueprint_id}")
}

pub fn blueprint_url(topic_id: TopicId, blueprint_id: BlueprintId) -> String {
    format!("/topics/{topic_id}/blueprints/{blueprint_id}")
}

pub fn cancel_action(topic_id: TopicId, blueprint_id: BlueprintId) -> String {
    format!("/topics/{topic_id}/blueprints/{blueprint_id}/cancel")
}

pub fn generate_action(topic_id: TopicId) -> String {
    format!("/topics/{topic_id}/blueprints/generate")
}

/// A topic in the list.
pub struct TopicRow {
    pub url: String,
    pub title: String,
    pub summary: Option<String>,
    pub created: String,
    pub created_iso: String,
    pub has_source: bool,
}

impl TopicRow {
    pub fn new(topic: &Topic) -> Self {
        Self {
            url: topic_url(TopicId(topic.id)),
            title: topic.title.clone(),
            summary: topic
                .description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| excerpt(d, 160)),
            created: human_time(topic.created_at),
            created_iso: rfc3339(topic.created_at),
            has_source: topic
                .source_text
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty()),
        }
    }
}

/// A blueprint in a topic's list.
pub struct BlueprintRow {
    pub url: String,
    pub title: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub created: String,
    pub created_iso: String,
    pub counts: String,
    pub error: Option<String>,
}

impl BlueprintRow {
    pub fn new(b: &Blueprint) -> Self {
        let url = if b.status == BlueprintStatus::Completed {
            blueprint_url(TopicId(b.topic_id), BlueprintId(b.id))
        } else {
            status_page_url(TopicId(b.topic_id), BlueprintId(b.id))
        };
        Self {
            url,
            title: b
                .title
                .clone()
                .unwrap_or_else(|| format!("Blueprint of {}", human_time(b.created_at))),
            status: b.status.as_str(),
            status_label: status_label(b.status),
            created: human_time(b.created_at),
            created_iso: rfc3339(b.created_at),
            counts: format!(
                "{} terminal · {} enabling {}",
                b.terminal_objectives_count,
                b.enabling_objectives_count,
                if b.enabling_objectives_count == 1 {
                    "objective"
                } else {
                    "objectives"
                }
            ),
            error: b
                .error
                .clone()
                .filter(|_| b.status == BlueprintStatus::Error),
        }
    }
}

/// The live part of a generation: what the status page and the jobs dashboard show.
pub struct JobView {
    pub blueprint_id: Uuid,
    pub status: &'static str,
    pub status_label: &'static str,
    pub percent: i64,
    pub terminal_count: i64,
    pub enabling_count: i64,
    pub target: i64,
    pub attempt: i64,
    pub error: Option<String>,
    pub active: bool,
    pub elapsed: String,
    /// When the clock started: the generation's start, or its creation while queued.
    pub clock_start_iso: String,
    pub finished_iso: Option<String>,
    pub created: String,
    pub created_iso: String,
    pub status_url: String,
    pub blueprint_url: String,
    pub cancel_action: String,
}

impl JobView {
    pub fn new(b: &Blueprint, now: i64) -> Self {
        let start = b.generation_started_at.unwrap_or(b.created_at);
        let end = b.finished_at.unwrap_or(now);
        Self {
            blueprint_id: b.id,
            status: b.status.as_str(),
            status_label: status_label(b.status),
            percent: bar_percent(b),
            terminal_count: b.terminal_objectives_count,
            enabling_count: b.enabling_objectives_count,
            target: b.target_terminal_objectives,
            attempt: b.attempt.max(1),
            error: b.error.clone(),
            active: !b.status.is_terminal(),
            elapsed: clock(end - start),
            clock_start_iso: rfc3339(start),
            finished_iso: b.finished_at.map(rfc3339),
            created: human_time(b.created_at),
            created_iso: rfc3339(b.created_at),
            status_url: status_page_url(TopicId(b.topic_id), BlueprintId(b.id)),
            blueprint_url: blueprint_url(TopicId(b.topic_id), BlueprintId(b.id)),
            cancel_action: cancel_action(TopicId(b.topic_id), BlueprintId(b.id)),
        }
    }

    pub fn is(&self, status: &str) -> bool {
        self.status == status
    }
}

/// A row of the jobs dashboard.
pub struct JobRow {
    pub job: JobView,
    pub topic_title: String,
    pub topic_url: String,
    pub owner_email: String,
    /// Whether the viewer owns the topic. An admin sees everyone's jobs, but another user's
    /// topic pages are "not found" for them too, so those rows link nowhere and offer no cancel.
    pub owned: bool,
}

impl JobRow {
    pub fn new(listing: &JobListing, now: i64, viewer_id: UserId) -> Self {
        Self {
            job: JobView::new(&listing.blueprint, now),
            topic_title: listing.topic_title.clone(),
            topic_url: topic_url(TopicId(listing.blueprint.topic_id)),
            owner_email: listing.owner_email.clone(),
            owned: listing.owner_id == viewer_id,
        }
    }
}

/// One objective on the blueprint page.
pub struct ObjectiveView {
    pub number: String,
    pub text: String,
    pub bloom: &'static str,
    pub bloom_label: &'static str,
    pub condition: Option<String>,
    pub criterion: Option<String>,
    /// The source passage the objective rests on, shown quoted under it.
    pub evidence: Option<String>,
}

impl ObjectiveView {
    fn new(o: &Objective, number: String) -> Self {
        Self {
            number,
            text: o.text.clone(),
            bloom: o.bloom_level.as_str(),
            bloom_label: bloom_label(o.bloom_level),
            condition: o.condition.clone().filter(|c| !c.trim().is_empty()),
            criterion: o.criterion.clone().filter(|c| !c.trim().is_empty()),
            evidence: o.evidence.clone().filter(|e| !e.trim().is_empty()),
        }
    }
}

pub struct TerminalView {
    pub objective: ObjectiveView,
    pub enabling: Vec<ObjectiveView>,
}

pub fn terminal_views(objectives: &[TerminalObjective]) -> Vec<TerminalView> {
    objectives
        .iter()
        .map(|t| TerminalView {
            objective: ObjectiveView::new(&t.objective, t.objective.position.to_string()),
            enabling: t
                .enabling_objectives
                .iter()
                .map(|e| ObjectiveView::new(e, format!("{}.{}", t.objective.position, e.position)))
                .collect(),
        })
        .collect()
}

/// A detected source language as a reader knows it: "German (de)"; the code alone for a
/// language not in the short list, `None` for no code.
pub fn language_label(code: Option<&str>) -> Option<String> {
    let code = code?.trim();
    if code.is_empty() {
        return None;
    }
    let name = LANGUAGE_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(code))
        .map(|(_, name)| *name);
    Some(match name {
        Some(name) => format!("{name} ({code})"),
        None => code.to_string(),
    })
}

/// ISO 639-1 codes of the languages teachers are most likely to paste, with English names.
const LANGUAGE_NAMES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("es", "Spanish"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("hu", "Hungarian"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("nb", "Norwegian Bokmål"),
    ("nl", "Dutch"),
    ("no", "Norwegian"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sv", "Swedish"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("zh", "Chinese"),
];

/// One bar of the Bloom chart.
pub struct BloomBar {
    pub level: &'static str,
    pub label: &'static str,
    pub count: i64,
    /// Width relative to the largest bar, 0–100, so the chart always uses its full width.
    pub percent: i64,
    /// Share of all objectives, for the text beside the bar.
    pub share: i64,
}

/// How the objectives (terminal and enabling) spread over the Bloom levels, lowest first.
pub fn bloom_spread(objectives: &[TerminalObjective]) -> Vec<BloomBar> {
    let mut counts = [0i64; 6];
    let levels = objectives.iter().flat_map(|t| {
        std::iter::once(t.objective.bloom_level)
            .chain(t.enabling_objectives.iter().map(|e| e.bloom_level))
    });
    for level in levels {
        counts[level as usize] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let total = counts.iter().sum::<i64>().max(1);
    BloomLevel::ALL
        .into_iter()
        .zip(counts)
        .map(|(level, count)| BloomBar {
            level: level.as_str(),
            label: bloom_label(level),
            count,
            percent: count * 100 / max,
            share: (count * 100 + total / 2) / total,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_one_way() {
        // 2026-12-02T21:15:00Z, the example of tests/js/dates.test.mjs.
        assert_eq!(human_time(1_796_246_100_000), "2 Dec 2026, 21:15 UTC");
    }

    fn blueprint(status: BlueprintStatus, done: i64, target: i64) -> Blueprint {
        Blueprint {
            id: Uuid::nil(),
            topic_id: Uuid::nil(),
            status,
            title: None,
            description: None,
            terminal_objectives_count: done,
            enabling_objectives_count: 0,
            target_terminal_objectives: target,
            error: None,
            error_code: None,
            attempt: 1,
            created_at: 0,
            generation_started_at: Some(0),
            finished_at: None,
            version: 1,
            updated_at: 0,
            quality: None,
        }
    }

    #[test]
    fn the_bar_follows_the_seed_formula() {
        use BlueprintStatus::*;
        assert_eq!(bar_percent(&blueprint(Queued, 0, 10)), 0);
        assert_eq!(bar_percent(&blueprint(Generating, 0, 10)), 5);
        assert_eq!(bar_percent(&blueprint(Generating, 3, 10)), 30);
        assert_eq!(bar_percent(&blueprint(Generating, 10, 10)), 90);
        assert_eq!(bar_percent(&blueprint(Generating, 1, 3)), 33);
        assert_eq!(bar_percent(&blueprint(Completed, 10, 10)), 100);
        let mut never_started = blueprint(Cancelled, 0, 10);
        never_started.generation_started_at = None;
        assert_eq!(bar_percent(&never_started), 0);
        assert_eq!(bar_percent(&blueprint(Error, 4, 10)), 40);
    }

    #[test]
    fn clocks_and_excerpts_read_well() {
        assert_eq!(clock(7_000), "0:07");
        assert_eq!(clock(754_000), "12:34");
        assert_eq!(clock(3_723_000), "1:02:03");
        assert_eq!(clock(-5), "0:00");
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("one two three four", 12), "one two…");
    }

    #[test]
    fn languages_are_named_when_known() {
        assert_eq!(language_label(Some("de")).as_deref(), Some("German (de)"));
        assert_eq!(language_label(Some("eo")).as_deref(), Some("eo"));
        assert_eq!(language_label(Some(" ")), None);
        assert_eq!(language_label(None), None);
    }
}
