//! Logging in and out of the dashboard, and the session check of every page.
//!
//! The login form takes the engine's token (or the read-only token) and answers with a
//! random session id in a cookie that scripts cannot read (`HttpOnly`), that no other
//! site's request carries (`SameSite=Strict`), that is `Secure` when the login came over
//! HTTPS, and that only `/ui` gets. The session's expiry is kept on the server. Form
//! posts (login, logout) must name our own origin in `Origin` (or, without it, in
//! `Referer`): with SameSite=Strict this is the CSRF defence, and no form needs a token.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use minijinja::context;
use serde::Deserialize;
use tracing::{info, warn};

use super::session::Role;
use super::{Dashboard, PageError, templates};
use crate::config::SecureCookie;
use crate::intake::digest_matches;

/// The session cookie's name.
pub const COOKIE: &str = "tracemend_session";

/// Who is looking at a page (set by [`require_session`]).
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub role: Role,
}

/// The session id in the request's cookies, if any.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

fn viewer(dash: &Dashboard, headers: &HeaderMap) -> Option<Viewer> {
    session_id(headers)
        .and_then(|id| dash.sessions.get(&id))
        .map(|role| Viewer { role })
}

/// Lets a request through to a page only with a live session; otherwise sends the
/// browser to the login page, which brings it back here afterwards.
pub async fn require_session(
    State(dash): State<Arc<Dashboard>>,
    mut request: Request,
    next: Next,
) -> Response {
    match viewer(&dash, request.headers()) {
        Some(v) => {
            request.extensions_mut().insert(v);
            next.run(request).await
        }
        None => {
            let here = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/ui/");
            let target = match safe_next(Some(here)) {
                "/ui/" => "/ui/login".to_string(),
                next => format!(
                    "/ui/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                ),
            };
            Redirect::to(&target).into_response()
        }
    }
}

/// Where to go after the login: a dashboard path of ours, never another site
/// (`//evil.example`), never a header break. Anything else is the incident list.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n
        }
        _ => "/ui/",
    }
}

/// Refuses a form post that does not come from a page of ours.
pub fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| PageError::Forbidden("The request has no Host header.".into()))?;
    let ours = [format!("http://{host}"), format!("https://{host}")];
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if ours.iter().any(|o| o == origin) {
            return Ok(());
        }
        warn!(origin, "Refused a cross-origin dashboard form post.");
        return Err(PageError::Forbidden(format!(
            "A form post from another origin ({origin}) is refused."
        )));
    }
    if let Some(referer) = headers.get(header::REFERER) {
        let referer = referer.to_str().unwrap_or_default();
        if ours.iter().any(|o| {
            referer
                .strip_prefix(o.as_str())
                .is_some_and(|r| r.starts_with('/'))
        }) {
            return Ok(());
        }
    }
    Err(PageError::Forbidden(
        "A form post must come from a dashboard page (its Origin header is missing or not ours)."
            .into(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /ui/login`.
pub async fn login_page(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    query: Result<Query<NextQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    // A malformed query is only a lost `next`: the login page still shows.
    let next = query.ok().and_then(|Query(q)| q.next);
    let next = safe_next(next.as_deref());
    if viewer(&dash, &headers).is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    let html = templates::render("login.html", context! { next, error => None::<String> })?;
    Ok(Html(html).into_response())
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /ui/login`: a valid token opens a session.
pub async fn login(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    let Form(form) = form.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let next = safe_next(form.next.as_deref());
    let Some(role) = check_token(&dash, form.token.trim()) else {
        warn!("Refused a dashboard login with an invalid token.");
        let html = templates::render(
            "login.html",
            context! { next, error => "That token is not valid." },
        )?;
        return Ok((StatusCode::UNAUTHORIZED, Html(html)).into_response());
    };
    let id = dash.sessions.open(role);
    let ttl = i64::try_from(dash.sessions.ttl().as_secs()).unwrap_or(i64::MAX);
    let cookie = Cookie::build((COOKIE, id))
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(dash.secure_cookie, &headers))
        .max_age(cookie::time::Duration::seconds(ttl))
        .build();
    info!(role = ?role, "Dashboard login.");
    set_cookie(Redirect::to(next).into_response(), &cookie)
}

/// `POST /ui/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(dash): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    if let Some(id) = session_id(&headers) {
        dash.sessions.close(&id);
    }
    let cookie = Cookie::build((COOKIE, ""))
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(dash.secure_cookie, &headers))
        .max_age(cookie::time::Duration::ZERO)
        .build();
    set_cookie(Redirect::to("/ui/login").into_response(), &cookie)
}

/// Which role `token` logs in as. Both digests are compared, in constant time.
fn check_token(dash: &Dashboard, token: &str) -> Option<Role> {
    let engine = dash.app.token_matches(token);
    let read_only = dash
        .read_token_digest
        .as_ref()
        .is_some_and(|d| digest_matches(d, token));
    if engine {
        Some(Role::Engine)
    } else if read_only {
        Some(Role::ReadOnly)
    } else {
        None
    }
}

/// Whether the cookie is `Secure`: the engine speaks plain HTTP, so a login over HTTPS
/// came through a TLS-terminating proxy that says so in `X-Forwarded-Proto`.
fn secure(setting: SecureCookie, headers: &HeaderMap) -> bool {
    match setting {
        SecureCookie::Always => true,
        SecureCookie::Never => false,
        SecureCookie::Auto => headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")),
    }
}

fn set_cookie(mut response: Response, cookie: &Cookie<'_>) -> Result<Response, PageError> {
    let value = HeaderValue::from_str(&cookie.to_string())
        .map_err(|e| PageError::Internal(format!("session cookie: {e}")))?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_dashboard_path_or_the_list() {
        assert_eq!(safe_next(Some("/ui/incidents/3")), "/ui/incidents/3");
        assert_eq!(
            safe_next(Some("/ui/?service=a&status=failed")),
            "/ui/?service=a&status=failed"
        );
        for bad in [
            "//evil.example/ui/",
            "https://evil.example/",
            "/ui//evil",
            "/ui/\\evil",
            "/ui/a\r\nSet-Cookie: x",
            "/v1/incidents",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn form_posts_must_come_from_our_origin() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8787"));
        assert!(same_origin(&h).is_err(), "neither Origin nor Referer");
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8787/ui/login"),
        );
        assert!(same_origin(&h).is_ok());
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8787.evil.example/"),
        );
        assert!(same_origin(&h).is_err());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8787"),
        );
        assert!(same_origin(&h).is_ok(), "Origin decides when present");
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h).is_err());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(same_origin(&h).is_err());
    }
}
