//! Why a dashboard page cannot be shown, as an HTML page with its status code.

use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use crate::store::StoreError;

/// Why a page cannot be shown. Each variant picks its status code.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the store cannot be read: {0}")]
    Store(#[from] StoreError),
    #[error("the page cannot be rendered: {0}")]
    Template(#[from] minijinja::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Store(_) | PageError::Template(_) | PageError::Internal(_) => {
                tracing::error!(error = %self, "A dashboard page failed.");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = self.to_string();
        let ctx =
            context! { status => status.as_u16(), reason => status.canonical_reason(), message };
        match super::templates::render("error.html", ctx) {
            Ok(html) => (status, Html(html)).into_response(),
            // The error page itself failed: say so in plain text (nosniff is set).
            Err(e) => (
                status,
                format!("{message}\n(and the error page failed: {e})"),
            )
                .into_response(),
        }
    }
}

/// Any other path under `/ui/`.
pub async fn not_found(uri: Uri) -> PageError {
    PageError::NotFound(format!("There is no page at {}.", uri.path()))
}
