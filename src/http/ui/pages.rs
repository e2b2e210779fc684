//! The page handlers: read through the `Store`, render a template; form posts validate,
//! act through the same operations as the JSON API, and redirect (303) to the page to see next.

use askama::Template;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use uuid::Uuid;

use super::forms::{self, FormFields, TopicFormErrors, TopicFormValues};
use super::views::*;
use super::UiError;
use crate::core::CoreError;
use crate::db::{BlueprintLookup, Cursor};
use crate::domain::blueprint::{Blueprint, TARGET_DEFAULT, TARGET_MAX, TARGET_MIN};
use crate::domain::time::now_ms;
use crate::domain::{BlueprintId, Topic, TopicId};
use crate::http::auth::CurrentUser;
use crate::http::error::retry_after_secs;
use crate::http::extract::PageIds;
use crate::http::AppState;

pub(super) type PageResult = Result<Response, UiError>;

const TOPICS_PER_PAGE: i64 = 20;
/// `SOURCE_TEXT_MAX_CHARS` as people read it (checked by a test below).
const SOURCE_MAX_TEXT: &str = "200,000";
const BLUEPRINTS_SHOWN: i64 = 50;
const JOBS_SHOWN: i64 = 100;
/// How long an ended generation stays on the jobs dashboard.
const JOBS_RECENT_MS: i64 = 24 * 60 * 60 * 1000;

pub(super) fn render(template: &impl Template, status: StatusCode) -> PageResult {
    Ok((status, Html(template.render()?)).into_response())
}

/// For responses that must never come from a cache: live fragments, and pages whose forms carry
/// a one-time idempotency key (no stored copy, no back/forward cache), so that going back and
/// sending the form again starts a new generation instead of replaying the old one.
pub(super) fn render_fresh(template: &impl Template, status: StatusCode) -> PageResult {
    let mut response = render(template, status)?;
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

pub(super) fn page_id(raw: &str) -> Result<Uuid, UiError> {
    Uuid::parse_str(raw).map_err(|_| UiError::NotFound)
}

pub(super) fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default()
}

pub(super) fn query_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn load_topic(state: &AppState, id: TopicId) -> Result<Topic, UiError> {
    state.store.get_topic(id).await?.ok_or(UiError::NotFound)
}

async fn load_blueprint(
    state: &AppState,
    topic_id: TopicId,
    id: BlueprintId,
) -> Result<Blueprint, UiError> {
    match state.store.get_blueprint(topic_id, id).await? {
        BlueprintLookup::Found(blueprint) => Ok(blueprint),
        BlueprintLookup::TopicNotFound | BlueprintLookup::BlueprintNotFound => {
            Err(UiError::NotFound)
        }
    }
}

/// A fresh key for a form that starts a generation: a double submit (or a resubmit after a
/// lost answer) then leads to the first generation instead of starting a second (the core's
/// idempotency rule, [`crate::core::Core::start_generation_once`]).
fn form_key() -> String {
    format!("web-form-{}", Uuid::new_v4().simple())
}

// ---------------------------------------------------------------------------------------------
// Topics

#[derive(Template)]
#[template(path = "topics.html")]
struct TopicsPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    topics: Vec<TopicRow>,
    next_url: Option<String>,
    first_page: bool,
    values: TopicFormValues,
    errors: TopicFormErrors,
    source_max: &'static str,
}

async fn topics_page(
    state: &AppState,
    caller: &CurrentUser,
    viewer: Option<Viewer>,
    cursor: Option<Cursor>,
    values: TopicFormValues,
    errors: TopicFormErrors,
) -> Result<TopicsPage, UiError> {
    let mut rows = state
        .store
        .list_topics(caller.user_id(), TOPICS_PER_PAGE + 1, cursor)
        .await?;
    let more = rows.len() as i64 > TOPICS_PER_PAGE;
    rows.truncate(TOPICS_PER_PAGE as usize);
    let next_url = rows.last().filter(|_| more).map(|t| {
        let cursor = Cursor {
            created_at: t.created_at,
            id: t.id,
        };
        format!("/topics?cursor={}", cursor.encode())
    });
    Ok(TopicsPage {
        title: "Topics".into(),
        nav: "topics",
        viewer,
        topics: rows.iter().map(TopicRow::new).collect(),
        next_url,
        first_page: cursor.is_none(),
        values,
        errors,
        source_max: SOURCE_MAX_TEXT,
    })
}

/// `GET /topics`: the topics, newest first, and the form to create one.
pub async fn topics(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let pairs = query_pairs(query);
    let cursor = query_get(&pairs, "cursor").and_then(Cursor::decode);
    let page = topics_page(
        &state,
        &caller,
        viewer,
        cursor,
        TopicFormValues::default(),
        TopicFormErrors::default(),
    )
    .await?;
    render(&page, StatusCode::OK)
}

/// `POST /topics`: creates a topic and goes to its page; with errors, shows the form again
/// (422) with what was typed and a message at each field.
pub async fn create_topic(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    request: Request,
) -> PageResult {
    let form = FormFields::from_request(request, "source_file").await?;
    match forms::parse_topic(&form) {
        Ok(input) => {
            let topic = state.core.create_topic(caller.user_id(), &input).await?;
            Ok(Redirect::to(&topic_url(TopicId(topic.id))).into_response())
        }
        Err(invalid) => {
            let page = topics_page(
                &state,
                &caller,
                viewer,
                None,
                invalid.values,
                invalid.errors,
            )
            .await?;
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One topic

#[derive(Template)]
#[template(path = "topic.html")]
struct TopicPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    topic: TopicRow,
    description: Option<String>,
    source_text: Option<String>,
    source_chars: usize,
    blueprints: Vec<BlueprintRow>,
    active: Option<JobView>,
    generate_url: String,
}

/// `GET /topics/{topic_id}`: the topic, its blueprints, and the way to generate one.
pub async fn topic(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    PageIds(id): PageIds<TopicId>,
) -> PageResult {
    let topic = load_topic(&state, id).await?;
    let blueprints = state
        .store
        .list_blueprints(id, None, BLUEPRINTS_SHOWN, None)
        .await?
        .ok_or(UiError::NotFound)?;
    let now = now_ms();
    let active = blueprints
        .iter()
        .find(|b| !b.status.is_terminal())
        .map(|b| JobView::new(b, now));
    let source_text = topic.source_text.clone().filter(|s| !s.trim().is_empty());
    let page = TopicPage {
        title: topic.title.clone(),
        nav: "topics",
        viewer,
        description: topic.description.clone().filter(|d| !d.trim().is_empty()),
        source_chars: source_text.as_deref().map_or(0, |s| s.chars().count()),
        source_text,
        topic: TopicRow::new(&topic),
        blueprints: blueprints.iter().map(BlueprintRow::new).collect(),
        active,
        generate_url: generate_action(id),
    };
    render(&page, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------------
// Starting a generation

#[derive(Template)]
#[template(path = "generate.html")]
struct GeneratePage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    topic: TopicRow,
    action: String,
    target_value: String,
    target_error: Option<String>,
    target_min: i64,
    target_max: i64,
    key: String,
    active: Option<JobView>,
}

async fn generate_page_for(
    state: &AppState,
    viewer: Option<Viewer>,
    topic: &Topic,
    target_value: String,
    target_error: Option<String>,
) -> Result<GeneratePage, UiError> {
    let active = state
        .store
        .list_blueprints(TopicId(topic.id), None, BLUEPRINTS_SHOWN, None)
        .await?
        .unwrap_or_default()
        .iter()
        .find(|b| !b.status.is_terminal())
        .map(|b| JobView::new(b, now_ms()));
    Ok(GeneratePage {
        title: format!("Generate a blueprint: {}", topic.title),
        nav: "topics",
        viewer,
        topic: TopicRow::new(topic),
        action: generate_action(TopicId(topic.id)),
        target_value,
        target_error,
        target_min: TARGET_MIN,
        target_max: TARGET_MAX,
        key: form_key(),
        active,
    })
}

/// `GET /topics/{topic_id}/blueprints/generate`: the generation form.
pub async fn generate_page(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    PageIds(topic_id): PageIds<TopicId>,
) -> PageResult {
    let topic = load_topic(&state, topic_id).await?;
    let page = generate_page_for(&state, viewer, &topic, TARGET_DEFAULT.to_string(), None).await?;
    render_fresh(&page, StatusCode::OK)
}

/// `POST /topics/{topic_id}/blueprints/generate`: starts the job and goes to its status page.
/// When another generation of the topic is running, goes to that one's status page instead:
/// following the running job is what the person wants, not an error.
pub async fn start_generation(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    PageIds(topic_id): PageIds<TopicId>,
    request: Request,
) -> PageResult {
    let form = FormFields::from_request(request, "").await?;
    let target = match forms::parse_target(form.get("target_terminal_objectives")) {
        Ok(target) => target,
        Err(message) => {
            let topic = load_topic(&state, topic_id).await?;
            let value = form.get("target_terminal_objectives").to_string();
            let page = generate_page_for(&state, viewer, &topic, value, Some(message)).await?;
            return render_fresh(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    // The page's own one-time key; one that is not a valid key (tampered) is simply not used.
    let key = crate::domain::text::parse_idempotency_key(form.get("idempotency_key")).ok();
    let admitted = match key {
        Some(key) => {
            state
                .core
                .start_generation_once(caller.user_id(), topic_id, target, key)
                .await
        }
        None => state
            .core
            .start_generation(caller.user_id(), topic_id, target)
            .await
            .map(|blueprint| BlueprintId(blueprint.id)),
    };
    let next = match admitted {
        Ok(blueprint_id) => status_page_url(topic_id, blueprint_id),
        Err(CoreError::GenerationInProgress { blueprint_id, .. }) => format!(
            "{}&notice=already-running",
            status_page_url(topic_id, blueprint_id)
        ),
        Err(CoreError::RateLimited { retry_after_ms }) => {
            let secs = retry_after_secs(retry_after_ms);
            return Err(UiError::Status(
                StatusCode::TOO_MANY_REQUESTS,
                format!("You started too many generations in the last minute. Wait {secs} seconds and try again."),
            ));
        }
        Err(CoreError::ActiveLimitReached { limit }) => {
            return Err(UiError::Status(
                StatusCode::TOO_MANY_REQUESTS,
                format!("You already have {limit} generations queued or running. Wait for one to end, or cancel one on the Jobs page."),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    Ok(Redirect::to(&next).into_response())
}

// ---------------------------------------------------------------------------------------------
// Following a generation

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    topic: TopicRow,
    job: JobView,
    notice: Option<&'static str>,
    status_api: String,
    events_api: String,
    cancel_api: String,
    retry_action: String,
    retry_key: String,
}

/// `GET /topics/{topic_id}/blueprints/generate-status?blueprint=ID`: the live status page. It
/// shows the server's current state, so a reload picks the job up where it is.
pub async fn status_page(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    PageIds(topic_id): PageIds<TopicId>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let pairs = query_pairs(query);
    let blueprint_id = BlueprintId(page_id(query_get(&pairs, "blueprint").unwrap_or(""))?);
    let topic = load_topic(&state, topic_id).await?;
    let blueprint = load_blueprint(&state, topic_id, blueprint_id).await?;
    let notice = match query_get(&pairs, "notice") {
        Some("already-running") => {
            Some("A generation was already running for this topic, so here it is.")
        }
        _ => None,
    };
    let api = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}");
    let page = StatusPage {
        title: format!("Generating: {}", topic.title),
        nav: "topics",
        viewer,
        topic: TopicRow::new(&topic),
        job: JobView::new(&blueprint, now_ms()),
        notice,
        status_api: format!("{api}/status"),
        events_api: format!("{api}/events"),
        cancel_api: format!("{api}/cancel"),
        retry_action: generate_action(topic_id),
        retry_key: form_key(),
    };
    render_fresh(&page, StatusCode::OK)
}

/// `POST /topics/{topic_id}/blueprints/{blueprint_id}/cancel`: cancels and goes back to the
/// status page (or to `/jobs` when the form says so). Cancelling a generation that has just
/// ended is not an error to the person: the page they land on shows how it ended.
pub async fn cancel(
    State(state): State<AppState>,
    PageIds((topic_id, blueprint_id)): PageIds<(TopicId, BlueprintId)>,
    request: Request,
) -> PageResult {
    let form = FormFields::from_request(request, "").await?;
    match state.core.cancel_generation(topic_id, blueprint_id).await {
        Ok(_) | Err(CoreError::NotCancellable(_)) => {}
        Err(err) => return Err(err.into()),
    }
    let next = if form.get("return_to") == "jobs" {
        "/jobs".to_string()
    } else {
        status_page_url(topic_id, blueprint_id)
    };
    Ok(Redirect::to(&next).into_response())
}

// ---------------------------------------------------------------------------------------------
// A blueprint

#[derive(Template)]
#[template(path = "blueprint.html")]
struct BlueprintPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    topic: TopicRow,
    heading: String,
    description: Option<String>,
    job: JobView,
    terminals: Vec<TerminalView>,
    spread: Vec<BloomBar>,
    objective_total: i64,
    exports: Vec<(&'static str, String)>,
    /// The quality checks' verdict, once completed.
    quality: Option<crate::domain::BlueprintQuality>,
    /// The source's language as the quality checks detected it, named for a reader.
    language: Option<String>,
}

/// `GET /topics/{topic_id}/blueprints/{blueprint_id}`: the objectives, the Bloom spread and
/// the export links.
pub async fn blueprint_page(
    State(state): State<AppState>,
    viewer: Option<Viewer>,
    PageIds((topic_id, blueprint_id)): PageIds<(TopicId, BlueprintId)>,
) -> PageResult {
    let topic = load_topic(&state, topic_id).await?;
    let blueprint = load_blueprint(&state, topic_id, blueprint_id).await?;
    let objectives = state.store.get_objectives(blueprint_id).await?;
    let api = format!("/api/topics/{topic_id}/blueprints/{blueprint_id}/export");
    let exports = if blueprint.status.is_exportable() {
        vec![
            ("Markdown", format!("{api}?format=markdown")),
            ("CSV", format!("{api}?format=csv")),
            ("JSON", format!("{api}?format=json")),
        ]
    } else {
        Vec::new()
    };
    let page = BlueprintPage {
        title: blueprint
            .title
            .clone()
            .unwrap_or_else(|| format!("Blueprint: {}", topic.title)),
        nav: "topics",
        viewer,
        heading: blueprint
            .title
            .clone()
            .unwrap_or_else(|| format!("Blueprint for {}", topic.title)),
        description: blueprint.description.clone(),
        topic: TopicRow::new(&topic),
        job: JobView::new(&blueprint, now_ms()),
        spread: bloom_spread(&objectives),
        objective_total: blueprint.terminal_objectives_count + blueprint.enabling_objectives_count,
        terminals: terminal_views(&objectives),
        exports,
        quality: blueprint.quality.as_deref().cloned(),
        language: language_label(
            blueprint
                .quality
                .as_deref()
                .and_then(|q| q.language.as_deref()),
        ),
    };
    render(&page, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------------
// The jobs dashboard

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    title: String,
    nav: &'static str,
    viewer: Option<Viewer>,
    /// An admin's dashboard: everyone's jobs, with an owner column.
    everyone: bool,
    rows: Vec<JobRow>,
    active_count: usize,
}

#[derive(Template)]
#[template(path = "jobs_table.html")]
struct JobsTable {
    everyone: bool,
    rows: Vec<JobRow>,
    active_count: usize,
}

/// `GET /jobs`: queued, running and recently ended generations across topics. With
/// `?fragment=table`, only the table, which the page's script fetches to stay live.
pub async fn jobs(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentUser>,
    viewer: Option<Viewer>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let now = now_ms();
    // An admin sees everyone's jobs; anyone else their own. (With accounts off the local user
    // is the admin, and owners are nothing to show.)
    let everyone = caller.user.is_admin && state.auth.enabled();
    let listings = state
        .core
        .jobs_visible_to(&caller.user, now - JOBS_RECENT_MS, JOBS_SHOWN)
        .await?;
    let rows: Vec<JobRow> = listings
        .iter()
        .map(|l| JobRow::new(l, now, caller.user_id()))
        .collect();
    let active_count = rows.iter().filter(|r| r.job.active).count();
    if query_get(&query_pairs(query), "fragment") == Some("table") {
        let table = JobsTable {
            everyone,
            rows,
            active_count,
        };
        return render_fresh(&table, StatusCode::OK);
    }
    let page = JobsPage {
        title: "Generation jobs".into(),
        nav: "jobs",
        viewer,
        everyone,
        rows,
        active_count,
    };
    render(&page, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::topic::SOURCE_TEXT_MAX_CHARS;

    #[test]
    fn the_stated_source_limit_is_the_real_one() {
        assert_eq!(
            SOURCE_MAX_TEXT.replace(',', ""),
            SOURCE_TEXT_MAX_CHARS.to_string()
        );
    }
}
